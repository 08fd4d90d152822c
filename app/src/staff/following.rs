//! « Suivi par » on a dossier's page: follow it, stop, or entrust it to a colleague.

use leptos::prelude::*;
use services::dossiers::following::{self, Agent};

use super::{address::dossier_in_list, member_and_dossier};
use crate::session::{internal, state};

/// `action`: « suivre » (`agent`: oneself when empty, or a colleague: « confier »),
/// « quitter » (`agent`: who stops; oneself when empty).
#[server(endpoint = "service/suivi")]
pub async fn change_following(
    #[server(default)] numero: String,
    #[server(default)] action: String,
    #[server(default)] agent: String,
    #[server(default)] liste: String,
) -> Result<(), ServerFnError> {
    let Some((member, d)) = member_and_dossier(&numero).await? else {
        crate::session::redirect("/service");
        return Ok(());
    };
    let state = state();
    let who = if agent.is_empty() {
        member.id.clone()
    } else {
        agent
    };
    let done = match action.as_str() {
        "suivre" => following::follow(&state.db, &*state.clock, &member, &d.id, &who).await,
        "quitter" => following::unfollow(&state.db, &*state.clock, &member, &d.id, &who).await,
        _ => Ok(false),
    };
    let code = match done {
        Ok(_) => "ok",
        Err(following::FollowError::UnknownStaff) => "agent",
        Err(e) => return Err(internal(e)),
    };
    crate::session::redirect(&format!(
        "{}suivi={code}#suivi",
        dossier_in_list(&numero, &liste)
    ));
    Ok(())
}

/// Who follows the dossier, and the forms to change it.
#[component]
pub(super) fn Following(
    number: String,
    /// The list the dossier was opened from: its forms come back to it.
    list: Option<String>,
    /// The agent looking at the page.
    member_id: String,
    followers: Vec<Agent>,
    /// Every active agent, for « confier à ».
    agents: Vec<Agent>,
    /// What `?suivi=` says of the last change.
    outcome: Option<String>,
) -> impl IntoView {
    let follows = followers.iter().any(|a| a.id == member_id);
    let others: Vec<Agent> = agents
        .into_iter()
        .filter(|a| !followers.iter().any(|f| f.id == a.id))
        .collect();
    let outcome = outcome.map(|code| match code.as_str() {
        "ok" => ("notice", "Suivi enregistré."),
        _ => ("alert", "Choisissez un agent du service dans la liste."),
    });
    let hidden = {
        let number = number.clone();
        move || {
            view! {
                <input type="hidden" name="numero" value=number.clone() />
                {list.clone().map(|l| view! { <input type="hidden" name="liste" value=l /> })}
            }
        }
    };
    view! {
        <section id="suivi" aria-labelledby="suivi-titre">
            <h2 id="suivi-titre">"Suivi"</h2>
            {outcome.map(|(class, text)| view! { <crate::form::Outcome class text=text.to_string() /> })}
            {if followers.is_empty() {
                view! { <p data-followers="">"Personne ne suit ce dossier."</p> }.into_any()
            } else {
                view! {
                    <ul class="followers">
                        {followers.into_iter().map(|a| {
                            let me = a.id == member_id;
                            view! {
                                <li data-follower=a.name.clone()>
                                    {if me { format!("{} (vous)", a.name) } else { a.name.clone() }}
                                    " "
                                    <form method="post" action="/api/service/suivi" class="inline-form">
                                        {hidden()}
                                        <input type="hidden" name="action" value="quitter" />
                                        <input type="hidden" name="agent" value=a.id.clone() />
                                        <button type="submit" class="button link">
                                            {if me { "Ne plus suivre".to_string() } else { format!("Retirer {}", a.name) }}
                                        </button>
                                    </form>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <p class="hint">"Les agents qui suivent le dossier reçoivent un courriel quand le candidat écrit ou dépose un fichier."</p>
            {(!follows).then(|| view! {
                <form method="post" action="/api/service/suivi">
                    {hidden()}
                    <input type="hidden" name="action" value="suivre" />
                    <button type="submit" class="button secondary">"Suivre ce dossier"</button>
                </form>
            })}
            {(!others.is_empty()).then(|| view! {
                <form method="post" action="/api/service/suivi" class="narrow-form">
                    {hidden()}
                    <input type="hidden" name="action" value="suivre" />
                    <div class="field">
                        <label for="confier">"Confier le dossier à"</label>
                        <select id="confier" name="agent" required>
                            <option value="">"Choisir un agent"</option>
                            {others.into_iter().map(|a| view! { <option value=a.id.clone()>{a.name.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <button type="submit" class="button secondary">"Confier"</button>
                </form>
            })}
        </section>
    }
}
