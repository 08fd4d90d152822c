//! FranceConnect over HTTP, through the real server and a real provider set up as
//! FranceConnect (`scripts/franceconnect/provider.mjs`): the button, the préinscription
//! with a locked identity, sign-in without a password, the link of a typed dossier, the
//! logout at the provider, and every failure ending on one of our pages.

mod common;

use common::{TestApp, form, spawn_app_with};
use services::testing::{self, franceconnect as provider};

const DEMO: &str = "demo-redacteur-territorial";
/// The site's address as the provider knows it (`APP_BASE_URL`): its redirects are read
/// and replayed on the test server's real address, as a browser would follow them.
const SITE: &str = "http://127.0.0.1:9";

async fn app_with_provider(p: &provider::Provider, client: &str) -> Vec<TestApp> {
    let secret = format!("secret-{client}");
    let mut apps = Vec::new();
    for db in testing::all().await {
        apps.push(
            spawn_app_with(
                db,
                &[
                    ("APP_BASE_URL", SITE),
                    ("APP_FRANCECONNECT_ISSUER", &p.issuer),
                    ("APP_FRANCECONNECT_CLIENT_ID", client),
                    ("APP_FRANCECONNECT_CLIENT_SECRET", &secret),
                ],
            )
            .await,
        );
    }
    apps
}

/// A browser on the site: its cookies, the provider's screens, the redirects followed
/// back to the site.
struct Candidate<'a> {
    app: &'a TestApp,
    issuer: String,
    cookies: Vec<(String, String)>,
    at_provider: provider::Browser,
}

impl<'a> Candidate<'a> {
    fn new(app: &'a TestApp, issuer: &str) -> Self {
        Self {
            app,
            issuer: issuer.into(),
            cookies: Vec::new(),
            at_provider: provider::Browser::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() && !set.contains("Max-Age=0") {
                self.cookies.push((name.into(), value.into()));
            }
        }
    }

    fn on_site(&self, url: &str) -> String {
        format!(
            "{}{}",
            self.app.address,
            url.strip_prefix(SITE).unwrap_or(url)
        )
    }

