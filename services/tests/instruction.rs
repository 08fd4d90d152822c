//! What the service concours reads, against real databases: counts by state (the
//! deadline read from the clock), search, filters, the CSV export, and staff accounts.

use domain::antivirus::VirusScan;
use std::{path::PathBuf, sync::Arc};

use domain::instruction::{DossierState, ListFilter, Stage};
use jiff::{SignedDuration, Timestamp};
use services::access::login::Refusal;
use services::{
    Clock,
    access::passwords::Passwords,
    access::staff::{self, StaffError},
    catalogue,
    dossiers::instruction,
    platform::clock::ManualClock,
    testing,
};

const DEMO: &str = "demo-redacteur-territorial";

fn exams_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams")
}

/// The shipped exams imported at the tests' instant, and a staff member.
async fn with_staff(t: &testing::TestDb) -> (ManualClock, staff::Staff) {
    let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
    catalogue::import_dir(&t.db, &exams_dir(), &clock)
        .await
        .unwrap();
    let passwords = Passwords::new(1).unwrap();
    let member = staff::create(
        &t.db,
        &passwords,
        &clock,
        "agent@cdg.fr",
        "Claire Agent",
        "une phrase assez longue",
    )
    .await
    .unwrap();
    (clock, member)
}

fn counts(exams: &[instruction::ExamCounts], slug: &str) -> Vec<(Stage, i64)> {
    exams
        .iter()
        .find(|e| e.slug == slug)
        .unwrap()
        .counts
        .clone()
}

/// How many of the exam's dossiers are at this stage.
fn at(counts: &[(Stage, i64)], stage: Stage) -> i64 {
    counts
        .iter()
        .find(|(s, _)| *s == stage)
        .map_or(0, |(_, n)| *n)
}

#[tokio::test]
async fn dossiers_are_counted_searched_and_filtered_by_state() {
    for t in testing::all().await {
        let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
        let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
        catalogue::import_dir(&t.db, &exams, &clock).await.unwrap();
        let dupont = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        let lefevre = testing::dossier(&t.db, &clock, DEMO, "externe", "Lefèvre").await;
        testing::dossier(&t.db, &clock, DEMO, "interne", "Martin").await;
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = 1 WHERE id = $1")
            .bind(&dupont.id)
            .execute(t.db.pool())
            .await
            .unwrap();

        let before = instruction::exams(&t.db, &clock).await.unwrap();
        let expected: Vec<(Stage, i64)> = Stage::ALL
            .into_iter()
            .map(|s| match s {
                Stage::Building => (s, 2),
                Stage::ToCheck => (s, 1),
                _ => (s, 0),
            })
            .collect();
        assert_eq!(counts(&before, DEMO), expected, "{}", t.label);

        // Names whatever the case and accents, every word typed; numbers as typed.
        let find = |q: &'static str, state: Option<ListFilter>| {
            let (db, clock) = (t.db.clone(), &clock);
            async move {
                instruction::dossiers(&db, clock, DEMO, &instruction::Criteria::searched(q, state))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|l| l.dossier.registration.birth_name.as_str().to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(find("LEFEVRE", None).await, ["Lefèvre"], "{}", t.label);
        assert_eq!(find("camille lefèvre", None).await, ["Lefèvre"]);
        assert_eq!(find("dupont lefevre", None).await, Vec::<String>::new());
        let typed = lefevre.number.as_str().replace('-', "").to_lowercase();
        let by_number = instruction::dossiers(
            &t.db,
            &clock,
            DEMO,
            &instruction::Criteria::searched(&typed, None),
        )
        .await
        .unwrap();
        assert_eq!(by_number.len(), 1);
        assert_eq!(by_number[0].dossier.id, lefevre.id);
        assert_eq!(
            find("", Some(ListFilter::State(DossierState::Closed))).await,
            ["Dupont"]
        );
        assert_eq!(
            find("", Some(ListFilter::Stage(Stage::ToCheck))).await,
            ["Dupont"]
        );
        assert!(
            find("", Some(ListFilter::Stage(Stage::Complete)))
                .await
                .is_empty()
        );
        assert_eq!(find("", None).await.len(), 3);
        // Ordered by name, by closure (the closed one first), by stage.
        let mut lines = instruction::dossiers(
            &t.db,
            &clock,
            DEMO,
            &instruction::Criteria::searched("", None),
        )
        .await
        .unwrap();
        let names = |lines: &[instruction::DossierLine]| {
            lines
                .iter()
                .map(|l| l.dossier.registration.birth_name.as_str().to_string())
                .collect::<Vec<_>>()
        };
        instruction::Sort::Name.apply(&mut lines);
        assert_eq!(
            names(&lines),
            ["Dupont", "Lefèvre", "Martin"],
            "{}",
            t.label
        );
        instruction::Sort::Closure.apply(&mut lines);
        assert_eq!(names(&lines)[0], "Dupont");
        instruction::Sort::Stage.apply(&mut lines);
        assert_eq!(
            lines.last().unwrap().stage,
            Stage::ToCheck,
            "en construction first"
        );
        assert!(matches!(
            instruction::dossiers(
                &t.db,
                &clock,
                "inconnu",
                &instruction::Criteria::searched("", None)
            )
            .await,
            Err(instruction::InstructionError::UnknownExam)
        ));

        // Past the deadline, the open dossiers are « non clôturés », the closed one stays.
        let closes = lefevre.deadline.closes_at();
        clock.set(closes);
        let after = instruction::exams(&t.db, &clock).await.unwrap();
        let after = counts(&after, DEMO);
        assert_eq!(at(&after, Stage::Building), 0, "{}", t.label);
        assert_eq!(at(&after, Stage::ToCheck), 1);
        assert_eq!(at(&after, Stage::NotClosedAtDeadline), 2);
        clock.set(closes - SignedDuration::from_millis(1));
        assert_eq!(
            at(
                &counts(&instruction::exams(&t.db, &clock).await.unwrap(), DEMO),
                Stage::Building
            ),
            2
        );

        let lines = instruction::dossiers(
            &t.db,
            &clock,
            DEMO,
            &instruction::Criteria::searched("", None),
        )
        .await
        .unwrap();
        use services::dossiers::export::{self, Column, Table};
        let decisions = export::decisions(&t.db, DEMO).await.unwrap();
        let all = Table {
            columns: &Column::ALL,
            decisions: &decisions,
        };
        let csv = export::csv(&lines, &all);
        assert!(csv.starts_with('\u{feff}'));
        assert_eq!(csv.lines().count(), 4);
        // Every answer, dates in ISO 8601 (an instant with its Paris offset).
        assert!(
            csv.contains(";Madame;Lefèvre;;Camille;1995-03-01;Laval;France;Française;"),
            "{csv}"
        );
        assert!(csv.contains(";2026-11-24T11:00:00+01:00;"), "{csv}");
        assert!(csv.contains(";1 place de la Préfecture;;53000;Laval;France;externe;"));
        // A model: these columns, in this order.
        let chosen = [Column::Email, Column::Number, Column::Stage];
        let csv = export::csv(
            &lines,
            &Table {
                columns: &chosen,
                decisions: &decisions,
            },
        );
        assert_eq!(
            csv.lines().next().unwrap(),
            "\u{feff}Adresse électronique;N° de dossier;État"
        );

        // The same list as XLSX, read back by a spreadsheet library: a date is a date,
        // a count a number, the header bold and first.
        use calamine::{Data, Reader, Xlsx};
        let bytes = export::xlsx(&lines, &all, None).unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), ["Dossiers"]);
        let sheet = book.worksheet_range("Dossiers").unwrap();
        assert_eq!(sheet.height(), 4, "{}", t.label);
        let col = |c: Column| Column::ALL.iter().position(|x| *x == c).unwrap() as u32;
        assert_eq!(
            sheet.get((0, 0)),
            Some(&Data::String("N° de dossier".into()))
        );
        let row = (1..4)
            .find(|&r| {
                sheet.get((r, col(Column::BirthName) as usize))
                    == Some(&Data::String("Lefèvre".into()))
            })
            .expect("Lefèvre's row");
        let at = |c: Column| sheet.get((row, col(c) as usize));
        let Some(Data::DateTime(born)) = at(Column::BirthDate) else {
            panic!("a birth date as a date: {:?}", at(Column::BirthDate));
        };
        // Spreadsheets count days from 30 December 1899.
        let serial = |date: &str| {
            (date.parse::<jiff::civil::Date>().unwrap() - jiff::civil::date(1899, 12, 30))
                .get_days() as f64
        };
        assert!(born.is_datetime());
        assert_eq!(born.as_f64(), serial("1995-03-01"));
        // Préinscrit le: the clock's instant, 10:00 UTC, in Paris time.
        let Some(Data::DateTime(created)) = at(Column::RegisteredAt) else {
            panic!("an instant as a date: {:?}", at(Column::RegisteredAt));
        };
        assert!((created.as_f64() - (serial("2026-11-24") + 11.0 / 24.0)).abs() < 1e-6);
        assert!(matches!(at(Column::Files), Some(Data::Float(_))));
    }
}

