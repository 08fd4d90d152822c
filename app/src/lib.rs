//! The Leptos UI. Pages and components live here; server functions are thin and call
//! the `services` crate, which holds the I/O.

// Release builds type-check the full view trees (debug builds erase them), which nest
// deeper than the default limit.
#![recursion_limit = "256"]

pub mod account;
pub mod catalogue;
pub mod closure;
mod countdown;
#[cfg(feature = "hydrate")]
mod dom;
pub mod dossier;
pub mod espace;
mod form;
pub mod franceconnect;
#[cfg(feature = "hydrate")]
mod js;
pub mod legal;
pub mod messages;
#[cfg(feature = "hydrate")]
mod photos;
pub mod pieces;
pub mod refusal;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod staff;
pub mod start;
#[cfg(feature = "ssr")]
pub mod state;
pub mod withdrawal;
pub mod wizard;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, Route, Router, Routes},
    path,
};

/// The browser's part of the candidate's pages, run once the page's Wasm is loaded:
/// each module looks for its own elements and leaves the page alone when it has none.
#[cfg(feature = "hydrate")]
pub fn attach() {
    closure::tick();
    dossier::return_focus();
    pieces::attach();
    wizard::step_checks();
}

/// The HTML document around every page, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="fr">
            <head>
                <HeadBasics />
                <meta name="description" content=description() />
                <AutoReload options=options.clone() />
                // Leptos's loader in islands mode: it fetches the Wasm and calls `hydrate`
                // (`frontend`), then looks for islands, of which there are none.
                {loads_wasm().then(|| view! { <HydrationScripts options=options.clone() islands=true /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// What a search engine shows under the site's name.
fn description() -> String {
    let centre = centre().map_or_else(|| "Centre de gestion".to_string(), |c| c.nom.clone());
    format!("Inscription en ligne aux concours et examens professionnels : {centre}")
}

/// Whether this request's page has a part that runs in the browser (see [`attach`]):
/// only those load the Wasm; the catalogue, the connexion page and the recovery pages
/// are plain HTML and load none.
fn loads_wasm() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().is_some_and(|parts| {
            let path = parts.uri.path();
            // The conversation is a plain form: nothing on it reacts by itself.
            (path.starts_with("/espace")
                && path != "/espace/messages"
                && path != "/espace/desistement")
                // A step, not the start page before the first one.
                || (path.starts_with("/inscription/") && path.matches('/').count() >= 3)
        })
    }
    #[cfg(not(feature = "ssr"))]
    false
}

/// Whether this request's page is a pièce's document window, drawn over the dossier.
fn window_open() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .is_some_and(|parts| parts.uri.path().starts_with("/espace/pieces/"))
    }
    #[cfg(not(feature = "ssr"))]
    false
}

/// The stylesheet's address, as `AppState::stylesheet` holds it.
fn stylesheet() -> String {
    #[cfg(feature = "ssr")]
    if let Some(state) = use_context::<state::AppState>() {
        return state.stylesheet.to_string();
    }
    "/pkg/concours.css".to_string()
}

/// The stylesheet's address: `/pkg/concours.css`, or with its content's hash in the name
/// when the front end's files are hashed (the `css:` line of the hash file cargo-leptos
/// wrote), so that it can be cached for a year.
#[cfg(feature = "ssr")]
pub fn stylesheet_of(options: &LeptosOptions) -> String {
    if options.hash_files {
        let hashes = std::fs::read_to_string(options.hash_file.as_ref()).unwrap_or_default();
        if let Some(hash) = hashes
            .lines()
            .find_map(|l| l.trim().strip_prefix("css:"))
            .map(str::trim)
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
        {
            return format!(
                "/{}/{}.{hash}.css",
                options.site_pkg_dir, options.output_name
            );
        }
    }
    "/pkg/concours.css".to_string()
}

