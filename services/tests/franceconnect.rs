//! FranceConnect against a real OpenID Connect provider set up as FranceConnect v2
//! (`scripts/franceconnect/provider.mjs`): each check of the protocol, then what a
//! certified identity opens (a préinscription, its dossiers, a link), on SQLite and
//! PostgreSQL.

use std::path::PathBuf;

use domain::registration::Step;
use jiff::{SignedDuration, Timestamp};
use services::{
    Db,
    access::certified::{self, CertifiedError},
    access::franceconnect::{
        Callback, Certified, FLOW_LIFETIME_MS, FranceConnect, FranceConnectError, Purpose,
    },
    access::passwords::Passwords,
    catalogue,
    dossiers::registrations,
    platform::clock::ManualClock,
    testing::{self, franceconnect as provider},
};

const DEMO: &str = "demo-redacteur-territorial";
const OTHER: &str = "animateur-territorial-2025";
/// The relying party's address: the provider sends the browser back there (the tests
/// read the address instead of following it).
const SITE: &str = "http://127.0.0.1:9";

struct Env {
    db: Db,
    clock: ManualClock,
    label: &'static str,
    _t: testing::TestDb,
}

async fn envs() -> Vec<Env> {
    let mut out = Vec::new();
    for t in testing::all().await {
        // Both exams open: the demo one's deadline is counted from this day.
        let clock = ManualClock::at("2025-01-10T10:00:00Z".parse::<Timestamp>().unwrap());
        let exams = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exams");
        catalogue::import_dir(&t.db, &exams, &clock).await.unwrap();
        out.push(Env {
            db: t.db.clone(),
            clock,
            label: t.label,
            _t: t,
        });
    }
    out
}

/// One flow through the provider's screens as `login` (None: « Annuler »): the
/// callback as the browser `browser` brings it back.
async fn through_provider(
    fc: &FranceConnect,
    env: &Env,
    issuer: &str,
    browser: &str,
    purpose: Purpose,
    login: Option<&str>,
) -> Callback {
    let authorize = fc
        .start(&env.db, &env.clock, browser, &purpose)
        .await
        .expect("the flow starts");
    for asked in [
        "scope=openid+identite_pivot+email",
        "acr_values=eidas1",
        "response_type=code",
        "nonce=",
        "state=",
    ] {
        assert!(authorize.contains(asked), "{asked} in {authorize}");
    }
    let back = provider::Browser::new()
        .at_provider(&authorize, issuer, login)
        .await;
    provider::callback_of(&back)
}

/// The test identity's answer to a sign-in started by the browser « nav ».
async fn answer(fc: &FranceConnect, env: &Env, issuer: &str) -> Callback {
    through_provider(fc, env, issuer, "nav", Purpose::Connexion, Some("test")).await
}

/// Whether the browser « nav » bringing this answer back is let in.
async fn accepted(fc: &FranceConnect, env: &Env, callback: &Callback) -> bool {
    fc.finish(&env.db, &env.clock, Some("nav"), callback)
        .await
        .outcome
        .is_ok()
}

async fn signed_in(fc: &FranceConnect, env: &Env, issuer: &str, purpose: Purpose) -> Certified {
    let callback = through_provider(fc, env, issuer, "navigateur", purpose, Some("test")).await;
    fc.finish(&env.db, &env.clock, Some("navigateur"), &callback)
        .await
        .outcome
        .expect("the test identity is certified")
}

