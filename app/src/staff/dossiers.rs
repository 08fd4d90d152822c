//! One exam's dossiers, filtered by state, with their exports.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use services::dossiers::instruction::{self, DossierLine};

use super::{failure, upper_first};
use crate::session::state;

#[component]
pub(super) fn DossiersPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let exam = params.read_untracked().get("exam").unwrap_or_default();
    let search = query.read_untracked().get("q").unwrap_or_default();
    let state_code = query.read_untracked().get("etat").unwrap_or_default();
    let filter = domain::instruction::ListFilter::from_code(&state_code);
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let title = match instruction::exam_title(&state.db, &exam).await {
                    Ok(t) => t,
                    Err(instruction::InstructionError::UnknownExam) => return view! {
                        <Title text="Concours introuvable" />
                        <h1>"Concours introuvable"</h1>
                        <p><a href="/service">"Revenir aux concours"</a></p>
                    }.into_any(),
                    Err(e) => return failure(e),
                };
                let lines = match instruction::dossiers(&state.db, &*state.clock, &exam, &search, filter).await {
                    Ok(lines) => lines,
                    Err(e) => return failure(e),
                };
                // Both exports take the list as searched and filtered here.
                let export = |kind: &str| format!(
                    "/service/concours/{exam}/dossiers.{kind}?q={}&etat={}",
                    crate::account::urlencode(&search),
                    filter.map(|s| s.code()).unwrap_or("")
                );
                let count = match lines.len() {
                    0 => "Aucun dossier".to_string(),
                    1 => "1 dossier".to_string(),
                    n => format!("{n} dossiers"),
                };
                view! {
                    <Title text=format!("Dossiers : {title}") />
                    <p class="breadcrumb"><a href="/service">"Concours"</a></p>
                    <h1>{title.clone()}</h1>
                    <p><a class="button secondary" href=format!("/service/concours/{exam}/modifier")>"Modifier l'examen"</a></p>
                    <form method="get" class="staff-search" role="search">
                        <div class="field">
                            <label for="q">"N° de dossier ou nom"</label>
                            <input id="q" name="q" type="search" value=search.clone() />
                        </div>
                        <div class="field">
                            <label for="etat">"État"</label>
                            <select id="etat" name="etat">
                                <option value="" selected=filter.is_none()>"Tous"</option>
                                <option value="cloture" selected=filter.is_some_and(|f| f.code() == "cloture")>"Clôturés, à instruire (tous)"</option>
                                {domain::instruction::Stage::ALL.into_iter().map(|s| view! {
                                    <option value=s.code() selected=filter.is_some_and(|f| f.code() == s.code())>{upper_first(s.label())}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <button type="submit" class="button secondary">"Rechercher"</button>
                    </form>
                    <p role="status">{count}" · ""Exporter ces dossiers : "<a href=export("xlsx") download>"tableur (XLSX)"</a>", "<a href=export("csv") download>"CSV"</a>
                        " · "<a href=format!("/service/concours/{exam}/dossiers.zip") download>"Télécharger les dossiers clôturés (ZIP)"</a></p>
                    <div class="table-scroll" role="region" aria-label="Dossiers" tabindex="0">
                    <table class="staff-table">
                        <thead>
                            <tr>
                                <th scope="col">"N° de dossier"</th>
                                <th scope="col">"Candidat"</th>
                                <th scope="col">"Voie"</th>
                                <th scope="col">"État"</th>
                                <th scope="col">"Clôturé le"</th>
                                <th scope="col">"Fichiers"</th>
                                <th scope="col">"Messages"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {lines.into_iter().map(|line| dossier_row(&line)).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

fn dossier_row(line: &DossierLine) -> impl IntoView + use<> {
    let d = &line.dossier;
    view! {
        <tr data-dossier=d.number.to_string()>
            <th scope="row" class="number-cell"><a href=format!("/service/dossiers/{}", d.number)>{d.number.to_string()}</a></th>
            <td>{d.registration.display_name()}</td>
            <td>{d.registration.voie.map(|v| v.label().to_string()).unwrap_or_default()}</td>
            <td data-state=line.state.code() data-stage=line.stage.code()>
                {upper_first(line.stage.label())}
                {line.correction_until.filter(|_| line.stage == domain::instruction::Stage::CorrectionAsked).map(|t| format!(" jusqu'au {}", domain::french::deadline_ms(t)))}
            </td>
            <td>{d.closed_at.map(domain::french::paris_date_time_ms).unwrap_or_default()}</td>
            <td class="count">{line.files}{(line.infected > 0).then(|| view! { <span class="file-warning" data-infected=line.infected>{format!(" · {} infecté(s)", line.infected)}</span> })}</td>
            <td>{line.unanswered.then(|| view! { <a class="file-warning" data-unanswered href=format!("/service/dossiers/{}#messages", d.number)>"message sans réponse"</a> })}</td>
        </tr>
    }
}
