//! The exams, with their dossiers counted by state.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{failure, upper_first};
use crate::session::state;
use services::dossiers::instruction;

#[component]
pub(super) fn ExamsPage() -> impl IntoView {
    let query = use_query_map();
    let saved = query.read_untracked().get("enregistre");
    view! {
        <Title text="Concours et dossiers" />
        <h1>"Concours et dossiers"</h1>
        <p><a class="button secondary" href="/service/concours/nouveau">"Créer un examen"</a></p>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let exams = match instruction::exams(&state.db, &*state.clock).await {
                    Ok(exams) => exams,
                    Err(e) => return failure(e),
                };
                let retention = match services::dossiers::retention::schedule(&state.db).await {
                    Ok(r) => r,
                    Err(e) => return failure(e),
                };
                let now = state.clock.now();
                // The address names an exam by its slug; its title is ours, never the link's text.
                let saved = saved.as_ref().and_then(|slug| exams.iter().find(|e| &e.slug == slug)).map(|e| {
                    view! { <p class="notice" role="status">{format!("L'examen « {} » est enregistré.", e.title)}</p> }
                });
                view! {
                    {saved}
                    <div class="table-scroll" role="region" aria-label="Concours" tabindex="0">
                    <table class="staff-table">
                        <thead>
                            <tr>
                                <th scope="col">"Concours"</th>
                                <th scope="col">"Clôture des inscriptions"</th>
                                <th scope="col">"Effacement des dossiers"</th>
                                {domain::instruction::Stage::ALL.into_iter().map(|s| view! { <th scope="col">{upper_first(s.label())}</th> }).collect_view()}
                            </tr>
                        </thead>
                        <tbody>
                            {exams.into_iter().map(|e| {
                                let slug = e.slug.clone();
                                view! {
                                    <tr data-exam=e.slug.clone()>
                                        <th scope="row">
                                            <a href=format!("/service/concours/{}", e.slug)>{e.title.clone()}</a>
                                            <span class="hint">{format!(" {}{}", e.session, if e.published { "" } else { " · non publié" })}</span>
                                        </th>
                                        <td>{e.deadline.to_french()}</td>
                                        <td data-purge>{retention.get(&e.slug).map(|r| purge_text(r, now))}</td>
                                        {e.counts.into_iter().map(|(state, n)| view! {
                                            <td class="count" data-state=state.code()>
                                                <a href=format!("/service/concours/{slug}?etat={}", state.code())>{n}</a>
                                            </td>
                                        }).collect_view()}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// When the exam's dossiers are erased, or what the purge left.
fn purge_text(r: &services::dossiers::retention::Retention, now: jiff::Timestamp) -> String {
    let when = domain::french::paris_date_time(r.purges_at);
    match &r.purged {
        Some(p) => format!(
            "effacés le {} : {} dossier(s), {} fichier(s) ; restent des nombres anonymes",
            domain::french::paris_date_time_ms(p.at),
            p.dossiers,
            p.files
        ),
        None if r.purges_at <= now => format!("durée de conservation écoulée depuis le {when}"),
        None => format!("le {when} ({} mois après la date limite)", r.months),
    }
}
