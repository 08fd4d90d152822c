//! The reminder two days before the deadline, against real databases: who gets it,
//! when, exactly once (also with passes running side by side). A mail that could not
//! be sent is the outbox's to retry (`tests/outbox.rs`).

use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use services::{
    catalogue,
    dossiers::Dossier,
    dossiers::reminders::{self, BEFORE_DEADLINE},
    letters::mail::{Mailer, read_mail_files},
    platform::clock::ManualClock,
    testing,
};
use sqlx::Row;

const DEMO: &str = "demo-redacteur-territorial";

fn exams_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams")
}

/// The shipped exams imported on a clock the test moves, and the instant the demo
/// exam's registration closes.
async fn shipped_exams(t: &testing::TestDb) -> (ManualClock, Timestamp) {
    let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
    catalogue::import_dir(&t.db, &exams_dir(), &clock)
        .await
        .unwrap();
    let closes_at: i64 = sqlx::query("SELECT closes_at FROM exams WHERE slug = $1")
        .bind(DEMO)
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get("closes_at");
    (clock, Timestamp::from_millisecond(closes_at).unwrap())
}

/// The reminders in `dir` about this dossier (the test candidates share one address).
fn reminders_of(dir: &Path, dossier: &Dossier) -> usize {
    read_mail_files(dir)
        .unwrap()
        .iter()
        .filter(|m| {
            m.contains("n'est pas encore clôturé") && m.contains(&dossier.number.to_string())
        })
        .count()
}

#[tokio::test]
async fn open_dossiers_get_one_reminder_two_days_before_the_deadline() {
    for t in testing::all().await {
        let (clock, closes_at) = shipped_exams(&t).await;
        let mails = tempfile::tempdir().unwrap();
        let mailer = Mailer::to_files(mails.path().to_path_buf(), "concours@exemple.fr").unwrap();
        let pass = || reminders::send_due(&t.db, &clock, "http://x");
        let deliver = || {
            services::letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x"),
            )
        };

        let waiting = testing::dossier(&t.db, &clock, DEMO, "externe", "Attente").await;
        let closed = testing::dossier(&t.db, &clock, DEMO, "externe", "Cloture").await;
        sqlx::query("UPDATE dossiers SET status = 'closed', closed_at = 1 WHERE id = $1")
            .bind(&closed.id)
            .execute(t.db.pool())
            .await
            .unwrap();

        // A minute before the window opens: nothing yet.
        clock.set(closes_at - BEFORE_DEADLINE - SignedDuration::from_mins(1));
        assert_eq!(pass().await.unwrap(), 0, "{}", t.label);
        clock.set(closes_at - BEFORE_DEADLINE + SignedDuration::from_mins(1));
        assert_eq!(pass().await.unwrap(), 1, "{}", t.label);
        assert_eq!(pass().await.unwrap(), 0, "sent once");
        // Registered on the last evening: it has just read the deadline.
        clock.set(closes_at - SignedDuration::from_hours(20));
        let late = testing::dossier(&t.db, &clock, DEMO, "externe", "Tardif").await;
        assert_eq!(pass().await.unwrap(), 0);
        assert_eq!(deliver().await.unwrap(), 1);
        let all = read_mail_files(mails.path()).unwrap();
        assert_eq!(all.len(), 1);
        let mail = &all[0];
        assert!(mail.contains(&waiting.number.to_string()), "{mail}");
        assert!(mail.contains("n'est pas encore clôturé"), "{mail}");
        assert!(mail.contains(&waiting.deadline.to_french()), "{mail}");
        assert!(mail.contains("« CLÔTURER MON INSCRIPTION »"), "{mail}");
        assert_eq!(reminders_of(mails.path(), &waiting), 1);
        assert_eq!(reminders_of(mails.path(), &closed), 0);
        assert_eq!(reminders_of(mails.path(), &late), 0);

        // At the deadline nothing is left to remind.
        let after = testing::dossier(&t.db, &clock, DEMO, "externe", "Apres").await;
        sqlx::query("UPDATE dossiers SET created_at = 0 WHERE id = $1")
            .bind(&after.id)
            .execute(t.db.pool())
            .await
            .unwrap();
        clock.set(closes_at);
        assert_eq!(pass().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn passes_side_by_side_promise_each_reminder_once() {
    for t in testing::all().await {
        let (clock, closes_at) = shipped_exams(&t).await;
        let mut waiting = Vec::new();
        for who in ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"] {
            waiting.push(testing::dossier(&t.db, &clock, DEMO, "externe", who).await);
        }
        clock.set(closes_at - SignedDuration::from_hours(30));
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("mails");
        let mailer = Mailer::to_files(folder.clone(), "concours@exemple.fr").unwrap();

        // Eight instances run their pass at the same moment, then their mail passes.
        let passes = (0..8).map(|_| reminders::send_due(&t.db, &clock, "http://x"));
        let promised: usize = futures_util::future::join_all(passes)
            .await
            .into_iter()
            .map(Result::unwrap)
            .sum();
        assert_eq!(promised, 6, "{}", t.label);
        let deliveries = (0..3).map(|_| {
            services::letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x"),
            )
        });
        let sent: usize = futures_util::future::join_all(deliveries)
            .await
            .into_iter()
            .map(Result::unwrap)
            .sum();
        assert_eq!(sent, 6, "{}", t.label);
        assert_eq!(read_mail_files(&folder).unwrap().len(), 6);
        for dossier in &waiting {
            assert_eq!(reminders_of(&folder, dossier), 1, "{}", dossier.number);
        }
    }
}

#[tokio::test]
async fn more_dossiers_than_a_batch_each_get_one_letter() {
    for t in testing::all().await {
        let (clock, closes_at) = shipped_exams(&t).await;
        let count = reminders::BATCH + 3;
        for i in 0..count {
            // A name is letters only.
            let name: String = [i / 26, i % 26]
                .map(|d| char::from(b'a' + d as u8))
                .iter()
                .collect();
            testing::dossier(&t.db, &clock, DEMO, "externe", &format!("Lot{name}")).await;
        }
        // One of them closes before the pass: it is left out of its batch.
        sqlx::query(
            "UPDATE dossiers SET status = 'closed', closed_at = 1
             WHERE id = (SELECT MIN(id) FROM dossiers)",
        )
        .execute(t.db.pool())
        .await
        .unwrap();
        clock.set(closes_at - SignedDuration::from_hours(30));
        let passes = (0..2).map(|_| reminders::send_due(&t.db, &clock, "http://x"));
        let promised: usize = futures_util::future::join_all(passes)
            .await
            .into_iter()
            .map(Result::unwrap)
            .sum();
        assert_eq!(promised, count - 1, "{}", t.label);
        let letters: Vec<(String, i64)> = sqlx::query(
            "SELECT d.id, COUNT(o.id) AS n FROM dossiers d
             LEFT JOIN outbox o ON o.dossier_id = d.id AND o.subject LIKE 'Rappel%' GROUP BY d.id",
        )
        .fetch_all(t.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("n")))
        .collect();
        assert_eq!(letters.len(), count, "{}", t.label);
        let once = letters.iter().filter(|(_, n)| *n == 1).count();
        assert_eq!(
            once,
            count - 1,
            "{}: one letter each, none to the closed one",
            t.label
        );
        assert_eq!(
            reminders::send_due(&t.db, &clock, "http://x")
                .await
                .unwrap(),
            0
        );
    }
}
