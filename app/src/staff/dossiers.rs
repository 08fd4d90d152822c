//! One exam's dossiers, filtered by state, with their exports.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use services::dossiers::instruction::{self, DossierLine};

use super::{address::ListQuery, failure, upper_first};
use crate::session::state;

#[component]
pub(super) fn DossiersPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let exam = params.read_untracked().get("exam").unwrap_or_default();
    let list = ListQuery::from_pairs(ListQuery::KEYS.into_iter().filter_map(|key| {
        query
            .read_untracked()
            .get(key)
            .map(|v| (key.to_string(), v))
    }));
    let all_checked = query.read_untracked().get("tout").is_some();
    let view_outcome = query
        .read_untracked()
        .get("vue")
        .map(|code| match code.as_str() {
            "ok" => (
                "notice",
                "Vue enregistrée : elle est en tête de la liste, pour vous seul.".to_string(),
            ),
            "supprimee" => ("notice", "Vue supprimée.".to_string()),
            code => (
                "alert",
                instruction::views::ViewError::from_code(code).map_or_else(
                    || "La vue n'a pas pu être enregistrée.".to_string(),
                    |e| e.to_string(),
                ),
            ),
        });
    let bulk_done = query.read_untracked().get("lot").map(|action| {
        let q = query.read_untracked();
        (
            action,
            q.get("faits").unwrap_or_default(),
            q.get("refus").unwrap_or_default(),
        )
    });
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
                let member = super::current_staff();
                let views = match &member {
                    Some(m) => match instruction::views::of(&state.db, m, &exam).await {
                        Ok(v) => v,
                        Err(e) => return failure(e),
                    },
                    None => Vec::new(),
                };
                let paged = match list.page(&state, &exam, member.as_ref(), PER_PAGE).await {
                    Ok(paged) => paged,
                    Err(e) => return failure(e),
                };
                let total = paged.total;
                let pages = total.div_ceil(PER_PAGE).max(1);
                let list = ListQuery { page: paged.page, ..list.clone() };
                let page = list.page;
                // Only the page's dossiers are read whole.
                let shown: Vec<DossierLine> = match instruction::lines(&state.db, &exam, &paged.entries).await {
                    Ok(lines) => lines,
                    Err(e) => return failure(e),
                };
                // The list as it is now (search, filters, order, page): its dossiers link
                // back to it, and the exports take it.
                let back = list.to_query();
                let page_link = |n: usize| format!("/service/concours/{exam}?{}", ListQuery { page: n, ..list.clone() }.to_query());
                let (previous, next) = ((page > 1).then(|| page_link(page - 1)), (page < pages).then(|| page_link(page + 1)));
                let export = |kind: &str| format!("/service/concours/{exam}/dossiers.{kind}?{back}");
                let count = match total {
                    0 => "Aucun dossier".to_string(),
                    1 => "1 dossier".to_string(),
                    n if pages > 1 => format!("{n} dossiers (page {page} sur {pages})"),
                    n => format!("{n} dossiers"),
                };
                let filter = list.filter();
                let sort = list.sort();
                view! {
                    <Title text=format!("Dossiers : {title}") />
                    <p class="breadcrumb"><a href="/service">"Concours"</a></p>
                    <h1>{title.clone()}</h1>
                    <p><a class="button secondary" href=format!("/service/concours/{exam}/modifier")>"Modifier l'examen"</a></p>
                    {view_outcome.map(|(class, text)| view! { <crate::form::Outcome class text /> })}
                    {(!views.is_empty()).then(|| {
                        let current = ListQuery { page: 1, ..list.clone() }.to_query();
                        view! {
                            <nav class="saved-views" aria-label="Mes vues">
                                <span>"Mes vues : "</span>
                                <ul>
                                    {views.into_iter().map(|v| {
                                        let shown = ListQuery::parse(&v.query).to_query();
                                        view! {
                                            <li data-view=v.name.clone()>
                                                <a href=format!("/service/concours/{exam}?{shown}") aria-current=(shown == current).then_some("page")>{v.name.clone()}</a>
                                                <form method="post" action="/api/service/vue" class="inline-form">
                                                    <input type="hidden" name="examen" value=exam.clone() />
                                                    <input type="hidden" name="supprimer" value=v.id.clone() />
                                                    <input type="hidden" name="liste" value=back.clone() />
                                                    " "<button type="submit" class="button secondary" aria-label=format!("Supprimer la vue « {} »", v.name)>"Supprimer"</button>
                                                </form>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </nav>
                        }
                    })}
                    <form method="get" class="staff-search" role="search">
                        <div class="field">
                            <label for="q">"N° de dossier, nom, courriel ou téléphone"</label>
                            <input id="q" name="q" type="search" maxlength=ListQuery::SEARCH_LENGTH value=list.q.clone() />
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
                        <div class="field">
                            <label for="voie">"Voie"</label>
                            <select id="voie" name="voie">
                                <option value="" selected=list.voie.is_empty()>"Toutes"</option>
                                {domain::exam::Voie::ALL.into_iter().map(|v| view! {
                                    <option value=v.as_str() selected=list.voie == v.as_str()>{upper_first(v.label())}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="fichiers">"Fichiers"</label>
                            <select id="fichiers" name="fichiers">
                                <option value="" selected=list.fichiers.is_empty()>"Tous"</option>
                                {instruction::FileFlag::ALL.into_iter().map(|f| view! {
                                    <option value=f.code() selected=list.fichiers == f.code()>{f.label()}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="tri">"Trier par"</label>
                            <select id="tri" name="tri">
                                {instruction::Sort::ALL.into_iter().map(|s| view! {
                                    <option value=s.code() selected=s == sort>{s.label()}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <fieldset class="staff-flags">
                            <legend>"Seulement"</legend>
                            <span class="choice"><input type="checkbox" id="amenagement" name="amenagement" value="1" checked=list.amenagement /><label for="amenagement">"Aménagement demandé"</label></span>
                            <span class="choice"><input type="checkbox" id="messages" name="messages" value="1" checked=list.messages /><label for="messages">"Message sans réponse"</label></span>
                            <span class="choice"><input type="checkbox" id="suivi" name="suivi" value="1" checked=list.suivi /><label for="suivi">"Mes dossiers (suivis)"</label></span>
                        </fieldset>
                        <button type="submit" class="button secondary">"Rechercher"</button>
                    </form>
                    <form method="post" action="/api/service/vue" class="staff-search save-view">
                        <input type="hidden" name="examen" value=exam.clone() />
                        <input type="hidden" name="liste" value=ListQuery { page: 1, ..list.clone() }.to_query() />
                        <div class="field">
                            <label for="nom-vue">"Enregistrer cette recherche comme vue"</label>
                            <input id="nom-vue" name="nom" type="text" maxlength="80" required />
                        </div>
                        <button type="submit" class="button secondary">"Enregistrer la vue"</button>
                    </form>
                    <p role="status">{count}" · ""Exporter ces dossiers : "<a href=export("xlsx") download>"tableur (XLSX)"</a>", "<a href=export("csv") download>"CSV"</a>, " "<a href=format!("/service/concours/{exam}/export?{back}")>"choisir les colonnes, modèles d'export"</a>
                        " · "<a href=format!("/service/concours/{exam}/dossiers.zip") download>"Télécharger les dossiers clôturés (ZIP)"</a></p>
                    {bulk_done.map(|(action, done, refused)| view! { <super::bulk::BulkOutcome action done refused /> })}
                    <form method="get" action=format!("/service/concours/{exam}/lot") class="bulk-form">
                    <input type="hidden" name="liste" value=back.clone() />
                    <div class="table-scroll" role="region" aria-label="Dossiers" tabindex="0">
                    <table class="staff-table">
                        <thead>
                            <tr>
                                <th scope="col"><span class="visually-hidden">"Sélection"</span></th>
                                <th scope="col">"N° de dossier"</th>
                                <th scope="col">"Candidat"</th>
                                <th scope="col">"Voie"</th>
                                <th scope="col">"État"</th>
                                <th scope="col">"Clôturé le"</th>
                                <th scope="col">"Fichiers"</th>
                                <th scope="col">"Messages"</th>
                                <th scope="col">"Suivi par"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {shown.iter().map(|line| dossier_row(line, &back, all_checked)).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    {(!shown.is_empty()).then(|| view! {
                        <fieldset class="bulk-actions">
                            <legend>"Action sur les dossiers cochés"</legend>
                            <p class="hint">
                                <a href=format!("/service/concours/{exam}?{back}&tout=1")>"Cocher tous les dossiers de cette page"</a>
                                " · La page suivante demande de confirmer, montre le courriel envoyé et les dossiers que l'action ne peut pas prendre."
                            </p>
                            <div class="field">
                                <label for="action">"Action"</label>
                                <select id="action" name="action" required>
                                    <option value="">"Choisir une action"</option>
                                    {domain::instruction::BulkAction::ALL.into_iter().map(|a| view! { <option value=a.code()>{a.label()}</option> }).collect_view()}
                                </select>
                            </div>
                            <button type="submit" class="button secondary">"Continuer"</button>
                        </fieldset>
                    })}
                    </form>
                    {(pages > 1).then(|| view! {
                        <nav class="pager" aria-label="Pages de la liste">
                            {previous.map(|href| view! { <a href=href rel="prev">"Page précédente"</a> })}
                            " "
                            {next.map(|href| view! { <a href=href rel="next">"Page suivante"</a> })}
                        </nav>
                    })}
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// Saves the list as a view of the agent's (`nom`), or deletes one (`supprimer`).
#[server(endpoint = "service/vue")]
pub async fn save_view(
    #[server(default)] examen: String,
    #[server(default)] nom: String,
    #[server(default)] liste: String,
    #[server(default)] supprimer: String,
) -> Result<(), ServerFnError> {
    use instruction::views;
    let member =
        super::current_staff().ok_or_else(|| ServerFnError::new("Réservé au service concours."))?;
    let state = state();
    if instruction::exam_title(&state.db, &examen).await.is_err() {
        crate::session::redirect("/service");
        return Ok(());
    }
    let list = ListQuery::parse(&liste).to_query();
    let done = if supprimer.is_empty() {
        views::save(&state.db, &*state.clock, &member, &examen, &nom, &list)
            .await
            .map(|()| "ok")
    } else {
        views::delete(&state.db, &member, &supprimer)
            .await
            .map(|_| "supprimee")
    };
    let code = match done {
        Ok(code) => code,
        Err(views::ViewError::Db(e)) => return Err(crate::session::internal(e)),
        Err(refused) => refused.code(),
    };
    crate::session::redirect(&format!(
        "/service/concours/{}?{list}&vue={code}",
        crate::account::urlencode(&examen)
    ));
    Ok(())
}

/// Dossiers on a page of the list.
const PER_PAGE: usize = 50;

fn dossier_row(line: &DossierLine, back: &str, checked: bool) -> impl IntoView + use<> {
    let d = &line.dossier;
    let href = format!(
        "/service/dossiers/{}?liste={}",
        d.number,
        crate::account::urlencode(back)
    );
    view! {
        <tr data-dossier=d.number.to_string()>
            <td><input type="checkbox" name="n" value=d.number.to_string() id=format!("choisir-{}", d.number) checked=checked aria-label=format!("Sélectionner le dossier {}", d.number) /></td>
            <th scope="row" class="number-cell"><a href=href>{d.number.to_string()}</a></th>
            <td>{d.registration.display_name()}</td>
            <td>{d.registration.voie.map(|v| v.label().to_string()).unwrap_or_default()}</td>
            <td data-state=line.state.code() data-stage=line.stage.code()>
                {upper_first(line.stage.label())}
                {line.correction_until.filter(|_| line.stage == domain::instruction::Stage::CorrectionAsked).map(|t| format!(" jusqu'au {}", domain::french::deadline_ms(t)))}
            </td>
            <td>{d.closed_at.map(domain::french::paris_date_time_ms).unwrap_or_default()}</td>
            <td class="count">{line.files}{(line.unscanned > 0).then(|| view! { <span class="file-warning" data-unscanned=line.unscanned>{format!(" · {} non analysé(s)", line.unscanned)}</span> })}{(line.infected > 0).then(|| view! { <span class="file-warning" data-infected=line.infected>{format!(" · {} infecté(s)", line.infected)}</span> })}</td>
            <td>{line.unanswered.then(|| view! { <a class="file-warning" data-unanswered href=format!("/service/dossiers/{}#messages", d.number)>"message sans réponse"</a> })}</td>
            <td data-followers>{line.followers.join(", ")}</td>
        </tr>
    }
}
