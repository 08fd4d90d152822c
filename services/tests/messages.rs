//! A dossier's conversation and the service's correction requests, against real
//! databases, with an injected clock.

use std::{path::PathBuf, sync::Arc};

use bytes::Bytes;
use domain::{antivirus::VirusScan, conversation::Refusal};
use futures_util::stream;
use jiff::{SignedDuration, Timestamp};
use services::{
    Clock, Db,
    access::passwords::Passwords,
    access::staff::{self, Staff},
    catalogue, dossiers,
    dossiers::Dossier,
    dossiers::closure,
    dossiers::messages::{self, Author, MessageError, Sender},
    files::attachments::{self, AttachmentError},
    files::storage::Storage,
    platform::clock::ManualClock,
    testing,
};

const DEMO: &str = "demo-redacteur-territorial";
const BASE: &str = "https://cdg.example";

struct Env {
    db: Db,
    clock: Arc<ManualClock>,
    storage: Storage,
    member: Staff,
    label: &'static str,
    _root: tempfile::TempDir,
    _t: testing::TestDb,
}

async fn envs() -> Vec<Env> {
    let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
    let mut out = Vec::new();
    for t in testing::all().await {
        let clock = Arc::new(ManualClock::at(
            "2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap(),
        ));
        catalogue::import_dir(&t.db, &exams, &*clock).await.unwrap();
        let member = staff::create(
            &t.db,
            &Passwords::new(1).unwrap(),
            &*clock,
            "agent@cdg.fr",
            "Claire Agent",
            "une phrase assez longue",
        )
        .await
        .unwrap();
        let root = tempfile::tempdir().unwrap();
        out.push(Env {
            db: t.db.clone(),
            storage: Storage::open(root.path()).await.unwrap(),
            clock,
            member,
            label: t.label,
            _root: root,
            _t: t,
        });
    }
    out
}

fn pdf() -> Vec<u8> {
    let mut f = b"%PDF-1.7\n".to_vec();
    f.extend(std::iter::repeat_n(b'x', 2000));
    f.extend(b"\nstartxref\n0\n%%EOF\n");
    f
}

fn body(bytes: Vec<u8>) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin {
    stream::iter([Ok::<_, String>(Bytes::from(bytes))])
}

impl Env {
    async fn reload(&self, d: &Dossier) -> Dossier {
        dossiers::by_id(&self.db, &d.id).await.unwrap().unwrap()
    }

    async fn send(
        &self,
        d: &Dossier,
        sender: Sender<'_>,
        text: &str,
    ) -> Result<String, MessageError> {
        messages::send(
            &self.db,
            &*self.clock,
            BASE,
            Some("concours@cdg.example"),
            d,
            sender,
            text,
        )
        .await
    }

    async fn upload(
        &self,
        d: &Dossier,
        piece: &str,
    ) -> Result<attachments::Attachment, AttachmentError> {
        attachments::upload(
            &self.db,
            &self.storage,
            &*self.clock,
            &self.reload(d).await,
            piece,
            "scan.pdf",
            VirusScan::NotScanned,
            body(pdf()),
        )
        .await
    }

    /// A closed dossier: its mandatory pièces deposited, then closed.
    async fn closed(&self, who: &str) -> Dossier {
        let d = testing::dossier(&self.db, &*self.clock, DEMO, "externe", who).await;
        for piece in attachments::requested_pieces(&self.db, &d).await.unwrap() {
            if piece.requirement == domain::PieceRequirement::Mandatory {
                self.upload(&d, &piece.code).await.unwrap();
            }
        }
        closure::close(&self.db, &*self.clock, &self.reload(&d).await)
            .await
            .unwrap();
        self.reload(&d).await
    }

    /// The letters promised about this dossier: (recipient, subject, body).
    async fn letters(&self, d: &Dossier) -> Vec<(String, String, String)> {
        self.letters_where("dossier_id", &d.id).await
    }

