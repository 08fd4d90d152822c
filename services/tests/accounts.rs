//! Préinscription, login, sessions and recovery against real databases.

use std::{path::PathBuf, sync::Arc};

use domain::registration::{Answers, Step};
use jiff::{SignedDuration, Timestamp};
use services::access::login::Refusal;
use services::{
    Clock, Db,
    access::accounts::{self, AccountError},
    access::passwords::Passwords,
    catalogue,
    dossiers::registrations::{self, RegistrationError},
    letters::mail::Mailer,
    platform::clock::ManualClock,
    testing,
};

const DEMO: &str = "demo-redacteur-territorial";
const PASSWORD: &str = "cheval correct agrafe";

struct Env {
    db: Db,
    clock: ManualClock,
    passwords: Passwords,
    mailer: Mailer,
    mails: tempfile::TempDir,
    label: &'static str,
    _t: testing::TestDb,
}

async fn envs() -> Vec<Env> {
    let mut out = Vec::new();
    for t in testing::all().await {
        let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
        let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
        catalogue::import_dir(&t.db, &exams, &clock).await.unwrap();
        let mails = tempfile::tempdir().unwrap();
        out.push(Env {
            db: t.db.clone(),
            clock,
            passwords: Passwords::new(2).unwrap(),
            mailer: Mailer::to_files(
                mails.path().to_path_buf(),
                "Service concours <concours@cdg.test>",
            )
            .unwrap(),
            mails,
            label: t.label,
            _t: t,
        });
    }
    out
}

