//! The export page: which columns, in which order, for the list as filtered; saved as
//! a named model for the next export. The form asks the download itself (`GET`), or
//! saves the model (`POST`, `server::staff`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use services::dossiers::{
    export::{Column, models},
    instruction,
};

use super::{address::ListQuery, failure};
use crate::session::state;

#[component]
pub(super) fn ExportPage() -> impl IntoView {
    let exam = use_params_map()
        .read_untracked()
        .get("exam")
        .unwrap_or_default();
    let query = use_query_map();
    let q = query.read_untracked();
    let list = ListQuery::from_pairs(
        ListQuery::KEYS
            .into_iter()
            .filter_map(|key| q.get(key).map(|v| (key.to_string(), v))),
    );
    let chosen = q.get("modele");
    let outcome = q.get("modele-enregistre").map(|code| match code.as_str() {
        "ok" => (
            "notice",
            "Modèle enregistré : il est proposé à chaque export, à tous les agents.".to_string(),
        ),
        "supprime" => ("notice", "Modèle supprimé.".to_string()),
        "nom" => ("alert", models::ModelError::Name.to_string()),
        "colonnes" => ("alert", models::ModelError::NoColumn.to_string()),
        _ => ("alert", "Le modèle n'a pas pu être enregistré.".to_string()),
    });
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let title = match instruction::exam_title(&state.db, &exam).await {
                    Ok(t) => t,
                    Err(e) => return failure(e),
                };
                let member = super::current_staff();
                let count = match list.page(&state, &exam, member.as_ref(), 1).await {
                    Ok(paged) => paged.total,
                    Err(e) => return failure(e),
                };
                let saved = match models::all(&state.db).await {
                    Ok(m) => m,
                    Err(e) => return failure(e),
                };
                let model = chosen.and_then(|id| saved.iter().find(|m| m.id == id).cloned());
                let columns: Vec<Column> = model.as_ref().map_or_else(|| Column::ALL.to_vec(), |m| m.columns.clone());
                // The chosen columns first, in their order, then the others, unticked.
                let rows: Vec<(Column, Option<usize>)> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, Some(i + 1)))
                    .chain(Column::ALL.into_iter().filter(|c| !columns.contains(c)).map(|c| (c, None)))
                    .collect();
                let back = format!("/service/concours/{exam}?{}", list.to_query());
                let query = list.to_query();
                let download = |id: &str, kind: &str| format!("/service/concours/{exam}/dossiers.{kind}?{query}&modele={id}");
                view! {
                    <Title text=format!("Exporter : {title}") />
                    <p class="breadcrumb"><a href="/service">"Concours"</a>" › "<a href=back.clone()>{title}</a></p>
                    <h1>"Exporter les dossiers"</h1>
                    {outcome.map(|(class, text)| view! { <crate::form::Outcome class text /> })}
                    <p data-export-count=count>{format!("{count} dossier(s) : la liste telle qu'elle est cherchée et filtrée.")}</p>
                    <section aria-labelledby="modeles-titre">
                        <h2 id="modeles-titre">"Modèles enregistrés"</h2>
                        {if saved.is_empty() {
                            view! { <p>"Aucun modèle pour l'instant : choisissez les colonnes ci-dessous, puis enregistrez-les sous un nom."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="export-models">
                                    {saved.iter().map(|m| view! {
                                        <li data-model=m.name.clone()>
                                            <strong>{m.name.clone()}</strong>
                                            {format!(" ({} colonnes, enregistré par {}) : ", m.columns.len(), m.author)}
                                            <a href=download(&m.id, "xlsx") download>{format!("{} (XLSX)", m.name)}</a>", "
                                            <a href=download(&m.id, "csv") download>{format!("{} (CSV)", m.name)}</a>", "
                                            <a href=format!("?{query}&modele={}", m.id)>{format!("Modifier « {} »", m.name)}</a>
                                            <form method="post" action=format!("/service/concours/{exam}/modeles") class="inline-form">
                                                <input type="hidden" name="supprimer" value=m.id.clone() />
                                                <input type="hidden" name="liste" value=query.clone() />
                                                " "<button type="submit" class="button secondary">{format!("Supprimer « {} »", m.name)}</button>
                                            </form>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <form method="get" action=format!("/service/concours/{exam}/dossiers.xlsx") class="export-form">
                        {list.pairs().into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v /> }).collect_view()}
                        <input type="hidden" name="liste" value=query.clone() />
                        <fieldset>
                            <legend>"Colonnes, et leur ordre (1 en premier)"</legend>
                            <table class="staff-table">
                                <thead><tr><th scope="col">"Colonne"</th><th scope="col">"Ordre"</th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|(c, rank)| {
                                        let id = format!("colonne-{}", c.code());
                                        view! {
                                            <tr data-column=c.code()>
                                                <td><span class="choice"><input type="checkbox" id=id.clone() name="c" value=c.code() checked=rank.is_some() /><label for=id>{c.label()}</label></span></td>
                                                <td><input type="number" min="1" max="99" name=format!("rang-{}", c.code()) value=rank.map(|r| r.to_string()).unwrap_or_default() aria-label=format!("Ordre de la colonne « {} »", c.label()) /></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </fieldset>
                        <div class="buttons">
                            <button type="submit" class="button primary">"Télécharger (XLSX)"</button>
                            <button type="submit" class="button secondary" formaction=format!("/service/concours/{exam}/dossiers.csv")>"Télécharger (CSV)"</button>
                        </div>
                        <div class="field">
                            <label for="nom-modele">"Nom du modèle"</label>
                            <input id="nom-modele" name="nom" type="text" maxlength="80" value=model.as_ref().map(|m| m.name.clone()).unwrap_or_default() />
                        </div>
                        <button type="submit" class="button secondary" formmethod="post" formaction=format!("/service/concours/{exam}/modeles")>"Enregistrer ces colonnes comme modèle"</button>
                    </form>
                    <p><a href=back>"Revenir à la liste"</a></p>
                }
                .into_any()
            })}
        </Suspense>
    }
}