    async fn letters_to(&self, to: &str) -> Vec<(String, String, String)> {
        self.letters_where("recipient", to).await
    }

    async fn letters_where(&self, column: &str, value: &str) -> Vec<(String, String, String)> {
        use sqlx::Row;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT recipient, subject, body FROM outbox WHERE {column} = $1 ORDER BY created_at, id"
        )))
            .bind(value)
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.get("recipient"),
                    r.get("subject"),
                    r.get::<Option<String>, _>("body").unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn refusal(result: Result<impl std::fmt::Debug, MessageError>) -> Refusal {
    match result {
        Err(MessageError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_conversation_keeps_its_order_and_mails_a_link_never_the_text() {
    for env in envs().await {
        let d = testing::dossier(&env.db, &*env.clock, DEMO, "externe", "Bavard").await;
        assert_eq!(
            refusal(env.send(&d, Sender::Candidate, "  \r\n ").await),
            Refusal::Empty
        );
        let long = "é".repeat(domain::conversation::MAX_CHARS + 1);
        assert_eq!(
            refusal(env.send(&d, Sender::Candidate, &long).await),
            Refusal::TooLong
        );

        env.send(
            &d,
            Sender::Candidate,
            "Mon diplôme est en cours d'édition.\r\nMerci.",
        )
        .await
        .unwrap();
        let unanswered = messages::unanswered(&env.db, DEMO).await.unwrap();
        assert!(unanswered.contains(&d.id), "{}", env.label);
        env.clock.advance(SignedDuration::from_secs(60));
        env.send(
            &d,
            Sender::Service(&env.member),
            "Envoyez l'attestation provisoire.",
        )
        .await
        .unwrap();
        assert!(
            !messages::unanswered(&env.db, DEMO)
                .await
                .unwrap()
                .contains(&d.id)
        );

        let history = messages::history(&env.db, &d.id).await.unwrap();
        let seen: Vec<_> = history
            .iter()
            .map(|m| (m.author, m.body.as_str(), m.staff_name.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    Author::Candidate,
                    "Mon diplôme est en cours d'édition.\nMerci.",
                    None
                ),
                (
                    Author::Service,
                    "Envoyez l'attestation provisoire.",
                    Some("Claire Agent")
                ),
            ],
            "{}",
            env.label
        );
        assert_eq!(
            messages::summary(&env.db, &d.id).await.unwrap(),
            (2, Some(history[1].created_at))
        );

        // One mail each way: to the service's address, to the candidate's; a link, not
        // the message. Only the candidate's is among the dossier's letters (what staff
        // list as « courriels au candidat »).
        let to_service = env.letters_to("concours@cdg.example").await;
        assert_eq!(to_service.len(), 1, "{to_service:?}");
        assert!(
            to_service[0]
                .2
                .contains(&format!("{BASE}/service/dossiers/{}", d.number))
        );
        let to_candidate = env.letters(&d).await;
        assert_eq!(to_candidate.len(), 1, "{to_candidate:?}");
        assert_eq!(to_candidate[0].0, d.registration.email.as_str());
        assert!(
            to_candidate[0]
                .2
                .contains(&format!("{BASE}/espace/messages"))
        );
        for (_, _, text) in to_service.iter().chain(&to_candidate) {
            assert!(!text.contains("diplôme est en cours") && !text.contains("attestation"));
        }
        let audit = staff::audit_of_dossier(&env.db, &d.id).await.unwrap();
        assert_eq!(audit[0].action, "message envoyé au candidat");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_writes_twenty_messages_a_day_the_service_as_many_as_it_needs() {
    for env in envs().await {
        let d = testing::dossier(&env.db, &*env.clock, DEMO, "externe", "Presse").await;
        // Sent at once, five more than the day allows: exactly the day's count go.
        let sends = (0..messages_per_day() + 5)
            .map(|i| {
                let env = &env;
                let d = &d;
                async move {
                    env.send(d, Sender::Candidate, &format!("Message {i}"))
                        .await
                }
            })
            .collect::<Vec<_>>();
        let results = futures_util::future::join_all(sends).await;
        let sent = results.iter().filter(|r| r.is_ok()).count() as i64;
        assert_eq!(sent, messages_per_day(), "{}", env.label);
        for result in results.into_iter().filter(|r| r.is_err()) {
            assert_eq!(refusal(result), Refusal::TooMany);
        }
        env.send(&d, Sender::Service(&env.member), "Nous avons bien lu.")
            .await
            .unwrap();
        // A day later, the candidate writes again.
        env.clock.advance(SignedDuration::from_hours(24));
        env.send(&d, Sender::Candidate, "Merci").await.unwrap();
        assert_eq!(
            messages::history(&env.db, &d.id).await.unwrap().len() as i64,
            messages_per_day() + 2,
            "{}",
            env.label
        );
    }
}

fn messages_per_day() -> i64 {
    domain::conversation::CANDIDATE_PER_DAY
}

#[tokio::test]
async fn a_message_file_is_checked_like_a_piece_and_stays_out_of_the_pieces() {
    for env in envs().await {
        let d = env.closed("Joint").await;
        let id = env
            .send(&d, Sender::Candidate, "Voici mon attestation.")
            .await
            .unwrap();
        // Refused: the message stays, without a file.
        let refused = messages::attach(
            &env.db,
            &env.storage,
            &*env.clock,
            &d,
            &id,
            "photo.png",
            VirusScan::NotScanned,
            body(b"\x89PNG\r\n\x1a\n0000000000000000".to_vec()),
        )
        .await;
        assert!(
            matches!(
                refused,
                Err(MessageError::File(AttachmentError::Refused(_)))
            ),
            "{}",
            env.label
        );
        let file = messages::attach(
            &env.db,
            &env.storage,
            &*env.clock,
            &d,
            &id,
            "attestation.pdf",
            VirusScan::NotScanned,
            body(pdf()),
        )
        .await
        .unwrap();
        let history = messages::history(&env.db, &d.id).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(
            history[0].file.as_ref().map(|f| f.id.as_str()),
            Some(file.id.as_str())
        );
        // Served to its owner as a pièce's file is; not a pièce's file; not deletable;
        // not on the receipt.
        assert_eq!(
            attachments::get(&env.db, &d.id, &file.id)
                .await
                .unwrap()
                .name,
            "attestation.pdf"
        );
        assert!(
            attachments::list(&env.db, &d.id)
                .await
                .unwrap()
                .iter()
                .all(|a| a.id != file.id)
        );
        assert!(matches!(
            attachments::delete(&env.db, &env.storage, &*env.clock, &d, &file.id).await,
            Err(AttachmentError::UnknownPiece)
        ));
        let receipt = closure::receipt(&env.db, &d).await.unwrap().unwrap();
        assert!(receipt.files.iter().all(|f| f.name != "attestation.pdf"));
        // The message-file slot is no pièce a candidate can upload to.
        assert!(matches!(
            env.upload(&d, attachments::MESSAGE_PIECE).await,
            Err(AttachmentError::UnknownPiece)
        ));
    }
}

#[tokio::test]
async fn a_correction_reopens_the_pieces_it_names_until_its_day_and_no_other() {
    for env in envs().await {
        let open = testing::dossier(&env.db, &*env.clock, DEMO, "externe", "Ouvert").await;
        let today = env.clock.today_in_paris();
        let ask = |d: Dossier, pieces: Vec<&'static str>, day: jiff::civil::Date| {
            let env = &env;
            async move {
                let pieces: Vec<String> = pieces.into_iter().map(String::from).collect();
                messages::request_correction(
                    &env.db,
                    &*env.clock,
                    BASE,
                    &env.member,
                    &d,
                    &pieces,
                    "Le diplôme est illisible : envoyez un scan en couleur.",
                    day,
                )
                .await
            }
        };
        assert_eq!(
            refusal(ask(open.clone(), vec!["diplome"], today).await),
            Refusal::NotClosed
        );

        let d = env.closed("Corrige").await;
        assert!(matches!(
            env.upload(&d, "diplome").await,
            Err(AttachmentError::Locked)
        ));
        assert_eq!(
            refusal(ask(d.clone(), vec![], today).await),
            Refusal::NoPiece
        );
        assert_eq!(
            refusal(ask(d.clone(), vec!["inconnue"], today).await),
            Refusal::NoPiece
        );
        assert_eq!(
            refusal(ask(d.clone(), vec!["diplome"], today.yesterday().unwrap()).await),
            Refusal::Date
        );

        let until = today.checked_add(jiff::Span::new().days(3)).unwrap();
        let d = ask(d.clone(), vec!["diplome"], until).await.unwrap();
        assert_eq!(d.corrections.len(), 1, "{}", env.label);
        env.upload(&d, "diplome").await.unwrap();
        assert!(
            matches!(
                env.upload(&d, "piece-identite").await,
                Err(AttachmentError::Locked)
            ),
            "the other pièces stay closed ({})",
            env.label
        );
        let old = attachments::list(&env.db, &d.id)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.piece_code == "diplome")
            .unwrap();
        attachments::delete(&env.db, &env.storage, &*env.clock, &d, &old.id)
            .await
            .unwrap();

        // The request is a message of the service, with its pièces and date, in the log
        // and the candidate's mail (without the reason).
        let history = messages::history(&env.db, &d.id).await.unwrap();
        let (pieces, until_ms) = history[0].correction.clone().unwrap();
        assert_eq!(pieces, ["diplome"]);
        assert_eq!(
            until_ms,
            domain::Deadline::on(until)
                .unwrap()
                .closes_at()
                .as_millisecond()
        );
        // The service's part of the journal (the candidate's files are there too).
        let audit: Vec<_> = staff::audit_of_dossier(&env.db, &d.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.staff_name != staff::CANDIDATE)
            .collect();
        assert_eq!(audit[0].action, "correction demandée");
        assert!(
            audit[0].detail.contains("Copie du diplôme"),
            "{}",
            audit[0].detail
        );
        // Written at the same instant as the closure's receipt: found by its subject.
        let letters = env.letters(&d).await;
        let mail = &letters
            .iter()
            .find(|(_, subject, _)| subject.starts_with("Correction demandée"))
            .expect("the candidate's letter")
            .2;
        assert!(
            mail.contains("corriger") && !mail.contains("illisible"),
            "{mail}"
        );

        // Past the day's midnight (Paris), closed again.
        env.clock
            .set(domain::Deadline::on(until).unwrap().closes_at());
        assert!(matches!(
            env.upload(&d, "diplome").await,
            Err(AttachmentError::Locked)
        ));

        // A decision ends the corrections.
        env.clock.set("2026-11-24T12:00:00Z".parse().unwrap());
        let d = ask(d, vec!["diplome"], until).await.unwrap();
        services::dossiers::instruction::decide(
            &env.db,
            &*env.clock,
            BASE,
            &env.member,
            d.number.as_str(),
            domain::instruction::Decision::Complete,
        )
        .await
        .unwrap();
        let d = env.reload(&d).await;
        assert!(d.corrections.is_empty(), "{}", env.label);
        assert!(matches!(
            env.upload(&d, "diplome").await,
            Err(AttachmentError::Locked)
        ));
    }
}

#[tokio::test]
async fn a_message_that_needs_no_answer_is_marked_handled_and_a_note_stays_with_the_service() {
    for env in envs().await {
        let d = testing::dossier(&env.db, &*env.clock, DEMO, "externe", "Hubert").await;
        env.send(&d, Sender::Candidate, "Merci pour votre aide.")
            .await
            .unwrap();
        assert!(messages::is_unanswered(&env.db, &d.id).await.unwrap());
        assert_eq!(
            messages::mark_handled(&env.db, &*env.clock, &env.member, &d.id)
                .await
                .unwrap(),
            1,
            "{}",
            env.label
        );
        assert!(!messages::is_unanswered(&env.db, &d.id).await.unwrap());
        assert!(
            !messages::unanswered(&env.db, DEMO)
                .await
                .unwrap()
                .contains(&d.id)
        );
        // A new message waits again.
        env.clock.advance(SignedDuration::from_secs(60));
        env.send(&d, Sender::Candidate, "Une autre question.")
            .await
            .unwrap();
        assert!(messages::is_unanswered(&env.db, &d.id).await.unwrap());

        // A private note: in the journal, never an empty one.
        assert_eq!(
            staff::note(&env.db, &*env.clock, &env.member, &d.id, "  ")
                .await
                .unwrap(),
            None
        );
        staff::note(
            &env.db,
            &*env.clock,
            &env.member,
            &d.id,
            "Appelé le 3/12 : diplôme en route.",
        )
        .await
        .unwrap()
        .unwrap();
        let journal = staff::audit_of_dossier(&env.db, &d.id).await.unwrap();
        let lines: Vec<_> = journal
            .iter()
            .map(|a| (a.action.as_str(), a.detail.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("message marqué comme traité", "sans réponse"),
                ("note interne", "Appelé le 3/12 : diplôme en route.")
            ],
            "{}",
            env.label
        );
        // The candidate's own view of the conversation shows none of it.
        let history = messages::history(&env.db, &d.id).await.unwrap();
        assert!(history.iter().all(|m| !m.body.contains("Appelé")));
    }
}

#[tokio::test]
async fn a_correction_sent_back_leaves_its_trace_in_the_journal_and_tells_the_service_once() {
    for env in envs().await {
        let d = env.closed("Trace").await;
        let first = attachments::list(&env.db, &d.id)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.piece_code == "diplome")
            .unwrap();
        // The files deposited before the closure are in the journal, by the candidate.
        let journal = staff::audit_of_dossier(&env.db, &d.id).await.unwrap();
        assert!(
            journal.iter().any(|a| a.staff_name == staff::CANDIDATE
                && a.action == "fichier déposé"
                && a.detail.contains(&first.sha256)
                && !a.detail.contains("correction")),
            "{}: {journal:?}",
            env.label
        );

        let until = env
            .clock
            .today_in_paris()
            .checked_add(jiff::Span::new().days(3))
            .unwrap();
        env.clock.advance(SignedDuration::from_secs(60));
        let d = messages::request_correction(
            &env.db,
            &*env.clock,
            BASE,
            &env.member,
            &d,
            &["diplome".to_string()],
            "Illisible.",
            until,
        )
        .await
        .unwrap();
        let service = Some("concours@cdg.example");
        // Nothing came back yet: nothing to tell.
        assert!(
            !messages::correction_answered(&env.db, &*env.clock, &d, "diplome", service, BASE)
                .await
                .unwrap()
        );

        // The candidate replaces the diploma: the old one's name and fingerprint stay.
        env.clock.advance(SignedDuration::from_secs(60));
        attachments::delete(&env.db, &env.storage, &*env.clock, &d, &first.id)
            .await
            .unwrap();
        let new = env.upload(&d, "diplome").await.unwrap();
        let journal = staff::audit_of_dossier(&env.db, &d.id).await.unwrap();
        let said: Vec<_> = journal
            .iter()
            .filter(|a| a.staff_name == staff::CANDIDATE)
            .map(|a| (a.action.as_str(), a.detail.as_str()))
            .collect();
        assert!(
            said.iter()
                .any(|(action, detail)| *action == "fichier supprimé"
                    && detail.contains(&first.sha256)
                    && detail.contains(&first.name)
                    && detail.ends_with("(correction demandée)")),
            "{}: {said:?}",
            env.label
        );
        assert!(
            said.iter()
                .any(|(action, detail)| *action == "fichier déposé"
                    && detail.contains(&new.sha256)
                    && detail.ends_with("(correction demandée)"))
        );
        // In time order, the service's request between the candidate's lines.
        let order: Vec<&str> = journal.iter().map(|a| a.action.as_str()).collect();
        let asked = order
            .iter()
            .position(|a| *a == "correction demandée")
            .unwrap();
        let deleted = order.iter().position(|a| *a == "fichier supprimé").unwrap();
        assert!(asked < deleted, "{order:?}");

        // The first answer tells the service; a second file does not again; no address,
        // no mail.
        assert!(
            messages::correction_answered(&env.db, &*env.clock, &d, "diplome", service, BASE)
                .await
                .unwrap()
        );
        let to_service = env.letters_to("concours@cdg.example").await;
        assert!(
            to_service
                .iter()
                .any(|(_, subject, body)| subject.starts_with("Correction reçue")
                    && body.contains(&format!("/service/dossiers/{}", d.number))),
            "{}: {to_service:?}",
            env.label
        );
        env.upload(&d, "diplome").await.unwrap();
        assert!(
            !messages::correction_answered(&env.db, &*env.clock, &d, "diplome", service, BASE)
                .await
                .unwrap()
        );
        assert!(
            !messages::correction_answered(
                &env.db,
                &*env.clock,
                &d,
                "piece-identite",
                service,
                BASE
            )
            .await
            .unwrap()
        );
        assert!(
            !messages::correction_answered(&env.db, &*env.clock, &d, "diplome", None, BASE)
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn the_candidate_ends_a_correction_early_and_gets_an_updated_receipt() {
    for env in envs().await {
        let d = env.closed("Termine").await;
        // Nothing runs: nothing to end.
        assert!(
            !messages::finish_correction(&env.db, &*env.clock, &d)
                .await
                .unwrap()
        );
        let until = env
            .clock
            .today_in_paris()
            .checked_add(jiff::Span::new().days(3))
            .unwrap();
        let d = messages::request_correction(
            &env.db,
            &*env.clock,
            BASE,
            &env.member,
            &d,
            &["diplome".to_string()],
            "Illisible.",
            until,
        )
        .await
        .unwrap();
        env.clock.advance(SignedDuration::from_secs(60));
        env.upload(&d, "diplome").await.unwrap();
        let receipts = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM outbox WHERE dossier_id = $1 AND kind = 'receipt'",
            )
            .bind(&d.id)
            .fetch_one(env.db.pool())
            .await
            .unwrap()
        };
        assert_eq!(receipts().await, 1, "the closure's");
        assert!(
            messages::finish_correction(&env.db, &*env.clock, &d)
                .await
                .unwrap()
        );
        // The pièce is closed again, the service sees the correction back, the candidate
        // gets an updated receipt, and the journal says it.
        let d = env.reload(&d).await;
        assert!(
            matches!(
                env.upload(&d, "diplome").await,
                Err(AttachmentError::Locked)
            ),
            "{}",
            env.label
        );
        let line = services::dossiers::instruction::dossiers(
            &env.db,
            &*env.clock,
            DEMO,
            &services::dossiers::instruction::Criteria::searched(d.number.as_str(), None),
        )
        .await
        .unwrap()
        .remove(0);
        assert_eq!(line.stage, domain::instruction::Stage::CorrectionReceived);
        assert_eq!(receipts().await, 2, "{}", env.label);
        let journal = staff::audit_of_dossier(&env.db, &d.id).await.unwrap();
        assert!(
            journal
                .iter()
                .any(|a| a.action == "correction terminée" && a.detail == "Copie du diplôme")
        );
        assert!(
            !messages::finish_correction(&env.db, &*env.clock, &d)
                .await
                .unwrap()
        );
    }
}
