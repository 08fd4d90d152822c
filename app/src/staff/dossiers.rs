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
    let sort = instruction::Sort::from_code(&query.read_untracked().get("tri").unwrap_or_default())
        .unwrap_or_default();
    let page: usize = query
        .read_untracked()
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
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
                let mut lines = match instruction::dossiers(&state.db, &*state.clock, &exam, &search, filter).await {
                    Ok(lines) => lines,
                    Err(e) => return failure(e),
                };
                sort.apply(&mut lines);
                let total = lines.len();
                let pages = total.div_ceil(PER_PAGE).max(1);
                let page = page.min(pages);
                let shown: Vec<DossierLine> = lines.into_iter().skip((page - 1) * PER_PAGE).take(PER_PAGE).collect();
                // The list as it is now (search, filter, order, page): its dossiers link
                // back to it.
                let list = ListQuery { q: search.clone(), etat: filter.map(|f| f.code().to_string()).unwrap_or_default(), tri: sort.code().to_string(), page };
                let back = list.to_query();
                let page_link = |n: usize| format!("/service/concours/{exam}?{}", ListQuery { page: n, ..list.clone() }.to_query());
                let (previous, next) = ((page > 1).then(|| page_link(page - 1)), (page < pages).then(|| page_link(page + 1)));
                // Both exports take the list as searched and filtered here.
                let export = |kind: &str| format!(
                    "/service/concours/{exam}/dossiers.{kind}?q={}&etat={}",
                    crate::account::urlencode(&search),
                    filter.map(|s| s.code()).unwrap_or("")
                );
                let count = match total {
                    0 => "Aucun dossier".to_string(),
                    1 => "1 dossier".to_string(),
                    n if pages > 1 => format!("{n} dossiers (page {page} sur {pages})"),
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
                        <div class="field">
                            <label for="tri">"Trier par"</label>
                            <select id="tri" name="tri">
                                {instruction::Sort::ALL.into_iter().map(|s| view! {
                                    <option value=s.code() selected=s == sort>{s.label()}</option>
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
                            {shown.iter().map(|line| dossier_row(line, &back)).collect_view()}
                        </tbody>
                    </table>
                    </div>
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

/// Dossiers on a page of the list.
const PER_PAGE: usize = 50;

/// A list's address: what the search form and the pager carry, and what a dossier's
/// page links back to (read again from its own keys only, re-encoded: an address
/// never carries anything else into the page).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct ListQuery {
    pub q: String,
    pub etat: String,
    pub tri: String,
    pub page: usize,
}

impl ListQuery {
    pub(super) fn to_query(&self) -> String {
        use crate::account::urlencode;
        format!(
            "q={}&etat={}&tri={}&page={}",
            urlencode(&self.q),
            urlencode(&self.etat),
            urlencode(&self.tri),
            self.page.max(1)
        )
    }

    /// From a `liste` value that a list put in a dossier's link.
    pub(super) fn parse(text: &str) -> Self {
        let mut list = Self {
            page: 1,
            ..Self::default()
        };
        for pair in text.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decoded(value);
            match key {
                "q" => list.q = value.chars().take(200).collect(),
                "etat" if domain::instruction::ListFilter::from_code(&value).is_some() => {
                    list.etat = value
                }
                "tri" if instruction::Sort::from_code(&value).is_some() => list.tri = value,
                "page" => list.page = value.parse().unwrap_or(1),
                _ => {}
            }
        }
        list
    }
}

/// `+` and `%XX` decoded (what `account::urlencode` wrote); a bad escape is kept as is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn dossier_row(line: &DossierLine, back: &str) -> impl IntoView + use<> {
    let d = &line.dossier;
    let href = format!(
        "/service/dossiers/{}?liste={}",
        d.number,
        crate::account::urlencode(back)
    );
    view! {
        <tr data-dossier=d.number.to_string()>
            <th scope="row" class="number-cell"><a href=href>{d.number.to_string()}</a></th>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_s_address_comes_back_whole_and_only_with_its_own_keys() {
        let list = ListQuery {
            q: "Lefèvre & fils".into(),
            etat: "correction-recue".into(),
            tri: "nom".into(),
            page: 3,
        };
        assert_eq!(ListQuery::parse(&list.to_query()), list);
        let forged = ListQuery::parse("q=a&etat=%3Cscript%3E&tri=x&page=deux&autre=1");
        assert_eq!(
            forged,
            ListQuery {
                q: "a".into(),
                etat: String::new(),
                tri: String::new(),
                page: 1
            }
        );
        assert_eq!(percent_decoded("%E2%82%AC+%zz%"), "€ %zz%");
    }
}
