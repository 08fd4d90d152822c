//! FranceConnect as candidates see it: the button (only when the site is configured
//! for it), the words of every outcome (`?franceconnect=CODE`, set by
//! `server::franceconnect`), and the choice of a dossier when an identity has several.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The cookie that binds a flow to its browser (its hash is kept with the flow).
pub const BROWSER_COOKIE: &str = "franceconnect";

/// How a FranceConnect flow ended, as the page it comes back to says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The préinscription's identity is now certified.
    Certifie,
    /// The dossier is linked to FranceConnect.
    Lie,
    /// Back from FranceConnect's logout.
    Deconnecte,
    /// « Annuler » at FranceConnect.
    Annule,
    /// FranceConnect could not be reached.
    Indisponible,
    /// The flow was too old, already used, or started in another browser.
    Expire,
    /// What FranceConnect sent did not verify.
    Refuse,
    /// No dossier is linked to this identity.
    AucunDossier,
    /// The certified identity is not the dossier's.
    IdentiteDifferente,
    /// The dossier was already linked.
    DejaLie,
    /// The identity already has another dossier for this exam.
    AutreDossier,
    /// Too many sign-ins or préinscriptions started from this connection.
    Limite,
    /// An error on our side.
    Erreur,
}

const ALL: [Outcome; 13] = [
    Outcome::Certifie,
    Outcome::Lie,
    Outcome::Deconnecte,
    Outcome::Annule,
    Outcome::Indisponible,
    Outcome::Expire,
    Outcome::Refuse,
    Outcome::AucunDossier,
    Outcome::IdentiteDifferente,
    Outcome::DejaLie,
    Outcome::AutreDossier,
    Outcome::Limite,
    Outcome::Erreur,
];

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Self::Certifie => "certifie",
            Self::Lie => "lie",
            Self::Deconnecte => "deconnecte",
            Self::Annule => "annule",
            Self::Indisponible => "indisponible",
            Self::Expire => "expire",
            Self::Refuse => "refuse",
            Self::AucunDossier => "aucun-dossier",
            Self::IdentiteDifferente => "identite-differente",
            Self::DejaLie => "deja-lie",
            Self::AutreDossier => "autre-dossier",
            Self::Limite => "limite",
            Self::Erreur => "erreur",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        ALL.into_iter().find(|o| o.code() == code)
    }

    /// Good news is a notice; the rest an alert.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Certifie | Self::Lie | Self::Deconnecte)
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Certifie => {
                "Votre identité est certifiée par FranceConnect : elle est remplie ci-dessous et ne peut pas être modifiée. Complétez les autres informations."
            }
            Self::Lie => {
                "Votre dossier est lié à FranceConnect : vous pourrez désormais vous connecter avec FranceConnect, sans mot de passe."
            }
            Self::Deconnecte => {
                "Vous êtes déconnecté de votre espace sécurisé et de FranceConnect."
            }
            Self::Annule => {
                "Vous avez annulé la connexion avec FranceConnect : rien n'a été modifié. Vous pouvez recommencer, ou continuer sans FranceConnect."
            }
            Self::Indisponible => {
                "FranceConnect ne répond pas pour le moment : rien n'a été modifié. Réessayez dans quelques minutes, ou continuez sans FranceConnect."
            }
            Self::Expire => {
                "La connexion avec FranceConnect n'a pas abouti : elle a expiré, a déjà servi ou a commencé dans un autre navigateur. Recommencez depuis cette page."
            }
            Self::Refuse => {
                "FranceConnect n'a pas pu confirmer votre identité : rien n'a été modifié. Recommencez, ou continuez sans FranceConnect."
            }
            Self::AucunDossier => {
                "Aucun dossier n'est lié à cette identité FranceConnect. Si vous avez déjà un dossier, connectez-vous avec votre n° de dossier et votre mot de passe : vous pourrez ensuite le lier à FranceConnect. Sinon, préinscrivez-vous depuis le catalogue des concours."
            }
            Self::IdentiteDifferente => {
                "L'identité certifiée par FranceConnect (nom de naissance, prénoms, date de naissance) n'est pas celle de ce dossier : rien n'a été lié. Si votre dossier comporte une erreur, écrivez au service concours."
            }
            Self::DejaLie => "Ce dossier est déjà lié à une identité FranceConnect.",
            Self::AutreDossier => {
                "Cette identité FranceConnect est déjà liée à un autre dossier de ce concours : rien n'a été lié. Écrivez au service concours."
            }
            Self::Limite => {
                "Beaucoup de connexions ou de préinscriptions ont été commencées depuis votre connexion internet : celle-ci n'a pas pu commencer. Réessayez dans une heure, ou continuez sans FranceConnect."
            }
            Self::Erreur => {
                "Une erreur est survenue de notre côté : rien n'a été modifié. Réessayez dans quelques instants."
            }
        }
    }
}

