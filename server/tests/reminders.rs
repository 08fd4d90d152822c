//! The running server sends the deadline reminders by itself: a dossier left open two
//! days before its exam's deadline gets its mail without anyone asking.

mod common;

use std::time::Duration;

use common::{NOW, spawn_app_with};
use jiff::{SignedDuration, Timestamp};
use services::{catalogue, platform::clock::FixedClock, testing};

#[tokio::test]
async fn the_server_mails_the_reminder_of_an_open_dossier_two_days_before_the_deadline() {
    let exams = common::soon_exam();
    for test_db in testing::all().await {
        // Registered a week before, and never closed.
        let week_before =
            FixedClock(NOW.parse::<Timestamp>().unwrap() - SignedDuration::from_hours(24 * 7));
        catalogue::import_dir(&test_db.db, exams.path(), &week_before)
            .await
            .unwrap();
        let dossier =
            testing::dossier(&test_db.db, &week_before, "bientot", "externe", "Oubli").await;

        let app = spawn_app_with(
            test_db,
            &[("APP_EXAMS_DIR", &exams.path().display().to_string())],
        )
        .await;
        let mut reminded = Vec::new();
        for _ in 0..100 {
            reminded = app
                .mails()
                .into_iter()
                .filter(|m| {
                    m.contains(&dossier.number.to_string())
                        && m.contains("n'est pas encore clôturé")
                })
                .collect();
            if !reminded.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(reminded.len(), 1, "{}", app.label);
        assert!(
            reminded[0].contains("mercredi 25 novembre 2026 avant minuit"),
            "{}",
            reminded[0]
        );
    }
}
