//! The staff's door: the login page, and the server functions that open and close a
//! staff session.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use services::access::staff;

use super::STAFF_COOKIE;
use crate::session::{Door, state};

/// The service's door: a session of its own, never the candidates' one.
const DOOR: Door = Door {
    cookie: STAFF_COOKIE,
    lifetime_secs: staff::SESSION_LIFETIME.as_secs(),
    home: "/service",
    login_page: "/service/connexion",
    kept: "email",
};

#[server(endpoint = "service/connexion")]
pub async fn staff_login(
    #[server(default)] email: String,
    #[server(default)] mot_de_passe: String,
) -> Result<(), ServerFnError> {
    use crate::session::client_ip;
    let state = state();
    let login = staff::login(
        &state.db,
        &state.passwords,
        &*state.clock,
        &email,
        &mot_de_passe,
        &client_ip(),
    )
    .await;
    let typed = domain::candidate::Email::parse(&email)
        .map(|e| e.as_str().to_string())
        .unwrap_or_default();
    DOOR.enter(login.map(|(_, token)| token), &typed, |old| async move {
        staff::close_session(&state.db, &old).await
    })
    .await
}

#[server(endpoint = "service/deconnexion")]
pub async fn staff_logout() -> Result<(), ServerFnError> {
    DOOR.leave(|token| async move { staff::close_session(&state().db, &token).await })
        .await
}

#[component]
pub(super) fn StaffLoginPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let message = crate::account::login_notice(
        &q,
        "Adresse électronique ou mot de passe incorrect.",
        "Trop de tentatives de connexion. Réessayez à partir de {} (heure de Paris).",
        "Connectez-vous pour accéder au service concours.",
    );
    let typed = q
        .get("email")
        .and_then(|e| domain::candidate::Email::parse(&e).ok())
        .map(|e| e.as_str().to_string())
        .unwrap_or_default();
    view! {
        <Title text="Connexion du service concours" />
        <h1>"Connexion du service concours"</h1>
        {message.map(|(class, text)| view! { <crate::form::Outcome class text /> })}
        <form method="post" action="/api/service/connexion" class="narrow-form">
            <div class="field">
                <label for="email">"Adresse électronique"</label>
                <input id="email" name="email" type="email" autocomplete="username" spellcheck="false" required value=typed />
            </div>
            <crate::form::PasswordInput id="mot_de_passe" name="mot_de_passe" label="Mot de passe" autocomplete="current-password" />
            <div class="actions">
                <button type="submit" class="button primary">"Se connecter"</button>
            </div>
        </form>
    }
}
