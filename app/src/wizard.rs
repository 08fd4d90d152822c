//! The préinscription wizard: one group of questions per page, each page a plain form
//! posted to a server function that keeps the draft and redirects. It works the same
//! without JavaScript. The step is rendered by the server only; the Wasm holds just
//! [`StepChecks`], which runs the same `domain` checks before anything is sent.

use std::collections::BTreeMap;

use domain::{
    Voie,
    registration::{Answers, FieldErrors, SituationKind, Step, WizardExam},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::form::{Choice, ErrorSummary, Errors, Field};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WizardView {
    pub exam_slug: String,
    pub exam_title: String,
    pub open: bool,
    pub wizard: WizardExam,
    pub step: Step,
    pub answers: Answers,
    pub errors: FieldErrors,
    pub password_chosen: bool,
    /// The fields FranceConnect certified, shown but not typed (empty without it).
    pub locked: Vec<String>,
    /// Today in Paris by the server's clock (the browser's may be wrong), as year,
    /// month, day: a `Date` would bring jiff's parser into the Wasm.
    pub today: (i16, i8, i8),
}

pub use domain::registration::{CIVILITES, LABELS, NATIONALITES, OUI_NON, label, shown};

/// An exam that cannot be shown (unknown, unpublished, our error): said, with the way
/// back to the catalogue. The start page and the steps share it.
#[component]
pub(crate) fn Unavailable(error: ServerFnError) -> impl IntoView {
    view! {
        <Title text="Préinscription" />
        <h1>"Préinscription"</h1>
        <p class="alert" role="alert">{crate::catalogue::error_message(&error)}</p>
        <p><a href="/">"Revenir au catalogue des concours"</a></p>
    }
}

#[cfg(feature = "ssr")]
pub(crate) async fn open_exam(
    slug: &str,
) -> Result<services::dossiers::registrations::OpenExam, ServerFnError> {
    use crate::session::{internal, state};
    use services::dossiers::registrations::{self, RegistrationError};
    let state = state();
    match registrations::exam(&state.db, &*state.clock, slug).await {
        Ok(exam) => Ok(exam),
        Err(RegistrationError::UnknownExam) => Err(ServerFnError::new(
            "Ce concours n'existe pas ou n'est plus publié.",
        )),
        Err(e) => Err(internal(e)),
    }
}

#[server(endpoint = "inscription/vue")]
pub async fn load_wizard_step(exam: String, step: String) -> Result<WizardView, ServerFnError> {
    use crate::session::{DRAFT_COOKIE, cookie, internal, state};
    use services::dossiers::registrations;
    let exam = open_exam(&exam).await?;
    let step = Step::from_slug(&step)
        .filter(|s| Step::sequence(&exam.wizard).contains(s))
        .ok_or_else(|| ServerFnError::new("Cette étape n'existe pas."))?;
    let draft = match cookie(DRAFT_COOKIE) {
        Some(token) => registrations::load_draft(&state().db, &token, &exam.slug)
            .await
            .map_err(internal)?,
        None => Default::default(),
    };
    Ok(WizardView {
        exam_slug: exam.slug.to_string(),
        exam_title: exam.title,
        open: exam.open,
        wizard: exam.wizard,
        step,
        answers: draft.answers,
        errors: draft.errors,
        password_chosen: draft.password_chosen,
        locked: draft
            .certified
            .map(|c| c.locked_answers().into_keys().collect())
            .unwrap_or_default(),
        today: {
            let d = state().clock.today_in_paris();
            (d.year(), d.month(), d.day())
        },
    })
}

#[server(endpoint = "inscription/etape")]
pub async fn save_step(
    exam: String,
    step: String,
    #[server(default)] direction: String,
    #[server(default)] fields: BTreeMap<String, String>,
) -> Result<(), ServerFnError> {
    use crate::session::{DRAFT_COOKIE, cookie, internal, redirect, set_cookie, state};
    use services::dossiers::registrations::{self, RegistrationError};
    let state = state();
    let exam = open_exam(&exam).await?;
    let Some(step) = Step::from_slug(&step) else {
        redirect(&format!("/inscription/{}/identite", exam.slug));
        return Ok(());
    };
    let token = match cookie(DRAFT_COOKIE) {
        Some(token) => token,
        None => {
            // A new draft is a new row: counted per client before it is made (and kept
            // counted: the draft exists from here on).
            let _kept = crate::session::count(
                services::access::throttle::new_draft_limit(&crate::session::client_ip()),
                crate::refusal::Refusal::Brouillons,
            )
            .await?;
            let token = services::access::secrets::new_token();
            set_cookie(DRAFT_COOKIE, &token, 30 * 24 * 3600);
            token
        }
    };
    let forward = direction != "back";
    // Each new password costs a hash: counted per client before it is made.
    if step == Step::MotDePasse && fields.get("mot_de_passe").is_some_and(|p| !p.is_empty()) {
        crate::session::count_hashing().await?;
    }
    match registrations::save_step(
        &state.db,
        &*state.clock,
        &state.passwords,
        &token,
        &exam,
        step,
        forward,
        fields,
    )
    .await
    {
        Ok(next) => {
            let anchor = if next == step && forward {
                "#resume-erreurs"
            } else {
                ""
            };
            redirect(&format!(
                "/inscription/{}/{}{anchor}",
                exam.slug,
                next.slug()
            ));
            Ok(())
        }
        Err(RegistrationError::Closed) => {
            redirect(&format!("/inscription/{}/{}", exam.slug, step.slug()));
            Ok(())
        }
        Err(RegistrationError::Password(services::access::passwords::PasswordError::Busy)) => {
            Err(crate::session::busy())
        }
        Err(e) => Err(internal(e)),
    }
}

#[server(endpoint = "inscription/creer")]
pub async fn create_dossier(
    exam: String,
    #[server(default)] attestation: String,
) -> Result<(), ServerFnError> {
    use crate::session::{
        DRAFT_COOKIE, SESSION_COOKIE, cookie, internal, redirect, set_cookie, state,
    };
    use services::dossiers::registrations::{self, RegistrationError};
    let state = state();
    let exam = open_exam(&exam).await?;
    let Some(token) = cookie(DRAFT_COOKIE) else {
        redirect(&format!("/inscription/{}/identite", exam.slug));
        return Ok(());
    };
    let id_token = registrations::draft_id_token(&state.db, &token, &exam.slug)
        .await
        .map_err(internal)?;
    // Counted (per address and per client) before it is made, given back when
    // nothing was made: see `registrations::create_dossier`.
    let created = registrations::create_dossier(
        &state.db,
        &*state.clock,
        &state.base_url,
        &token,
        &exam,
        attestation == "oui",
        &crate::session::client_ip(),
    )
    .await;
    let back = |step: Step, query: &str| {
        redirect(&format!(
            "/inscription/{}/{}{query}",
            exam.slug,
            step.slug()
        ))
    };
    match created {
        Ok((dossier_id, _)) => {
            let session =
                services::access::accounts::open_session(&state.db, &*state.clock, &dossier_id)
                    .await
                    .map_err(internal)?;
            if let Some(id_token) = id_token {
                services::access::certified::keep_id_token(&state.db, &session, &id_token)
                    .await
                    .map_err(internal)?;
            }
            set_cookie(
                SESSION_COOKIE,
                &session,
                services::access::accounts::SESSION_LIFETIME.as_secs(),
            );
            set_cookie(DRAFT_COOKIE, "", 0);
            redirect("/espace?nouveau=1");
        }
        Err(RegistrationError::Invalid(step, _)) => back(step, "#resume-erreurs"),
        Err(RegistrationError::NoPassword) => back(Step::MotDePasse, ""),
        Err(RegistrationError::AlreadyRegistered) => back(Step::Verification, "?deja=1"),
        Err(RegistrationError::Closed) => back(Step::Verification, ""),
        Err(RegistrationError::TooMany(crowded, retry_at)) => {
            use crate::refusal::Refusal;
            let refusal = match crowded {
                registrations::Crowded::Client => Refusal::Dossiers,
                registrations::Crowded::Email => Refusal::Adresse,
            };
            return Err(crate::session::too_many(refusal, retry_at));
        }
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

#[component]
pub fn WizardPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    // Read here: router hooks stay on the server side.
    let already = move || query.read().get("deja").is_some();
    let data = Resource::new(
        move || {
            let p = params.read();
            (
                p.get("exam").unwrap_or_default(),
                p.get("step").unwrap_or_default(),
            )
        },
        |(exam, step)| load_wizard_step(exam, step),
    );
    view! {
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let title = if view.open {
                            format!("{} · Préinscription · {}", view.step.title(), view.exam_title)
                        } else {
                            format!("Inscriptions closes · {}", view.exam_title)
                        };
                        view! { <Title text=title /> <WizardStep view already=already() /> }.into_any()
                    }
                    Err(error) => view! { <Unavailable error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A step as the server renders it: the form, its progress, and [`StepChecks`] in the
/// place of the error summary.
#[component]
fn WizardStep(view: WizardView, already: bool) -> impl IntoView {
    let steps = Step::sequence(&view.wizard);
    let position = steps.iter().position(|s| *s == view.step).unwrap_or(0) + 1;
    let total = steps.len();
    let title = view.step.title();
    let exam_title = view.exam_title.clone();
    if !view.open {
        return view! {
            <p class="exam-kind">{exam_title.clone()}</p>
            <h1>"Les inscriptions sont closes"</h1>
            <p class="alert" role="alert">"La date limite d'inscription à ce concours est passée : il n'est plus possible de se préinscrire."</p>
            <p><a href="/">"Revenir au catalogue des concours"</a></p>
        }
        .into_any();
    }
    let errors: Errors = RwSignal::new(view.errors.clone());
    let progress = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let current = *s == view.step;
            view! {
                <li class:current=current aria-current=current.then_some("step")>
                    <span class="visually-hidden">{format!("Étape {} : ", i + 1)}</span>
                    {s.title()}
                </li>
            }
        })
        .collect_view();
    let body = if view.step == Step::Verification {
        view! { <Verification view=view.clone() errors already /> }.into_any()
    } else {
        view! { <StepForm view=view.clone() errors /> }.into_any()
    };
    view! {
        <p class="exam-kind">"Préinscription · "{exam_title.clone()}</p>
        <h1><span class="step-count">{format!("Étape {position} sur {total}")}</span>" "{title}</h1>
        <ol class="steps" aria-label="Étapes de la préinscription">{progress}</ol>
        <crate::franceconnect::OutcomeNotice />
        {(view.step == Step::Identite && view.locked.is_empty()).then(|| view! {
            <crate::franceconnect::FranceConnectButton pour="inscription" concours=view.exam_slug.clone() />
        })}
        <StepChecks view=view.clone() />
        {body}
    }
    .into_any()
}

/// The id of the form [`StepChecks`] watches.
const STEP_FORM_ID: &str = "etape";

/// All of a step that the browser runs: the error summary, and the server's `domain`
/// checks on the server-rendered form before it is sent, each message shown next to
/// its field as [`crate::form::Field`] renders it. Messages appear on submit only: one
/// that appeared as the candidate leaves a field would move the buttons under their
/// finger and swallow the tap. Typing in a field clears its message. The server writes
/// the step's rules on the summary's place (`data-step-checks`); [`step_checks`] runs
/// them.
#[component]
fn StepChecks(view: WizardView) -> impl IntoView {
    let errors: Errors = RwSignal::new(view.errors.clone());
    let rules = serde_json::to_string(&view).unwrap_or_default();
    // Until the checks run, the step is marked `data-waiting` (as the upload form is):
    // a test, or a script, knows when a click stays in the browser. On a hidden mark of
    // its own: what is `data-waiting` is invisible, and the summary must show without
    // JavaScript.
    view! {
        <div data-step-checks=rules>
            <ErrorSummary errors labels=LABELS />
            <span hidden data-waiting></span>
        </div>
    }
}

/// In the browser, on a step: see [`StepChecks`].
#[cfg(feature = "hydrate")]
pub fn step_checks() {
    use std::{cell::RefCell, rc::Rc};

    use wasm_bindgen::JsCast;

    use crate::{dom, form};
    let Some(place) = dom::find("[data-step-checks]") else {
        return;
    };
    let Some(view) = place
        .get_attribute("data-step-checks")
        .and_then(|rules| serde_json::from_str::<WizardView>(&rules).ok())
    else {
        return;
    };
    if let Some(mark) = dom::find_in(&place, "[data-waiting]") {
        dom::ready(&mark);
    }
    // A step the server refused opens on its summary.
    form::focus_summary(&place);
    // The summary step's one field is rendered by its own form, with no checks to run.
    if view.step == Step::Verification {
        return;
    }
    let fields = view.step.fields();
    let errors = Rc::new(RefCell::new(view.errors.clone()));
    let show = {
        let (errors, place) = (errors.clone(), place.clone());
        move || {
            let errors = errors.borrow();
            form::show_field_errors(fields, &errors);
            form::show_summary(&place, &errors, LABELS);
        }
    };
    let on_submit = {
        let (errors, show) = (errors.clone(), show.clone());
        move |ev: web_sys::SubmitEvent| {
            let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
                .filter(|f| f.id() == STEP_FORM_ID)
            else {
                return;
            };
            let next = ev
                .submitter()
                .and_then(|s| s.dyn_into::<web_sys::HtmlButtonElement>().ok())
                .is_none_or(|b| b.value() == "next");
            if next {
                let found = check_form(&form, &view);
                if !found.is_empty() {
                    ev.prevent_default();
                    *errors.borrow_mut() = found;
                    show();
                    form::focus_summary(&place);
                }
            }
        }
    };
    dom::on(&dom::window(), "submit", on_submit);
    dom::on(&dom::window(), "input", move |ev: web_sys::Event| {
        let name = ev
            .target()
            .and_then(|t| js_sys::Reflect::get(&t, &"name".into()).ok())
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        if let Some(field) = name
            .strip_prefix("fields[")
            .and_then(|n| n.strip_suffix(']'))
            && errors.borrow_mut().remove(field).is_some()
        {
            show();
        }
    });
}

/// Runs the step's checks on what the form holds now.
#[cfg(feature = "hydrate")]
fn check_form(form: &web_sys::HtmlFormElement, view: &WizardView) -> FieldErrors {
    let Ok(data) = web_sys::FormData::new_with_form(form) else {
        return FieldErrors::new();
    };
    let value = |field: &str| data.get(&format!("fields[{field}]")).as_string();
    let mut answers = view.answers.clone();
    for field in view.step.fields() {
        if view.locked.iter().any(|l| l == field) {
            continue;
        }
        match value(field) {
            Some(v) => answers.insert(field.to_string(), v),
            None => answers.remove(*field),
        };
    }
    if view.step == Step::MotDePasse {
        let password = value("mot_de_passe").unwrap_or_default();
        let confirmation = value("mot_de_passe_confirmation").unwrap_or_default();
        if view.password_chosen && password.is_empty() && confirmation.is_empty() {
            return FieldErrors::new();
        }
        return domain::registration::check_password(&password, &confirmation, &answers);
    }
    let (year, month, day) = view.today;
    let today = jiff::civil::Date::new(year, month, day).unwrap_or_default();
    domain::registration::check_step(view.step, &answers, &view.wizard, today)
}

#[component]
fn StepForm(view: WizardView, errors: Errors) -> impl IntoView {
    let a = |f: &str| view.answers.get(f).cloned().unwrap_or_default();
    let fields = match view.step {
        Step::Identite => {
            let locked = |f: &str| view.locked.iter().any(|l| l == f);
            let certified = (!view.locked.is_empty()).then(|| {
                let rows = ["civilite", "nom_naissance", "prenoms", "date_naissance", "pays_naissance"]
                    .into_iter()
                    .filter(|f| locked(f))
                    .map(|f| view! { <dt>{label(f)}</dt><dd>{shown(f, &a(f))}</dd> })
                    .collect_view();
                view! {
                    <section class="summary certified" aria-labelledby="identite-certifiee">
                        <h2 id="identite-certifiee">"Identité certifiée par FranceConnect"</h2>
                        <dl>{rows}</dl>
                        <p class="hint">"Ces informations viennent de FranceConnect et ne peuvent pas être modifiées ici."</p>
                    </section>
                }
            });
            view! {
                {certified}
                {(!locked("civilite")).then(|| view! { <Choice name="civilite" legend="Civilité" options=CIVILITES.to_vec() value=a("civilite") errors /> })}
                {(!locked("nom_naissance")).then(|| view! { <Field name="nom_naissance" label="Nom de naissance" hint="Tel qu'il figure sur votre pièce d'identité." autocomplete="family-name" value=a("nom_naissance") errors /> })}
                <Field name="nom_usage" label="Nom d'usage" hint="Par exemple nom d'épouse ou d'époux." required=false autocomplete="family-name" value=a("nom_usage") errors />
                {(!locked("prenoms")).then(|| view! { <Field name="prenoms" label="Prénom(s)" hint="Dans l'ordre de l'état civil." autocomplete="given-name" value=a("prenoms") errors /> })}
                {(!locked("date_naissance")).then(|| view! { <Field name="date_naissance" label="Date de naissance" hint="Au format JJ/MM/AAAA, par exemple 14/07/1990." autocomplete="bday" inputmode="numeric" value=a("date_naissance") errors /> })}
                <Field name="lieu_naissance" label="Commune de naissance" value=a("lieu_naissance") errors />
                {(!locked("pays_naissance")).then(|| view! { <Field name="pays_naissance" label="Pays de naissance" value=a("pays_naissance") errors /> })}
                <Choice name="nationalite" legend="Nationalité" options=NATIONALITES.to_vec() value=a("nationalite") errors />
            }
            .into_any()
        }
        Step::Coordonnees => view! {
            <Field name="email" label="Adresse électronique" hint="Vous y recevrez votre n° de dossier et les messages du service concours." kind="email" autocomplete="email" value=a("email") errors />
            <Field name="email_confirmation" label="Confirmation de l'adresse électronique" hint="Saisissez-la de nouveau, sans copier-coller." kind="email" autocomplete="email" value=a("email_confirmation") errors />
            <Field name="telephone" label="Téléphone" hint="Par exemple 06 12 34 56 78, ou +32 pour un numéro étranger." kind="tel" autocomplete="tel" value=a("telephone") errors />
            <Field name="adresse" label="Adresse" hint="Numéro et voie." autocomplete="address-line1" value=a("adresse") errors />
            <Field name="complement_adresse" label="Complément d'adresse" required=false autocomplete="address-line2" value=a("complement_adresse") errors />
            <Field name="code_postal" label="Code postal" autocomplete="postal-code" inputmode="numeric" value=a("code_postal") errors />
            <Field name="commune" label="Commune" autocomplete="address-level2" value=a("commune") errors />
            <Field name="pays" label="Pays" autocomplete="country-name" value={ let p = a("pays"); if p.is_empty() { "France".to_string() } else { p } } errors />
        }
        .into_any(),
        Step::Voie => {
            let options: Vec<(&'static str, &'static str)> = view
                .wizard
                .voies
                .iter()
                .map(|v| match v {
                    Voie::Externe => ("externe", "Concours externe : sur titre ou diplôme"),
                    Voie::Interne => ("interne", "Concours interne : agents publics en fonction"),
                    Voie::TroisiemeConcours => ("troisieme_concours", "Troisième concours : activité professionnelle, mandat électif ou associatif"),
                })
                .collect();
            view! { <Choice name="voie" legend="Par quelle voie vous présentez-vous ?" options value=a("voie") errors /> }.into_any()
        }
        Step::Situation => match view.wizard.situation(&view.answers) {
            SituationKind::Diploma => view! {
                <Field name="diplome" label="Diplôme" hint="L'intitulé exact de votre diplôme le plus élevé." value=a("diplome") errors rows=2 />
                <Field name="diplome_annee" label="Année d'obtention" inputmode="numeric" value=a("diplome_annee") errors />
            }
            .into_any(),
            SituationKind::PublicAgent => view! {
                <Field name="employeur" label="Employeur" hint="La collectivité ou l'établissement qui vous emploie." autocomplete="organization" value=a("employeur") errors rows=2 />
                <Field name="grade" label="Grade" hint="Tel qu'il figure sur votre dernier arrêté." value=a("grade") errors rows=2 />
                <Field name="date_titularisation" label="Date de titularisation" hint="Au format JJ/MM/AAAA." inputmode="numeric" value=a("date_titularisation") errors />
            }
            .into_any(),
            SituationKind::Activity => view! {
                <Field name="activite" label="Activité professionnelle ou mandat" hint="Nature et durée de vos activités (privées, mandats électifs, responsabilités associatives)." value=a("activite") errors rows=5 />
            }
            .into_any(),
        },
        Step::Amenagement => view! {
            <Choice name="amenagement" legend="Demandez-vous un aménagement d'épreuves ?" hint="Pour les candidats en situation de handicap : un certificat médical vous sera demandé." options=OUI_NON.to_vec() value=a("amenagement") errors />
            // Shown once « Oui » is chosen (by CSS alone: it works without JavaScript);
            // required then, as the server checks it.
            <div class="amenagement-details">
                <Field name="amenagement_precisions" label="Aménagements demandés" hint="Par exemple : temps majoré, secrétaire, salle accessible, sujet en gros caractères." value=a("amenagement_precisions") errors rows=4 />
            </div>
        }
        .into_any(),
        Step::MotDePasse => {
            let hint = if view.password_chosen {
                "Vous avez déjà choisi un mot de passe : laissez ces deux champs vides pour le garder."
            } else {
                "Au moins 12 caractères. Une phrase de quelques mots est facile à retenir et difficile à deviner."
            };
            view! {
                <p class="hint">"Avec votre n° de dossier, ce mot de passe vous donnera accès à votre espace sécurisé."</p>
                <Field name="mot_de_passe" label="Mot de passe" hint=hint kind="password" autocomplete="new-password" required=!view.password_chosen value="" errors />
                <Field name="mot_de_passe_confirmation" label="Confirmation du mot de passe" kind="password" autocomplete="new-password" required=!view.password_chosen value="" errors />
            }
            .into_any()
        }
        Step::Verification => ().into_any(),
    };
    view! {
        <form method="post" action="/api/inscription/etape" novalidate class="wizard-form" id=STEP_FORM_ID>
            <input type="hidden" name="exam" value=view.exam_slug.clone() />
            <input type="hidden" name="step" value=view.step.slug() />
            <crate::form::AllRequired />
            {fields}
            <div class="actions">
                // « Suivant » comes first so that Enter moves forward; CSS puts it on the right.
                <button type="submit" name="direction" value="next" class="button primary">"Suivant"</button>
                {(view.step != Step::Identite).then(|| view! {
                    <button type="submit" name="direction" value="back" class="button secondary" formnovalidate>"Précédent"</button>
                })}
            </div>
        </form>
    }
}

#[component]
fn Verification(view: WizardView, errors: Errors, already: bool) -> impl IntoView {
    let sections = Step::sequence(&view.wizard)
        .into_iter()
        .filter(|s| !matches!(s, Step::Verification))
        .map(|step| {
            let rows = if step == Step::MotDePasse {
                vec![("Mot de passe", if view.password_chosen { "choisi".to_string() } else { "à choisir".to_string() })]
            } else {
                step.relevant_fields(&view.wizard, &view.answers)
                    .into_iter()
                    .filter(|f| !f.ends_with("_confirmation"))
                    .filter_map(|f| view.answers.get(f).filter(|v| !v.trim().is_empty()).map(|v| (label(f), shown(f, v))))
                    .collect()
            };
            let href = format!("/inscription/{}/{}", view.exam_slug, step.slug());
            view! {
                <section class="summary">
                    <h2>{step.title()}</h2>
                    <dl>
                        {rows.into_iter().map(|(l, v)| view! { <dt>{l}</dt><dd>{v}</dd> }).collect_view()}
                    </dl>
                    <a href=href class="change-link">"Modifier"<span class="visually-hidden">{format!(" : {}", step.title())}</span></a>
                </section>
            }
        })
        .collect_view();
    let attestation_error = move || errors.with(|e| e.get("attestation").cloned());
    view! {
        <Show when=move || already>
            <div class="alert" role="alert">
                <p>"Un dossier existe déjà à votre nom pour ce concours : vous ne pouvez pas en créer un second."</p>
                <p>"Si vous n'avez pas créé ce dossier, contactez le service concours : il est informé de votre demande et voit vos coordonnées."</p>
                <p>
                    <a href="/connexion">"Connectez-vous à votre espace sécurisé"</a>
                    ", ou retrouvez "<a href="/numero-oublie">"votre n° de dossier"</a>
                    " ou "<a href="/mot-de-passe-oublie">"votre mot de passe"</a>"."
                </p>
            </div>
        </Show>
        <p>"Relisez vos réponses avant de créer votre dossier. Après sa création, votre identité ne pourra plus être modifiée."</p>
        {sections}
        <form method="post" action="/api/inscription/creer" class="wizard-form">
            <input type="hidden" name="exam" value=view.exam_slug.clone() />
            <div class="field checkbox" class:field-error=move || attestation_error().is_some() id="champ-attestation">
                {move || attestation_error().map(|e| view! { <p class="error-message" id="champ-attestation-erreur">{e}</p> })}
                <input type="checkbox" id="attestation" name="attestation" value="oui" aria-describedby=move || attestation_error().map(|_| "champ-attestation-erreur") />
                <label for="attestation">"Je certifie sur l'honneur l'exactitude des renseignements ci-dessus."</label>
            </div>
            <div class="actions">
                <button type="submit" class="button primary">"Créer mon dossier"</button>
            </div>
        </form>
    }
}