fn answers(first_name: &str) -> Answers {
    [
        ("civilite", "madame"),
        ("nom_naissance", "Lefèvre"),
        ("prenoms", first_name),
        ("date_naissance", "14/07/1990"),
        ("lieu_naissance", "Laval"),
        ("pays_naissance", "France"),
        ("nationalite", "francaise"),
        ("email", "candidate@exemple.fr"),
        ("email_confirmation", "candidate@exemple.fr"),
        ("telephone", "06 12 34 56 78"),
        ("adresse", "12 rue de la Paix"),
        ("code_postal", "53000"),
        ("commune", "Laval"),
        ("pays", "France"),
        ("voie", "externe"),
        ("diplome", "Licence de droit"),
        ("diplome_annee", "2012"),
        ("amenagement", "non"),
        ("mot_de_passe", PASSWORD),
        ("mot_de_passe_confirmation", PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The address the tests' candidates register from, unless they say otherwise.
const CLIENT: &str = "203.0.113.7";

impl Env {
    /// Goes through every step as a browser would, then creates the dossier.
    async fn register(
        &self,
        token: &str,
        first_name: &str,
    ) -> Result<(String, String), RegistrationError> {
        self.register_as(token, first_name, "candidate@exemple.fr", CLIENT)
            .await
    }

    /// The same, with this e-mail address, from this client.
    async fn register_as(
        &self,
        token: &str,
        first_name: &str,
        email: &str,
        client: &str,
    ) -> Result<(String, String), RegistrationError> {
        self.fill_draft(token, first_name, email).await?;
        self.create(token, client).await
    }

    /// « Créer mon dossier » on a complete draft, at the clock's instant.
    async fn create(
        &self,
        token: &str,
        client: &str,
    ) -> Result<(String, String), RegistrationError> {
        let exam = registrations::exam(&self.db, &self.clock, DEMO).await?;
        let (id, number) = registrations::create_dossier(
            &self.db,
            &self.clock,
            "http://test",
            token,
            &exam,
            true,
            client,
        )
        .await?;
        Ok((id, number.to_string()))
    }

    /// Every step of the wizard, up to « Vérifiez vos réponses ».
    async fn fill_draft(
        &self,
        token: &str,
        first_name: &str,
        email: &str,
    ) -> Result<(), RegistrationError> {
        let exam = registrations::exam(&self.db, &self.clock, DEMO).await?;
        let mut all = answers(first_name);
        all.insert("email".into(), email.into());
        all.insert("email_confirmation".into(), email.into());
        let mut step = Step::Identite;
        loop {
            let typed: Answers = step
                .fields()
                .iter()
                .filter_map(|f| all.get(*f).map(|v| (f.to_string(), v.clone())))
                .collect();
            let next = registrations::save_step(
                &self.db,
                &self.clock,
                &self.passwords,
                token,
                &exam,
                step,
                true,
                typed,
            )
            .await?;
            if next == step {
                let draft = registrations::load_draft(&self.db, token, &exam.slug).await?;
                panic!("{}: stuck on {step:?}: {:?}", self.label, draft.errors);
            }
            step = next;
            if step == Step::Verification {
                return Ok(());
            }
        }
    }

    /// The letters due are sent (as the server's pass does), then read.
    async fn mails(&self) -> Vec<String> {
        services::letters::deliver_due(
            &self.db,
            &self.clock,
            &self.mailer,
            services::testing::letterhead("http://test"),
        )
        .await
        .unwrap();
        services::letters::mail::read_mail_files(self.mails.path()).unwrap()
    }
}

#[tokio::test]
async fn a_completed_wizard_creates_a_dossier_and_mails_its_number() {
    for env in envs().await {
        let (_, number) = env.register("draft-1", "Marie").await.unwrap();
        assert_eq!(number.len(), 12, "{}", env.label);
        let mails = env.mails().await;
        assert_eq!(mails.len(), 1);
        assert!(
            mails[0].contains(&format!("Votre n° de dossier : {number}")),
            "{}",
            mails[0]
        );
        assert!(mails[0].contains("To: candidate@exemple.fr"));
        // The deadline, written as everywhere else.
        assert!(
            mails[0].contains(
                "Date limite de clôture : le jeudi 24 décembre 2026 avant minuit (heure de Paris)."
            ),
            "{}",
            mails[0]
        );
        // The draft is gone; its password was never stored in clear.
        let exam = registrations::exam(&env.db, &env.clock, DEMO)
            .await
            .unwrap();
        assert_eq!(
            registrations::load_draft(&env.db, "draft-1", &exam.slug)
                .await
                .unwrap(),
            Default::default()
        );
    }
}

#[tokio::test]
async fn a_refused_step_keeps_what_was_typed_and_says_why() {
    for env in envs().await {
        let exam = registrations::exam(&env.db, &env.clock, DEMO)
            .await
            .unwrap();
        let mut typed = answers("Marie");
        typed.insert("date_naissance".into(), "31/02/1990".into());
        let next = registrations::save_step(
            &env.db,
            &env.clock,
            &env.passwords,
            "d",
            &exam,
            Step::Identite,
            true,
            typed,
        )
        .await
        .unwrap();
        assert_eq!(next, Step::Identite);
        let draft = registrations::load_draft(&env.db, "d", &exam.slug)
            .await
            .unwrap();
        assert_eq!(draft.answers["date_naissance"], "31/02/1990");
        assert_eq!(draft.answers["prenoms"], "Marie");
        assert!(draft.errors["date_naissance"].contains("date réelle"));
        // Only this step's fields were taken.
        assert!(!draft.answers.contains_key("email"));
        assert!(!draft.answers.values().any(|v| v == PASSWORD));
    }
}

#[tokio::test]
async fn one_dossier_per_person_per_exam_even_under_concurrent_submissions() {
    for env in envs().await {
        let env = Arc::new(env);
        env.register("first", "Marie").await.unwrap();
        assert!(
            matches!(
                env.register("second", "MARIE").await,
                Err(RegistrationError::AlreadyRegistered)
            ),
            "{}",
            env.label
        );

        // Ten people at once get ten distinct numbers; five submissions of one person
        // make one dossier.
        let mut tasks = Vec::new();
        for i in 0..10 {
            let env = env.clone();
            tasks.push(tokio::spawn(async move {
                env.register_as(
                    &format!("p{i}"),
                    &format!("Personne{}", "x".repeat(i + 1)),
                    &format!("p{i}@exemple.fr"),
                    CLIENT,
                )
                .await
            }));
        }
        for i in 0..5 {
            let env = env.clone();
            tasks.push(tokio::spawn(async move {
                env.register_as(&format!("same{i}"), "Jeanne", "jeanne@exemple.fr", CLIENT)
                    .await
            }));
        }
        let mut numbers = Vec::new();
        let mut duplicates = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok((_, number)) => numbers.push(number),
                Err(RegistrationError::AlreadyRegistered) => duplicates += 1,
                Err(e) => panic!("{}: {e}", env.label),
            }
        }
        assert_eq!(numbers.len(), 11, "{}", env.label);
        assert_eq!(duplicates, 4, "{}", env.label);
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 11, "{}: numbers are unique", env.label);
    }
}

#[tokio::test]
async fn registration_is_refused_once_the_deadline_has_passed() {
    for env in envs().await {
        let exam = registrations::exam(&env.db, &env.clock, "animateur-territorial-2025")
            .await
            .unwrap();
        assert!(!exam.open);
        let err = registrations::save_step(
            &env.db,
            &env.clock,
            &env.passwords,
            "d",
            &exam,
            Step::Identite,
            true,
            answers("Marie"),
        )
        .await;
        assert!(
            matches!(err, Err(RegistrationError::Closed)),
            "{}",
            env.label
        );
    }
}