    /// A request to the site; its answer's address (`Location`) when it redirects.
    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post(&mut self, path: &str, body: &str) -> String {
        let request = self
            .app
            .client
            .post(self.on_site(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("origin", SITE)
            .body(body.to_string());
        let response = self.send(request).await;
        location(&response)
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let request = self.app.client.get(self.on_site(url));
        self.send(request).await
    }

    async fn page(&mut self, url: &str) -> String {
        self.get(url).await.text().await.unwrap()
    }

    /// Presses the button (`pour`, `concours`), goes through the provider's screens as
    /// `login` (None: « Annuler »), and comes back: where the site then sends the browser.
    async fn franceconnect(&mut self, pour: &str, concours: &str, login: Option<&str>) -> String {
        let to_provider = self
            .post(
                "/franceconnect/connexion",
                &form(&[("pour", pour), ("concours", concours)]),
            )
            .await;
        assert!(
            to_provider.starts_with(&self.issuer),
            "to the provider: {to_provider}"
        );
        let issuer = self.issuer.clone();
        let back = self
            .at_provider
            .at_provider(&to_provider, &issuer, login)
            .await;
        assert!(
            back.starts_with(&format!("{SITE}/franceconnect/retour?")),
            "{back}"
        );
        self.callback(&back).await
    }

    async fn callback(&mut self, back: &str) -> String {
        let response = self.get(back).await;
        assert_eq!(response.status(), 303, "the callback redirects");
        location(&response)
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_else(|| format!("(no redirect: {})", response.status()))
}

#[tokio::test]
async fn the_button_shows_only_when_franceconnect_is_configured() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    let plain = spawn_app_with(testing::sqlite().await, &[]).await;
    let page = plain.get("/connexion").await.text().await.unwrap();
    assert!(!page.contains("FranceConnect"));
    let page = plain
        .get(&format!("/inscription/{DEMO}/identite"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("FranceConnect"));
    let refused = plain
        .post_form("/franceconnect/connexion", "pour=connexion")
        .await;
    // Not found; a plain form post refused ends on a page of ours (`server::refusals`).
    assert!(
        location(&refused).starts_with('/'),
        "{}",
        location(&refused)
    );

    for app in app_with_provider(&p, "concours").await {
        for path in [
            "/connexion".to_string(),
            format!("/inscription/{DEMO}/identite"),
        ] {
            let page = app.get(&path).await.text().await.unwrap();
            assert!(page.contains("franceconnect-button"), "{path}");
            assert!(page.contains("FranceConnect</span>"), "{path}");
            assert!(
                page.contains("Qu&#x27;est-ce que FranceConnect ?")
                    || page.contains("Qu'est-ce que FranceConnect ?"),
                "{path}"
            );
        }
        // Partial settings stop the start-up, naming what is missing.
        let partial = server::Settings::from_lookup(|name| match name {
            "APP_FRANCECONNECT_ISSUER" => Some(p.issuer.clone()),
            "APP_FRANCECONNECT_CLIENT_ID" => Some("concours".into()),
            _ => None,
        });
        let Err(error) = partial else {
            panic!("partial FranceConnect settings are refused");
        };
        let error = error.to_string();
        assert!(error.contains("APP_FRANCECONNECT_CLIENT_SECRET"), "{error}");
    }
}

#[tokio::test]
async fn a_preinscription_with_franceconnect_locks_the_certified_identity() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for app in app_with_provider(&p, "concours").await {
        let mut candidate = Candidate::new(&app, &p.issuer);
        let landed = candidate
            .franceconnect("inscription", DEMO, Some("test"))
            .await;
        assert_eq!(
            landed,
            format!("/inscription/{DEMO}/identite?franceconnect=certifie"),
            "{}",
            app.label
        );
        let page = candidate.page(&landed).await;
        assert!(
            page.contains("Identité certifiée par FranceConnect"),
            "{page}"
        );
        assert!(page.contains("DUBOIS") && page.contains("Angela Claire Louise"));
        assert!(page.contains("24/08/1962"));
        // The certified fields are not inputs; the others are.
        assert!(!page.contains("name=\"fields[nom_naissance]\""));
        assert!(!page.contains("name=\"fields[date_naissance]\""));
        assert!(page.contains("name=\"fields[lieu_naissance]\""));
        assert!(page.contains("name=\"fields[nationalite]\""));
        // No button once certified.
        assert!(!page.contains("franceconnect-button"));

        // A forged post of the identity step changes nothing certified.
        let next = candidate
            .post(
                "/api/inscription/etape",
                &form(&[
                    ("exam", DEMO),
                    ("step", "identite"),
                    ("direction", "next"),
                    ("fields[nom_naissance]", "Usurpateur"),
                    ("fields[lieu_naissance]", "Paris"),
                    ("fields[nationalite]", "francaise"),
                ]),
            )
            .await;
        assert_eq!(next, format!("/inscription/{DEMO}/coordonnees"));
        let summary = candidate
            .page(&format!("/inscription/{DEMO}/verification"))
            .await;
        assert!(summary.contains("DUBOIS") && !summary.contains("Usurpateur"));

        // Through FranceConnect again: the same draft, still certified.
        let back = candidate
            .franceconnect("inscription", DEMO, Some("test"))
            .await;
        assert!(back.contains("franceconnect=certifie"));
    }
}

#[tokio::test]
async fn every_failure_ends_on_our_page_with_its_words() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for app in app_with_provider(&p, "concours").await {
        let mut candidate = Candidate::new(&app, &p.issuer);
        // « Annuler » at the provider.
        let cancelled = candidate.franceconnect("inscription", DEMO, None).await;
        assert_eq!(
            cancelled,
            format!("/inscription/{DEMO}/identite?franceconnect=annule")
        );
        let page = candidate.page(&cancelled).await;
        assert!(page.contains("Vous avez annulé la connexion avec FranceConnect"));

        // A replayed answer, a forged or missing state: expired, on the login page.
        let to_provider = candidate
            .post("/franceconnect/connexion", "pour=connexion")
            .await;
        let issuer = p.issuer.clone();
        let back = candidate
            .at_provider
            .at_provider(&to_provider, &issuer, Some("test"))
            .await;
        assert_eq!(
            candidate.callback(&back).await,
            "/connexion?franceconnect=aucun-dossier"
        );
        assert_eq!(
            candidate.callback(&back).await,
            "/connexion?franceconnect=expire"
        );
        let forged = back.replace("state=", "state=x");
        assert_eq!(
            candidate.callback(&forged).await,
            "/connexion?franceconnect=expire"
        );
        assert_eq!(
            candidate.callback("/franceconnect/retour?code=abc").await,
            "/connexion?franceconnect=expire"
        );
        let page = candidate.page("/connexion?franceconnect=expire").await;
        assert!(
            page.contains("La connexion avec FranceConnect n&#x27;a pas abouti")
                || page.contains("La connexion avec FranceConnect n'a pas abouti")
        );

        // Another browser bringing this browser's answer (no flow cookie): refused.
        let to_provider = candidate
            .post("/franceconnect/connexion", "pour=connexion")
            .await;
        let back = candidate
            .at_provider
            .at_provider(&to_provider, &issuer, Some("test"))
            .await;
        let mut stranger = Candidate::new(&app, &p.issuer);
        assert_eq!(
            stranger.callback(&back).await,
            "/connexion?franceconnect=expire"
        );
    }
    // A provider that signs its userinfo with a key not its own.
    for app in app_with_provider(&p, "concours-signature-fausse")
        .await
        .into_iter()
        .take(1)
    {
        let mut candidate = Candidate::new(&app, &p.issuer);
        assert_eq!(
            candidate.franceconnect("connexion", "", Some("test")).await,
            "/connexion?franceconnect=refuse"
        );
    }
    // The provider down: the button says so at once.
    let down = spawn_app_with(
        testing::sqlite().await,
        &[
            ("APP_BASE_URL", SITE),
            ("APP_FRANCECONNECT_ISSUER", "http://127.0.0.1:9"),
            ("APP_FRANCECONNECT_CLIENT_ID", "concours"),
            ("APP_FRANCECONNECT_CLIENT_SECRET", "secret-concours"),
        ],
    )
    .await;
    let mut candidate = Candidate::new(&down, "http://127.0.0.1:9");
    assert_eq!(
        candidate
            .post("/franceconnect/connexion", "pour=connexion")
            .await,
        "/connexion?franceconnect=indisponible"
    );
    let page = candidate
        .page("/connexion?franceconnect=indisponible")
        .await;
    assert!(page.contains("FranceConnect ne répond pas pour le moment"));
}

#[tokio::test]
async fn a_typed_dossier_links_then_signs_in_and_out_without_its_password() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    for app in app_with_provider(&p, "concours").await {
        let dossier = |first_names: &'static str| {
            let db = app.db.clone();
            let clock = services::platform::clock::FixedClock(common::NOW.parse().unwrap());
            async move {
                let mut answers = services::platform::demo::demo_answers();
                answers.insert("nom_naissance".into(), "Dubois".into());
                answers.insert("prenoms".into(), first_names.into());
                answers.insert("date_naissance".into(), "24/08/1962".into());
                let d =
                    services::platform::demo::candidate_answering(&db, &clock, DEMO, answers, "h")
                        .await
                        .unwrap();
                let session = services::access::accounts::open_session(&db, &clock, &d.id)
                    .await
                    .unwrap();
                (d, session)
            }
        };
        // Not the same given names: explained, nothing linked.
        let (_, session) = dossier("Angela").await;
        let mut candidate = Candidate::new(&app, &p.issuer);
        candidate.cookies.push(("espace".into(), session));
        assert_eq!(
            candidate.franceconnect("lien", "", Some("test")).await,
            "/espace?franceconnect=identite-differente"
        );
        let page = candidate
            .page("/espace?franceconnect=identite-differente")
            .await;
        assert!(
            page.contains("n&#x27;est pas celle de ce dossier")
                || page.contains("n'est pas celle de ce dossier")
        );
        assert!(page.contains("Lier mon dossier avec"));