/// What every page's `<head>` starts with, candidates' and staff's alike.
#[component]
pub fn HeadBasics() -> impl IntoView {
    view! {
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="stylesheet" href=stylesheet() />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            // Behind the document window (a modal dialog) nothing takes the focus: the
            // dossier page is inert (`dossier::DossierPage`), and so are the header and
            // footer (RGAA 7.1, 12.8).
            <a class="skip-link" href="#contenu" inert=window_open()>"Aller au contenu"</a>
            <header class="site-header" inert=window_open()>
                <A href="/" attr:class="brand">
                    <CentreName />
                    <span class="brand-name">"Concours et examens"</span>
                </A>
                <HeaderActions />
            </header>
            <main id="contenu" tabindex="-1">
                // A form refused on its way (a limit, our error, a busy server) comes
                // back to its page with a code: said here, above the page.
                <refusal::RefusalNotice />
                // Async: the whole page is rendered before it is sent, so it is complete
                // without JavaScript.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=catalogue::CataloguePage ssr=SsrMode::Async />
                    <Route path=path!("/inscription/:exam") view=start::StartPage ssr=SsrMode::Async />
                    <Route path=path!("/inscription/:exam/:step") view=wizard::WizardPage ssr=SsrMode::Async />
                    <Route path=path!("/connexion") view=account::LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/franceconnect/choix") view=franceconnect::ChoicePage ssr=SsrMode::Async />
                    <Route path=path!("/espace/cloture") view=closure::ClosurePage ssr=SsrMode::Async />
                    <Route path=path!("/espace/accuse-de-reception") view=closure::ReceiptPage ssr=SsrMode::Async />
                    <Route path=path!("/espace/messages") view=messages::MessagesPage ssr=SsrMode::Async />
                    <Route path=path!("/espace/desistement") view=withdrawal::WithdrawalPage ssr=SsrMode::Async />
                    <Route path=path!("/espace") view=|| view! { <dossier::DossierPage /> } ssr=SsrMode::Async />
                    // A pièce's document window opens over the dossier page: a dialog
                    // once hydrated, and a page of its own (same address) without
                    // JavaScript.
                    <Route path=path!("/espace/pieces/:piece") view=pieces::PiecePage ssr=SsrMode::Async />
                    <Route path=path!("/mot-de-passe-oublie") view=account::ForgotPasswordPage ssr=SsrMode::Async />
                    <Route path=path!("/mot-de-passe/:token") view=account::ResetPasswordPage ssr=SsrMode::Async />
                    <Route path=path!("/numero-oublie") view=account::ForgotNumberPage ssr=SsrMode::Async />
                    <Route path=path!("/accessibilite") view=legal::AccessibilityPage ssr=SsrMode::Async />
                    <Route path=path!("/mentions-legales") view=legal::LegalNoticePage ssr=SsrMode::Async />
                    <Route path=path!("/donnees-personnelles") view=legal::PersonalDataPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <footer class="site-footer" inert=window_open()>
                <CentreContact />
                <p>"Les dates limites s'entendent à l'heure de Paris (heure métropolitaine)."</p>
                <legal::LegalLinks />
            </footer>
        </Router>
    }
}

/// The Centre that runs the site (`APP_CENTRE_FILE`). Every page's frame is rendered on
/// the server: the browser never draws it.
#[cfg(feature = "ssr")]
pub(crate) fn centre() -> Option<std::sync::Arc<domain::centre::Centre>> {
    use_context::<state::AppState>().map(|s| s.centre)
}
#[cfg(not(feature = "ssr"))]
pub(crate) fn centre() -> Option<std::sync::Arc<domain::centre::Centre>> {
    None
}

/// The Centre's name, at the head of every page (the candidates' and the staff's).
#[component]
pub(crate) fn CentreName() -> impl IntoView {
    let name = centre().map_or_else(|| "Centre de gestion".to_string(), |c| c.nom.clone());
    view! { <span class="brand-org">{name}</span> }
}

/// Who runs the site and how to reach them, at the foot of every candidate page.
#[component]
fn CentreContact() -> impl IntoView {
    centre().map(|c| {
        let mail = format!("mailto:{}", c.email);
        let site = c.site.clone();
        let site_shown = site
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        view! {
            <p class="centre-contact">
                <strong>{c.nom.clone()}</strong>
                <br />
                {c.adresse.clone()}
                <br />
                <a href=mail>{c.email.clone()}</a>
                " · "
                {c.telephone.clone()}
                " · "
                <a href=site>{site_shown}</a>
            </p>
        }
    })
}

/// The header knows who is there: a candidate logged in sees « Mon espace » and
/// « Se déconnecter » on every page, anyone else the way in. Read from the request's
/// session cookie, without a database query or anything to wait for: every page,
/// 404 included, renders its header at once (an expired session's cookie has expired
/// with it; « Mon espace » then asks to log in again). Logging in and out are plain
/// posts, so the page that follows is rendered afresh with the right header.
#[component]
fn HeaderActions() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let signed_in = session::cookie(session::SESSION_COOKIE).is_some_and(|c| !c.is_empty());
    #[cfg(not(feature = "ssr"))]
    let signed_in = false;
    if signed_in {
        view! {
            <nav class="header-actions" aria-label="Mon compte">
                <a href="/espace" class="button login-button">"Mon espace"</a>
                <form method="post" action="/api/espace/deconnexion">
                    <button type="submit" class="button login-button">"Se déconnecter"</button>
                </form>
            </nav>
        }
        .into_any()
    } else {
        view! { <a href="/connexion" class="button login-button">"Connexion espace sécurisé"</a> }
            .into_any()
    }
}

/// What a page shows while its data loads on a client-side navigation. `role="status"`
/// so a screen reader hears it; the `loading` class lets the browser tests wait for the
/// settled page.
#[component]
pub fn Loading(#[prop(default = "Chargement…")] text: &'static str) -> impl IntoView {
    view! { <p class="loading" role="status">{text}</p> }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Page introuvable" />
        <h1>"Page introuvable"</h1>
        <p>"Cette adresse ne correspond à aucune page. "<A href="/">"Revenir au catalogue des concours"</A></p>
    }
}
