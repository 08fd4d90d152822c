//! « Me désister »: the confirmation page (`/espace/desistement`) and the désistement
//! itself, a plain form post that works without JavaScript. Past the deadline or after
//! a decision, the page says to write to the service, which records it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::espace::my_dossier;

#[server(endpoint = "espace/desister")]
pub async fn withdraw_dossier() -> Result<(), ServerFnError> {
    use crate::session::{current_dossier, internal, redirect, state};
    use services::dossiers::withdrawal::{self, WithdrawalError};
    let Some(dossier) = current_dossier().await? else {
        redirect("/connexion?info=session");
        return Ok(());
    };
    let state = state();
    match withdrawal::withdraw(&state.db, &*state.clock, &state.base_url, &dossier.number).await {
        Ok(_) => redirect("/espace?desistement=ok"),
        Err(WithdrawalError::Refused(refused)) => {
            redirect(&format!("/espace/desistement?erreur={}", refused.code()))
        }
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

#[component]
pub fn WithdrawalPage() -> impl IntoView {
    let dossier = Resource::new(|| (), |_| my_dossier());
    let query = use_query_map();
    let refused = move || {
        query
            .read()
            .get("erreur")
            .and_then(|code| domain::instruction::WithdrawalRefused::from_code(&code))
    };
    view! {
        <Title text="Me désister" />
        <h1>"Me désister"</h1>
        {move || refused().map(|r| view! { <p class="alert" role="alert">{r.to_string()}</p> })}
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                match dossier.await {
                    Ok(Some(d)) if d.withdrawn_at.is_some() => view! {
                        <p>{format!("Votre désistement est enregistré depuis le {} (heure de Paris).", d.withdrawn_at.clone().unwrap_or_default())}</p>
                        <p><a href="/espace">"Revenir à mon dossier"</a></p>
                    }.into_any(),
                    Ok(Some(d)) if d.may_withdraw => view! {
                        <p>{format!("Vous êtes sur le point d'annuler votre inscription au concours « {} » (dossier n° {}).", d.exam_title, d.number)}</p>
                        <ul>
                            <li>"Votre dossier ne sera pas instruit et vous ne serez pas convoqué aux épreuves."</li>
                            <li>"Vous ne pourrez plus déposer de pièce ni clôturer ce dossier ; il restera consultable ici jusqu'à son effacement."</li>
                            <li>"Pour vous inscrire de nouveau à ce concours, écrivez au service concours avant la date limite."</li>
                        </ul>
                        <form method="post" action="/api/espace/desister" class="actions">
                            <button type="submit" class="button danger">"Oui, j'annule mon inscription"</button>
                            <a class="button secondary" href="/espace">"Non, revenir à mon dossier"</a>
                        </form>
                    }.into_any(),
                    Ok(Some(_)) => view! {
                        <p>"La date limite est passée ou le service concours a déjà statué sur votre dossier : pour vous désister, écrivez-lui, il enregistrera votre désistement."</p>
                        <p><a class="button primary" href="/espace/messages">"Écrire au service concours"</a></p>
                        <p><a href="/espace">"Revenir à mon dossier"</a></p>
                    }.into_any(),
                    Ok(None) => view! { <Redirect path="/connexion?info=session" /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
