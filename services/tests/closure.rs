//! Clôture against real databases, with an injected clock.

use domain::antivirus::VirusScan;
use std::{path::PathBuf, sync::Arc};

use bytes::Bytes;
use futures_util::stream;
use jiff::{SignedDuration, Timestamp};
use services::{
    Clock, Db, catalogue,
    dossiers::closure::{self, ClosureError},
    dossiers::{self, Dossier},
    files::attachments::{self, AttachmentError},
    files::storage::Storage,
    platform::clock::ManualClock,
    testing,
};

const DEMO: &str = "demo-redacteur-territorial";

struct Env {
    db: Db,
    clock: Arc<ManualClock>,
    storage: Storage,
    label: &'static str,
    _root: tempfile::TempDir,
    _t: testing::TestDb,
}

/// The shipped exams, plus two whose last day is a day France changes hour.
async fn envs(now: &str) -> Vec<Env> {
    let extra = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(exams_dir().join("animateur-territorial-2025.toml"))
        .unwrap()
        .replace(
            "instruction_cutoff = \"2025-06-13\"",
            "instruction_cutoff = \"2026-12-31\"",
        );
    for (slug, day) in [("heure-ete", "2026-03-29"), ("heure-hiver", "2026-10-25")] {
        let text = template
            .replace("animateur-territorial-2025", slug)
            .replace(
                "registration_deadline = \"2025-04-17\"",
                &format!("registration_deadline = \"{day}\""),
            );
        std::fs::write(extra.path().join(format!("{slug}.toml")), text).unwrap();
    }
    let mut out = Vec::new();
    for t in testing::all().await {
        let clock = Arc::new(ManualClock::at(now.parse::<Timestamp>().unwrap()));
        catalogue::import_dir(&t.db, &exams_dir(), &*clock)
            .await
            .unwrap();
        catalogue::import_dir(&t.db, extra.path(), &*clock)
            .await
            .unwrap();
        let root = tempfile::tempdir().unwrap();
        out.push(Env {
            db: t.db.clone(),
            clock,
            storage: Storage::open(root.path()).await.unwrap(),
            label: t.label,
            _root: root,
            _t: t,
        });
    }
    out
}

fn exams_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams")
}

fn pdf() -> Vec<u8> {
    let mut f = b"%PDF-1.7\n".to_vec();
    f.extend(std::iter::repeat_n(b'x', 2000));
    f.extend(b"\nstartxref\n0\n%%EOF\n");
    f
}

impl Env {
    async fn dossier(&self, exam: &str, voie: &str, who: &str) -> Dossier {
        testing::dossier(&self.db, &*self.clock, exam, voie, who).await
    }

    async fn reload(&self, d: &Dossier) -> Dossier {
        dossiers::by_id(&self.db, &d.id).await.unwrap().unwrap()
    }

    async fn upload(
        &self,
        d: &Dossier,
        piece: &str,
    ) -> Result<attachments::Attachment, AttachmentError> {
        let d = self.reload(d).await;
        let body = stream::iter([Ok::<_, String>(Bytes::from(pdf()))]);
        attachments::upload(
            &self.db,
            &self.storage,
            &*self.clock,
            &d,
            piece,
            "scan.pdf",
            VirusScan::NotScanned,
            body,
        )
        .await
    }

    /// A file for each mandatory pièce this dossier is asked for.
    async fn deposit_mandatory(&self, d: &Dossier) {
        for piece in attachments::requested_pieces(&self.db, d).await.unwrap() {
            if piece.requirement == domain::PieceRequirement::Mandatory {
                self.upload(d, &piece.code).await.unwrap();
            }
        }
    }

    async fn close(&self, d: &Dossier) -> Result<closure::Closed, ClosureError> {
        closure::close(&self.db, &*self.clock, &self.reload(d).await).await
    }
}

fn codes(e: ClosureError) -> Vec<String> {
    match e {
        ClosureError::MissingPieces(p) => p.into_iter().map(|p| p.code).collect(),
        other => panic!("expected missing pièces, got {other}"),
    }
}