        // The same identity: linked; the button goes.
        let (d, session) = dossier("Angela Claire Louise").await;
        let mut candidate = Candidate::new(&app, &p.issuer);
        candidate.cookies.push(("espace".into(), session));
        assert_eq!(
            candidate.franceconnect("lien", "", Some("test")).await,
            "/espace?franceconnect=lie",
            "{}",
            app.label
        );
        let page = candidate.page("/espace?franceconnect=lie").await;
        assert!(page.contains("certifiée par FranceConnect : dossier lié le"));
        assert!(!page.contains("Lier mon dossier avec"));

        // « Se déconnecter »: our session ends, then the provider's, then the catalogue.
        let to_provider = candidate.post("/api/espace/deconnexion", "").await;
        assert!(
            to_provider.starts_with(&format!("{}/session/end?", p.issuer)),
            "{to_provider}"
        );
        assert!(to_provider.contains("id_token_hint="));
        let espace = candidate.get("/espace").await;
        assert!(
            location(&espace).starts_with("/connexion"),
            "the espace's session is over before the provider's: {}",
            location(&espace)
        );
        let issuer = p.issuer.clone();
        let back = candidate.at_provider.log_out(&to_provider, &issuer).await;
        assert!(
            back.starts_with(&format!("{SITE}/franceconnect/deconnexion")),
            "{back}"
        );
        let landed = location(&candidate.get(&back).await);
        assert_eq!(landed, "/?franceconnect=deconnecte");
        assert!(
            candidate
                .page(&landed)
                .await
                .contains("Vous êtes déconnecté de votre espace sécurisé et de FranceConnect")
        );

        // Signing in with FranceConnect: no number, no password, the linked dossier.
        let mut again = Candidate::new(&app, &p.issuer);
        assert_eq!(
            again.franceconnect("connexion", "", Some("test")).await,
            "/espace"
        );
        let page = again.page("/espace").await;
        assert!(page.contains(d.number.as_str()), "{}", app.label);
    }
}

