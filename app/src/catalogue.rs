//! The public catalogue: the exams open for registration, then the closed ones.

use domain::ExamSummary;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::countdown::Countdown;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The server's clock when the page was made: the countdowns run from it, not from
    /// the browser's clock, which may be wrong.
    pub now_ms: i64,
    pub exams: Vec<ExamSummary>,
}

#[server]
pub async fn load_catalogue() -> Result<Catalogue, ServerFnError> {
    let state = expect_context::<crate::state::AppState>();
    let exams = services::catalogue::list_published(&state.db, &*state.clock)
        .await
        .map_err(|error| {
            tracing::error!(%error, "catalogue unavailable");
            ServerFnError::new(
                "Le catalogue est momentanément indisponible. Réessayez dans quelques instants.",
            )
        })?;
    Ok(Catalogue {
        now_ms: state.clock.now().as_millisecond(),
        exams,
    })
}

#[component]
pub fn CataloguePage() -> impl IntoView {
    let catalogue = Resource::new(|| (), |_| load_catalogue());
    view! {
        <Title text="Concours et examens : inscriptions en ligne" />
        <h1>"Concours et examens professionnels"</h1>
        <crate::franceconnect::OutcomeNotice />
        <p class="lead">
            "Préinscrivez-vous, déposez vos pièces justificatives depuis votre espace sécurisé, puis clôturez votre inscription avant la date limite."
        </p>
        <Suspense fallback=|| view! { <crate::Loading text="Chargement du catalogue…" /> }>
            {move || Suspend::new(async move {
                match catalogue.await {
                    Ok(catalogue) => view! { <ExamList catalogue /> }.into_any(),
                    Err(error) => view! {
                        <p class="alert" role="alert">{error_message(&error)}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The French message carried by a server function error.
pub fn error_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        _ => "La connexion a été perdue. Vérifiez votre réseau et réessayez.".to_string(),
    }
}

#[component]
fn ExamList(catalogue: Catalogue) -> impl IntoView {
    if catalogue.exams.is_empty() {
        return view! { <p>"Aucun concours n'est publié pour le moment."</p> }.into_any();
    }
    let now_ms = catalogue.now_ms;
    view! {
        <ul class="exam-list" aria-label="Concours et examens">
            {catalogue
                .exams
                .into_iter()
                .map(|exam| view! { <ExamCard exam now_ms /> })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn ExamCard(exam: ExamSummary, now_ms: i64) -> impl IntoView {
    let closes_at = exam.deadline.closes_at();
    let closes_at_ms = closes_at.as_millisecond();
    let title_id = format!("exam-{}", exam.slug);
    let labelled_by = title_id.clone();
    let title_text = exam.title.clone();
    let voies = (!exam.voies.is_empty()).then(|| {
        let list = exam
            .voies
            .iter()
            .map(|v| v.label())
            .collect::<Vec<_>>()
            .join(", ");
        view! { <p class="voies">"Voies : "{list}</p> }
    });
    view! {
        <li class="exam-card" aria-labelledby=labelled_by data-exam=exam.slug.to_string()>
            <p class="exam-kind">{exam.kind.label()}" · "{exam.session}</p>
            <h2 id=title_id>{exam.title}</h2>
            {voies}
            <p class="deadline">
                "Clôture des inscriptions : "
                <time datetime=closes_at.to_string()>{exam.deadline.to_french()}</time>
            </p>
            <Countdown closes_at_ms now_ms />
            {exam.deadline.is_open_at(jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)).then(|| view! {
                <p class="card-actions">
                    <a class="button primary" href=format!("/inscription/{}", exam.slug)>
                        "Se préinscrire"<span class="visually-hidden">{format!(" : {title_text}")}</span>
                    </a>
                </p>
            })}
        </li>
    }
}