#[tokio::test]
async fn the_whole_flow_certifies_the_test_identity_and_its_preinscription() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for env in envs().await {
        let fc = FranceConnect::new(p.settings("concours", SITE)).unwrap();
        let purpose = Purpose::Inscription(DEMO.into());
        let callback =
            through_provider(&fc, &env, &p.issuer, "nav", purpose.clone(), Some("test")).await;
        let finished = fc.finish(&env.db, &env.clock, Some("nav"), &callback).await;
        assert_eq!(finished.purpose, Some(purpose), "{}", env.label);
        let certified = finished.outcome.expect("certified");
        let id = &certified.identity;
        assert_eq!(id.birth_name.as_str(), "DUBOIS");
        assert_eq!(id.given_names.as_str(), "Angela Claire Louise");
        assert_eq!(id.birth_date.to_string(), "1962-08-24");
        assert_eq!(id.gender.as_deref(), Some("female"));
        assert_eq!(id.birthplace.as_deref(), Some("75107"));
        assert_eq!(id.birthcountry.as_deref(), Some("99100"));
        // Pairwise: not the provider's account name.
        assert_ne!(certified.subject, "test");
        assert!(certified.subject.len() >= 32);

        // The préinscription: the identity locked, a forged post changes nothing.
        let exam = registrations::exam(&env.db, &env.clock, DEMO)
            .await
            .unwrap();
        registrations::certify_draft(
            &env.db,
            &env.clock,
            "brouillon",
            &exam,
            &certified.subject,
            id,
            &certified.id_token,
        )
        .await
        .unwrap();
        let passwords = Passwords::new(1).unwrap();
        let mut typed = domain::registration::Answers::new();
        for (k, v) in [
            ("civilite", "monsieur"),
            ("nom_naissance", "Usurpateur"),
            ("prenoms", "Jean"),
            ("date_naissance", "01/01/2000"),
            ("lieu_naissance", "Paris 7e"),
            ("pays_naissance", "Belgique"),
            ("nationalite", "francaise"),
        ] {
            typed.insert(k.into(), v.into());
        }
        let next = registrations::save_step(
            &env.db,
            &env.clock,
            &passwords,
            "brouillon",
            &exam,
            Step::Identite,
            true,
            typed,
        )
        .await
        .unwrap();
        assert_eq!(next, Step::Coordonnees);
        let draft = registrations::load_draft(&env.db, "brouillon", &exam.slug)
            .await
            .unwrap();
        assert_eq!(draft.answers["nom_naissance"], "DUBOIS");
        assert_eq!(draft.answers["prenoms"], "Angela Claire Louise");
        assert_eq!(draft.answers["date_naissance"], "24/08/1962");
        assert_eq!(draft.answers["civilite"], "madame");
        assert_eq!(draft.answers["pays_naissance"], "France");
        // Not certified by name: the candidate's.
        assert_eq!(draft.answers["lieu_naissance"], "Paris 7e");
        assert_eq!(draft.answers["email"], "wossewodda-3728@yopmail.com");
        assert!(draft.certified.is_some());
        for (step, fields) in [
            (
                Step::Coordonnees,
                vec![
                    ("email", "angela@exemple.fr"),
                    ("email_confirmation", "angela@exemple.fr"),
                    ("telephone", "06 12 34 56 78"),
                    ("adresse", "1 rue de Grenelle"),
                    ("code_postal", "75007"),
                    ("commune", "Paris"),
                    ("pays", "France"),
                ],
            ),
            (Step::Voie, vec![("voie", "externe")]),
            (
                Step::Situation,
                vec![("diplome", "Licence"), ("diplome_annee", "1984")],
            ),
            (Step::Amenagement, vec![("amenagement", "non")]),
            (
                Step::MotDePasse,
                vec![
                    ("mot_de_passe", "cheval correct agrafe"),
                    ("mot_de_passe_confirmation", "cheval correct agrafe"),
                ],
            ),
        ] {
            let typed = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            registrations::save_step(
                &env.db,
                &env.clock,
                &passwords,
                "brouillon",
                &exam,
                step,
                true,
                typed,
            )
            .await
            .unwrap();
        }
        assert_eq!(
            registrations::draft_id_token(&env.db, "brouillon", &exam.slug)
                .await
                .unwrap(),
            Some(certified.id_token.clone())
        );
        let (dossier_id, number) = registrations::create_dossier(
            &env.db,
            &env.clock,
            SITE,
            "brouillon",
            &exam,
            true,
            "192.0.2.1",
        )
        .await
        .expect("the dossier is created");
        let linked = certified::dossiers_of(&env.db, &certified.subject)
            .await
            .unwrap();
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0].number, number.as_str());
        // The dossier says so (staff and « Mes données » read it), with the codes of the
        // birthplace FranceConnect gave.
        let dossier = services::dossiers::by_id(&env.db, &dossier_id)
            .await
            .unwrap()
            .unwrap();
        let mark = dossier.certified.clone().expect("certified");
        assert_eq!(mark.via, "inscription");
        assert_eq!(mark.identity.birthplace.as_deref(), Some("75107"));
        assert_eq!(dossier.registration.birth_name.as_str(), "DUBOIS");
        let data = services::dossiers::my_data::gather(&env.db, &dossier, 0)
            .await
            .unwrap();
        assert!(data.json.contains("préinscription avec FranceConnect"));
        assert!(data.json.contains(&certified.subject));
        // The exports say it too.
        let lines = services::dossiers::instruction::dossiers(
            &env.db,
            &env.clock,
            DEMO,
            &services::dossiers::instruction::Criteria::searched("DUBOIS", None),
        )
        .await
        .unwrap();
        use services::dossiers::export::{self, Column, Table};
        let csv = export::csv(
            &lines,
            &Table {
                columns: &[Column::Number, Column::Certified],
                decisions: &export::decisions(&env.db, DEMO).await.unwrap(),
            },
        );
        assert!(
            csv.contains(&format!("{number};Oui, à la préinscription")),
            "{csv}"
        );

        // Signing in again: the same pairwise subject finds the dossier, no password.
        let again = signed_in(&fc, &env, &p.issuer, Purpose::Connexion).await;
        assert_eq!(again.subject, certified.subject);
        let session = certified::open_session(&env.db, &env.clock, &dossier_id, &again.id_token)
            .await
            .unwrap();
        assert_eq!(
            certified::id_token_of_session(&env.db, &session)
                .await
                .unwrap(),
            Some(again.id_token.clone())
        );
        // The logout at the provider names the session's id_token and comes back here.
        let logout = fc.logout_url(&again.id_token, "etat").await.unwrap();
        assert!(
            logout.starts_with(&format!("{}/session/end?", p.issuer)),
            "{logout}"
        );
        assert!(logout.contains(&format!("id_token_hint={}", again.id_token)));
        assert!(logout.contains(
            "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Ffranceconnect%2Fdeconnexion"
        ));
        assert!(logout.contains("state=etat"));
    }
}