#[tokio::test]
async fn a_dossier_is_created_one_millisecond_before_the_deadline_and_not_at_it() {
    for env in envs().await {
        // The demo exam's last day is 24 December 2026: it closes at midnight in Paris.
        let closes_at = domain::Deadline::on(jiff::civil::date(2026, 12, 24))
            .unwrap()
            .closes_at();
        assert_eq!(closes_at.to_string(), "2026-12-24T23:00:00Z");
        env.fill_draft("avant", "Marie", "marie@exemple.fr")
            .await
            .unwrap();
        env.fill_draft("pile", "Paule", "paule@exemple.fr")
            .await
            .unwrap();
        env.clock.set(closes_at - SignedDuration::from_millis(1));
        env.create("avant", CLIENT).await.unwrap();
        env.clock.set(closes_at);
        let refused = env.create("pile", CLIENT).await;
        assert!(
            matches!(refused, Err(RegistrationError::Closed)),
            "{}: {refused:?}",
            env.label
        );
        // Nothing was counted for the refused one, and its draft is still there.
        let exam = registrations::exam(&env.db, &env.clock, DEMO)
            .await
            .unwrap();
        let draft = registrations::load_draft(&env.db, "pile", &exam.slug)
            .await
            .unwrap();
        assert!(draft.password_chosen, "{}", env.label);
    }
}

#[tokio::test]
async fn login_gives_a_session_and_refuses_alike_unknown_dossier_and_wrong_password() {
    for env in envs().await {
        let (id, number) = env.register("d", "Marie").await.unwrap();
        let (dossier, token) = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            &number.to_lowercase(),
            PASSWORD,
            "10.0.0.1",
        )
        .await
        .unwrap();
        assert_eq!(dossier.id, id);
        let in_session = accounts::session_dossier(&env.db, &env.clock, &token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(in_session.number.as_str(), number);
        // A second login opens a different session.
        let (_, other) = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            &number,
            PASSWORD,
            "10.0.0.1",
        )
        .await
        .unwrap();
        assert_ne!(token, other);

        let wrong = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            &number,
            "mauvais mot de passe",
            "10.0.0.1",
        )
        .await;
        let unknown = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            "26-0000-0000",
            PASSWORD,
            "10.0.0.1",
        )
        .await;
        assert!(
            matches!(
                wrong,
                Err(AccountError::Refused(Refusal::InvalidCredentials))
            ),
            "{}",
            env.label
        );
        assert!(
            matches!(
                unknown,
                Err(AccountError::Refused(Refusal::InvalidCredentials))
            ),
            "{}",
            env.label
        );

        accounts::close_session(&env.db, &token).await.unwrap();
        assert!(
            accounts::session_dossier(&env.db, &env.clock, &token)
                .await
                .unwrap()
                .is_none()
        );
        // A session lasts 20 hours: a candidate at work all day is never thrown out
        // (RGAA 13.1); then it expires.
        env.clock
            .advance(jiff::SignedDuration::from_mins(20 * 60 - 1));
        assert!(
            accounts::session_dossier(&env.db, &env.clock, &other)
                .await
                .unwrap()
                .is_some(),
            "a session ended before 20 hours"
        );
        env.clock
            .advance(accounts::SESSION_LIFETIME - jiff::SignedDuration::from_mins(20 * 60 - 1));
        assert!(
            accounts::session_dossier(&env.db, &env.clock, &other)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn repeated_failures_lock_that_client_out_of_that_dossier_not_its_owner() {
    use services::access::throttle::{FAILURE_WINDOW, MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT};
    for env in envs().await {
        let (_, number) = env.register("d", "Marie").await.unwrap();
        let login = |password: &'static str, client: &'static str| {
            accounts::login(
                &env.db,
                &env.passwords,
                &env.clock,
                &number,
                password,
                client,
            )
        };
        for _ in 0..MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT {
            let r = login("mauvais mot de passe", "10.0.0.2").await;
            assert!(matches!(
                r,
                Err(AccountError::Refused(Refusal::InvalidCredentials))
            ));
        }
        // The one who failed waits, even with the right password...
        let Err(AccountError::Refused(Refusal::TooManyAttempts { retry_at_ms })) =
            login(PASSWORD, "10.0.0.2").await
        else {
            panic!("{}: expected a lock", env.label)
        };
        assert_eq!(
            retry_at_ms,
            env.clock.now().as_millisecond() + FAILURE_WINDOW.as_millis() as i64
        );
        // ...but the owner, from an address that has not failed, gets in: knowing a
        // dossier number is not enough to lock its candidate out.
        assert!(login(PASSWORD, "10.0.0.3").await.is_ok(), "{}", env.label);
        env.clock
            .advance(FAILURE_WINDOW + SignedDuration::from_secs(1));
        assert!(login(PASSWORD, "10.0.0.2").await.is_ok(), "{}", env.label);
    }
}

#[tokio::test]
async fn guesses_sent_at_once_are_counted_before_any_is_evaluated() {
    use services::access::throttle::MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT;
    for env in envs().await {
        let (_, number) = env.register("d", "Marie").await.unwrap();
        // Twelve guesses at once from one client: check-then-act evaluated them all.
        let guesses = (0..12).map(|i| {
            let password = format!("essai numéro {i}");
            let (db, passwords, clock, number) = (&env.db, &env.passwords, &env.clock, &number);
            async move {
                accounts::login(db, passwords, clock, number, &password, "10.0.0.9").await
            }
        });
        let results = futures_util::future::join_all(guesses).await;
        let evaluated = results
            .iter()
            .filter(|r| matches!(r, Err(AccountError::Refused(Refusal::InvalidCredentials))))
            .count();
        let refused = results
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Err(AccountError::Refused(Refusal::TooManyAttempts { .. }))
                )
            })
            .count();
        assert_eq!(evaluated + refused, 12, "{}", env.label);
        assert!(
            evaluated as i64 <= MAX_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT,
            "{}: {evaluated} guesses evaluated",
            env.label
        );
    }
}