#[tokio::test]
async fn staff_accounts_are_checked_unique_and_their_sessions_end() {
    for t in testing::all().await {
        let clock = Arc::new(ManualClock::at(
            "2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap(),
        ));
        let passwords = Passwords::new(1).unwrap();
        let weak = staff::create(
            &t.db,
            &passwords,
            &*clock,
            "agent@cdg.fr",
            "Agent",
            "motdepasse",
        )
        .await;
        assert!(matches!(weak, Err(StaffError::Invalid(_))), "{}", t.label);
        let bad = staff::create(
            &t.db,
            &passwords,
            &*clock,
            "pas-une-adresse",
            "Agent",
            "une phrase assez longue",
        )
        .await;
        assert!(matches!(bad, Err(StaffError::Invalid(_))));
        let agent = staff::create(
            &t.db,
            &passwords,
            &*clock,
            "Agent@CDG.fr",
            "Claire Agent",
            "une phrase assez longue",
        )
        .await
        .unwrap();
        let again = staff::create(
            &t.db,
            &passwords,
            &*clock,
            "agent@cdg.fr",
            "Autre",
            "une autre phrase longue",
        )
        .await;
        assert!(matches!(again, Err(StaffError::AlreadyExists)));

        let (member, token) = staff::login(
            &t.db,
            &passwords,
            &*clock,
            "AGENT@cdg.fr",
            "une phrase assez longue",
            "127.0.0.1",
        )
        .await
        .unwrap();
        assert_eq!(member, agent);
        assert_eq!(
            staff::session_staff(&t.db, &*clock, &token).await.unwrap(),
            Some(agent.clone())
        );
        // A staff token is no candidate session, and the other way round.
        assert!(
            services::access::accounts::session_dossier(&t.db, &*clock, &token)
                .await
                .unwrap()
                .is_none()
        );
        clock.advance(staff::SESSION_LIFETIME);
        assert_eq!(
            staff::session_staff(&t.db, &*clock, &token).await.unwrap(),
            None
        );
        let (_, token) = staff::login(
            &t.db,
            &passwords,
            &*clock,
            "agent@cdg.fr",
            "une phrase assez longue",
            "127.0.0.1",
        )
        .await
        .unwrap();
        staff::close_session(&t.db, &token).await.unwrap();
        assert_eq!(
            staff::session_staff(&t.db, &*clock, &token).await.unwrap(),
            None
        );
        let wrong = staff::login(
            &t.db,
            &passwords,
            &*clock,
            "agent@cdg.fr",
            "pas la bonne phrase",
            "127.0.0.1",
        )
        .await;
        assert!(matches!(
            wrong,
            Err(StaffError::Refused(Refusal::InvalidCredentials))
        ));
    }
}

#[tokio::test]
async fn a_disabled_staff_member_loses_access_at_once_and_the_log_keeps_their_name() {
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let passwords = Passwords::new(1).unwrap();
        let login = |password: &'static str| {
            let (db, passwords, clock) = (t.db.clone(), passwords.clone(), &clock);
            async move {
                staff::login(
                    &db,
                    &passwords,
                    clock,
                    "agent@cdg.fr",
                    password,
                    "127.0.0.1",
                )
                .await
            }
        };
        let (_, token) = login("une phrase assez longue").await.unwrap();
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        staff::audit(
            t.db.pool(),
            &clock,
            &member,
            Some(&d.id),
            "consultation",
            "dossier",
        )
        .await
        .unwrap();

        assert!(
            staff::disable(&t.db, &clock, "AGENT@cdg.fr").await.unwrap(),
            "{}",
            t.label
        );
        // The open session ends now, not at its expiry.
        assert_eq!(
            staff::session_staff(&t.db, &clock, &token).await.unwrap(),
            None
        );
        // The right password gets the answer of an unknown address.
        assert!(matches!(
            login("une phrase assez longue").await,
            Err(StaffError::Refused(Refusal::InvalidCredentials))
        ));
        assert!(!staff::disable(&t.db, &clock, "agent@cdg.fr").await.unwrap());
        assert!(matches!(
            staff::create(
                &t.db,
                &passwords,
                &clock,
                "agent@cdg.fr",
                "Autre",
                "une autre phrase longue"
            )
            .await,
            Err(StaffError::AlreadyExists)
        ));
        let log = staff::audit_of_dossier(&t.db, &d.id).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].staff_name, "Claire Agent");

        // Back, with a new password only: the old one no longer opens the account.
        let enable = |email: &'static str, password: &'static str| {
            let (db, passwords) = (t.db.clone(), passwords.clone());
            async move { staff::enable(&db, &passwords, email, password).await }
        };
        const NEW: &str = "une phrase neuve et longue";
        assert!(matches!(
            enable("agent@cdg.fr", "court").await,
            Err(StaffError::Invalid(_))
        ));
        assert!(!enable("personne@cdg.fr", NEW).await.unwrap());
        assert!(enable("agent@cdg.fr", NEW).await.unwrap());
        assert!(!enable("agent@cdg.fr", NEW).await.unwrap(), "enabled once");
        assert!(matches!(
            login("une phrase assez longue").await,
            Err(StaffError::Refused(Refusal::InvalidCredentials))
        ));
        let (again, _) = login(NEW).await.unwrap();
        assert_eq!(again, member);
    }
}