#[tokio::test]
async fn a_state_is_single_use_bound_to_its_browser_and_short_lived() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for env in envs().await {
        let fc = FranceConnect::new(p.settings("concours", SITE)).unwrap();
        let unknown = |f: services::access::franceconnect::Finished| {
            matches!(f.outcome, Err(FranceConnectError::UnknownState))
        };
        // Replayed: the second answer with the same state finds nothing.
        let callback = answer(&fc, &env, &p.issuer).await;
        assert!(accepted(&fc, &env, &callback).await);
        let replay = fc.finish(&env.db, &env.clock, Some("nav"), &callback).await;
        assert_eq!(replay.purpose, None, "{}", env.label);
        assert!(unknown(replay));

        // Forged or missing state.
        let callback = answer(&fc, &env, &p.issuer).await;
        let forged = Callback {
            state: Some("etat-invente".into()),
            ..callback.clone()
        };
        assert!(unknown(
            fc.finish(&env.db, &env.clock, Some("nav"), &forged).await
        ));
        let missing = Callback {
            state: None,
            ..callback.clone()
        };
        assert!(unknown(
            fc.finish(&env.db, &env.clock, Some("nav"), &missing).await
        ));
        // Another browser (an attacker's code pushed into a victim's browser): refused,
        // and the flow is used up.
        let elsewhere = fc
            .finish(&env.db, &env.clock, Some("autre-nav"), &callback)
            .await;
        assert_eq!(elsewhere.purpose, Some(Purpose::Connexion));
        assert!(unknown(elsewhere));
        assert!(unknown(
            fc.finish(&env.db, &env.clock, Some("nav"), &callback).await
        ));
        // No cookie at all.
        let callback = answer(&fc, &env, &p.issuer).await;
        assert!(unknown(
            fc.finish(&env.db, &env.clock, None, &callback).await
        ));

        // Too old.
        let callback = answer(&fc, &env, &p.issuer).await;
        env.clock
            .advance(SignedDuration::from_millis(FLOW_LIFETIME_MS + 1));
        let late = fc.finish(&env.db, &env.clock, Some("nav"), &callback).await;
        assert!(
            matches!(late.outcome, Err(FranceConnectError::Expired)),
            "{}",
            env.label
        );
    }
}

