//! The way into the espace sécurisé: « connexion espace sécurisé », logout, and
//! recovery of a forgotten password or dossier number. Every form is a plain post to a
//! server function that answers with a redirect, so it works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_params_map, use_query_map},
};

use crate::espace::my_dossier;

#[server(endpoint = "espace/connexion")]
pub async fn login(
    #[server(default)] numero: String,
    #[server(default)] mot_de_passe: String,
) -> Result<(), ServerFnError> {
    use crate::session::{ESPACE, client_ip, state};
    use services::access::accounts;
    let state = state();
    let login = accounts::login(
        &state.db,
        &state.passwords,
        &*state.clock,
        &numero,
        &mot_de_passe,
        &client_ip(),
    )
    .await;
    let typed = domain::DossierNumber::parse(&numero)
        .map(|n| n.to_string())
        .unwrap_or_default();
    ESPACE
        .enter(login.map(|(_, token)| token), &typed, |old| async move {
            accounts::close_session(&state.db, &old).await
        })
        .await
}

/// Ends the session; one opened through FranceConnect ends there too (the provider's
/// logout, with the id_token, comes back to `/franceconnect/deconnexion`, then the
/// catalogue). Should the provider not answer, the espace's session is ended all the
/// same and the login page says so.
#[server(endpoint = "espace/deconnexion")]
pub async fn logout() -> Result<(), ServerFnError> {
    use crate::session::{ESPACE, SESSION_COOKIE, cookie, internal, redirect, state};
    let state = state();
    let id_token = match (&state.franceconnect, cookie(SESSION_COOKIE)) {
        (Some(_), Some(token)) => {
            services::access::certified::id_token_of_session(&state.db, &token)
                .await
                .map_err(internal)?
        }
        _ => None,
    };
    let db = state.db.clone();
    ESPACE
        .leave(|token| async move { services::access::accounts::close_session(&db, &token).await })
        .await?;
    if let (Some(fc), Some(id_token)) = (&state.franceconnect, id_token) {
        match fc
            .logout_url(&id_token, &services::access::secrets::new_token())
            .await
        {
            Ok(url) => redirect(&url),
            Err(error) => tracing::warn!(%error, "FranceConnect: logout at the provider"),
        }
    }
    Ok(())
}

#[server(endpoint = "espace/mot-de-passe-oublie")]
pub async fn forgot_password(
    #[server(default)] numero: String,
    #[server(default)] email: String,
) -> Result<(), ServerFnError> {
    use crate::session::{client_ip, count, internal, redirect, state};
    // Counted per client before anything is looked up; the answer is the same whether
    // or not a mail is promised, and no mail relay is waited for (the outbox sends it).
    let _kept = count(
        services::access::accounts::recovery_limit(&client_ip()),
        crate::refusal::Refusal::Demandes,
    )
    .await?;
    let state = state();
    services::access::accounts::request_password_reset(
        &state.db,
        &*state.clock,
        &state.base_url,
        &numero,
        &email,
    )
    .await
    .map_err(internal)?;
    redirect("/mot-de-passe-oublie?envoye=1");
    Ok(())
}

#[server(endpoint = "espace/numero-oublie")]
pub async fn forgot_number(#[server(default)] email: String) -> Result<(), ServerFnError> {
    use crate::session::{client_ip, count, internal, redirect, state};
    let _kept = count(
        services::access::accounts::recovery_limit(&client_ip()),
        crate::refusal::Refusal::Demandes,
    )
    .await?;
    let state = state();
    services::access::accounts::send_dossier_numbers(
        &state.db,
        &*state.clock,
        &state.base_url,
        &email,
    )
    .await
    .map_err(internal)?;
    redirect("/numero-oublie?envoye=1");
    Ok(())
}

#[server(endpoint = "espace/lien-valide")]
pub async fn reset_link_valid(token: String) -> Result<bool, ServerFnError> {
    use crate::session::{internal, state};
    let state = state();
    services::access::accounts::reset_link_is_valid(&state.db, &*state.clock, &token)
        .await
        .map_err(internal)
}