#[tokio::test]
async fn a_client_that_fails_on_many_dossiers_is_stopped_and_the_others_are_not() {
    use services::access::throttle::MAX_LOGIN_FAILURES_PER_CLIENT;
    for env in envs().await {
        let (_, number) = env.register("d", "Marie").await.unwrap();
        for i in 0..MAX_LOGIN_FAILURES_PER_CLIENT {
            let guess = format!("{:02}-ZZZZ-ZZ{:02}", i % 90 + 10, i % 90 + 10);
            let r = accounts::login(
                &env.db,
                &env.passwords,
                &env.clock,
                &guess,
                "x",
                "10.0.0.66",
            )
            .await;
            assert!(
                matches!(r, Err(AccountError::Refused(Refusal::InvalidCredentials))),
                "{}",
                env.label
            );
        }
        let r = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            &number,
            PASSWORD,
            "10.0.0.66",
        )
        .await;
        assert!(
            matches!(
                r,
                Err(AccountError::Refused(Refusal::TooManyAttempts { .. }))
            ),
            "{}",
            env.label
        );
        let r = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            &number,
            PASSWORD,
            "10.0.0.67",
        )
        .await;
        assert!(r.is_ok(), "{}", env.label);
    }
}

#[tokio::test]
async fn a_password_reset_link_works_once_within_the_hour_and_ends_sessions() {
    for env in envs().await {
        let (_, number) = env.register("d", "Marie").await.unwrap();
        let (_, session) = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            &number,
            PASSWORD,
            "10.0.0.4",
        )
        .await
        .unwrap();
        // A wrong email sends nothing, and says the same.
        accounts::request_password_reset(
            &env.db,
            &env.clock,
            "http://test",
            &number,
            "autre@exemple.fr",
        )
        .await
        .unwrap();
        assert_eq!(env.mails().await.len(), 1);
        accounts::request_password_reset(
            &env.db,
            &env.clock,
            "http://test",
            &number,
            "CANDIDATE@exemple.fr",
        )
        .await
        .unwrap();
        let mails = env.mails().await;
        let mail = mails
            .iter()
            .find(|m| m.contains("nouveau mot de passe"))
            .expect("reset mail");
        let token = mail
            .split("http://test/mot-de-passe/")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();

        assert!(
            accounts::reset_link_is_valid(&env.db, &env.clock, &token)
                .await
                .unwrap()
        );
        let new_hash = env.passwords.hash("nouvelle phrase secrète").await.unwrap();
        accounts::reset_password(&env.db, &env.clock, &token, &new_hash)
            .await
            .unwrap();
        assert!(
            matches!(
                accounts::reset_password(&env.db, &env.clock, &token, &new_hash).await,
                Err(AccountError::InvalidResetLink)
            ),
            "{}",
            env.label
        );
        assert!(
            accounts::session_dossier(&env.db, &env.clock, &session)
                .await
                .unwrap()
                .is_none(),
            "sessions end"
        );
        assert!(
            accounts::login(
                &env.db,
                &env.passwords,
                &env.clock,
                &number,
                "nouvelle phrase secrète",
                "10.0.0.4"
            )
            .await
            .is_ok()
        );

        // A link not used within the hour expires.
        accounts::request_password_reset(
            &env.db,
            &env.clock,
            "http://test",
            &number,
            "candidate@exemple.fr",
        )
        .await
        .unwrap();
        let late = env
            .mails()
            .await
            .into_iter()
            .filter(|m| m.contains("/mot-de-passe/"))
            .find(|m| !m.contains(&token))
            .unwrap();
        let late = late
            .split("http://test/mot-de-passe/")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        env.clock.advance(accounts::RESET_LIFETIME);
        assert!(
            !accounts::reset_link_is_valid(&env.db, &env.clock, &late)
                .await
                .unwrap()
        );
        assert!(matches!(
            accounts::reset_password(&env.db, &env.clock, &late, &new_hash).await,
            Err(AccountError::InvalidResetLink)
        ));
    }
}

#[tokio::test]
async fn forgotten_numbers_are_mailed_to_the_address_only() {
    for env in envs().await {
        let (_, number) = env.register("d", "Marie").await.unwrap();
        accounts::send_dossier_numbers(&env.db, &env.clock, "http://test", "personne@exemple.fr")
            .await
            .unwrap();
        assert_eq!(env.mails().await.len(), 1);
        accounts::send_dossier_numbers(&env.db, &env.clock, "http://test", "Candidate@Exemple.fr")
            .await
            .unwrap();
        let mails = env.mails().await;
        assert!(
            mails
                .iter()
                .any(|m| m.contains("numéros des dossiers ouverts") && m.contains(&number)),
            "{}",
            env.label
        );
    }
}

