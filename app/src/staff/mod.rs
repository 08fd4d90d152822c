//! The service concours' pages, under `/service`. Server-rendered only: they are never
//! hydrated, so none of their code is in the candidates' Wasm, and a candidate's
//! browser never holds a line of them. Every form is a plain post answered by a
//! redirect. The server's gate (see `server::staff`) lets no request reach them
//! without a staff session, and hands them the staff member through the request.

mod address;
mod bulk;
mod checklist;
mod decisions;
mod dossier;
mod dossiers;
mod exam_form;
mod exams;
mod export;
mod following;
mod login;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};
use services::access::staff::Staff;

use crate::CentreName;

use bulk::BulkPage;
use dossier::DossierDetailPage;
use dossiers::DossiersPage;
use exam_form::ExamFormPage;
use exams::ExamsPage;
use export::ExportPage;
use login::StaffLoginPage;

pub use address::ListQuery;
pub use decisions::{record_decision, reopen_dossier};
pub use exam_form::save_exam;
pub use login::{staff_login, staff_logout};

/// Where a mail shown before a decision carries what the agent will type.
const TYPED: &str = "[le texte saisi ci-dessous]";

/// The staff session's cookie: never the candidates' one.
pub const STAFF_COOKIE: &str = "service";

/// The staff member the gate found for this request.
fn current_staff() -> Option<Staff> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Staff>()
        .cloned()
}

/// The staff member asking, and the dossier of this number (`None`: no such dossier).
async fn member_and_dossier(
    number: &str,
) -> Result<Option<(Staff, services::dossiers::Dossier)>, ServerFnError> {
    let member =
        current_staff().ok_or_else(|| ServerFnError::new("Réservé au service concours."))?;
    let state = crate::session::state();
    Ok(
        services::dossiers::instruction::dossier(&state.db, &*state.clock, number)
            .await
            .map_err(crate::session::internal)?
            .map(|(d, _)| (member, d)),
    )
}

/// The HTML document of a staff page: the site's style sheet, no scripts.
pub fn shell() -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="fr">
            <head>
                <crate::HeadBasics />
                <MetaTags />
            </head>
            <body class="staff">
                <StaffApp />
            </body>
        </html>
    }
}

#[component]
fn StaffApp() -> impl IntoView {
    provide_meta_context();
    let staff = current_staff();
    view! {
        <Router>
            <a class="skip-link" href="#contenu">"Aller au contenu"</a>
            <header class="site-header">
                <a href="/service" class="brand">
                    <CentreName />
                    <span class="brand-name">"Service concours"</span>
                </a>
                {staff.map(|s| view! {
                    <form method="post" action="/api/service/deconnexion" class="staff-identity">
                        <span>{s.name}</span>
                        <button type="submit" class="button secondary">"Se déconnecter"</button>
                    </form>
                })}
            </header>
            <main id="contenu" tabindex="-1" class="wide">
                <crate::refusal::RefusalNotice />
                <Routes fallback=|| view! { <Title text="Page introuvable" /><h1>"Page introuvable"</h1><p><a href="/service">"Revenir aux concours"</a></p> }>
                    <Route path=path!("/service/connexion") view=StaffLoginPage ssr=SsrMode::Async />
                    <Route path=path!("/service") view=ExamsPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/nouveau") view=ExamFormPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/:exam/modifier") view=ExamFormPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/:exam") view=DossiersPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/:exam/lot") view=BulkPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/:exam/export") view=ExportPage ssr=SsrMode::Async />
                    <Route path=path!("/service/dossiers/:number") view=DossierDetailPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <footer class="site-footer">
                <crate::legal::LegalLinks />
            </footer>
        </Router>
    }
}

fn failure(error: impl std::fmt::Display) -> AnyView {
    tracing::error!(%error, "staff page failed");
    view! { <p class="alert" role="alert">"Une erreur est survenue de notre côté. Réessayez dans quelques instants."</p> }.into_any()
}

/// A sentence opening its line: `closure::sentence_start`, the one place.
fn upper_first(text: &str) -> String {
    crate::closure::sentence_start(text)
}