#[server(endpoint = "espace/nouveau-mot-de-passe")]
pub async fn reset_password(
    token: String,
    #[server(default)] mot_de_passe: String,
    #[server(default)] confirmation: String,
) -> Result<(), ServerFnError> {
    use crate::session::{internal, redirect, state};
    use services::access::accounts::{self, AccountError};
    let state = state();
    if let Some(problem) = domain::candidate::PasswordProblem::of(&mot_de_passe, &confirmation, &[])
    {
        redirect(&format!(
            "/mot-de-passe/{}?erreur={}",
            urlencode(&token),
            problem.code()
        ));
        return Ok(());
    }
    // The link first: a stranger's post costs no hash.
    let valid = accounts::reset_link_is_valid(&state.db, &*state.clock, &token)
        .await
        .map_err(internal)?;
    if !valid {
        redirect(&format!("/mot-de-passe/{}", urlencode(&token)));
        return Ok(());
    }
    crate::session::count_hashing().await?;
    let hash = match state.passwords.hash(&mot_de_passe).await {
        Ok(hash) => hash,
        Err(services::access::passwords::PasswordError::Busy) => return Err(crate::session::busy()),
        Err(e) => return Err(internal(e)),
    };
    match accounts::reset_password(&state.db, &*state.clock, &token, &hash).await {
        Ok(_) => redirect("/connexion?info=nouveau-mot-de-passe"),
        Err(AccountError::InvalidResetLink) => {
            redirect(&format!("/mot-de-passe/{}", urlencode(&token)))
        }
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

/// Percent-encodes everything but unreserved characters: safe in a path or a query.
#[cfg(feature = "ssr")]
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a login page says after a refusal (`erreur=identifiants`, `erreur=tentatives`
/// with `jusqua`, the instant in milliseconds, put in `too_many` at `{}`), a logout or
/// an expired session (`info=…`): (class, text), the class `alert` or `notice`.
pub fn login_notice(
    query: &leptos_router::params::ParamsMap,
    wrong: &str,
    too_many: &str,
    session: &str,
) -> Option<(&'static str, String)> {
    match (query.get("erreur").as_deref(), query.get("info").as_deref()) {
        (Some("identifiants"), _) => Some(("alert", wrong.to_string())),
        (Some("tentatives"), _) => {
            let at = query
                .get("jusqua")
                .and_then(|v| v.parse().ok())
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(domain::french::paris_time)
                .unwrap_or_default();
            Some(("alert", too_many.replace("{}", &at)))
        }
        (_, Some("deconnecte")) => Some(("notice", "Vous êtes déconnecté.".to_string())),
        (_, Some("session")) => Some(("notice", session.to_string())),
        _ => None,
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let message = move || {
        login_notice(
            &query.read(),
            "Numéro de dossier ou mot de passe incorrect. Vérifiez-les et réessayez.",
            "Trop de tentatives de connexion pour ce dossier. Par sécurité, réessayez à partir de {} (heure de Paris), ou choisissez un nouveau mot de passe.",
            "Connectez-vous pour accéder à votre espace sécurisé.",
        )
        .or_else(|| {
            (query.read().get("info").as_deref() == Some("nouveau-mot-de-passe")).then(|| {
                (
                    "notice",
                    "Votre nouveau mot de passe est enregistré : connectez-vous avec lui."
                        .to_string(),
                )
            })
        })
    };
    // A refused login shows its number again (only a number's shape: nothing else
    // typed into an address is put in the page).
    let typed = query
        .read_untracked()
        .get("numero")
        .and_then(|n| domain::DossierNumber::parse(&n).ok())
        .map(|n| n.to_string())
        .unwrap_or_default();
    // Already logged in (the header's link, a bookmark): straight to the dossier.
    let session = Resource::new(|| (), |_| my_dossier());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(session.await, Ok(Some(_))).then(|| view! { <Redirect path="/espace" /> })
            })}
        </Suspense>
        <Title text="Connexion espace sécurisé" />
        <h1>"Connexion espace sécurisé"</h1>
        {move || message().map(|(class, text)| view! { <crate::form::Outcome class text /> })}
        <crate::franceconnect::OutcomeNotice />
        {crate::franceconnect::enabled().then(|| view! {
            <section class="franceconnect-choice" aria-labelledby="avec-franceconnect">
                <h2 id="avec-franceconnect">"Avec FranceConnect"</h2>
                <p class="hint">"Si votre dossier a été créé ou lié avec FranceConnect : sans n° de dossier ni mot de passe."</p>
                <crate::franceconnect::FranceConnectButton pour="connexion" />
            </section>
            <h2 class="separator">"Avec votre n° de dossier"</h2>
        })}
        <form method="post" action="/api/espace/connexion" class="narrow-form">
            <crate::form::AllRequired />
            <div class="field">
                <label for="numero">"Identifiant (n° de dossier)"</label>
                <p class="hint" id="numero-aide">"Il figure sur votre dossier d'inscription et dans le message reçu à la préinscription, par exemple 26-K7M4-9QXH."</p>
                <input id="numero" name="numero" type="text" autocomplete="username" autocapitalize="characters" spellcheck="false" aria-describedby="numero-aide" required value=typed />
            </div>
            <crate::form::PasswordInput id="mot_de_passe" name="mot_de_passe" label="Mot de passe" autocomplete="current-password" />
            <div class="actions">
                <button type="submit" class="button primary">"connexion"</button>
            </div>
        </form>
        <ul class="links">
            <li><a href="/mot-de-passe-oublie">"Mot de passe oublié ?"</a></li>
            <li><a href="/numero-oublie">"N° de dossier oublié ?"</a></li>
        </ul>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let sent = move || query.read().get("envoye").is_some();
    view! {
        <Title text="Mot de passe oublié" />
        <h1>"Mot de passe oublié"</h1>
        <Show when=sent>
            <p class="notice" role="status">"Si ce numéro de dossier et cette adresse correspondent à un dossier, un message avec un lien pour choisir un nouveau mot de passe vient d'y être envoyé. Le lien est valable une heure."</p>
        </Show>
        <p>"Indiquez votre n° de dossier et l'adresse électronique donnée à la préinscription."</p>
        <form method="post" action="/api/espace/mot-de-passe-oublie" class="narrow-form">
            <crate::form::AllRequired />
            <div class="field">
                <label for="numero">"N° de dossier"</label>
                <input id="numero" name="numero" type="text" autocomplete="username" autocapitalize="characters" spellcheck="false" required />
            </div>
            <div class="field">
                <label for="email">"Adresse électronique"</label>
                <input id="email" name="email" type="email" autocomplete="email" required />
            </div>
            <div class="actions"><button type="submit" class="button primary">"Recevoir un lien"</button></div>
        </form>
        <p><a href="/numero-oublie">"N° de dossier oublié ?"</a></p>
    }
}

#[component]
pub fn ForgotNumberPage() -> impl IntoView {
    let query = use_query_map();
    let sent = move || query.read().get("envoye").is_some();
    view! {
        <Title text="N° de dossier oublié" />
        <h1>"N° de dossier oublié"</h1>
        <Show when=sent>
            <p class="notice" role="status">"Si des dossiers ont été ouverts avec cette adresse, leurs numéros viennent d'y être envoyés."</p>
        </Show>
        <form method="post" action="/api/espace/numero-oublie" class="narrow-form">
            <crate::form::AllRequired />
            <div class="field">
                <label for="email">"Adresse électronique donnée à la préinscription"</label>
                <input id="email" name="email" type="email" autocomplete="email" required />
            </div>
            <div class="actions"><button type="submit" class="button primary">"Recevoir mes numéros"</button></div>
        </form>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let valid = Resource::new(token, reset_link_valid);
    // A code in the address, our message on the page.
    let error = move || {
        query
            .read()
            .get("erreur")
            .and_then(|code| domain::candidate::PasswordProblem::from_code(&code))
            .map(|problem| problem.message())
    };
    view! {
        <Title text="Nouveau mot de passe" />
        <h1>"Choisir un nouveau mot de passe"</h1>
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                match valid.await {
                    Ok(true) => view! {
                        {move || error().map(|e| view! { <p class="alert" role="alert">{e}</p> })}
                        <form method="post" action="/api/espace/nouveau-mot-de-passe" class="narrow-form">
                            <input type="hidden" name="token" value=token() />
                            <crate::form::AllRequired />
                            <crate::form::PasswordInput id="mot_de_passe" name="mot_de_passe" label="Nouveau mot de passe" autocomplete="new-password" hint="Au moins 12 caractères. Une phrase de quelques mots est facile à retenir et difficile à deviner." />
                            <crate::form::PasswordInput id="confirmation" name="confirmation" label="Confirmation du mot de passe" autocomplete="new-password" />
                            <div class="actions"><button type="submit" class="button primary">"Enregistrer"</button></div>
                        </form>
                    }.into_any(),
                    Ok(false) => view! {
                        <p class="alert" role="alert">"Ce lien n'est plus valable : il a déjà servi ou il a plus d'une heure."</p>
                        <p><a href="/mot-de-passe-oublie">"Demander un nouveau lien"</a></p>
                    }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