#[tokio::test]
async fn decisions_follow_the_rules_are_logged_mailed_and_a_reopened_dossier_takes_files() {
    use bytes::Bytes;
    use domain::instruction::{Decision, DecisionRefused};
    use futures_util::stream;
    use instruction::DecisionError;
    use services::{dossiers, files::attachments, files::storage::Storage, letters::mail::Mailer};

    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let root = tempfile::tempdir().unwrap();
        let mailer = Mailer::to_files(root.path().join("mails"), "concours@exemple.fr").unwrap();
        let storage = Storage::open(&root.path().join("files")).await.unwrap();
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        let number = d.number.to_string();
        let decide = |decision: Decision| {
            let (db, clock, member, number) = (t.db.clone(), &clock, &member, number.clone());
            async move { instruction::decide(&db, clock, "http://x", member, &number, decision).await }
        };
        let refused = |r: Result<dossiers::Dossier, DecisionError>| match r {
            Err(DecisionError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        };

        // An open dossier is not instructed.
        assert_eq!(
            refused(decide(Decision::Complete).await),
            DecisionRefused::NotClosed,
            "{}",
            t.label
        );
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = 1 WHERE id = $1")
            .bind(&d.id)
            .execute(t.db.pool())
            .await
            .unwrap();
        assert_eq!(
            refused(decide(Decision::Accept).await),
            DecisionRefused::NotComplete
        );
        assert_eq!(
            refused(
                decide(Decision::Incomplete {
                    missing: " ".into()
                })
                .await
            ),
            DecisionRefused::MissingItemsRequired
        );
        let d = decide(Decision::Incomplete {
            missing: "Copie du diplôme lisible".into(),
        })
        .await
        .unwrap();
        assert_eq!(d.review_note.as_deref(), Some("Copie du diplôme lisible"));

        // Closed, the diplôme takes no file, until the service reopens the dossier.
        let upload = |d: dossiers::Dossier| {
            let (db, storage, clock) = (t.db.clone(), storage.clone(), &clock);
            async move {
                let body = stream::iter([Ok::<_, String>(Bytes::from_static(
                    b"%PDF-1.7\n1 0 obj << >> endobj\nstartxref\n0\n%%EOF\n",
                ))]);
                attachments::upload(
                    &db,
                    &storage,
                    clock,
                    &d,
                    "diplome",
                    "diplome.pdf",
                    VirusScan::NotScanned,
                    body,
                )
                .await
            }
        };
        assert!(matches!(
            upload(d.clone()).await,
            Err(attachments::AttachmentError::Locked)
        ));
        let yesterday = jiff::civil::date(2026, 11, 23);
        let past =
            instruction::reopen(&t.db, &clock, "http://x", &member, &number, yesterday).await;
        assert!(
            matches!(past, Err(DecisionError::ReopenDate)),
            "{}",
            t.label
        );
        let day = jiff::civil::date(2026, 11, 30);
        let d = instruction::reopen(&t.db, &clock, "http://x", &member, &number, day)
            .await
            .unwrap();
        assert!(d.is_reopened_at(clock.now()));
        upload(d.clone())
            .await
            .expect("a reopened dossier takes the missing file");
        // The end of that day, Paris time, closes it again.
        clock.set(domain::Deadline::on(day).unwrap().closes_at());
        assert!(matches!(
            upload(d.clone()).await,
            Err(attachments::AttachmentError::Locked)
        ));

        decide(Decision::Complete).await.unwrap();
        let d = decide(Decision::Accept).await.unwrap();
        assert_eq!(d.status, "accepted");
        assert_eq!(
            refused(
                decide(Decision::Reject {
                    reason: "trop tard".into()
                })
                .await
            ),
            DecisionRefused::AlreadyDecided
        );
        let reopen_decided = instruction::reopen(
            &t.db,
            &clock,
            "http://x",
            &member,
            &number,
            jiff::civil::date(2026, 12, 31),
        )
        .await;
        assert!(matches!(
            reopen_decided,
            Err(DecisionError::Refused(DecisionRefused::AlreadyDecided))
        ));

        // Every change is in the log, by whom (the file the reopened dossier took, by
        // its candidate), and the candidate got a mail for each decision.
        let log = staff::audit_of_dossier(&t.db, &d.id).await.unwrap();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|a| (a.action.as_str(), a.staff_name.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("dossier incomplet", "Claire Agent"),
                ("dossier rouvert", "Claire Agent"),
                ("fichier déposé", staff::CANDIDATE),
                ("dossier complet", "Claire Agent"),
                ("admis à concourir", "Claire Agent")
            ],
            "{}",
            t.label
        );
        // Decisions' mails go after a minute's hold; « complet » then « admis » within
        // it make one mail.
        clock.advance(SignedDuration::from_secs(61));
        services::letters::deliver_due(
            &t.db,
            &clock,
            &mailer,
            services::testing::letterhead("http://x"),
        )
        .await
        .unwrap();
        let mails = services::letters::mail::read_mail_files(&root.path().join("mails")).unwrap();
        assert_eq!(mails.len(), 3);
        assert!(!mails.iter().any(|m| m.contains("il est complet.")));
        assert!(mails.iter().any(|m| m.contains("Copie du diplôme lisible")));
        assert!(
            mails
                .iter()
                .any(|m| m.contains("vous êtes admis à concourir"))
        );
    }
}

#[tokio::test]
async fn exams_edited_by_the_service_read_back_keep_their_files_and_outlive_their_file() {
    use services::catalogue::CatalogueError;
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let exams = exams_dir();
        let today = clock.today_in_paris();
        // Every shipped exam reads back as the spec its file gave.
        for spec in catalogue::read_dir(&exams, &clock).unwrap() {
            let raw = catalogue::raw_exam(&t.db, spec.summary.slug.as_str())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                domain::ExamSpec::parse(raw, today).unwrap(),
                spec,
                "{}",
                t.label
            );
        }

        // A new exam needs a free identifier.
        let mut raw = catalogue::raw_exam(&t.db, DEMO).await.unwrap().unwrap();
        let taken = domain::ExamSpec::parse(raw.clone(), today).unwrap();
        assert!(matches!(
            catalogue::save_from_staff(&t.db, &clock, &member, &taken, true).await,
            Err(CatalogueError::AlreadyExists(_))
        ));

        // A pièce holding files cannot be removed; others can.
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        sqlx::query("INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at) VALUES ('a1', $1, 'diplome', 'k1', 'd.pdf', 'pdf', 1, 'x', 1)")
            .bind(&d.id)
            .execute(t.db.pool())
            .await
            .unwrap();
        raw.pieces.retain(|p| p.code != "diplome");
        let without = domain::ExamSpec::parse(raw.clone(), today).unwrap();
        match catalogue::save_from_staff(&t.db, &clock, &member, &without, false).await {
            Err(CatalogueError::PieceHasFiles(label)) => assert_eq!(label, "Copie du diplôme"),
            other => panic!("{}: {other:?}", t.label),
        }
        let mut raw = catalogue::raw_exam(&t.db, DEMO).await.unwrap().unwrap();
        raw.pieces.retain(|p| p.code != "justificatif-activite");
        raw.title = "Rédacteur territorial, session modifiée".into();
        raw.published = false;
        let edited = domain::ExamSpec::parse(raw, today).unwrap();
        catalogue::save_from_staff(&t.db, &clock, &member, &edited, false)
            .await
            .unwrap();
        let back = catalogue::raw_exam(&t.db, DEMO).await.unwrap().unwrap();
        assert_eq!(domain::ExamSpec::parse(back, today).unwrap(), edited);
        assert!(
            catalogue::list_published(&t.db, &clock)
                .await
                .unwrap()
                .iter()
                .all(|e| e.slug.as_str() != DEMO)
        );

        // Its file no longer overwrites it at the next start.
        catalogue::import_dir(&t.db, &exams, &clock).await.unwrap();
        let after = catalogue::raw_exam(&t.db, DEMO).await.unwrap().unwrap();
        assert_eq!(
            after.title, "Rédacteur territorial, session modifiée",
            "{}",
            t.label
        );
    }
}