#[tokio::test]
async fn the_demo_candidate_is_seeded_once_and_can_log_in() {
    use services::platform::demo;
    for env in envs().await {
        let a = demo::seed(&env.db, &env.clock, &env.passwords)
            .await
            .unwrap();
        let b = demo::seed(&env.db, &env.clock, &env.passwords)
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), demo::DEMO_NUMBER);
        let (dossier, _) = accounts::login(
            &env.db,
            &env.passwords,
            &env.clock,
            demo::DEMO_NUMBER,
            demo::DEMO_PASSWORD,
            "10.0.0.9",
        )
        .await
        .unwrap();
        assert_eq!(dossier.exam_slug.as_str(), demo::DEMO_EXAM, "{}", env.label);
    }
}

#[tokio::test]
async fn drafts_for_two_exams_in_one_browser_do_not_mix() {
    for env in envs().await {
        let demo = registrations::exam(&env.db, &env.clock, DEMO)
            .await
            .unwrap();
        registrations::save_step(
            &env.db,
            &env.clock,
            &env.passwords,
            "t",
            &demo,
            Step::Identite,
            false,
            answers("Marie"),
        )
        .await
        .unwrap();
        // Another exam, same browser: its draft starts empty and leaves the first alone.
        let pro = registrations::exam(&env.db, &env.clock, "animateur-territorial-2025")
            .await
            .unwrap();
        assert!(
            registrations::load_draft(&env.db, "t", &pro.slug)
                .await
                .unwrap()
                .answers
                .is_empty()
        );
        let kept = registrations::load_draft(&env.db, "t", &demo.slug)
            .await
            .unwrap();
        assert_eq!(kept.answers["prenoms"], "Marie", "{}", env.label);
    }
}

