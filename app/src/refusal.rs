//! Every form ends on a page of the site. A form post that is refused (a limit reached,
//! the server too busy, an error of ours, a session expired, a form that cannot be
//! read) is sent back by `server::refusals` to the page it came from, with a code and
//! the wait in its address (`?refus=limite-dossiers&attente=2400`); this page words
//! them. Codes, never text: nothing typed into an address is shown as the site's own.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Why a form post was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many dossiers created from this connection.
    Dossiers,
    /// Too many dossiers given this e-mail address today.
    Adresse,
    /// Too many préinscriptions started from this connection.
    Brouillons,
    /// Too many new passwords chosen from this connection.
    MotsDePasse,
    /// Too many recovery requests from this connection.
    Demandes,
    /// Another limit of ours.
    Limite,
    /// Too many posts in a few seconds (the flood gate).
    Afflux,
    /// The server is too busy: try again in a few seconds.
    Occupe,
    /// An error on our side.
    Erreur,
    /// The session has expired.
    Session,
    /// The form could not be read (too large, too slow, malformed).
    Formulaire,
}

const ALL: [Refusal; 11] = [
    Refusal::Dossiers,
    Refusal::Adresse,
    Refusal::Brouillons,
    Refusal::MotsDePasse,
    Refusal::Demandes,
    Refusal::Limite,
    Refusal::Afflux,
    Refusal::Occupe,
    Refusal::Erreur,
    Refusal::Session,
    Refusal::Formulaire,
];

/// The response header in which a refusal names itself for `server::refusals`.
pub const HEADER: &str = "x-refus";

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Dossiers => "limite-dossiers",
            Self::Adresse => "limite-adresse",
            Self::Brouillons => "limite-preinscriptions",
            Self::MotsDePasse => "limite-mots-de-passe",
            Self::Demandes => "limite-demandes",
            Self::Limite => "limite",
            Self::Afflux => "afflux",
            Self::Occupe => "occupe",
            Self::Erreur => "erreur",
            Self::Session => "session",
            Self::Formulaire => "formulaire",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        ALL.into_iter().find(|r| r.code() == code)
    }

    /// The refusal a status means when the answer did not name one.
    pub fn of_status(status: u16) -> Self {
        match status {
            429 => Self::Limite,
            503 => Self::Occupe,
            401 => Self::Session,
            400 | 408 | 411 | 413 | 415 | 422 => Self::Formulaire,
            _ => Self::Erreur,
        }
    }

    /// What happened, and what to do, in the candidate's words.
    pub fn message(self) -> &'static str {
        match self {
            Self::Dossiers => {
                "Beaucoup de dossiers ont été créés depuis votre connexion internet (celle d'un lycée, d'une administration ou d'un opérateur mobile peut être partagée) : votre dossier n'est pas encore créé."
            }
            Self::Adresse => {
                "Cette adresse électronique a déjà servi à créer plusieurs dossiers aujourd'hui : votre dossier n'est pas encore créé. Vous pouvez indiquer une autre adresse (étape « Coordonnées »)."
            }
            Self::Brouillons => {
                "Beaucoup de préinscriptions ont été commencées depuis votre connexion internet : celle-ci n'a pas pu commencer."
            }
            Self::MotsDePasse => {
                "Beaucoup de mots de passe ont été choisis depuis votre connexion internet : celui-ci n'a pas été enregistré."
            }
            Self::Demandes => {
                "Beaucoup de demandes ont été faites depuis votre connexion internet : celle-ci n'a pas été envoyée."
            }
            Self::Limite => {
                "Beaucoup de demandes ont été faites depuis votre connexion internet : celle-ci n'a pas été traitée."
            }
            Self::Afflux => {
                "Trop de demandes ont été envoyées en quelques secondes : celle-ci n'a pas été traitée."
            }
            Self::Occupe => {
                "Le service est très sollicité en ce moment : votre demande n'a pas pu être traitée."
            }
            Self::Erreur => {
                "Une erreur est survenue de notre côté : votre demande n'a pas été traitée."
            }
            Self::Session => "Votre session a expiré : connectez-vous de nouveau.",
            Self::Formulaire => {
                "Le formulaire n'a pas pu être lu en entier (connexion coupée ou envoi trop long) : rien n'a été enregistré."
            }
        }
    }

    /// The wait when the answer gave none.
    fn default_wait(self) -> Option<u64> {
        match self {
            Self::Afflux => Some(2),
            Self::Occupe | Self::Erreur => Some(5),
            _ => None,
        }
    }
}

/// The words of the refusal this page was sent back with, if any: the reason, the
/// wait, that nothing saved is lost, and whom to ask.
#[component]
pub fn RefusalNotice() -> impl IntoView {
    notice()
}

fn notice() -> Option<impl IntoView> {
    let query = use_query_map();
    let refusal = query.read_untracked().get("refus");
    let refusal = refusal.as_deref().and_then(Refusal::from_code)?;
    let wait = query
        .read_untracked()
        .get("attente")
        .and_then(|w| w.parse::<u64>().ok())
        .filter(|w| *w <= 24 * 3600)
        .or(refusal.default_wait());
    #[cfg(feature = "ssr")]
    let contact = {
        let state = crate::session::state();
        Some(
            state
                .service_email
                .map_or_else(|| state.centre.email.clone(), |e| e.to_string()),
        )
    };
    #[cfg(not(feature = "ssr"))]
    let contact: Option<String> = None;
    Some(view! {
        <div class="alert refusal" role="alert" data-refus=refusal.code()>
            <p><strong>{refusal.message()}</strong></p>
            {wait.map(|w| view! { <p>{format!("Vous pourrez réessayer dans {}.", domain::french::wait(w))}</p> })}
            {(refusal != Refusal::Session).then(|| view! {
                <p>"Ce que vous aviez déjà enregistré est conservé."</p>
            })}
            <p>
                {match contact {
                    Some(email) => view! {
                        "Besoin d'aide ? Écrivez au service concours : "
                        <a href=format!("mailto:{email}")>{email.clone()}</a>
                        ", en indiquant votre nom et le concours."
                    }.into_any(),
                    // Rendered on the server only: the Centre's address is always known.
                    None => view! { "Besoin d'aide ? Contactez le service concours, en indiquant votre nom et le concours." }.into_any(),
                }}
            </p>
        </div>
    })
}

/// Answers this server function's call with `refusal`: its status, its code for the
/// page, and the wait (`Retry-After`) when there is one. A server function a page
/// calls while it renders leaves the page's answer alone: the page says the error.
#[cfg(feature = "ssr")]
pub fn refuse(refusal: Refusal, status: http::StatusCode, wait_secs: Option<u64>) {
    use http::{HeaderValue, header};
    let called = use_context::<http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with("/api/"));
    if !called {
        return;
    }
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
        response.insert_header(
            http::HeaderName::from_static(HEADER),
            HeaderValue::from_static(refusal.code()),
        );
        if let Some(wait) = wait_secs {
            response.insert_header(header::RETRY_AFTER, HeaderValue::from(wait));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back() {
        for refusal in ALL {
            assert_eq!(Refusal::from_code(refusal.code()), Some(refusal));
            assert!(!refusal.message().is_empty());
        }
        assert_eq!(Refusal::from_code("<script>"), None);
    }
}