#[tokio::test]
async fn closure_needs_every_mandatory_piece_then_happens_once() {
    for env in envs("2026-11-24T10:00:00Z").await {
        let d = env.dossier(DEMO, "externe", "Martin").await;
        assert_eq!(
            codes(env.close(&d).await.unwrap_err()),
            ["piece-identite", "diplome"]
        );
        env.upload(&d, "piece-identite").await.unwrap();
        assert_eq!(codes(env.close(&d).await.unwrap_err()), ["diplome"]);
        assert_eq!(env.reload(&d).await.status, "open", "{}", env.label);

        let file = env.upload(&d, "diplome").await.unwrap();
        env.clock.advance(SignedDuration::from_secs(5));
        let closed = env.close(&d).await.unwrap();
        assert!(closed.by_this_request);
        assert_eq!(closed.at, env.clock.now().as_millisecond());
        let again = env.close(&d).await.unwrap();
        assert_eq!(
            again,
            closure::Closed {
                at: closed.at,
                by_this_request: false
            }
        );

        let d = env.reload(&d).await;
        assert_eq!(
            (d.status.as_str(), d.closed_at),
            ("closed", Some(closed.at))
        );
        // No more changes to pièces that do not follow.
        assert!(matches!(
            env.upload(&d, "diplome").await,
            Err(AttachmentError::Locked)
        ));
        assert!(matches!(
            attachments::delete(&env.db, &env.storage, &*env.clock, &d, &file.id).await,
            Err(AttachmentError::Locked)
        ));
        assert_eq!(attachments::list(&env.db, &d.id).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn one_millisecond_before_the_deadline_closes_at_the_deadline_is_refused() {
    // The notices' two deadlines, and the last Sundays of March and October 2026.
    let cases = [
        (
            "adjoint-patrimoine-principal-2e-classe-2024",
            "2023-11-30T23:00:00Z",
        ),
        ("animateur-territorial-2025", "2025-04-17T22:00:00Z"),
        ("heure-ete", "2026-03-29T22:00:00Z"),
        ("heure-hiver", "2026-10-25T23:00:00Z"),
    ];
    for (exam, closes) in cases {
        let closes: Timestamp = closes.parse().unwrap();
        let day_before = (closes - SignedDuration::from_hours(30)).to_string();
        for env in envs(&day_before).await {
            let on_time = env.dossier(exam, "externe", "Avant").await;
            let late = env.dossier(exam, "externe", "Apres").await;
            for d in [&on_time, &late] {
                env.deposit_mandatory(d).await;
            }
            env.clock.set(closes - SignedDuration::from_millis(1));
            let closed = env.close(&on_time).await.unwrap();
            assert_eq!(
                closed.at,
                closes.as_millisecond() - 1,
                "{exam} {}",
                env.label
            );

            env.clock.set(closes);
            assert!(
                matches!(env.close(&late).await, Err(ClosureError::DeadlinePassed)),
                "{exam} {}",
                env.label
            );
            let late = env.reload(&late).await;
            assert_eq!((late.status.as_str(), late.closed_at), ("open", None));
            assert!(!late.deadline.is_open_at(env.clock.now()));
            // Read-only from now on: nothing added, nothing deleted.
            let before = attachments::list(&env.db, &late.id).await.unwrap();
            assert!(matches!(
                env.upload(&late, "piece-identite").await,
                Err(AttachmentError::Locked)
            ));
            assert_eq!(attachments::list(&env.db, &late.id).await.unwrap(), before);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_closures_make_one_transition() {
    for env in envs("2026-11-24T10:00:00Z").await {
        let d = env.dossier(DEMO, "externe", "Foule").await;
        env.deposit_mandatory(&d).await;
        let d = env.reload(&d).await;
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let (db, clock, d) = (env.db.clone(), env.clock.clone(), d.clone());
            tasks.push(tokio::spawn(async move {
                closure::close(&db, &*clock, &d).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        let transitions = results.iter().filter(|c| c.by_this_request).count();
        assert_eq!(transitions, 1, "{}", env.label);
        let at = env.reload(&d).await.closed_at.unwrap();
        assert!(results.iter().all(|c| c.at == at), "{}", env.label);
    }
}

#[tokio::test]
async fn pieces_that_may_follow_still_accept_files_after_closure_until_the_cut_off() {
    for env in envs("2026-11-24T10:00:00Z").await {
        // Interne: only the pièce d'identité is mandatory; the rest may follow.
        let d = env.dossier(DEMO, "interne", "Agent").await;
        assert_eq!(codes(env.close(&d).await.unwrap_err()), ["piece-identite"]);
        env.upload(&d, "piece-identite").await.unwrap();
        env.close(&d).await.unwrap();

        let late = env.upload(&d, "etat-des-services").await.unwrap();
        assert!(matches!(
            env.upload(&d, "piece-identite").await,
            Err(AttachmentError::Locked)
        ));
        let d = env.reload(&d).await;
        attachments::delete(&env.db, &env.storage, &*env.clock, &d, &late.id)
            .await
            .unwrap();
        env.upload(&d, "etat-des-services").await.unwrap();

        // The demo exam's instruction cut-off is 75 days after its import.
        env.clock.advance(SignedDuration::from_hours(24 * 76));
        assert!(
            matches!(
                env.upload(&d, "arretes-titularisation").await,
                Err(AttachmentError::Locked)
            ),
            "{}",
            env.label
        );
    }
}

#[tokio::test]
async fn the_receipt_lists_every_file_with_size_and_sha256() {
    for env in envs("2026-11-24T10:00:00Z").await {
        let d = env.dossier(DEMO, "externe", "Recu").await;
        assert_eq!(closure::receipt(&env.db, &d).await.unwrap(), None);
        let id = env.upload(&d, "diplome").await.unwrap();
        let card = env.upload(&d, "piece-identite").await.unwrap();
        env.close(&d).await.unwrap();
        let d = env.reload(&d).await;
        let receipt = closure::receipt(&env.db, &d).await.unwrap().unwrap();
        assert_eq!(receipt.number, d.number.to_string());
        assert_eq!(receipt.closed_at, d.closed_at.unwrap());
        // In the exam's order of pièces, not the order of deposit.
        let listed: Vec<_> = receipt
            .files
            .iter()
            .map(|f| (f.piece.as_str(), f.size, f.sha256.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                (
                    "Pièce d'identité en cours de validité",
                    card.size,
                    card.sha256.as_str()
                ),
                ("Copie du diplôme", id.size, id.sha256.as_str()),
            ],
            "{}",
            env.label
        );
        let text = receipt.to_text("https://cdg.example");
        assert!(text.contains(&d.number.to_string()));
        assert!(text.contains(&card.sha256));
        assert!(text.contains("mardi 24 novembre 2026 à 11 h 00"), "{text}");
    }
}

/// What poppler's `pdfinfo` says of the file, and of its structure tree with the text
/// of each element (`-struct-text`); `None` where poppler is absent (outside CI).
fn as_poppler_reads_it(pdf: &[u8]) -> Option<(String, String)> {
    if std::process::Command::new("pdfinfo")
        .arg("-v")
        .output()
        .is_err()
    {
        testing::missing(
            "pdfinfo",
            "scripts/tools.sh test installs Debian's poppler-utils",
        );
        return None;
    }
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("printout.pdf");
    std::fs::write(&path, pdf).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("pdfinfo")
            .args(args)
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "pdfinfo {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    Some((run(&[]), run(&["-struct-text"])))
}

/// An accessible document (RGAA 13.3), as a reader sees it: tagged, in French, its
/// title shown, and every expected text inside its expected element, in this order.
fn assert_accessible(pdf: &[u8], title: &str, in_order: &[(&str, &str)], label: &str) {
    let Some((info, structure)) = as_poppler_reads_it(pdf) else {
        return;
    };
    for expected in ["Tagged:          yes", &format!("Title:           {title}")] {
        assert!(
            info.contains(expected),
            "{expected} not in {info} ({label})"
        );
    }
    // `-struct-text` writes each element's type on a line, then its text quoted on the
    // lines below it, indented.
    let lines: Vec<&str> = structure.lines().map(str::trim_start).collect();
    let mut at = 0;
    for (role, text) in in_order {
        let element = lines[at..]
            .iter()
            .position(|l| {
                l.strip_prefix(role)
                    .is_some_and(|r| r.is_empty() || r.starts_with([' ', ':']))
            })
            .unwrap_or_else(|| panic!("no {role} after line {at}: {structure} ({label})"));
        at += element;
        let said = lines[at..]
            .iter()
            .position(|l| l.starts_with('"') && l.contains(text))
            .unwrap_or_else(|| {
                panic!("« {text} » not after the {role} of line {at}: {structure} ({label})")
            });
        at += said;
    }
    assert!(
        !structure.contains("page 1 /"),
        "the footer is an artifact: {structure}"
    );
}

/// The text a PDF reader gets from the file, spaces and line breaks evened out.
fn pdf_text(pdf: &[u8]) -> String {
    let text = pdf_extract::extract_text_from_mem(pdf).expect("a readable PDF");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_receipt_and_the_dossier_sheet_are_pdfs_whose_text_reads_back_with_its_accents() {
    for env in envs("2026-11-24T10:00:00Z").await {
        let d = env.dossier(DEMO, "externe", "Lefèvre-Œhlert").await;
        let pieces = attachments::requested_pieces(&env.db, &d).await.unwrap();

        // The dossier d'inscription: number, candidate, deadline, the pièces to send.
        let sheet = services::letters::printouts::dossier_sheet(
            &d,
            &pieces,
            services::testing::letterhead("https://cdg.example"),
        );
        let printed = sheet.to_pdf();
        assert_accessible(
            &printed,
            &format!("Dossier d'inscription · dossier {}", d.number),
            &[
                (
                    "P",
                    "Centre de gestion de la fonction publique territoriale (exemple)",
                ),
                ("P", "Service concours · 1 rue de l'Exemple"),
                ("H1", "Dossier d'inscription"),
                ("TH", "Concours"),
                ("TD", "rédacteur territorial"),
                ("H2", "Candidat"),
                ("TH", "Nom"),
                ("TD", "LEFÈVRE-ŒHLERT"),
                ("H2", "Pièces demandées"),
                ("L", "Pièce d'identité"),
                ("LBody", "Copie du diplôme"),
                ("H2", "Et maintenant"),
                ("LBody", "1. Connectez-vous"),
                ("LBody", "3. Cliquez sur « clôturer mon inscription »"),
            ],
            env.label,
        );
        assert!(printed.starts_with(b"%PDF-"), "{}", env.label);
        // A subset of the font, not the whole of it (DejaVu Sans is 740 KB).
        assert!(
            printed.len() < 80_000,
            "{} bytes, {}",
            printed.len(),
            env.label
        );
        let text = pdf_text(&printed);
        for expected in [
            "Dossier d'inscription",
            &d.number.to_string(),
            "LEFÈVRE-ŒHLERT",
            "Date limite de clôture",
            "Pièce d'identité en cours de validité",
            "Copie du diplôme",
            "https://cdg.example/connexion",
            "« clôturer mon inscription »",
        ] {
            assert!(
                text.contains(expected),
                "{expected} not in {text} ({})",
                env.label
            );
        }

        // The accusé de réception: each file, its size, deposit and SHA-256.
        let body = stream::iter([Ok::<_, String>(Bytes::from(pdf()))]);
        let named = attachments::upload(
            &env.db,
            &env.storage,
            &*env.clock,
            &env.reload(&d).await,
            "diplome",
            "Diplôme d'État été 2024.pdf",
            VirusScan::NotScanned,
            body,
        )
        .await
        .unwrap();
        env.deposit_mandatory(&d).await;
        env.close(&d).await.unwrap();
        let d = env.reload(&d).await;
        let receipt = closure::receipt(&env.db, &d).await.unwrap().unwrap();
        let printed = services::letters::printouts::receipt(
            &receipt,
            services::testing::letterhead("https://cdg.example"),
        )
        .to_pdf();
        assert_accessible(
            &printed,
            &format!("Accusé de réception · dossier {}", d.number),
            &[
                (
                    "P",
                    "Centre de gestion de la fonction publique territoriale (exemple)",
                ),
                ("H1", "Accusé de réception"),
                ("TH", "N° de dossier"),
                ("H2", "Fichiers reçus"),
                ("Table", "Pièce"),
                ("TD", "Diplôme d'État été 2024.pdf"),
                ("TH", "Empreinte SHA-256"),
                ("TD", &named.sha256[..40]),
                ("P", "Empreinte de cet accusé de réception"),
            ],
            env.label,
        );
        let text = pdf_text(&printed);
        for expected in [
            "Accusé de réception",
            &d.number.to_string(),
            "Inscription clôturée le mardi 24 novembre 2026 à 11 h 00 (heure de Paris)",
            "Diplôme d'État été 2024.pdf",
            &format!("({} octets)", named.size),
            &named.sha256,
            &receipt.fingerprint(),
        ] {
            assert!(
                text.contains(expected),
                "{expected} not in {text} ({})",
                env.label
            );
        }
        for f in &receipt.files {
            assert!(text.contains(&f.sha256), "{} not in {text}", f.sha256);
        }

        // The receipt's fingerprint follows what it lists, and only that: read again
        // from the database, the same receipt has the same fingerprint.
        let again = closure::receipt(&env.db, &d).await.unwrap().unwrap();
        assert_eq!(again.fingerprint(), receipt.fingerprint());
        assert_eq!(receipt.fingerprint().len(), 64);
        let mut changed = receipt.clone();
        changed.files[0].size += 1;
        assert_ne!(changed.fingerprint(), receipt.fingerprint());
    }
}