#[tokio::test]
async fn a_wrong_nonce_a_used_code_and_a_cancel_are_refused() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for env in envs().await {
        let fc = FranceConnect::new(p.settings("concours", SITE)).unwrap();
        // The id_token carries the nonce sent; the flow's is changed: refused.
        let callback = answer(&fc, &env, &p.issuer).await;
        sqlx::query("UPDATE franceconnect_flows SET nonce = 'un-autre-nonce-de-22-caracteres'")
            .execute(env.db.pool())
            .await
            .unwrap();
        match fc
            .finish(&env.db, &env.clock, Some("nav"), &callback)
            .await
            .outcome
        {
            Err(FranceConnectError::Invalid(why)) => assert!(why.contains("once"), "{why}"),
            other => panic!(
                "{}: a wrong nonce is refused, not {:?}",
                env.label,
                other.map(|c| c.subject)
            ),
        }

        // A code used once is refused the second time, even under a fresh state.
        let callback = answer(&fc, &env, &p.issuer).await;
        assert!(accepted(&fc, &env, &callback).await);
        let fresh = fc
            .start(&env.db, &env.clock, "nav", &Purpose::Connexion)
            .await
            .unwrap();
        let state = url::Url::parse(&fresh)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned());
        let reused = Callback {
            state,
            ..callback.clone()
        };
        assert!(matches!(
            fc.finish(&env.db, &env.clock, Some("nav"), &reused)
                .await
                .outcome,
            Err(FranceConnectError::CodeRefused(_))
        ));

        // « Annuler » at the provider.
        let callback = through_provider(
            &fc,
            &env,
            &p.issuer,
            "nav",
            Purpose::Inscription(DEMO.into()),
            None,
        )
        .await;
        assert_eq!(callback.error.as_deref(), Some("access_denied"));
        let cancelled = fc.finish(&env.db, &env.clock, Some("nav"), &callback).await;
        assert_eq!(cancelled.purpose, Some(Purpose::Inscription(DEMO.into())));
        assert!(matches!(
            cancelled.outcome,
            Err(FranceConnectError::Cancelled)
        ));
    }
}

