//! The outbox against real databases: a promised mail is sent once, even with passes
//! side by side; a relay that fails keeps it for later, and staff see why.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use services::{
    Clock, catalogue,
    clock::ManualClock,
    housekeeping,
    mail::{Mailer, read_mail_files},
    outbox::{self, Letter},
    testing,
};

const DEMO: &str = "demo-redacteur-territorial";

async fn setup(t: &testing::TestDb) -> ManualClock {
    let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
    let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
    catalogue::import_dir(&t.db, &exams, &clock).await.unwrap();
    clock
}

#[tokio::test]
async fn a_promised_mail_waits_out_a_failing_relay_and_then_goes_once() {
    for t in testing::all().await {
        let clock = setup(&t).await;
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Courrier").await;
        let now = clock.now().as_millisecond();
        let letter = Letter::text(
            "courrier@exemple.fr",
            "Votre dossier est complet",
            "Bonjour",
        )
        .about(&d.id);
        outbox::post(t.db.pool(), now, &letter).await.unwrap();

        // Nothing listens on port 9: the relay fails, the letter stays.
        let down = Mailer::smtp_relay("127.0.0.1", 9, "concours@exemple.fr").unwrap();
        assert_eq!(
            outbox::deliver_due(&t.db, &clock, &down, "http://x")
                .await
                .unwrap(),
            0
        );
        let seen = outbox::of_dossier(&t.db, &d.id).await.unwrap();
        assert_eq!(seen.len(), 1, "{}", t.label);
        assert_eq!((seen[0].sent_at, seen[0].attempts), (None, 1));
        assert!(seen[0].last_error.is_some());
        assert_eq!(outbox::waiting(&t.db).await.unwrap(), 1);

        // Not retried at once; after the wait, by a working relay, once.
        let dir = tempfile::tempdir().unwrap();
        let up = Mailer::to_files(dir.path().to_path_buf(), "concours@exemple.fr").unwrap();
        assert_eq!(
            outbox::deliver_due(&t.db, &clock, &up, "http://x")
                .await
                .unwrap(),
            0
        );
        clock.advance(SignedDuration::from_secs(31));
        assert_eq!(
            outbox::deliver_due(&t.db, &clock, &up, "http://x")
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            outbox::deliver_due(&t.db, &clock, &up, "http://x")
                .await
                .unwrap(),
            0
        );
        assert_eq!(read_mail_files(dir.path()).unwrap().len(), 1);
        let seen = outbox::of_dossier(&t.db, &d.id).await.unwrap();
        assert!(seen[0].sent_at.is_some() && seen[0].last_error.is_none());
        assert_eq!(outbox::waiting(&t.db).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn passes_side_by_side_send_each_letter_once() {
    for t in testing::all().await {
        let clock = setup(&t).await;
        for n in 0..20 {
            let letter = Letter::text(&format!("c{n}@exemple.fr"), "Objet", "Texte");
            outbox::post(t.db.pool(), clock.now().as_millisecond(), &letter)
                .await
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::to_files(dir.path().to_path_buf(), "concours@exemple.fr").unwrap();
        let (a, b, c) = tokio::join!(
            outbox::deliver_due(&t.db, &clock, &mailer, "http://x"),
            outbox::deliver_due(&t.db, &clock, &mailer, "http://x"),
            outbox::deliver_due(&t.db, &clock, &mailer, "http://x"),
        );
        assert_eq!(a.unwrap() + b.unwrap() + c.unwrap(), 20, "{}", t.label);
        assert_eq!(read_mail_files(dir.path()).unwrap().len(), 20);
    }
}

#[tokio::test]
async fn the_purge_forgets_what_no_one_can_use_and_keeps_the_rest() {
    for t in testing::all().await {
        let clock = setup(&t).await;
        let d = testing::dossier(&t.db, &clock, DEMO, "externe", "Menage").await;
        let live = services::accounts::open_session(&t.db, &clock, &d.id)
            .await
            .unwrap();
        clock.advance(services::accounts::SESSION_LIFETIME);
        clock.advance(SignedDuration::from_secs(1));
        let fresh = services::accounts::open_session(&t.db, &clock, &d.id)
            .await
            .unwrap();
        let purged = housekeeping::purge(&t.db, &clock).await.unwrap();
        assert_eq!(purged.sessions, 1, "{}", t.label);
        let live_now = |token: String| {
            let (db, clock) = (&t.db, &clock);
            async move { services::accounts::session_dossier(db, clock, &token).await }
        };
        assert!(live_now(fresh).await.unwrap().is_some());
        assert!(live_now(live).await.unwrap().is_none());
        assert_eq!(
            housekeeping::purge(&t.db, &clock).await.unwrap(),
            Default::default()
        );
    }
}

#[tokio::test]
async fn each_purge_keeps_a_row_until_its_boundary_and_takes_it_at_the_boundary() {
    use services::{registrations, throttle};
    for t in testing::all().await {
        let clock = setup(&t).await;
        let start = clock.now();
        let at = |offset: SignedDuration| start.checked_add(offset).unwrap();
        let ms = SignedDuration::from_millis(1);
        // At the start: a draft, a counted attempt, a sent mail.
        let exam = registrations::exam(&t.db, &clock, DEMO).await.unwrap();
        registrations::save_step(
            &t.db,
            &clock,
            &services::passwords::Passwords::new(1).unwrap(),
            "brouillon-ancien",
            &exam,
            domain::registration::Step::Identite,
            false,
            [("nom_naissance".to_string(), "Dupont".to_string())].into(),
        )
        .await
        .unwrap();
        let counted = throttle::attempt(
            &t.db,
            &[throttle::Limit::new(
                "test:bornes",
                10,
                throttle::FAILURE_WINDOW,
            )],
            start.as_millisecond(),
        )
        .await
        .unwrap();
        assert!(counted.is_ok());
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::to_files(dir.path().to_path_buf(), "Service <s@cdg.test>").unwrap();
        outbox::post(
            t.db.pool(),
            start.as_millisecond(),
            &Letter::text("a@exemple.fr", "Sujet", "Texte"),
        )
        .await
        .unwrap();
        assert_eq!(
            outbox::deliver_due(&t.db, &clock, &mailer, "http://test")
                .await
                .unwrap(),
            1
        );

        let purge_at = |offset: SignedDuration| {
            clock.set(at(offset));
            housekeeping::purge(&t.db, &clock)
        };
        // Throttle rows: kept until no window sees them (24 h), taken at 24 h.
        let p = purge_at(throttle::LONGEST_WINDOW - ms).await.unwrap();
        assert_eq!(p.attempts, 0, "{}", t.label);
        let p = purge_at(throttle::LONGEST_WINDOW).await.unwrap();
        assert_eq!(p.attempts, 1, "{}", t.label);
        // Drafts: kept 30 days after their last change, taken at 30 days.
        let p = purge_at(housekeeping::DRAFT_LIFETIME - ms).await.unwrap();
        assert_eq!(p.drafts, 0, "{}", t.label);
        let p = purge_at(housekeeping::DRAFT_LIFETIME).await.unwrap();
        assert_eq!(p.drafts, 1, "{}", t.label);
        // Sent mails: kept 180 days for staff to see, taken after.
        let p = purge_at(housekeeping::SENT_MAIL_KEPT).await.unwrap();
        assert_eq!(p.mails, 0, "{}", t.label);
        let p = purge_at(housekeeping::SENT_MAIL_KEPT + ms).await.unwrap();
        assert_eq!(p.mails, 1, "{}", t.label);
    }
}
