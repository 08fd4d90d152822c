//! The outbox against real databases: a promised mail is sent once, even with passes
//! side by side; a relay that fails keeps it for later, and staff see why.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use services::{
    Clock, catalogue, letters,
    letters::mail::{Mailer, read_mail_files},
    letters::outbox::{self, Letter},
    platform::clock::ManualClock,
    platform::housekeeping,
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
            letters::deliver_due(
                &t.db,
                &clock,
                &down,
                services::testing::letterhead("http://x")
            )
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
            letters::deliver_due(
                &t.db,
                &clock,
                &up,
                services::testing::letterhead("http://x")
            )
            .await
            .unwrap(),
            0
        );
        clock.advance(SignedDuration::from_secs(31));
        assert_eq!(
            letters::deliver_due(
                &t.db,
                &clock,
                &up,
                services::testing::letterhead("http://x")
            )
            .await
            .unwrap(),
            1
        );
        assert_eq!(
            letters::deliver_due(
                &t.db,
                &clock,
                &up,
                services::testing::letterhead("http://x")
            )
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
            letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x")
            ),
            letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x")
            ),
            letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x")
            ),
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
        let live = services::access::accounts::open_session(&t.db, &clock, &d.id)
            .await
            .unwrap();
        clock.advance(services::access::accounts::SESSION_LIFETIME);
        clock.advance(SignedDuration::from_secs(1));
        let fresh = services::access::accounts::open_session(&t.db, &clock, &d.id)
            .await
            .unwrap();
        let purged = housekeeping::purge(&t.db, &clock).await.unwrap();
        assert_eq!(purged.sessions, 1, "{}", t.label);
        let live_now = |token: String| {
            let (db, clock) = (&t.db, &clock);
            async move { services::access::accounts::session_dossier(db, clock, &token).await }
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
    use services::{access::throttle, dossiers::registrations};
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
            &services::access::passwords::Passwords::new(1).unwrap(),
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
            letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://test")
            )
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

/// An SMTP relay of the test's own: it greets a connection only once let go, and
/// counts the messages it received whole.
struct HeldRelay {
    port: u16,
    release: tokio::sync::watch::Sender<bool>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl HeldRelay {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (release, released) = tokio::sync::watch::channel(false);
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (mut released, counted) = (released.clone(), counted.clone());
                tokio::spawn(async move {
                    if released.wait_for(|r| *r).await.is_ok() {
                        let _ = converse(stream, &counted).await;
                    }
                });
            }
        });
        Self {
            port,
            release,
            accepted,
        }
    }

    fn mailer(&self) -> Mailer {
        Mailer::smtp_relay("127.0.0.1", self.port, "concours@exemple.fr").unwrap()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The relay's side of one connection; a message counts once its final dot came.
async fn converse(
    stream: tokio::net::TcpStream,
    accepted: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    write.write_all(b"220 relay\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                let mut whole = false;
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        whole = true;
                        break;
                    }
                }
                if !whole {
                    return Ok(());
                }
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                write.write_all(b"250 queued\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 ok\r\n").await?,
        }
    }
    Ok(())
}

/// A clock, and one letter posted at its start.
async fn one_letter(t: &testing::TestDb) -> (ManualClock, Timestamp) {
    let clock = setup(t).await;
    let start = clock.now();
    let letter = Letter::text("a@exemple.fr", "Objet", "Texte");
    outbox::post(t.db.pool(), start.as_millisecond(), &letter)
        .await
        .unwrap();
    (clock, start)
}

/// The letter's (attempts, sent, last error).
async fn letter_state(t: &testing::TestDb) -> (i64, bool, Option<String>) {
    let (attempts, sent_at, error): (i64, Option<i64>, Option<String>) =
        sqlx::query_as("SELECT attempts, sent_at, last_error FROM outbox")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
    (attempts, sent_at.is_some(), error)
}