#[tokio::test]
async fn an_identity_with_two_dossiers_chooses_which_to_open() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    // Two exams open at the tests' instant: the demo one and « bientot ».
    let exams = common::soon_exam();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../exams/demo-redacteur-territorial.toml"),
        exams.path().join("demo-redacteur-territorial.toml"),
    )
    .unwrap();
    let exams_dir = exams.path().display().to_string();
    let app = spawn_app_with(
        testing::sqlite().await,
        &[
            ("APP_EXAMS_DIR", &exams_dir),
            ("APP_BASE_URL", SITE),
            ("APP_FRANCECONNECT_ISSUER", &p.issuer),
            ("APP_FRANCECONNECT_CLIENT_ID", "concours"),
            ("APP_FRANCECONNECT_CLIENT_SECRET", "secret-concours"),
        ],
    )
    .await;
    let clock = services::platform::clock::FixedClock(common::NOW.parse().unwrap());
    let mut numbers = Vec::new();
    for exam in [DEMO, "bientot"] {
        let mut answers = services::platform::demo::demo_answers();
        answers.insert("nom_naissance".into(), "Dubois".into());
        answers.insert("prenoms".into(), "Angela Claire Louise".into());
        answers.insert("date_naissance".into(), "24/08/1962".into());
        let d = services::platform::demo::candidate_answering(&app.db, &clock, exam, answers, "h")
            .await
            .unwrap();
        let session = services::access::accounts::open_session(&app.db, &clock, &d.id)
            .await
            .unwrap();
        let mut candidate = Candidate::new(&app, &p.issuer);
        candidate.cookies.push(("espace".into(), session));
        assert_eq!(
            candidate.franceconnect("lien", "", Some("test")).await,
            "/espace?franceconnect=lie"
        );
        numbers.push(d.number.to_string());
    }
    let mut candidate = Candidate::new(&app, &p.issuer);
    let choice = candidate.franceconnect("connexion", "", Some("test")).await;
    assert!(
        choice.starts_with("/franceconnect/choix?jeton="),
        "{choice}"
    );
    let page = candidate.page(&choice).await;
    assert!(page.contains("Choisissez votre dossier"));
    for number in &numbers {
        assert!(page.contains(number.as_str()), "{number} offered");
    }
    // Another browser with the same address sees no dossier.
    let mut stranger = Candidate::new(&app, &p.issuer);
    let elsewhere = stranger.page(&choice).await;
    assert!(!elsewhere.contains(numbers[0].as_str()));
    let jeton = choice.split("jeton=").nth(1).unwrap().to_string();
    assert_eq!(
        stranger
            .post(
                "/api/franceconnect/choisir",
                &form(&[("jeton", jeton.as_str()), ("numero", numbers[1].as_str())])
            )
            .await,
        "/connexion?franceconnect=expire"
    );
    // The candidate's choice opens that dossier.
    assert_eq!(
        candidate
            .post(
                "/api/franceconnect/choisir",
                &form(&[("jeton", jeton.as_str()), ("numero", numbers[1].as_str())])
            )
            .await,
        "/espace"
    );
    let espace = candidate.page("/espace").await;
    assert!(espace.contains(numbers[1].as_str()));
}

#[tokio::test]
async fn a_client_starting_sign_ins_without_end_is_stopped_and_told() {
    let Some(p) = provider::start(&[SITE]) else {
        return;
    };
    let app = app_with_provider(&p, "concours").await.remove(0);
    let max = services::access::throttle::MAX_FRANCECONNECT_STARTS_PER_CLIENT;
    let mut script = Candidate::new(&app, &p.issuer);
    // A few starts over HTTP, each to the provider; the rest of the hour's are counted
    // here (that many posts over HTTP would meet the flood gate's 30 a second first).
    let over_http = 10;
    for _ in 0..over_http {
        let to = script
            .post("/franceconnect/connexion", "pour=connexion")
            .await;
        assert!(to.starts_with(&p.issuer), "{to}");
    }
    let now = common::NOW
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let limit = services::access::throttle::franceconnect_start_limit("127.0.0.1");
    for _ in over_http..max {
        let counted =
            services::access::throttle::attempt(&app.db, std::slice::from_ref(&limit), now)
                .await
                .unwrap();
        assert!(counted.is_ok());
    }
    // One more: no flow row, our page says why.
    assert_eq!(
        script
            .post("/franceconnect/connexion", "pour=connexion")
            .await,
        "/connexion?franceconnect=limite"
    );
    let page = script.page("/connexion?franceconnect=limite").await;
    assert!(page.contains("Beaucoup de connexions ou de préinscriptions"));
    let flows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM franceconnect_flows")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(flows, over_http);
}