#[tokio::test]
async fn a_closed_dossier_goes_from_to_check_to_correction_asked_then_received() {
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Garnier").await;
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = $2 WHERE id = $1")
            .bind(&d.id)
            .bind(clock.now().as_millisecond())
            .execute(t.db.pool())
            .await
            .unwrap();
        // A file deposited before the closure: not an answer to anything.
        sqlx::query(
            "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at)
             VALUES ('avant', $1, 'diplome', 'k-avant', 'licence.pdf', 'pdf', 10, '', $2)",
        )
        .bind(&d.id)
        .bind(clock.now().as_millisecond())
        .execute(t.db.pool())
        .await
        .unwrap();
        let stage = || async {
            let lines = instruction::dossiers(
                &t.db,
                &clock,
                DEMO,
                &instruction::Criteria::searched(d.number.as_str(), None),
            )
            .await
            .unwrap();
            (lines[0].stage, lines[0].correction_until)
        };
        assert_eq!(stage().await, (Stage::ToCheck, None), "{}", t.label);

        clock.advance(SignedDuration::from_mins(5));
        let until = jiff::civil::date(2026, 12, 20);
        let d = services::dossiers::by_id(&t.db, &d.id)
            .await
            .unwrap()
            .unwrap();
        services::dossiers::messages::request_correction(
            &t.db,
            &clock,
            "x",
            &member,
            &d,
            &["diplome".to_string()],
            "Le diplôme est illisible.",
            until,
        )
        .await
        .unwrap();
        let (asked, shown_until) = stage().await;
        assert_eq!(asked, Stage::CorrectionAsked, "{}", t.label);
        assert_eq!(
            shown_until,
            Some(
                domain::Deadline::on(until)
                    .unwrap()
                    .closes_at()
                    .as_millisecond()
            )
        );

        // The candidate sends the diploma again: to look at again, in the list, its
        // filter and the counts.
        clock.advance(SignedDuration::from_mins(5));
        sqlx::query(
            "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at)
             VALUES ('apres', $1, 'diplome', 'k-apres', 'licence-lisible.pdf', 'pdf', 10, '', $2)",
        )
        .bind(&d.id)
        .bind(clock.now().as_millisecond())
        .execute(t.db.pool())
        .await
        .unwrap();
        assert_eq!(stage().await.0, Stage::CorrectionReceived, "{}", t.label);
        let received = instruction::dossiers(
            &t.db,
            &clock,
            DEMO,
            &instruction::Criteria::searched(
                "",
                Some(ListFilter::Stage(Stage::CorrectionReceived)),
            ),
        )
        .await
        .unwrap();
        assert_eq!(received.len(), 1);
        let all = instruction::exams(&t.db, &clock).await.unwrap();
        assert_eq!(
            at(&counts(&all, DEMO), Stage::CorrectionReceived),
            1,
            "{}",
            t.label
        );

        // Reviewed complete: the correction is over.
        instruction::decide(
            &t.db,
            &clock,
            "x",
            &member,
            d.number.as_str(),
            domain::instruction::Decision::Complete,
        )
        .await
        .unwrap();
        assert_eq!(stage().await.0, Stage::Complete, "{}", t.label);
    }
}

