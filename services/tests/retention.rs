//! Personal data kept no longer than allowed: an exam's dossiers erased when its
//! retention period ends, on SQLite and PostgreSQL, with files on a folder and on S3.

use std::sync::Arc;

use bytes::Bytes;
use domain::{ExamSpec, RawExam, antivirus::VirusScan};
use futures_util::stream;
use jiff::{SignedDuration, Timestamp};
use services::{
    Clock, Db, catalogue,
    dossiers::{Dossier, retention},
    files::{attachments, storage::Storage},
    platform::clock::ManualClock,
    testing,
};

/// An exam like the notices' animateur concours, last day `2026-12-01`, keeping its
/// dossiers `months` months (the default when `None`).
fn exam(slug: &str, months: Option<u32>) -> ExamSpec {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../exams");
    let mut text = std::fs::read_to_string(dir.join("animateur-territorial-2025.toml"))
        .unwrap()
        .replace("animateur-territorial-2025", slug)
        .replace("\"2025-04-17\"", "\"2026-12-01\"")
        .replace("\"2025-06-13\"", "\"2026-12-31\"");
    if let Some(months) = months {
        text = text.replacen(
            "[[pieces]]",
            &format!("retention_months = {months}\n\n[[pieces]]"),
            1,
        );
    }
    let raw: RawExam = toml::from_str(&text).unwrap();
    ExamSpec::parse(raw, jiff::civil::date(2026, 11, 1)).unwrap()
}

async fn deposit(db: &Db, storage: &Storage, clock: &dyn Clock, d: &Dossier) -> String {
    let body = stream::iter([Ok::<_, String>(Bytes::from(testing::jpeg(3000)))]);
    attachments::upload(
        db,
        storage,
        clock,
        d,
        "piece-identite",
        "carte.jpg",
        VirusScan::NotScanned,
        body,
    )
    .await
    .unwrap()
    .storage_key
}

