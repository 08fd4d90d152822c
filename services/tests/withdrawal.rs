//! Désistement, on SQLite and PostgreSQL: the candidate withdraws before the deadline,
//! the service records it after; a withdrawn dossier takes no file and no closure, gets
//! no reminder, and is counted apart.

use std::sync::Arc;

use bytes::Bytes;
use domain::{
    antivirus::VirusScan,
    instruction::{DossierState, WithdrawalRefused},
};
use futures_util::stream;
use jiff::{SignedDuration, Timestamp};
use services::{
    Clock, Db, catalogue,
    dossiers::{
        self, Dossier,
        closure::{self, ClosureError},
        instruction,
        withdrawal::{self, WithdrawalError},
    },
    files::attachments,
    platform::clock::ManualClock,
    testing,
};

const DEMO: &str = "demo-redacteur-territorial";

async fn reload(db: &Db, d: &Dossier) -> Dossier {
    dossiers::by_id(db, &d.id).await.unwrap().unwrap()
}

async fn letters(db: &Db, d: &Dossier) -> Vec<String> {
    sqlx::query_scalar("SELECT subject FROM outbox WHERE dossier_id = $1 ORDER BY created_at")
        .bind(&d.id)
        .fetch_all(db.pool())
        .await
        .unwrap()
}

/// The shipped exams, imported on 2026-11-24, before the demo exam's deadline.
async fn with_exams(db: &Db) -> Arc<ManualClock> {
    let clock = Arc::new(ManualClock::at(
        "2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap(),
    ));
    let exams = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../exams");
    catalogue::import_dir(db, &exams, &*clock).await.unwrap();
    clock
}

#[tokio::test]
async fn a_candidate_withdraws_before_the_deadline_and_the_dossier_then_takes_nothing() {
    for t in testing::all().await {
        let db = &t.db;
        let clock = with_exams(db).await;
        let root = tempfile::tempdir().unwrap();
        let storage = services::files::storage::Storage::open(root.path())
            .await
            .unwrap();
        let d = testing::dossier(db, &*clock, DEMO, "externe", "Desvignes").await;

        let withdrawn = withdrawal::withdraw(db, &*clock, "https://cdg.example", &d.number)
            .await
            .unwrap();
        assert_eq!(
            withdrawn.withdrawn_at,
            Some(clock.now().as_millisecond()),
            "{}",
            t.label
        );
        let (_, state) = instruction::dossier(db, &*clock, d.number.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state, DossierState::Withdrawn);
        assert!(
            letters(db, &d)
                .await
                .iter()
                .any(|s| s.starts_with("Désistement enregistré")),
            "{}",
            t.label
        );

        // Nothing more: no second désistement, no closure, no file, no reminder.
        assert!(matches!(
            withdrawal::withdraw(db, &*clock, "x", &d.number).await,
            Err(WithdrawalError::Refused(WithdrawalRefused::Already))
        ));
        let d = reload(db, &d).await;
        assert!(matches!(
            closure::close(db, &*clock, &d).await,
            Err(ClosureError::Withdrawn)
        ));
        let pieces = attachments::requested_pieces(db, &d).await.unwrap();
        assert!(
            pieces
                .iter()
                .all(|p| !attachments::can_change(clock.now(), &d, p))
        );
        let body = stream::iter([Ok::<_, String>(Bytes::from(testing::jpeg(2000)))]);
        let upload = attachments::upload(
            db,
            &storage,
            &*clock,
            &d,
            "piece-identite",
            "carte.jpg",
            VirusScan::NotScanned,
            body,
        )
        .await;
        assert!(
            upload.is_err(),
            "{}: a file went into a withdrawn dossier",
            t.label
        );
        assert!(attachments::list(db, &d.id).await.unwrap().is_empty());
        // Two days before the deadline, the reminder skips it.
        let deadline = d.deadline.closes_at();
        clock.set(deadline - SignedDuration::from_hours(47));
        services::dossiers::reminders::send_due(db, &*clock, "x")
            .await
            .unwrap();
        assert!(
            !letters(db, &d)
                .await
                .iter()
                .any(|s| s.contains("rappel") || s.contains("Rappel")),
            "{}: {:?}",
            t.label,
            letters(db, &d).await
        );

        // Counted apart on the service's home page.
        let counts = instruction::exams(db, &*clock).await.unwrap();
        let demo = counts.iter().find(|e| e.slug == DEMO).unwrap();
        let withdrawn_count = demo
            .counts
            .iter()
            .find(|(s, _)| *s == domain::instruction::Stage::Withdrawn)
            .map(|(_, n)| *n);
        assert_eq!(withdrawn_count, Some(1), "{}", t.label);
        let open_count = demo
            .counts
            .iter()
            .find(|(s, _)| *s == domain::instruction::Stage::Building)
            .map(|(_, n)| *n);
        assert_eq!(
            open_count,
            Some(0),
            "{}: the withdrawn one is not open",
            t.label
        );
    }
}

#[tokio::test]
async fn after_the_deadline_the_candidate_asks_and_the_service_records_it() {
    for t in testing::all().await {
        let db = &t.db;
        let clock = with_exams(db).await;
        let d = testing::dossier(db, &*clock, DEMO, "externe", "Ferrand").await;
        testing::file_row(db, &d.id, 1000).await;
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = $2 WHERE id = $1")
            .bind(&d.id)
            .bind(clock.now().as_millisecond())
            .execute(db.pool())
            .await
            .unwrap();
        // Before the deadline a closed dossier may still be withdrawn by its candidate;
        // past it, they ask the service.
        clock.set(d.deadline.closes_at());
        assert!(matches!(
            withdrawal::withdraw(db, &*clock, "x", &d.number).await,
            Err(WithdrawalError::Refused(WithdrawalRefused::AskTheService))
        ));
        assert_eq!(reload(db, &d).await.withdrawn_at, None);

        let passwords = services::access::passwords::Passwords::new(1).unwrap();
        let member = services::access::staff::create(
            db,
            &passwords,
            &*clock,
            "agent@cdg.fr",
            "Claire Agent",
            "une phrase assez longue",
        )
        .await
        .unwrap();
        withdrawal::record(
            db,
            &*clock,
            "x",
            &member,
            d.number.as_str(),
            "Message du 3 décembre",
        )
        .await
        .unwrap();
        assert_eq!(
            reload(db, &d).await.withdrawn_at,
            Some(clock.now().as_millisecond())
        );
        let log = services::access::staff::audit_of_dossier(db, &d.id)
            .await
            .unwrap();
        assert!(
            log.iter().any(
                |e| e.action == "désistement enregistré" && e.detail == "Message du 3 décembre"
            ),
            "{}: {log:?}",
            t.label
        );
        assert!(matches!(
            withdrawal::record(db, &*clock, "x", &member, d.number.as_str(), "encore").await,
            Err(WithdrawalError::Refused(WithdrawalRefused::Already))
        ));
        // No decision on it any more.
        assert!(
            instruction::decide(
                db,
                &*clock,
                "x",
                &member,
                d.number.as_str(),
                domain::instruction::Decision::Complete
            )
            .await
            .is_err()
        );
    }
}