#[tokio::test]
async fn demo_accounts_left_by_an_earlier_run_are_closed_when_the_demo_is_off() {
    use services::{access::staff, platform::demo};
    for env in envs().await {
        let (db, clock, passwords) = (&env.db, &env.clock, &env.passwords);
        demo::seed(db, clock, passwords).await.unwrap();
        staff::seed_demo(db, passwords, clock).await.unwrap();
        let (_, session) = accounts::login(
            db,
            passwords,
            clock,
            demo::DEMO_NUMBER,
            demo::DEMO_PASSWORD,
            "a",
        )
        .await
        .unwrap();

        assert!(
            demo::retire(db, clock, passwords).await.unwrap(),
            "{}",
            env.label
        );
        let candidate = accounts::login(
            db,
            passwords,
            clock,
            demo::DEMO_NUMBER,
            demo::DEMO_PASSWORD,
            "a",
        )
        .await;
        assert!(
            matches!(
                candidate,
                Err(AccountError::Refused(Refusal::InvalidCredentials))
            ),
            "{}",
            env.label
        );
        assert!(
            accounts::session_dossier(db, clock, &session)
                .await
                .unwrap()
                .is_none()
        );
        let member = staff::login(
            db,
            passwords,
            clock,
            staff::DEMO_EMAIL,
            staff::DEMO_PASSWORD,
            "a",
        )
        .await;
        assert!(member.is_err(), "{}", env.label);

        // The demo on again: its public passwords work again.
        demo::seed(db, clock, passwords).await.unwrap();
        staff::seed_demo(db, passwords, clock).await.unwrap();
        accounts::login(
            db,
            passwords,
            clock,
            demo::DEMO_NUMBER,
            demo::DEMO_PASSWORD,
            "b",
        )
        .await
        .unwrap();
        staff::login(
            db,
            passwords,
            clock,
            staff::DEMO_EMAIL,
            staff::DEMO_PASSWORD,
            "b",
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn recovery_mails_are_limited_per_address_and_a_used_link_ends_the_others() {
    for env in envs().await {
        let (_, number) = env.register("draft-r", "Rose").await.unwrap();
        let before = env.mails().await.len();
        for _ in 0..5 {
            accounts::request_password_reset(
                &env.db,
                &env.clock,
                "http://test",
                &number,
                "candidate@exemple.fr",
            )
            .await
            .unwrap();
        }
        let links: Vec<String> = env
            .mails()
            .await
            .iter()
            .filter_map(|m| m.split("http://test/mot-de-passe/").nth(1))
            .map(|rest| rest.split_whitespace().next().unwrap().to_string())
            .collect();
        assert_eq!(links.len(), 3, "{}", env.label);
        // The numbers to the same address count against the same three.
        accounts::send_dossier_numbers(&env.db, &env.clock, "http://test", "candidate@exemple.fr")
            .await
            .unwrap();
        assert_eq!(env.mails().await.len(), before + 3);

        // One link used: the others open nothing.
        let hash = env.passwords.hash("nouvelle phrase secrète").await.unwrap();
        accounts::reset_password(&env.db, &env.clock, &links[1], &hash)
            .await
            .unwrap();
        for other in [&links[0], &links[2]] {
            let valid = accounts::reset_link_is_valid(&env.db, &env.clock, other).await;
            assert!(!valid.unwrap(), "{}", env.label);
        }

        // An hour later, the address gets mail again.
        env.clock.advance(SignedDuration::from_hours(1));
        accounts::send_dossier_numbers(&env.db, &env.clock, "http://test", "candidate@exemple.fr")
            .await
            .unwrap();
        assert_eq!(env.mails().await.len(), before + 4);
    }
}

#[tokio::test]
async fn a_refused_duplicate_is_kept_once_per_address_counted_and_paged() {
    use services::access::throttle::MAX_DOSSIERS_PER_EMAIL_PER_DAY;
    for env in envs().await {
        let (first, _) = env.register("first", "Marie").await.unwrap();
        let (other, _) = env.register("other", "Paule").await.unwrap();
        // Tried again and again from one address: one row, counted, until the
        // address's limit of new dossiers (the refusals count against it).
        let mut refused = 0;
        loop {
            match env.register(&format!("again{refused}"), "MARIE").await {
                Err(RegistrationError::AlreadyRegistered) => refused += 1,
                Err(RegistrationError::TooMany(..)) => break,
                other => panic!("{}: {other:?}", env.label),
            }
        }
        // Two dossiers made with that address, then the refusals up to its limit.
        assert_eq!(refused, MAX_DOSSIERS_PER_EMAIL_PER_DAY - 2, "{}", env.label);
        let (seen, total) = registrations::refused_duplicates(&env.db, &first, 1)
            .await
            .unwrap();
        assert_eq!((seen.len(), total), (1, 1), "{}", env.label);
        assert_eq!(seen[0].email, "candidate@exemple.fr");
        assert_eq!(seen[0].times, refused);
        assert!(seen[0].name.contains("MARIE") || seen[0].name.contains("Marie"));
        assert!(
            registrations::refused_duplicates(&env.db, &other, 1)
                .await
                .unwrap()
                .1
                == 0
        );
        // From 24 other addresses, a second apart: a row each, twenty on a page, the
        // latest first.
        env.clock.advance(SignedDuration::from_secs(1));
        for n in 0..24 {
            let email = format!("autre{n}@exemple.fr");
            let r = env
                .register_as(&format!("addr{n}"), "Marie", &email, CLIENT)
                .await;
            assert!(
                matches!(r, Err(RegistrationError::AlreadyRegistered)),
                "{r:?}"
            );
            env.clock.advance(SignedDuration::from_secs(1));
        }
        let (page, total) = registrations::refused_duplicates(&env.db, &first, 1)
            .await
            .unwrap();
        assert_eq!((page.len(), total), (20, 25), "{}", env.label);
        assert_eq!(page[0].email, "autre23@exemple.fr");
        let (last, _) = registrations::refused_duplicates(&env.db, &first, 2)
            .await
            .unwrap();
        assert_eq!(last.len(), 5);
        assert_eq!(
            last[4].email, "candidate@exemple.fr",
            "{}: {last:?}",
            env.label
        );
        // Purged with the rest, 180 days after their last refusal.
        env.clock.advance(
            services::platform::housekeeping::REFUSED_DUPLICATE_KEPT + SignedDuration::from_secs(1),
        );
        let purged = services::platform::housekeeping::purge(&env.db, &env.clock)
            .await
            .unwrap();
        assert_eq!(purged.refused_duplicates, 25, "{}", env.label);
    }
}

#[tokio::test]
async fn many_honest_logins_at_once_from_one_shared_address_all_get_in() {
    for env in envs().await {
        let env = Arc::new(env);
        let hash = env.passwords.hash(PASSWORD).await.unwrap();
        let mut numbers = Vec::new();
        for i in 0..40u8 {
            let who = format!("Partage{}", (b'a' + i % 26) as char).repeat(1 + usize::from(i / 26));
            let d = services::platform::demo::candidate(
                &env.db, &env.clock, DEMO, "externe", &who, &hash,
            )
            .await
            .unwrap();
            numbers.push(d.number.to_string());
        }
        // More than the 30 failures one address may make: they are in flight, not failed.
        let logins = numbers.into_iter().map(|number| {
            let env = env.clone();
            tokio::spawn(async move {
                accounts::login(
                    &env.db,
                    &env.passwords,
                    &env.clock,
                    &number,
                    PASSWORD,
                    "10.0.0.9",
                )
                .await
                .is_ok()
            })
        });
        let ok = futures_util::future::join_all(logins)
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(ok, 40, "{}", env.label);
    }
}

/// A name of letters only (the wizard refuses digits in names), distinct for each `i`.
fn letters(i: usize) -> String {
    let mut name = String::from("Candidat");
    let mut n = i;
    loop {
        name.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    name
}

#[tokio::test]
async fn forty_candidates_behind_one_address_each_create_their_dossier_within_the_hour() {
    use services::access::throttle::{MAX_DOSSIERS_PER_CLIENT, MAX_DOSSIERS_PER_EMAIL_PER_DAY};
    for env in envs().await {
        // A lycée's or an operator's one address, the last hour before the deadline:
        // forty honest candidates, each with their own address.
        for i in 0..40 {
            let who = letters(i);
            let created = env
                .register_as(&format!("t{i}"), &who, &format!("{who}@exemple.fr"), CLIENT)
                .await;
            assert!(created.is_ok(), "{}: candidate {i}: {created:?}", env.label);
            env.clock.advance(SignedDuration::from_secs(60));
        }
        // The same address goes on, up to its ceiling for the hour, then waits.
        let mut i = 40;
        let refused = loop {
            let who = letters(i);
            match env
                .register_as(&format!("t{i}"), &who, &format!("{who}@exemple.fr"), CLIENT)
                .await
            {
                Ok(_) => i += 1,
                Err(e) => break e,
            }
            assert!(i <= 100, "{}: never refused", env.label);
        };
        assert_eq!(i as i64, MAX_DOSSIERS_PER_CLIENT, "{}", env.label);
        let RegistrationError::TooMany(registrations::Crowded::Client, retry_at) = refused else {
            panic!("{}: {refused:?}", env.label);
        };
        // The wait is real: the first of the hour's creations leaves the window then.
        let now = env.clock.now().as_millisecond();
        assert!(
            retry_at > now && retry_at <= now + 3_600_000,
            "{}",
            env.label
        );
        // The refused one left nothing counted: once the hour has passed, it goes.
        env.clock.advance(SignedDuration::from_mins(61));
        let who = letters(i);
        env.register_as(&format!("t{i}"), &who, &format!("{who}@exemple.fr"), CLIENT)
            .await
            .unwrap();
        // Another address is not held by this one's ceiling.
        let who = letters(500);
        env.register_as("other", &who, "autre@exemple.fr", "198.51.100.9")
            .await
            .unwrap();

        // One e-mail address: a family's few dossiers, not a stranger's mailbox flooded
        // from many addresses.
        for j in 0..MAX_DOSSIERS_PER_EMAIL_PER_DAY {
            let who = letters(1000 + j as usize);
            env.register_as(
                &format!("e{j}"),
                &who,
                "famille@exemple.fr",
                &format!("192.0.2.{j}"),
            )
            .await
            .unwrap();
        }
        let who = letters(2000);
        let refused = env
            .register_as("e-last", &who, "famille@exemple.fr", "192.0.2.200")
            .await;
        assert!(
            matches!(
                refused,
                Err(RegistrationError::TooMany(registrations::Crowded::Email, _))
            ),
            "{}: {refused:?}",
            env.label
        );
    }
}

#[tokio::test]
async fn a_dossier_takes_one_hundred_failures_from_a_network_and_its_owner_gets_in_elsewhere() {
    use services::access::throttle::{FAILURE_WINDOW, MAX_LOGIN_FAILURES_PER_ACCOUNT};
    for env in envs().await {
        let (_, number) = env.register("d", "Marie").await.unwrap();
        let login = |password: &'static str, client: String| {
            let (env, number) = (&env, number.clone());
            async move {
                accounts::login(
                    &env.db,
                    &env.passwords,
                    &env.clock,
                    &number,
                    password,
                    &client,
                )
                .await
            }
        };
        // A patient guesser spreading over the /64s of one /48, four tries each.
        for i in 0..MAX_LOGIN_FAILURES_PER_ACCOUNT {
            let r = login("devine", format!("2001:db8:1:{:x}::/64", i / 4)).await;
            assert!(
                matches!(r, Err(AccountError::Refused(Refusal::InvalidCredentials))),
                "{}: failure {i}: {r:?}",
                env.label
            );
        }
        // The hundred-and-first, from another /64 of that /48, is refused unheard, even
        // with the right password, until the window has passed...
        let r = login(PASSWORD, "2001:db8:1:ff::/64".into()).await;
        assert!(
            matches!(
                r,
                Err(AccountError::Refused(Refusal::TooManyAttempts { .. }))
            ),
            "{}: {r:?}",
            env.label
        );
        // ...but the owner, at home on another network, gets in at once.
        let r = login(PASSWORD, "2001:db8:2:1::/64".into()).await;
        assert!(r.is_ok(), "{}: {r:?}", env.label);
        env.clock
            .advance(FAILURE_WINDOW + SignedDuration::from_secs(1));
        let r = login(PASSWORD, "2001:db8:1:ff::/64".into()).await;
        assert!(r.is_ok(), "{}: {r:?}", env.label);
    }
}

#[tokio::test]
async fn a_client_limit_counts_the_wider_networks_too() {
    use services::access::throttle::{MAX_LOGIN_FAILURES_PER_CLIENT, attempt, login_limits};
    let env = envs().await.remove(0);
    let now = env.clock.now().as_millisecond();
    // Thirty /64s of one /56, each under its own ceiling of 30 failures, 4 each: the
    // /56's ceiling (4 × 30 = 120) holds them all back at the 121st.
    let mut taken = 0;
    let mut refused = None;
    'all: for n in 0..64 {
        for _ in 0..4 {
            let client = format!("2001:db8:5:{n:x}::/64");
            let account = format!("compte-{taken}");
            match attempt(&env.db, &login_limits("dossier", &account, &client), now)
                .await
                .unwrap()
            {
                Ok(attempt) => {
                    services::access::throttle::failed(&env.db, attempt, now)
                        .await
                        .unwrap();
                    taken += 1;
                }
                Err(_) => {
                    refused = Some(client);
                    break 'all;
                }
            }
        }
    }
    assert_eq!(taken, 4 * MAX_LOGIN_FAILURES_PER_CLIENT, "{refused:?}");
    // Another /56 of the same /48 still has room; an IPv4 address is its own network.
    for client in ["2001:db8:5:100::/64", "198.51.100.9"] {
        let limits = login_limits("dossier", "compte-x", client);
        assert!(
            attempt(&env.db, &limits, now).await.unwrap().is_ok(),
            "{client}"
        );
    }
}

/// One client's limit at its edges, counted by `throttle::attempt` on the limit the app
/// builds (`session::count`, `count_hashing`): `max` attempts within `window` go, the
/// next waits exactly until the first of them leaves the window, another client is not
/// held. The figures are given by the caller, not read from the code under test.
async fn a_client_limit_holds_at_its_edges(
    limit: fn(&str) -> services::access::throttle::Limit,
    max: i64,
    window: SignedDuration,
) {
    use services::access::throttle::attempt;
    const ONE: &str = "203.0.113.40";
    const OTHER: &str = "203.0.113.41";
    let step = SignedDuration::from_secs(1);
    assert!(
        step * (max as i32) < window,
        "the attempts must fit in one window"
    );
    for t in testing::all().await {
        let (db, label) = (&t.db, t.label);
        let clock = ManualClock::at("2026-11-24T10:00:00Z".parse::<Timestamp>().unwrap());
        let at = |clock: &ManualClock| clock.now().as_millisecond();
        let first = at(&clock);
        // A second apart, so the wait tells which attempt it counts from.
        for i in 0..max {
            let counted = attempt(db, &[limit(ONE)], at(&clock)).await.unwrap();
            assert!(
                counted.is_ok(),
                "{label}: attempt {} of {max} refused",
                i + 1
            );
            clock.advance(step);
        }
        let window_ms = window.as_millis() as i64;
        let refused = attempt(db, &[limit(ONE)], at(&clock)).await.unwrap();
        let Err(retry_at) = refused else {
            panic!("{label}: attempt {} accepted", max + 1);
        };
        // Until the first attempt leaves the window: later than now, within the window.
        assert_eq!(retry_at, first + window_ms, "{label}");
        assert!(
            retry_at > at(&clock) && retry_at - at(&clock) < window_ms,
            "{label}"
        );
        // Another address behind the same server is not held by this one's count.
        let other = attempt(db, &[limit(OTHER)], at(&clock)).await.unwrap();
        assert!(other.is_ok(), "{label}: another client held");
        // A millisecond before, still shut, and the refusals left nothing counted: the
        // wait has not moved.
        clock.set(Timestamp::from_millisecond(retry_at - 1).unwrap());
        let refused = attempt(db, &[limit(ONE)], at(&clock)).await.unwrap();
        assert_eq!(refused.map(drop), Err(retry_at), "{label}");
        // At that instant the first attempt is out of the window: one more goes, and
        // the next waits for the second attempt to leave in its turn.
        clock.set(Timestamp::from_millisecond(retry_at).unwrap());
        let counted = attempt(db, &[limit(ONE)], at(&clock)).await.unwrap();
        assert!(
            counted.is_ok(),
            "{label}: still refused once the window passed"
        );
        let refused = attempt(db, &[limit(ONE)], at(&clock)).await.unwrap();
        assert_eq!(
            refused.map(drop),
            Err(first + step.as_millis() as i64 + window_ms),
            "{label}"
        );
    }
}

#[tokio::test]
async fn new_passwords_are_limited_to_eighty_per_client_in_a_quarter_hour() {
    // Wizard's password step and the reset form, each new password hashed.
    a_client_limit_holds_at_its_edges(
        services::access::throttle::hashing_limit,
        80,
        SignedDuration::from_mins(15),
    )
    .await;
}

#[tokio::test]
async fn recovery_requests_are_limited_to_sixty_per_client_in_an_hour() {
    // The forgotten password and forgotten number forms, whatever the address typed.
    a_client_limit_holds_at_its_edges(accounts::recovery_limit, 60, SignedDuration::from_hours(1))
        .await;
}