/// Rewrites a dossier's answers as a test needs them (e-mail, phone, aménagement), its
/// list columns emptied as those of a dossier made before them
/// (`dossiers::fill_list_keys` fills them).
async fn with_answers(
    db: &services::Db,
    d: &services::dossiers::Dossier,
    change: impl FnOnce(&mut domain::registration::Registration),
) {
    let mut r = d.registration.clone();
    change(&mut r);
    sqlx::query("UPDATE dossiers SET answers = $2, email = $3, email_key = $4, usage_key = NULL, phone_key = NULL, voie = NULL, accommodation = 0 WHERE id = $1")
        .bind(&d.id)
        .bind(serde_json::to_string(&r).unwrap())
        .bind(r.email.as_str())
        .bind(r.email.key())
        .execute(db.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn lists_filter_on_voie_amenagement_files_messages_and_followers() {
    use domain::exam::Voie;
    use services::dossiers::following;
    use services::dossiers::instruction::{Criteria, FileFlag};
    for t in testing::all().await {
        let (clock, claire) = with_staff(&t).await;
        let passwords = Passwords::new(1).unwrap();
        let paul = staff::create(
            &t.db,
            &passwords,
            &clock,
            "paul@cdg.fr",
            "Paul Agent",
            "une autre phrase assez longue",
        )
        .await
        .unwrap();
        let dupont = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        let martin = testing::dossier(&t.db, &clock, DEMO, "interne", "Martin").await;
        let petit = testing::dossier(&t.db, &clock, DEMO, "externe", "Petit").await;
        with_answers(&t.db, &dupont, |r| {
            r.email = domain::candidate::Email::parse("Jeanne.Dupont@Laposte.net").unwrap();
            r.phone = domain::candidate::PhoneNumber::parse("06 12 34 56 78").unwrap();
        })
        .await;
        with_answers(&t.db, &martin, |r| {
            r.accommodation = Some("Tiers-temps".into());
        })
        .await;
        // Petit: one file waiting for the antivirus, one infected; Martin wrote.
        for (scan, id) in [("pending", "f1"), ("infected", "f2"), ("clean", "f3")] {
            let dossier = if id == "f3" { &dupont.id } else { &petit.id };
            sqlx::query(
                "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at, scan)
                 VALUES ($1, $2, 'piece-identite', $1, 'a.pdf', 'pdf', 10, '', 0, $3)",
            )
            .bind(id)
            .bind(dossier)
            .bind(scan)
            .execute(t.db.pool())
            .await
            .unwrap();
        }
        services::dossiers::messages::send(
            &t.db,
            &clock,
            "http://localhost",
            None,
            &martin,
            services::dossiers::messages::Sender::Candidate,
            "Bonjour, une question.",
        )
        .await
        .unwrap();
        let names = |criteria: Criteria| {
            let (db, clock) = (&t.db, &clock);
            async move {
                let mut names = instruction::dossiers(db, clock, DEMO, &criteria)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|l| l.dossier.registration.birth_name.as_str().to_string())
                    .collect::<Vec<_>>();
                // Numbers are random: by name, to compare.
                names.sort();
                names
            }
        };
        let search = |s: &str| Criteria::searched(s, None);
        let only = |change: fn(&mut Criteria)| {
            let mut c = Criteria::default();
            change(&mut c);
            c
        };
        // Dupont's and Martin's list columns are empty (read from their answers), then
        // filled as a server's start fills those of older dossiers: the same answers.
        for round in 0..2 {
            if round == 1 {
                assert_eq!(
                    services::dossiers::fill_list_keys(&t.db).await.unwrap(),
                    2,
                    "{}",
                    t.label
                );
            }
            assert_eq!(
                names(search("jeanne.dupont@")).await,
                ["Dupont"],
                "{}",
                t.label
            );
            assert_eq!(names(search("LAPOSTE.NET")).await, ["Dupont"]);
            assert_eq!(names(search("06 12 34 56")).await, ["Dupont"]);
            assert_eq!(names(search("+33 6 12 34 56 78")).await, ["Dupont"]);
            assert!(names(search("07 12 34 56 78")).await.is_empty());
            assert!(names(search("nobody@nowhere.fr")).await.is_empty());
            assert_eq!(
                names(only(|c| c.voie = Some(Voie::Interne))).await,
                ["Martin"]
            );
            assert_eq!(
                names(only(|c| c.voie = Some(Voie::Externe))).await,
                ["Dupont", "Petit"]
            );
            assert_eq!(names(only(|c| c.accommodation = true)).await, ["Martin"]);
        }
        let filled: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, phone_key, voie, accommodation FROM dossiers ORDER BY identity_key",
        )
        .fetch_all(t.db.pool())
        .await
        .unwrap();
        let by_id = |id: &str| filled.iter().find(|f| f.0 == id).cloned().unwrap();
        assert_eq!(
            by_id(&dupont.id),
            (
                dupont.id.clone(),
                "612345678".to_string(),
                Some("externe".to_string()),
                0
            )
        );
        assert_eq!(by_id(&martin.id).2.as_deref(), Some("interne"));
        assert_eq!(by_id(&martin.id).3, 1);
        // A fill on filled rows changes nothing.
        assert_eq!(services::dossiers::fill_list_keys(&t.db).await.unwrap(), 0);
        assert_eq!(
            names(only(|c| c.files = Some(FileFlag::Infected))).await,
            ["Petit"]
        );
        assert_eq!(
            names(only(|c| c.files = Some(FileFlag::Unscanned))).await,
            ["Petit"]
        );
        assert_eq!(names(only(|c| c.unanswered = true)).await, ["Martin"]);
        let lines = instruction::dossiers(&t.db, &clock, DEMO, &Criteria::default())
            .await
            .unwrap();
        let petit_line = lines.iter().find(|l| l.dossier.id == petit.id).unwrap();
        assert_eq!(
            (petit_line.files, petit_line.infected, petit_line.unscanned),
            (1, 1, 1)
        );

        // « Suivi par »: Claire follows Martin and entrusts Petit to Paul.
        assert!(
            following::follow(&t.db, &clock, &claire, &martin.id, &claire.id)
                .await
                .unwrap()
        );
        assert!(
            !following::follow(&t.db, &clock, &claire, &martin.id, &claire.id)
                .await
                .unwrap(),
            "following twice changes nothing"
        );
        following::follow(&t.db, &clock, &claire, &petit.id, &paul.id)
            .await
            .unwrap();
        assert!(matches!(
            following::follow(&t.db, &clock, &claire, &petit.id, "inconnu").await,
            Err(following::FollowError::UnknownStaff)
        ));
        let mine = |member: &staff::Staff| Criteria {
            followed_by: Some(member.id.clone()),
            ..Criteria::default()
        };
        assert_eq!(names(mine(&claire)).await, ["Martin"]);
        assert_eq!(names(mine(&paul)).await, ["Petit"]);
        let lines = instruction::dossiers(&t.db, &clock, DEMO, &Criteria::default())
            .await
            .unwrap();
        let followers = |id: &str| {
            lines
                .iter()
                .find(|l| l.dossier.id == id)
                .unwrap()
                .followers
                .clone()
        };
        assert_eq!(followers(&petit.id), ["Paul Agent"]);
        assert!(followers(&dupont.id).is_empty());
        let journal = staff::audit_of_dossier(&t.db, &petit.id).await.unwrap();
        assert!(
            journal
                .iter()
                .any(|e| e.action == "dossier confié" && e.detail == "à Paul Agent"),
            "{journal:?}"
        );

        // The followers hear of a message and of files (one mail about files per half
        // hour), with a link and nothing of the message.
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        services::dossiers::messages::send(
            &t.db,
            &clock,
            "http://localhost",
            None,
            &martin,
            services::dossiers::messages::Sender::Candidate,
            "Mon secret médical.",
        )
        .await
        .unwrap();
        let mails: Vec<(String, String, String)> =
            sqlx::query_as("SELECT recipient, subject, body FROM outbox ORDER BY created_at, id")
                .fetch_all(t.db.pool())
                .await
                .unwrap();
        assert_eq!(mails.len() as i64, before + 1, "{mails:?}");
        let (to, subject, body) = mails.last().unwrap();
        assert_eq!(to, "agent@cdg.fr");
        assert!(subject.contains(martin.number.as_str()), "{subject}");
        assert!(body.contains(&format!("/service/dossiers/{}", martin.number)));
        assert!(!body.contains("secret"), "{body}");
        use following::News;
        let file_news = async || {
            following::notify(&t.db, &clock, "http://localhost", &petit, News::File)
                .await
                .unwrap()
        };
        assert_eq!(file_news().await, 1, "Paul hears of the file");
        assert_eq!(file_news().await, 0, "once in half an hour");
        clock.advance(SignedDuration::from_mins(31));
        assert_eq!(file_news().await, 1, "and again later");
        // A disabled agent is no longer mailed.
        clock.advance(SignedDuration::from_mins(31));
        assert!(staff::disable(&t.db, &clock, "paul@cdg.fr").await.unwrap());
        assert_eq!(file_news().await, 0, "Paul is disabled");
        // Paul stops following (Claire takes him off): no more mail, logged.
        assert!(
            following::unfollow(&t.db, &clock, &claire, &petit.id, &paul.id)
                .await
                .unwrap()
        );
        clock.advance(SignedDuration::from_mins(31));
        assert_eq!(file_news().await, 0);
        let journal = staff::audit_of_dossier(&t.db, &petit.id).await.unwrap();
        assert!(
            journal
                .iter()
                .any(|e| e.action == "ne suit plus le dossier")
        );
    }
}

#[tokio::test]
async fn a_bulk_action_decides_each_dossier_on_its_own_and_skips_what_it_cannot() {
    use domain::instruction::{BulkAction, DecisionRefused};
    use services::dossiers::bulk::{self, Outcome};
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let mut closed = Vec::new();
        for who in ["Alpha", "Bravo", "Charlie"] {
            let d = testing::dossier(&t.db, &clock, DEMO, "externe", who).await;
            sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = 1 WHERE id = $1")
                .bind(&d.id)
                .execute(t.db.pool())
                .await
                .unwrap();
            closed.push(d);
        }
        let open = testing::dossier(&t.db, &clock, DEMO, "externe", "Delta").await;
        let numbers = |ds: &[&services::dossiers::Dossier]| -> Vec<String> {
            ds.iter().map(|d| d.number.to_string()).collect()
        };
        let outbox = async || -> i64 {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
                .fetch_one(t.db.pool())
                .await
                .unwrap()
        };
        let mails_before = outbox().await;

        // Two marked complete; the open one and a number of no dossier are left alone.
        let run = async |action: BulkAction, ds: Vec<String>, text: &str| {
            bulk::run(&t.db, &clock, "http://x", &member, DEMO, &ds, action, text)
                .await
                .unwrap()
        };
        let mut selection = numbers(&[&closed[0], &closed[1], &open]);
        selection.insert(0, "99-ZZZZ-9999".into());
        let outcomes = run(BulkAction::Complete, selection, "").await;
        assert_eq!(
            outcomes.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(),
            [
                Outcome::Unknown,
                Outcome::Done,
                Outcome::Done,
                Outcome::Refused(DecisionRefused::NotClosed)
            ],
            "{} {outcomes:?}",
            t.label
        );
        assert_eq!(
            outbox().await,
            mails_before + 2,
            "one mail per dossier decided"
        );

        // Admitting all three: only the complete ones are; Charlie is not complete.
        let outcomes = run(
            BulkAction::Accept,
            numbers(&[&closed[0], &closed[1], &closed[2]]),
            "",
        )
        .await;
        let refused: Vec<_> = outcomes
            .iter()
            .filter(|(_, o)| *o != Outcome::Done)
            .cloned()
            .collect();
        assert_eq!(
            refused,
            [(
                closed[2].number.to_string(),
                Outcome::Refused(DecisionRefused::NotComplete)
            )]
        );
        for d in &closed[..2] {
            let journal = staff::audit_of_dossier(&t.db, &d.id).await.unwrap();
            let actions: Vec<&str> = journal.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(
                actions,
                ["dossier complet", "admis à concourir"],
                "{actions:?}"
            );
        }

        // One reason for all, in each mail; a rejection without one writes nothing.
        let outcomes = run(BulkAction::Reject, numbers(&[&closed[2]]), " ").await;
        assert_eq!(
            outcomes[0].1,
            Outcome::Refused(DecisionRefused::ReasonRequired)
        );
        let outcomes = run(
            BulkAction::Reject,
            numbers(&[&closed[2]]),
            "Diplôme non reconnu",
        )
        .await;
        assert_eq!(outcomes[0].1, Outcome::Done);
        let (subject, body): (String, String) = sqlx::query_as(
            "SELECT subject, body FROM outbox WHERE dossier_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(&closed[2].id)
        .fetch_one(t.db.pool())
        .await
        .unwrap();
        assert!(
            subject.starts_with("Votre dossier a été rejeté"),
            "{subject}"
        );
        assert!(body.contains("Motif : Diplôme non reconnu"), "{body}");
        // What the confirmation showed is what went.
        let shown = bulk::letter(
            "http://x",
            BulkAction::Reject,
            &closed[2],
            "Diplôme non reconnu",
            clock.now(),
        );
        match shown.content {
            services::letters::outbox::Content::Text {
                subject: s,
                body: b,
            } => {
                assert_eq!((s, b), (subject, body))
            }
            other => panic!("{other:?}"),
        }

        // One message to several candidates, each in their conversation.
        let outcomes = run(
            BulkAction::Message,
            numbers(&[&closed[0], &open]),
            "Convocations envoyées le 3 mars.",
        )
        .await;
        assert!(
            outcomes.iter().all(|(_, o)| *o == Outcome::Done),
            "{outcomes:?}"
        );
        for d in [&closed[0], &open] {
            let history = services::dossiers::messages::history(&t.db, &d.id)
                .await
                .unwrap();
            assert_eq!(history.len(), 1);
        }
        let outcomes = run(BulkAction::Message, numbers(&[&closed[1]]), "").await;
        assert!(matches!(outcomes[0].1, Outcome::MessageRefused(_)));
    }
}