/// Until the pass has claimed the letter (its first attempt counted), 5 s at most.
async fn claimed(t: &testing::TestDb) {
    for _ in 0..500 {
        if letter_state(t).await.0 == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{}: the letter was never claimed", t.label);
}

#[tokio::test]
async fn a_letter_claimed_by_a_pass_that_died_goes_once_its_claim_expires_exactly_once() {
    for t in testing::all().await {
        let (clock, start) = one_letter(&t).await;
        // A pass claims the letter, then dies while its relay has not even greeted it.
        let relay = HeldRelay::start().await;
        let held = relay.mailer();
        let dying = letters::deliver_due(
            &t.db,
            &clock,
            &held,
            services::testing::letterhead("http://x"),
        );
        tokio::select! {
            _ = dying => panic!("{}: the pass was to hang", t.label),
            () = claimed(&t) => {}
        }

        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::to_files(dir.path().to_path_buf(), "concours@exemple.fr").unwrap();
        let pass = || {
            letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x"),
            )
        };
        // Claimed until its claim ends: no one takes it a millisecond before...
        clock.set(start + outbox::CLAIM - SignedDuration::from_millis(1));
        assert_eq!(pass().await.unwrap(), 0, "{}", t.label);
        // ...and the next pass sends it at the end, once.
        clock.set(start + outbox::CLAIM);
        assert_eq!(pass().await.unwrap(), 1, "{}", t.label);
        clock.advance(SignedDuration::from_hours(2));
        assert_eq!(pass().await.unwrap(), 0, "{}", t.label);
        assert_eq!(read_mail_files(dir.path()).unwrap().len(), 1);
        assert_eq!(letter_state(&t).await, (2, true, None), "{}", t.label);
        assert_eq!(relay.accepted(), 0);
    }
}

#[tokio::test]
async fn a_send_slower_than_its_claim_is_given_up_before_another_pass_may_take_it() {
    for t in testing::all().await {
        let (clock, start) = one_letter(&t).await;
        let relay = HeldRelay::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::to_files(dir.path().to_path_buf(), "concours@exemple.fr").unwrap();
        let other_pass = || {
            letters::deliver_due(
                &t.db,
                &clock,
                &mailer,
                services::testing::letterhead("http://x"),
            )
        };
        let slow_done = std::sync::atomic::AtomicBool::new(false);
        let held = relay.mailer();
        let slow_pass = async {
            let sent = letters::deliver_due(
                &t.db,
                &clock,
                &held,
                services::testing::letterhead("http://x"),
            )
            .await;
            slow_done.store(true, std::sync::atomic::Ordering::SeqCst);
            sent
        };
        let meanwhile = async {
            claimed(&t).await;
            // Still sending just before its limit: another pass finds the letter taken.
            clock.set(start + outbox::SEND_LIMIT - SignedDuration::from_millis(1));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            assert!(!slow_done.load(std::sync::atomic::Ordering::SeqCst));
            assert_eq!(other_pass().await.unwrap(), 0, "{}", t.label);
            // At its limit, the slow send is given up, before the claim ends.
            clock.set(start + outbox::SEND_LIMIT);
            for _ in 0..500 {
                if slow_done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            assert!(
                slow_done.load(std::sync::atomic::Ordering::SeqCst),
                "{}: the slow send was not given up",
                t.label
            );
        };
        let (slow, ()) = tokio::join!(slow_pass, meanwhile);
        assert_eq!(slow.unwrap(), 0, "{}", t.label);
        assert!(outbox::SEND_LIMIT < outbox::CLAIM);
        let (attempts, sent, error) = letter_state(&t).await;
        assert_eq!((attempts, sent), (1, false), "{}", t.label);
        assert!(error.is_some_and(|e| e.contains("given up")), "{}", t.label);
        // The relay wakes up now: the connection given up delivers nothing.
        relay.release.send(true).unwrap();
        // Past the claim and the retry's wait, another pass sends it, once.
        clock.set(start + outbox::CLAIM + SignedDuration::from_mins(5));
        assert_eq!(other_pass().await.unwrap(), 1, "{}", t.label);
        assert_eq!(other_pass().await.unwrap(), 0, "{}", t.label);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(relay.accepted(), 0, "{}", t.label);
        assert_eq!(read_mail_files(dir.path()).unwrap().len(), 1);
    }
}