async fn count(db: &Db, sql: &'static str, id: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_exam_s_dossiers_are_erased_when_its_retention_ends_and_only_counts_remain() {
    for (t, store) in testing::all_with_stores().await {
        let label = format!("{} + {}", t.label, store.label);
        let db = &t.db;
        let storage = &store.storage;
        let clock = Arc::new(ManualClock::at(
            "2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap(),
        ));
        let short = exam("garde-courte-2026", Some(2));
        let usual = exam("garde-usuelle-2026", None);
        catalogue::upsert(db, &[short, usual], &*clock)
            .await
            .unwrap();

        let a = testing::dossier(db, &*clock, "garde-courte-2026", "externe", "Aubertin").await;
        let b = testing::dossier(db, &*clock, "garde-courte-2026", "interne", "Bellanger").await;
        let c = testing::dossier(db, &*clock, "garde-usuelle-2026", "externe", "Carrel").await;
        let a_file = deposit(db, storage, &*clock, &a).await;
        let c_file = deposit(db, storage, &*clock, &c).await;
        // What hangs from A: a session, a message, a letter, a kept PDF.
        for sql in [
            "INSERT INTO sessions (token_hash, dossier_id, created_at, expires_at) VALUES ('jeton-a', $1, 0, 0)",
            "INSERT INTO messages (id, dossier_id, author, body, created_at) VALUES ('message-a', $1, 'candidate', 'Bonjour', 0)",
            "INSERT INTO outbox (id, recipient, kind, subject, dossier_id, created_at, due_at) VALUES ('lettre-a', 'a@exemple.fr', 'text', 'Objet', $1, 0, 0)",
        ] {
            sqlx::query(sql)
                .bind(&a.id)
                .execute(db.pool())
                .await
                .unwrap();
        }
        storage
            .keep_printout(&a.id, ("recu", "recu-abc"), b"%PDF-1.7".to_vec())
            .await
            .unwrap();
        sqlx::query("UPDATE dossiers SET withdrawn_at = 1 WHERE id = $1")
            .bind(&b.id)
            .execute(db.pool())
            .await
            .unwrap();

        // Staff see the dates beforehand: closed at 2026-12-02 00:00 Paris, erased 2
        // months later, and 24 for the exam that says nothing.
        let schedule = retention::schedule(db).await.unwrap();
        let due = schedule["garde-courte-2026"].purges_at;
        assert_eq!(due.to_string(), "2027-02-01T23:00:00Z", "{label}");
        assert_eq!(schedule["garde-usuelle-2026"].months, 24, "{label}");
        assert_eq!(
            schedule["garde-usuelle-2026"].purges_at.to_string(),
            "2028-12-01T23:00:00Z",
            "{label}"
        );
        assert_eq!(schedule["garde-courte-2026"].purged, None);

        // A millisecond before: nothing goes.
        clock.set(due - SignedDuration::from_millis(1));
        let erased = retention::purge_due(db, storage, &*clock).await.unwrap();
        assert_eq!(erased, retention::Erased::default(), "{label}");
        assert!(storage.exists(&a_file).await, "{label}");

        // At the instant: both dossiers of the short exam, their file, their PDF, and
        // everything hanging from them; the other exam's dossier is untouched.
        clock.set(due);
        let erased = retention::purge_due(db, storage, &*clock).await.unwrap();
        assert_eq!(
            erased,
            retention::Erased {
                dossiers: 2,
                files: 1
            },
            "{label}"
        );
        assert!(!storage.exists(&a_file).await, "{label}: the file is gone");
        assert!(
            storage.printouts_of(&a.id).await.unwrap().is_empty(),
            "{label}"
        );
        assert!(
            storage.exists(&c_file).await,
            "{label}: another exam's file stays"
        );
        for sql in [
            "SELECT COUNT(*) FROM dossiers WHERE id = $1",
            "SELECT COUNT(*) FROM sessions WHERE dossier_id = $1",
            "SELECT COUNT(*) FROM messages WHERE dossier_id = $1",
            "SELECT COUNT(*) FROM outbox WHERE dossier_id = $1",
            "SELECT COUNT(*) FROM attachments WHERE dossier_id = $1",
        ] {
            assert_eq!(count(db, sql, &a.id).await, 0, "{sql} ({label})");
        }
        assert_eq!(
            count(db, "SELECT COUNT(*) FROM dossiers WHERE id = $1", &c.id).await,
            1
        );

        // What remains: the purge's record and anonymous counts.
        let purged = retention::schedule(db).await.unwrap()["garde-courte-2026"]
            .purged
            .clone()
            .expect("the purge is recorded");
        assert_eq!(purged.at, due.as_millisecond(), "{label}");
        assert_eq!((purged.dossiers, purged.files), (2, 1), "{label}");
        assert_eq!(purged.counts.dossiers, 2);
        assert_eq!(purged.counts.withdrawn, 1);
        assert_eq!(purged.counts.voies.get("externe"), Some(&1));
        assert_eq!(purged.counts.voies.get("interne"), Some(&1));
        let stored: String = sqlx::query_scalar("SELECT counts FROM exam_purges")
            .fetch_one(db.pool())
            .await
            .unwrap();
        for name in ["Aubertin", "AUBERTIN", "Bellanger", "BELLANGER", "@"] {
            assert!(!stored.contains(name), "{name} in {stored} ({label})");
        }

        // Another pass finds nothing more and keeps the record.
        clock.advance(SignedDuration::from_mins(1));
        assert_eq!(
            retention::purge_due(db, storage, &*clock).await.unwrap(),
            retention::Erased::default()
        );
        assert_eq!(
            retention::schedule(db).await.unwrap()["garde-courte-2026"].purged,
            Some(purged),
            "{label}"
        );
    }
}

#[tokio::test]
async fn the_pdfs_of_a_dossier_erased_before_its_files_went_are_swept() {
    for (t, store) in testing::all_with_stores().await {
        let db = &t.db;
        let storage = &store.storage;
        let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
        catalogue::upsert(db, &[exam("balayage-2026", None)], &clock)
            .await
            .unwrap();
        let kept = testing::dossier(db, &clock, "balayage-2026", "externe", "Durand").await;
        storage
            .keep_printout(&kept.id, ("dossier", "dossier-1"), b"%PDF-1.7".to_vec())
            .await
            .unwrap();
        // A purge cut after its transaction: the row is gone, the PDF is still there.
        storage
            .keep_printout(
                "00000000-0000-0000-0000-000000000000",
                ("recu", "recu-1"),
                b"%PDF-1.7".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(
            retention::sweep_printouts(db, storage).await.unwrap(),
            1,
            "{}",
            store.label
        );
        assert!(
            storage
                .printouts_of("00000000-0000-0000-0000-000000000000")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(storage.printouts_of(&kept.id).await.unwrap(), ["dossier-1"]);
    }
}