#[tokio::test]
async fn a_seeded_volume_exam_has_dossiers_at_every_stage_and_their_files() {
    use services::files::storage::Storage;
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path()).await.unwrap();
        let seeded =
            services::platform::volume::seed(&t.db, &storage, &clock, "http://x", &member, 60)
                .await
                .unwrap();
        assert_eq!(seeded.dossiers, 60, "{}", t.label);
        // Three in four close; one in eight sends nothing (among the others).
        assert_eq!(seeded.closed, 45);
        let exams = instruction::exams(&t.db, &clock).await.unwrap();
        let counts = counts(&exams, DEMO);
        for stage in [
            Stage::Building,
            Stage::ToCheck,
            Stage::Incomplete,
            Stage::CorrectionAsked,
            Stage::Complete,
            Stage::Accepted,
            Stage::Rejected,
        ] {
            assert!(at(&counts, stage) > 0, "{stage:?}: {counts:?}");
        }
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 60);
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        assert_eq!(stored as usize, seeded.files);
        let unsent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dossier_id IS NOT NULL",
        )
        .fetch_one(t.db.pool())
        .await
        .unwrap();
        assert_eq!(unsent, 0, "nobody is mailed");
        // A second run adds after the first.
        let more =
            services::platform::volume::seed(&t.db, &storage, &clock, "http://x", &member, 5)
                .await
                .unwrap();
        assert_eq!(more.dossiers, 5);
    }
}

#[tokio::test]
async fn a_decision_s_mail_is_held_a_minute_merged_with_the_admission_and_taken_back() {
    use domain::instruction::{Decision, DecisionRefused};
    use instruction::DecisionError;
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = 1 WHERE id = $1")
            .bind(&d.id)
            .execute(t.db.pool())
            .await
            .unwrap();
        let number = d.number.to_string();
        let subjects = async || -> Vec<(String, i64)> {
            sqlx::query_as(
                "SELECT subject, due_at FROM outbox WHERE dossier_id = $1 ORDER BY created_at, id",
            )
            .bind(&d.id)
            .fetch_all(t.db.pool())
            .await
            .unwrap()
        };
        let decide = async |decision: Decision| {
            instruction::decide(&t.db, &clock, "http://x", &member, &number, decision).await
        };
        let take_back = async |reason: &str| {
            instruction::take_back(&t.db, &clock, "http://x", &member, &number, reason).await
        };
        let before = subjects().await.len();
        // Nothing to take back yet.
        assert!(matches!(
            take_back("erreur").await,
            Err(DecisionError::Refused(DecisionRefused::NothingToTakeBack))
        ));

        // « complet », then « admis » 30 s later: one mail, the admission's, held a minute.
        decide(Decision::Complete).await.unwrap();
        let held = subjects().await;
        assert_eq!(held.len(), before + 1, "{}", t.label);
        assert_eq!(
            held.last().unwrap().1,
            clock.now().as_millisecond() + instruction::DECISION_HOLD_MS
        );
        clock.advance(SignedDuration::from_secs(30));
        decide(Decision::Accept).await.unwrap();
        let after = subjects().await;
        assert_eq!(after.len(), before + 1, "{after:?}");
        assert!(
            after
                .last()
                .unwrap()
                .0
                .starts_with("Vous êtes admis à concourir")
        );

        // Taken back within the minute: no mail at all, the dossier to check again.
        assert!(matches!(
            take_back("  ").await,
            Err(DecisionError::Refused(DecisionRefused::ReasonRequired))
        ));
        let d2 = take_back("Admis par erreur : diplôme à vérifier")
            .await
            .unwrap();
        assert_eq!(d2.status, "closed");
        assert_eq!(d2.review, None);
        assert_eq!(subjects().await.len(), before, "the held mail is not sent");
        let journal = staff::audit_of_dossier(&t.db, &d.id).await.unwrap();
        let last = journal.last().unwrap();
        assert_eq!(last.action, "décision annulée");
        assert_eq!(
            last.detail,
            "admis à concourir : Admis par erreur : diplôme à vérifier"
        );

        // Rejected, its mail gone after the minute: taking it back tells the candidate.
        decide(Decision::Reject {
            reason: "Diplôme non reconnu".into(),
        })
        .await
        .unwrap();
        clock.advance(SignedDuration::from_secs(61));
        sqlx::query("UPDATE outbox SET sent_at = $1 WHERE dossier_id = $2")
            .bind(clock.now().as_millisecond())
            .bind(&d.id)
            .execute(t.db.pool())
            .await
            .unwrap();
        take_back("Recours gracieux accepté").await.unwrap();
        let (subject, body): (String, String) = sqlx::query_as(
            "SELECT subject, body FROM outbox WHERE dossier_id = $1 AND sent_at IS NULL",
        )
        .bind(&d.id)
        .fetch_one(t.db.pool())
        .await
        .unwrap();
        assert!(
            subject.starts_with("La décision sur votre dossier est annulée"),
            "{subject}"
        );
        assert!(body.contains("Motif : Recours gracieux accepté"), "{body}");
        assert!(body.contains("(rejeté)"), "{body}");
        let exams = instruction::exams(&t.db, &clock).await.unwrap();
        assert_eq!(at(&counts(&exams, DEMO), Stage::ToCheck), 1);
    }
}

