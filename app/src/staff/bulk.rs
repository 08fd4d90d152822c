//! A bulk action's confirmation: the dossiers selected in a list, which of them the
//! action can take, and the mail each candidate will receive; then the outcome, back
//! on the list. The selection travels in the address (numbers only); what the agent
//! types (a reason, a message) only in the confirmed form.

use domain::instruction::{BULK_MAX, BulkAction, DecisionRefused};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use services::dossiers::{bulk, instruction};

use super::{TYPED, address::ListQuery, failure, upper_first};
use crate::session::state;

/// The address's decoded pairs (a key may come several times: `n`).
fn query_pairs() -> Vec<(String, String)> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.uri.query().map(str::to_string))
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_string(), super::address::percent_decoded(value))
        })
        .collect()
}

#[component]
pub(super) fn BulkPage() -> impl IntoView {
    let exam = use_params_map()
        .read_untracked()
        .get("exam")
        .unwrap_or_default();
    let pairs = query_pairs();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let action = BulkAction::from_code(&value("action"));
    let list = ListQuery::parse(&value("liste"));
    let error = value("erreur");
    let numbers: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "n")
        .map(|(_, v)| v.clone())
        .take(BULK_MAX)
        .collect();
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let title = match instruction::exam_title(&state.db, &exam).await {
                    Ok(t) => t,
                    Err(e) => return failure(e),
                };
                let back = format!("/service/concours/{exam}?{}", list.to_query());
                let Some(action) = action else {
                    return view! {
                        <Title text="Action groupée" />
                        <h1>"Action groupée"</h1>
                        <p class="alert" role="alert">"Choisissez une action dans la liste des dossiers."</p>
                        <p><a href=back>"Revenir à la liste"</a></p>
                    }.into_any();
                };
                let selected = match bulk::selection(&state.db, &exam, &numbers).await {
                    Ok(s) => s,
                    Err(e) => return failure(e),
                };
                if selected.is_empty() {
                    return view! {
                        <Title text="Action groupée" />
                        <h1>{action.label()}</h1>
                        <p class="alert" role="alert">"Cochez au moins un dossier dans la liste, puis choisissez l'action."</p>
                        <p><a href=back>"Revenir à la liste"</a></p>
                    }.into_any();
                }
                let now = state.clock.now();
                let checks: Vec<(services::dossiers::Dossier, Result<(), DecisionRefused>)> =
                    selected.into_iter().map(|d| { let c = bulk::check(action, &d, now); (d, c) }).collect();
                let able = checks.iter().filter(|(_, c)| c.is_ok()).count();
                let sample = checks.iter().find(|(_, c)| c.is_ok()).or(checks.first()).map(|(d, _)| d.clone());
                let mail = sample.as_ref().map(|d| bulk::letter(&state.base_url, action, d, TYPED, now));
                let (subject, body) = match mail.map(|l| l.content) {
                    Some(services::letters::outbox::Content::Text { subject, body }) => (subject, body),
                    _ => (String::new(), String::new()),
                };
                let confirm = format!("Confirmer : {} ({able} dossier{})", action.label(), if able > 1 { "s" } else { "" });
                view! {
                    <Title text=format!("Action groupée : {}", action.label()) />
                    <p class="breadcrumb"><a href="/service">"Concours"</a>" › "<a href=back.clone()>{title}</a></p>
                    <h1>{format!("Action groupée : {}", action.label())}</h1>
                    {(error == "texte").then(|| view! { <p class="alert" role="alert">{format!("Écrivez le texte : « {} ».", action.text_label().unwrap_or_default())}</p> })}
                    <p data-bulk-count=able>{format!("{} dossier(s) sélectionné(s) ; l'action s'appliquera à {able}.", checks.len())}
                        {(able < checks.len()).then(|| format!(" {} ne le permettent pas (motif ci-dessous) : ils resteront tels quels.", checks.len() - able))}
                    </p>
                    <div class="table-scroll" role="region" aria-label="Dossiers sélectionnés" tabindex="0">
                    <table class="staff-table">
                        <thead><tr><th scope="col">"N° de dossier"</th><th scope="col">"Candidat"</th><th scope="col">"Action possible"</th></tr></thead>
                        <tbody>
                            {checks.iter().map(|(d, c)| view! {
                                <tr data-dossier=d.number.to_string() data-able=c.is_ok().to_string()>
                                    <th scope="row" class="number-cell">{d.number.to_string()}</th>
                                    <td>{d.registration.display_name()}</td>
                                    <td>{match c { Ok(()) => "Oui".to_string(), Err(r) => format!("Non : {r}") }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    {(able > 0).then(|| view! {
                        <section aria-labelledby="courriel-titre" class="mail-preview">
                            <h2 id="courriel-titre">"Le courriel envoyé à chaque candidat"</h2>
                            <p class="hint">{format!("Ici pour le dossier {} ; chaque candidat reçoit le sien.", sample.as_ref().map(|d| d.number.to_string()).unwrap_or_default())}</p>
                            <p><strong>"Objet : "</strong>{subject}</p>
                            <pre data-mail>{body}</pre>
                        </section>
                        <form method="post" action=format!("/service/concours/{exam}/lot") class="narrow-form">
                            <input type="hidden" name="action" value=action.code() />
                            <input type="hidden" name="liste" value=list.to_query() />
                            {checks.iter().filter(|(_, c)| c.is_ok()).map(|(d, _)| view! { <input type="hidden" name="n" value=d.number.to_string() /> }).collect_view()}
                            {action.text_label().map(|label| view! {
                                <div class="field">
                                    <label for="texte">{label}</label>
                                    <textarea id="texte" name="texte" rows="4" maxlength="5000" required></textarea>
                                </div>
                            })}
                            <button type="submit" class="button primary">{confirm}</button>
                        </form>
                    })}
                    <p><a href=back>"Annuler et revenir à la liste"</a></p>
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// The outcome of a bulk action, on the list it came from (`?lot=…&faits=…&refus=…`).
#[component]
pub(super) fn BulkOutcome(action: String, done: String, refused: String) -> impl IntoView {
    let action = BulkAction::from_code(&action);
    let done: usize = done.parse().unwrap_or(0);
    let refused: Vec<(String, String)> = refused
        .split(',')
        .filter_map(|item| item.split_once(':'))
        .filter(|(n, _)| domain::DossierNumber::parse(n).is_ok())
        .map(|(n, code)| {
            let why = DecisionRefused::from_code(code)
                .map(|r| r.to_string())
                .or_else(|| {
                    domain::conversation::Refusal::from_code(code).map(|r| r.text().to_string())
                })
                .unwrap_or_else(|| "dossier introuvable dans ce concours".to_string());
            (n.to_string(), why)
        })
        .collect();
    action.map(|action| view! {
        <div class="notice" role="status" data-bulk-done=done>
            <p>{format!("{} : {done} dossier(s) traité(s) ; chaque candidat en est informé par courriel.", upper_first(action.label()))}</p>
            {(!refused.is_empty()).then(|| view! {
                <p>"Non traité(s) :"</p>
                <ul>{refused.into_iter().map(|(n, why)| view! { <li data-refused=n.clone()>{format!("{n} : {why}")}</li> }).collect_view()}</ul>
            })}
        </div>
    })
}
