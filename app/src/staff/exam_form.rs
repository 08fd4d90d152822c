//! Creating or editing an exam.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{current_staff, failure};
use crate::session::{internal, state};

#[server(endpoint = "service/concours/enregistrer")]
pub async fn save_exam(
    /// The exam's identifier when editing; empty for a new exam.
    #[server(default)]
    cible: String,
    /// `verifier` checks and shows the deadline without saving.
    #[server(default)]
    action: String,
    #[server(default)] fields: std::collections::BTreeMap<String, String>,
) -> Result<(), ServerFnError> {
    use crate::session::redirect;
    use services::catalogue::{self, CatalogueError};
    let member =
        current_staff().ok_or_else(|| ServerFnError::new("Réservé au service concours."))?;
    let state = state();
    let mut form = fields;
    if !cible.is_empty() {
        // An exam keeps its identifier: dossiers and addresses hold it.
        form.insert("slug".into(), cible.clone());
    }
    let page = if cible.is_empty() {
        "/service/concours/nouveau".to_string()
    } else {
        format!(
            "/service/concours/{}/modifier",
            crate::account::urlencode(&cible)
        )
    };
    let today = state.clock.today_in_paris();
    let checked =
        domain::exam_form::from_form(&form).and_then(|raw| domain::ExamSpec::parse(raw, today));
    let outcome = match checked {
        Err(e) => Err(format!("À corriger : {}.", domain::exam_form::message(&e))),
        Ok(spec) if action == "verifier" => Err(format!(
            "Vérifié, non enregistré : les inscriptions fermeront {}.",
            closing_text(&spec.summary.deadline)
        )),
        Ok(spec) => match catalogue::save_from_staff(
            &state.db,
            &*state.clock,
            &member,
            &spec,
            cible.is_empty(),
        )
        .await
        {
            Ok(()) => Ok(spec.summary.slug.to_string()),
            Err(
                e @ (CatalogueError::AlreadyExists(_)
                | CatalogueError::PieceHasFiles(_)
                | CatalogueError::UnknownExam),
            ) => Err(e.to_string()),
            Err(e) => return Err(internal(e)),
        },
    };
    match outcome {
        Ok(slug) => {
            catalogue::clear_draft(&state.db, &member.id, &cible)
                .await
                .map_err(internal)?;
            redirect(&format!(
                "/service?enregistre={}",
                crate::account::urlencode(&slug)
            ));
        }
        Err(message) => {
            catalogue::save_draft(
                &state.db,
                &*state.clock,
                &member.id,
                &cible,
                &form,
                Some(&message),
            )
            .await
            .map_err(internal)?;
            redirect(&format!("{page}#message"));
        }
    }
    Ok(())
}

/// « le jeudi 4 mars 2027 à minuit (heure de Paris), soit 2027-03-04T23:00:00Z » : the
/// instant a deadline closes, as staff must check it.
fn closing_text(deadline: &domain::Deadline) -> String {
    format!(
        "{}, c'est-à-dire à l'instant {} (UTC)",
        deadline.to_french(),
        deadline.closes_at()
    )
}

/// Creating or editing an exam: the fields of an exam file, checked by the same rules.
/// Works without JavaScript: a blank row adds a pièce, a box removes one, « Vérifier »
/// shows the deadline's instant without saving.
#[component]
pub(super) fn ExamFormPage() -> impl IntoView {
    let params = use_params_map();
    let target = params.read_untracked().get("exam").unwrap_or_default();
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let Some(member) = current_staff() else {
                    return view! { <leptos_router::components::Redirect path="/service/connexion?info=session" /> }.into_any();
                };
                let (form, message) = match services::catalogue::draft(&state.db, &member.id, &target).await {
                    Ok(Some((form, message))) => (form, message),
                    Ok(None) if target.is_empty() => (new_exam_form(), None),
                    Ok(None) => match services::catalogue::raw_exam(&state.db, &target).await {
                        Ok(Some(raw)) => (domain::exam_form::to_form(&raw), None),
                        Ok(None) => return view! {
                            <Title text="Concours introuvable" />
                            <h1>"Concours introuvable"</h1>
                            <p><a href="/service">"Revenir aux concours"</a></p>
                        }.into_any(),
                        Err(e) => return failure(e),
                    },
                    Err(e) => return failure(e),
                };
                view! { <ExamForm target form message /> }.into_any()
            })}
        </Suspense>
    }
}