#[tokio::test]
async fn export_models_are_named_ordered_shared_and_say_who_decided() {
    use domain::instruction::Decision;
    use services::dossiers::export::{self, Column, models};
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        // A model: named, its columns in the order chosen, each once.
        assert!(matches!(
            models::save(&t.db, &clock, &member, " ", &[Column::Email]).await,
            Err(models::ModelError::Name)
        ));
        assert!(matches!(
            models::save(&t.db, &clock, &member, "Vide", &[]).await,
            Err(models::ModelError::NoColumn)
        ));
        let convocations = models::parse_codes("nom_naissance,prenoms,inconnu,adresse,prenoms");
        assert_eq!(
            convocations,
            [Column::BirthName, Column::FirstNames, Column::Address]
        );
        let saved = models::save(&t.db, &clock, &member, "Convocations", &convocations)
            .await
            .unwrap();
        assert_eq!(saved.author, "Claire Agent");
        // Saved again under the same name (any case): replaced, not doubled.
        let again = models::save(&t.db, &clock, &member, "convocations", &[Column::Email])
            .await
            .unwrap();
        assert_eq!(again.id, saved.id, "{}", t.label);
        let all = models::all(&t.db).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].columns, [Column::Email]);
        assert!(models::delete(&t.db, &saved.id).await.unwrap());
        assert!(models::all(&t.db).await.unwrap().is_empty());

        // « Décision prise par »: the journal's last decision, by whom and when.
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = 1 WHERE id = $1")
            .bind(&d.id)
            .execute(t.db.pool())
            .await
            .unwrap();
        instruction::decide(
            &t.db,
            &clock,
            "http://x",
            &member,
            d.number.as_str(),
            Decision::Complete,
        )
        .await
        .unwrap();
        clock.advance(SignedDuration::from_mins(5));
        instruction::decide(
            &t.db,
            &clock,
            "http://x",
            &member,
            d.number.as_str(),
            Decision::Accept,
        )
        .await
        .unwrap();
        let decisions = export::decisions(&t.db, DEMO).await.unwrap();
        let decided = decisions.get(&d.id).unwrap();
        assert_eq!(decided.by, "Claire Agent");
        assert_eq!(decided.at, clock.now().as_millisecond());
    }
}