#[tokio::test]
async fn a_provider_that_misbehaves_or_is_down_is_refused() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    let env = envs().await.remove(0);
    for (client, expected) in [
        ("concours-eidas2", "acr"),
        ("concours-sans-signature", "not signed"),
        ("concours-signature-fausse", "signature"),
        ("concours-jeton-faux", "id_token"),
    ] {
        let fc = FranceConnect::new(p.settings(client, SITE)).unwrap();
        let callback = answer(&fc, &env, &p.issuer).await;
        match fc
            .finish(&env.db, &env.clock, Some("nav"), &callback)
            .await
            .outcome
        {
            Err(FranceConnectError::Invalid(why)) => {
                assert!(why.contains(expected), "{client}: {why}")
            }
            other => panic!("{client} is refused, not {:?}", other.map(|c| c.subject)),
        }
    }
    // The same provider with the right client: the refusals above were the client's.
    let fc = FranceConnect::new(p.settings("concours", SITE)).unwrap();
    signed_in(&fc, &env, &p.issuer, Purpose::Connexion).await;

    // Nothing listens there.
    let down = FranceConnect::new(services::access::franceconnect::Settings {
        issuer: "http://127.0.0.1:9".into(),
        ..p.settings("concours", SITE)
    })
    .unwrap();
    assert!(matches!(
        down.start(&env.db, &env.clock, "nav", &Purpose::Connexion)
            .await,
        Err(FranceConnectError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_dossier_typed_by_hand_links_once_and_only_to_its_identity() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for env in envs().await {
        let fc = FranceConnect::new(p.settings("concours", SITE)).unwrap();
        let dossier = |exam: &'static str, first_names: &'static str| {
            let env = &env;
            async move {
                let mut answers = services::platform::demo::demo_answers();
                answers.insert("nom_naissance".into(), "Dubois".into());
                answers.insert("prenoms".into(), first_names.into());
                answers.insert("date_naissance".into(), "24/08/1962".into());
                services::platform::demo::candidate_answering(
                    &env.db, &env.clock, exam, answers, "h",
                )
                .await
                .unwrap()
            }
        };
        let mismatching = dossier(DEMO, "Angela").await;
        let certified =
            signed_in(&fc, &env, &p.issuer, Purpose::Lien(mismatching.id.clone())).await;
        // One given name of three: not the same person, nothing linked.
        assert!(matches!(
            certified::link(
                &env.db,
                &env.clock,
                &mismatching.id,
                &certified.subject,
                &certified.identity
            )
            .await,
            Err(CertifiedError::Mismatch)
        ));
        assert!(
            certified::dossiers_of(&env.db, &certified.subject)
                .await
                .unwrap()
                .is_empty()
        );
        sqlx::query("DELETE FROM dossiers WHERE id = $1")
            .bind(&mismatching.id)
            .execute(env.db.pool())
            .await
            .unwrap();

        // The same identity, another case and accents: linked, once.
        let first = dossier(DEMO, "ANGÉLA Claire Louise").await;
        certified::link(
            &env.db,
            &env.clock,
            &first.id,
            &certified.subject,
            &certified.identity,
        )
        .await
        .expect("the identity pivot matches");
        assert!(matches!(
            certified::link(
                &env.db,
                &env.clock,
                &first.id,
                &certified.subject,
                &certified.identity
            )
            .await,
            Err(CertifiedError::AlreadyLinked)
        ));
        let journal = services::access::staff::audit_of_dossier(&env.db, &first.id)
            .await
            .unwrap();
        assert!(
            journal
                .iter()
                .any(|e| e.action == "dossier lié à FranceConnect"),
            "{}",
            env.label
        );

        // A second exam: the identity then has two dossiers, and chooses.
        let second = dossier(OTHER, "Angela Claire Louise").await;
        certified::link(
            &env.db,
            &env.clock,
            &second.id,
            &certified.subject,
            &certified.identity,
        )
        .await
        .unwrap();
        let mine = certified::dossiers_of(&env.db, &certified.subject)
            .await
            .unwrap();
        assert_eq!(mine.len(), 2);
        let choice = certified::await_choice(&env.db, &env.clock, "nav", &certified)
            .await
            .unwrap();
        assert_eq!(
            certified::choices(&env.db, &env.clock, "nav", &choice)
                .await
                .unwrap(),
            mine
        );
        // Another browser sees nothing and opens nothing; a number not the identity's neither.
        assert!(
            certified::choices(&env.db, &env.clock, "autre", &choice)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            certified::choose(&env.db, &env.clock, "autre", &choice, first.number.as_str())
                .await
                .unwrap(),
            None
        );
        let stranger = testing::dossier(&env.db, &env.clock, DEMO, "externe", "Inconnu").await;
        assert_eq!(
            certified::choose(
                &env.db,
                &env.clock,
                "nav",
                &choice,
                stranger.number.as_str()
            )
            .await
            .unwrap(),
            None
        );
        let session =
            certified::choose(&env.db, &env.clock, "nav", &choice, second.number.as_str())
                .await
                .unwrap()
                .expect("a session on the chosen dossier");
        let opened = services::access::accounts::session_dossier(&env.db, &env.clock, &session)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(opened.id, second.id);
        // Used up.
        assert!(
            certified::choices(&env.db, &env.clock, "nav", &choice)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