fn new_exam_form() -> domain::exam_form::ExamForm {
    [("kind", "concours"), ("voie_externe", "on")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[component]
fn ExamForm(
    target: String,
    form: domain::exam_form::ExamForm,
    message: Option<String>,
) -> impl IntoView {
    use domain::{Voie, exam_form::piece_rows};
    let value = |k: &str| form.get(k).cloned().unwrap_or_default();
    let on = |k: &str| form.get(k).is_some_and(|v| !v.is_empty());
    let creating = target.is_empty();
    let title = if creating {
        "Créer un examen".to_string()
    } else {
        format!("Modifier l'examen « {} »", value("title"))
    };
    let closing = value("registration_deadline")
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| domain::Deadline::on(d).ok())
        .map(|d| format!("Les inscriptions fermeront {}.", closing_text(&d)));
    let is_error = message
        .as_deref()
        .is_some_and(|m| m.starts_with("À corriger") || !m.starts_with("Vérifié"));
    let voie_boxes = |prefix: String, legend: &'static str, hint: Option<&'static str>| {
        view! {
            <fieldset class="field">
                <legend>{legend}</legend>
                {hint.map(|h| view! { <p class="hint">{h}</p> })}
                {[Voie::Externe, Voie::Interne, Voie::TroisiemeConcours].into_iter().map(|v| {
                    let name = format!("fields[{prefix}voie_{}]", v.as_str());
                    let id = format!("{prefix}voie_{}", v.as_str());
                    view! {
                        <label for=id.clone() class="choice">
                            <input type="checkbox" id=id.clone() name=name checked=on(&id) />
                            {format!(" {}", v.label())}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
        }
    };
    let pieces = piece_rows(&form).into_iter().map(|i| {
        let k = |f: &str| format!("piece_{i}_{f}");
        let name = |f: &str| format!("fields[piece_{i}_{f}]");
        let is_new = value(&k("code")).is_empty() && value(&k("label")).is_empty();
        // A row the form never had starts with the usual choices.
        let fresh = !form.keys().any(|key| key.starts_with(&format!("piece_{i}_")));
        let default = |key: String, usual: &str| if fresh { usual.to_string() } else { value(&key) };
        let legend = if is_new { "Nouvelle pièce (laisser vide pour n'en ajouter aucune)".to_string() } else { format!("Pièce {} : {}", i + 1, value(&k("label"))) };
        let requirement = value(&k("requirement"));
        let when = value(&k("when"));
        view! {
            <fieldset class="piece-editor">
                <legend>{legend}</legend>
                <div class="field"><label for=k("code")>"Code (lettres minuscules, chiffres, tirets)"</label>
                    <input id=k("code") type="text" name=name("code") value=value(&k("code")) /></div>
                <div class="field"><label for=k("label")>"Intitulé"</label>
                    <input id=k("label") type="text" name=name("label") value=value(&k("label")) /></div>
                <div class="field"><label for=k("help")>"Aide pour le candidat"</label>
                    <textarea id=k("help") name=name("help") rows="2">{value(&k("help"))}</textarea></div>
                <div class="field"><label for=k("requirement")>"Exigence"</label>
                    <select id=k("requirement") name=name("requirement")>
                        {[("mandatory", "obligatoire avant la clôture"), ("may_follow", "peut être transmise ultérieurement"), ("optional", "facultative")].into_iter().map(|(code, label)| view! {
                            <option value=code selected=requirement == code>{label}</option>
                        }).collect_view()}
                    </select></div>
                {voie_boxes(format!("piece_{i}_"), "Demandée aux voies", Some("Aucune case : demandée à tous les candidats."))}
                <div class="field"><label for=k("when")>"Condition"</label>
                    <select id=k("when") name=name("when")>
                        <option value="" selected=when.is_empty()>"toujours"</option>
                        <option value="accommodation_requested" selected=when == "accommodation_requested">"si un aménagement d'épreuves est demandé"</option>
                    </select></div>
                <fieldset class="field">
                    <legend>"Formats acceptés"</legend>
                    <label for=k("pdf") class="choice"><input type="checkbox" id=k("pdf") name=name("pdf") checked=fresh || on(&k("pdf")) />" PDF"</label>
                    <label for=k("jpeg") class="choice"><input type="checkbox" id=k("jpeg") name=name("jpeg") checked=fresh || on(&k("jpeg")) />" JPEG"</label>
                </fieldset>
                <div class="field"><label for=k("max_size_mib")>"Taille maximale par fichier (Mo)"</label>
                    <input id=k("max_size_mib") name=name("max_size_mib") type="number" min="1" max="50" value=default(k("max_size_mib"), "10") /></div>
                <div class="field"><label for=k("max_files")>"Nombre de fichiers au plus"</label>
                    <input id=k("max_files") name=name("max_files") type="number" min="1" max="20" value=default(k("max_files"), "1") /></div>
                {(!is_new).then(|| view! {
                    <label for=k("remove") class="choice"><input type="checkbox" id=k("remove") name=name("remove") />" Retirer cette pièce"</label>
                })}
            </fieldset>
        }
    }).collect_view();
    view! {
        <Title text=title.clone() />
        <p class="breadcrumb"><a href="/service">"Concours"</a></p>
        <h1>{title}</h1>
        {message.map(|m| view! { <p id="message" class=if is_error { "alert" } else { "notice" } role=if is_error { "alert" } else { "status" }>{m}</p> })}
        <form method="post" action="/api/service/concours/enregistrer" class="exam-form">
            <input type="hidden" name="cible" value=target.clone() />
            <div class="field"><label for="title">"Intitulé"</label>
                <input id="title" type="text" name="fields[title]" value=value("title") required /></div>
            <div class="field"><label for="slug">"Identifiant (dans les adresses ; ne change plus une fois créé)"</label>
                <input id="slug" type="text" name="fields[slug]" value=value("slug") readonly=!creating required /></div>
            <div class="field"><label for="kind">"Nature"</label>
                <select id="kind" name="fields[kind]">
                    <option value="concours" selected=value("kind") == "concours">"concours"</option>
                    <option value="examen_professionnel" selected=value("kind") == "examen_professionnel">"examen professionnel"</option>
                </select></div>
            <div class="field"><label for="session">"Session"</label>
                <input id="session" type="text" name="fields[session]" value=value("session") required /></div>
            {voie_boxes(String::new(), "Voies proposées", Some("Au moins une pour un concours."))}
            <div class="field"><label for="registration_deadline">"Dernier jour des inscriptions"</label>
                <p class="hint" id="deadline-hint">"Les inscriptions ferment à minuit, heure de Paris, à la fin de ce jour."</p>
                <input id="registration_deadline" name="fields[registration_deadline]" type="date" value=value("registration_deadline") aria-describedby="deadline-hint" required />
                {closing.map(|c| view! { <p class="hint" data-closing>{c}</p> })}</div>
            <div class="field"><label for="instruction_cutoff">"Dernier jour des pièces transmises ultérieurement"</label>
                <input id="instruction_cutoff" name="fields[instruction_cutoff]" type="date" value=value("instruction_cutoff") required /></div>
            <div class="field"><label for="retention_months">"Conservation des dossiers (en mois après la date limite)"</label>
                <p class="hint" id="retention-hint">"Ensuite, les dossiers, leurs pièces et leurs messages sont effacés ; seuls des nombres anonymes restent. 24 mois si vous ne dites rien."</p>
                <input id="retention_months" name="fields[retention_months]" type="number" min="1" max="120" inputmode="numeric" value=value("retention_months") aria-describedby="retention-hint" /></div>
            <label for="published" class="choice"><input type="checkbox" id="published" name="fields[published]" checked=on("published") />" Publié (visible au catalogue, ouvert aux préinscriptions)"</label>
            <h2>"Pièces demandées"</h2>
            {pieces}
            <div class="actions">
                <button type="submit" name="action" value="verifier" class="button secondary">"Vérifier"</button>
                <button type="submit" name="action" value="enregistrer" class="button primary">"Enregistrer"</button>
            </div>
        </form>
    }
}