#[tokio::test]
async fn saved_views_belong_to_their_agent_and_exam() {
    use services::dossiers::instruction::views::{self, ViewError};
    for t in testing::all().await {
        let (clock, claire) = with_staff(&t).await;
        let paul = staff::create(
            &t.db,
            &Passwords::new(1).unwrap(),
            &clock,
            "paul@cdg.fr",
            "Paul Agent",
            "une autre phrase assez longue",
        )
        .await
        .unwrap();
        assert!(matches!(
            views::save(&t.db, &clock, &claire, DEMO, "  ", "q=").await,
            Err(ViewError::Name)
        ));
        views::save(&t.db, &clock, &claire, DEMO, "Tiers-temps", "amenagement=1")
            .await
            .unwrap();
        // The same name, any case: replaced.
        views::save(
            &t.db,
            &clock,
            &claire,
            DEMO,
            "tiers-temps",
            "amenagement=1&voie=interne",
        )
        .await
        .unwrap();
        let mine = views::of(&t.db, &claire, DEMO).await.unwrap();
        assert_eq!(mine.len(), 1, "{}", t.label);
        assert_eq!(mine[0].query, "amenagement=1&voie=interne");
        // Not Paul's, not another exam's; Paul cannot delete it.
        assert!(views::of(&t.db, &paul, DEMO).await.unwrap().is_empty());
        assert!(views::of(&t.db, &claire, "autre").await.unwrap().is_empty());
        assert!(!views::delete(&t.db, &paul, &mine[0].id).await.unwrap());
        for i in 1..views::PER_EXAM {
            views::save(&t.db, &clock, &claire, DEMO, &format!("Vue {i}"), "q=")
                .await
                .unwrap();
        }
        assert!(matches!(
            views::save(&t.db, &clock, &claire, DEMO, "Une de trop", "q=").await,
            Err(ViewError::TooMany)
        ));
        assert!(views::delete(&t.db, &claire, &mine[0].id).await.unwrap());
        views::save(&t.db, &clock, &claire, DEMO, "Une de trop", "q=")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_refused_form_is_kept_an_hour_for_its_agent_and_dossier_only() {
    use services::access::kept_forms;
    for t in testing::all().await {
        let (clock, claire) = with_staff(&t).await;
        let paul = staff::create(
            &t.db,
            &Passwords::new(1).unwrap(),
            &clock,
            "paul@cdg.fr",
            "Paul Agent",
            "une autre phrase assez longue",
        )
        .await
        .unwrap();
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Dupont").await;
        let fields: kept_forms::Fields = vec![
            ("piece".into(), "diplome".into()),
            ("piece".into(), "piece-identite".into()),
            ("motif".into(), "Illisible".into()),
        ];
        let form = kept_forms::CORRECTION;
        kept_forms::keep(&t.db, &clock, &claire, &d.id, form, &fields)
            .await
            .unwrap();
        assert_eq!(
            kept_forms::kept(&t.db, &clock, &claire, &d.id, form)
                .await
                .unwrap(),
            Some(fields.clone()),
            "{}",
            t.label
        );
        assert_eq!(
            kept_forms::kept(&t.db, &clock, &paul, &d.id, form)
                .await
                .unwrap(),
            None
        );
        clock.advance(SignedDuration::from_mins(61));
        assert_eq!(
            kept_forms::kept(&t.db, &clock, &claire, &d.id, form)
                .await
                .unwrap(),
            None,
            "an hour at most"
        );
        // The hourly purge removes it; a form that passes forgets it at once.
        services::platform::housekeeping::purge(&t.db, &clock)
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kept_forms")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
        kept_forms::keep(&t.db, &clock, &claire, &d.id, form, &fields)
            .await
            .unwrap();
        kept_forms::forget(&t.db, &claire, &d.id, form)
            .await
            .unwrap();
        assert_eq!(
            kept_forms::kept(&t.db, &clock, &claire, &d.id, form)
                .await
                .unwrap(),
            None
        );
    }
}

/// The page an agent sees, as the database narrows the rows and cuts the page, is
/// the page of the whole list as Rust alone keeps and sorts it: for every criterion,
/// every order, before and after the deadline, with rows whose list columns are not
/// filled yet and searches full of LIKE's own characters.
#[tokio::test]
async fn a_list_page_narrowed_and_cut_by_the_database_is_the_page_rust_alone_gives() {
    use domain::exam::Voie;
    use instruction::{Criteria, FileFlag, Sort};
    use services::files::storage::Storage;
    for t in testing::all().await {
        let (clock, member) = with_staff(&t).await;
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path()).await.unwrap();
        services::platform::volume::seed(&t.db, &storage, &clock, "http://x", &member, 80)
            .await
            .unwrap();
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, number, email, phone_key FROM dossiers WHERE exam_slug = $1 ORDER BY number",
        )
        .bind(DEMO)
        .fetch_all(t.db.pool())
        .await
        .unwrap();
        assert_eq!(rows.len(), 80, "{}", t.label);
        let id = |i: usize| rows[i].0.clone();
        let now = clock.now().as_millisecond();
        // Rows as made before the list columns: only their answers tell.
        for (i, _) in rows.iter().enumerate().filter(|(i, _)| i % 9 == 4) {
            sqlx::query(
                "UPDATE dossiers SET phone_key = NULL, usage_key = NULL, voie = NULL, accommodation = 0 WHERE id = $1",
            )
            .bind(id(i))
            .execute(t.db.pool())
            .await
            .unwrap();
        }
        // Dossiers closed at the same instant: ties the number breaks (an identity is
        // unique in an exam, a name never ties).
        for i in [21, 22, 23, 57] {
            sqlx::query(
                "UPDATE dossiers SET closed_at = (SELECT closed_at FROM dossiers WHERE id = $2)
                 WHERE id = $1",
            )
            .bind(id(i))
            .bind(id(60))
            .execute(t.db.pool())
            .await
            .unwrap();
        }
        for (sql, i) in [
            ("UPDATE dossiers SET withdrawn_at = $2 WHERE id = $1", 3),
            ("UPDATE dossiers SET withdrawn_at = $2 WHERE id = $1", 31),
            (
                "UPDATE attachments SET scan = 'infected' WHERE dossier_id = $1 AND $2 > 0",
                5,
            ),
            (
                "UPDATE attachments SET scan = 'pending' WHERE dossier_id = $1 AND $2 > 0",
                6,
            ),
            (
                "UPDATE attachments SET scan = 'error' WHERE dossier_id = $1 AND $2 > 0",
                40,
            ),
            (
                "INSERT INTO messages (id, dossier_id, author, body, created_at) VALUES ($1, $1, 'candidate', 'Bonjour', $2)",
                7,
            ),
            (
                "INSERT INTO messages (id, dossier_id, author, body, created_at) VALUES ($1, $1, 'candidate', 'Bonjour', $2)",
                13,
            ),
        ] {
            sqlx::query(sql)
                .bind(id(i))
                .bind(now)
                .execute(t.db.pool())
                .await
                .unwrap();
        }
        for i in [8, 10, 13] {
            services::dossiers::following::follow(&t.db, &clock, &member, &id(i), &member.id)
                .await
                .unwrap();
        }
        // Searches: names, a number's end, e-mails, a phone, and LIKE's characters.
        let number = &rows[12].1;
        let phone = rows.iter().find_map(|r| r.3.clone()).unwrap_or_default();
        let mut searches: Vec<String> = [
            "Martin",
            "martin",
            "mar",
            "Élodie",
            "elodie martin",
            "exemple",
            "@exemple.fr",
            "%",
            "_",
            "\\",
            "a_b",
            "100%",
            "é",
            "-",
            "zz",
            "   ",
        ]
        .map(String::from)
        .to_vec();
        searches.push(number[number.len() - 6..].to_lowercase());
        searches.push(number.replace('-', ""));
        searches.push(rows[20].2.to_uppercase());
        searches.push(format!("0{}", &phone[phone.len().saturating_sub(9)..]));
        // More words than the database is asked about: the words past them still count.
        searches.push(format!("martin {} zzzz", ["a"; 12].join(" ")));
        searches.push(format!("{} martin", ["a"; 12].join(" ")));
        let mut all: Vec<Criteria> = searches
            .iter()
            .map(|s| Criteria::searched(s, None))
            .collect();
        for stage in Stage::ALL {
            all.push(Criteria::searched("", Some(ListFilter::Stage(stage))));
        }
        for state in DossierState::ALL {
            all.push(Criteria::searched("", Some(ListFilter::State(state))));
            all.push(Criteria::searched("martin", Some(ListFilter::State(state))));
        }
        for voie in Voie::ALL {
            all.push(Criteria {
                voie: Some(voie),
                ..Criteria::default()
            });
        }
        for flag in FileFlag::ALL {
            all.push(Criteria {
                files: Some(flag),
                ..Criteria::default()
            });
        }
        all.push(Criteria {
            accommodation: true,
            ..Criteria::default()
        });
        all.push(Criteria {
            unanswered: true,
            ..Criteria::default()
        });
        for who in [member.id.clone(), "-".to_string()] {
            all.push(Criteria {
                followed_by: Some(who),
                ..Criteria::default()
            });
        }
        all.push(Criteria::default());
        // A search of 40,000 words (more values than SQLite binds) still answers.
        let long = Criteria::searched(&["a"; 40_000].join(" "), None);
        assert_eq!(
            instruction::entries(&t.db, &clock, DEMO, &long)
                .await
                .unwrap(),
            instruction::entries_unnarrowed(&t.db, &clock, DEMO, &long)
                .await
                .unwrap(),
            "{}",
            t.label
        );
        let mut kept_some = 0;
        for deadline_passed in [false, true] {
            if deadline_passed {
                clock.advance(SignedDuration::from_hours(24 * 400));
            }
            // The exams' counts (by the database where no correction runs) agree.
            let everything =
                instruction::entries_unnarrowed(&t.db, &clock, DEMO, &Criteria::default())
                    .await
                    .unwrap();
            for (stage, n) in counts(&instruction::exams(&t.db, &clock).await.unwrap(), DEMO) {
                let listed = everything.iter().filter(|e| e.stage == stage).count();
                assert_eq!(n as usize, listed, "{}: {stage:?}", t.label);
            }
            for criteria in &all {
                let whole = instruction::entries_unnarrowed(&t.db, &clock, DEMO, criteria)
                    .await
                    .unwrap();
                let narrowed = instruction::entries(&t.db, &clock, DEMO, criteria)
                    .await
                    .unwrap();
                assert_eq!(narrowed, whole, "{}: {criteria:?}", t.label);
                kept_some += usize::from(!whole.is_empty());
                for sort in Sort::ALL {
                    let mut sorted = whole.clone();
                    sort.apply(&mut sorted);
                    // A dossier's place in the list (its page's « précédent », « suivant »).
                    if criteria.filter.is_none() || *criteria == Criteria::default() {
                        for (at, e) in sorted.iter().enumerate().step_by(3) {
                            let place =
                                instruction::place(&t.db, &clock, DEMO, criteria, sort, &e.id)
                                    .await
                                    .unwrap()
                                    .expect("in the list");
                            let number = |i: usize| sorted.get(i).map(|e| e.number.clone());
                            assert_eq!(
                                place,
                                instruction::Place {
                                    previous: at.checked_sub(1).and_then(number),
                                    next: number(at + 1),
                                    rank: at + 1,
                                    total: sorted.len(),
                                },
                                "{}: {criteria:?} {sort:?} {}",
                                t.label,
                                e.number
                            );
                        }
                    }
                    let per_page = 7;
                    let pages = sorted.len().div_ceil(per_page).max(1);
                    for asked in [1, 2, pages, pages + 1] {
                        let paged =
                            instruction::page(&t.db, &clock, DEMO, criteria, sort, asked, per_page)
                                .await
                                .unwrap();
                        let shown = asked.min(pages);
                        let from = ((shown - 1) * per_page).min(sorted.len());
                        let expected = &sorted[from..(from + per_page).min(sorted.len())];
                        assert_eq!(
                            paged.total,
                            sorted.len(),
                            "{}: {criteria:?} {sort:?}",
                            t.label
                        );
                        assert_eq!(paged.page, shown, "{}: {criteria:?} {sort:?}", t.label);
                        assert_eq!(
                            paged.entries, expected,
                            "{}: {criteria:?} {sort:?} page {asked}",
                            t.label
                        );
                    }
                }
            }
        }
        // A dossier the list does not hold has no place in it.
        for (criteria, sort) in [
            (Criteria::default(), Sort::Name),
            (Criteria::default(), Sort::Stage),
            (
                Criteria {
                    followed_by: Some("-".into()),
                    ..Criteria::default()
                },
                Sort::Number,
            ),
        ] {
            let unknown = instruction::place(&t.db, &clock, DEMO, &criteria, sort, "inconnu");
            assert_eq!(unknown.await.unwrap(), None, "{}", t.label);
            if criteria.followed_by.is_some() {
                let first = id(0);
                let other = instruction::place(&t.db, &clock, DEMO, &criteria, sort, &first);
                assert_eq!(other.await.unwrap(), None, "{}", t.label);
            }
        }
        // The comparisons are not all of empty lists.
        assert!(kept_some > all.len(), "{}: {kept_some}", t.label);
    }
}