/// Whether this site offers FranceConnect (`APP_FRANCECONNECT_*`).
pub fn enabled() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::state::AppState>().is_some_and(|s| s.franceconnect.is_some())
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// What the page's `?franceconnect=` says, if anything.
#[component]
pub fn OutcomeNotice() -> impl IntoView {
    let query = use_query_map();
    let outcome = query
        .read_untracked()
        .get("franceconnect")
        .and_then(|c| Outcome::from_code(&c));
    outcome.map(|o| {
        let (class, role) = if o.is_success() {
            ("notice", "status")
        } else {
            ("alert", "alert")
        };
        view! { <p class=class role=role data-franceconnect=o.code()>{o.message()}</p> }
    })
}

/// FranceConnect's button, as its partner kit draws it, with « Qu'est-ce que
/// FranceConnect ? »: a form posted to `server::franceconnect` (`pour`: `connexion`,
/// `inscription` or `lien`). Nothing when the site does not offer FranceConnect.
#[component]
pub fn FranceConnectButton(
    pour: &'static str,
    #[prop(optional, into)] concours: String,
    #[prop(optional)] label: Option<&'static str>,
) -> impl IntoView {
    enabled().then(|| {
        view! {
            <div class="franceconnect">
                <form method="post" action="/franceconnect/connexion">
                    <input type="hidden" name="pour" value=pour />
                    {(!concours.is_empty()).then(|| view! { <input type="hidden" name="concours" value=concours.clone() /> })}
                    <button type="submit" class="franceconnect-button">
                        <span class="franceconnect-login">{label.unwrap_or("S'identifier avec")}</span>
                        " "
                        <span class="franceconnect-brand">"FranceConnect"</span>
                    </button>
                </form>
                <p>
                    <a href="https://franceconnect.gouv.fr/" target="_blank" rel="noopener" title="Qu'est-ce que FranceConnect ? - nouvelle fenêtre">"Qu'est-ce que FranceConnect ?"</a>
                </p>
            </div>
        }
    })
}

/// A dossier an identity may open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub number: String,
    pub exam_title: String,
}

#[server(endpoint = "franceconnect/dossiers")]
pub async fn choices(jeton: String) -> Result<Vec<Choice>, ServerFnError> {
    use crate::session::{cookie, internal, state};
    let Some(browser) = cookie(BROWSER_COOKIE) else {
        return Ok(Vec::new());
    };
    let state = state();
    let found = services::access::certified::choices(&state.db, &*state.clock, &browser, &jeton)
        .await
        .map_err(internal)?;
    Ok(found
        .into_iter()
        .map(|d| Choice {
            number: d.number,
            exam_title: d.exam_title,
        })
        .collect())
}

#[server(endpoint = "franceconnect/choisir")]
pub async fn choose(jeton: String, numero: String) -> Result<(), ServerFnError> {
    use crate::session::{ESPACE, SESSION_COOKIE, cookie, internal, redirect, set_cookie, state};
    let state = state();
    let Some(browser) = cookie(BROWSER_COOKIE) else {
        redirect("/connexion?franceconnect=expire");
        return Ok(());
    };
    let opened =
        services::access::certified::choose(&state.db, &*state.clock, &browser, &jeton, &numero)
            .await
            .map_err(internal)?;
    match opened {
        Some(session) => {
            if let Some(old) = cookie(SESSION_COOKIE) {
                services::access::accounts::close_session(&state.db, &old)
                    .await
                    .map_err(internal)?;
            }
            set_cookie(SESSION_COOKIE, &session, ESPACE.lifetime_secs);
            redirect(ESPACE.home);
        }
        None => redirect("/connexion?franceconnect=expire"),
    }
    Ok(())
}

/// « Choisissez votre dossier »: an identity with dossiers on several exams.
#[component]
pub fn ChoicePage() -> impl IntoView {
    let query = use_query_map();
    let jeton = query.read_untracked().get("jeton").unwrap_or_default();
    let found = Resource::new(move || jeton.clone(), choices);
    view! {
        <Title text="Choisissez votre dossier" />
        <h1>"Choisissez votre dossier"</h1>
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                let jeton = query.read_untracked().get("jeton").unwrap_or_default();
                match found.await {
                    Ok(list) if !list.is_empty() => view! {
                        <p>"Votre identité FranceConnect est liée à plusieurs dossiers, un par concours. Lequel voulez-vous ouvrir ?"</p>
                        <ul class="choices">
                            {list.into_iter().map(|c| {
                                let jeton = jeton.clone();
                                view! {
                                    <li>
                                        <form method="post" action="/api/franceconnect/choisir">
                                            <input type="hidden" name="jeton" value=jeton />
                                            <input type="hidden" name="numero" value=c.number.clone() />
                                            <button type="submit" class="button secondary">
                                                {c.exam_title.clone()}
                                                <span class="choice-number">{format!(" · dossier n° {}", c.number)}</span>
                                            </button>
                                        </form>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Ok(_) => view! {
                        <p class="alert" role="alert">{Outcome::Expire.message()}</p>
                        <p><a href="/connexion">"Revenir à la connexion"</a></p>
                    }.into_any(),
                    Err(_) => view! { <p class="alert" role="alert">{Outcome::Erreur.message()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
