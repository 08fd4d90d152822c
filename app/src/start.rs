//! The start page before the préinscription's first step, as GOV.UK's start pages are:
//! what it asks, the pièces to have at hand (by voie), the deadline, how long it takes.
//! Plain HTML: it loads no Wasm.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// What the start page says before the first step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartView {
    pub exam_slug: String,
    pub exam_title: String,
    pub open: bool,
    /// « le jeudi 24 décembre 2026 avant minuit (heure de Paris) ».
    pub deadline: String,
    /// Each pièce: its label, for whom (« tous les candidats », « concours externe »,
    /// « si vous demandez un aménagement »), and whether it is mandatory.
    pub pieces: Vec<(String, String, String)>,
}

#[server(endpoint = "inscription/debut")]
pub async fn load_start(exam: String) -> Result<StartView, ServerFnError> {
    use crate::session::{internal, state};
    let exam = crate::wizard::open_exam(&exam).await?;
    let pieces = services::catalogue::pieces(&state().db, exam.slug.as_str())
        .await
        .map_err(internal)?;
    let pieces = pieces
        .into_iter()
        .map(|p| {
            let mut whom: Vec<String> = p
                .voies
                .iter()
                .map(|v| match v {
                    domain::Voie::TroisiemeConcours => v.label().to_string(),
                    _ => format!("concours {}", v.label()),
                })
                .collect();
            if p.when.is_some() {
                whom.push("si vous demandez un aménagement d'épreuves".into());
            }
            let whom = if whom.is_empty() {
                "tous les candidats".to_string()
            } else {
                whom.join(", ")
            };
            let requirement = crate::espace::requirement_text(p.requirement).to_string();
            (p.label, whom, requirement)
        })
        .collect();
    Ok(StartView {
        deadline: domain::french::deadline_ms(exam.closes_at_ms),
        exam_slug: exam.slug.to_string(),
        exam_title: exam.title,
        open: exam.open,
        pieces,
    })
}

/// Before the first step, as GOV.UK's start pages do: what the préinscription asks,
/// the pièces to have at hand (by voie), the deadline, how long it takes.
#[component]
pub fn StartPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("exam").unwrap_or_default(),
        load_start,
    );
    view! {
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => {
                        let start = format!("/inscription/{}/identite", v.exam_slug);
                        view! {
                            <Title text=format!("Préinscription · {}", v.exam_title) />
                            <p class="exam-kind">"Préinscription"</p>
                            <h1>{v.exam_title.clone()}</h1>
                            {if v.open {
                                view! {
                                    <p class="deadline">"Date limite de clôture : "<strong>{v.deadline.clone()}</strong>"."</p>
                                    <h2>"Comment se passe l'inscription"</h2>
                                    <ol class="start-steps">
                                        <li>"La préinscription : votre identité, vos coordonnées, votre voie, votre situation, un éventuel aménagement d'épreuves et un mot de passe. Comptez 10 minutes ; vos réponses sont gardées si la connexion est coupée."</li>
                                        <li>"Vous recevez votre n° de dossier : avec votre mot de passe, il ouvre votre espace sécurisé."</li>
                                        <li>"Dans votre espace sécurisé, vous déposez vos pièces justificatives, en PDF ou en JPEG (une photo prise avec un téléphone convient)."</li>
                                        <li>"Vous clôturez votre inscription avant la date limite : sans clôture, elle n'est pas prise en compte."</li>
                                    </ol>
                                    <h2>"Les pièces à préparer"</h2>
                                    <ul class="start-pieces">
                                        {v.pieces.iter().map(|(label, whom, requirement)| view! {
                                            <li><strong>{label.clone()}</strong>{format!(" : {whom} ; {requirement}.")}</li>
                                        }).collect_view()}
                                    </ul>
                                    <p>"Vous aurez aussi besoin d'une adresse électronique que vous consultez : votre n° de dossier et les messages du service concours y seront envoyés."</p>
                                    <p class="actions"><a class="button primary" href=start>"Commencer ma préinscription"</a></p>
                                }.into_any()
                            } else {
                                view! {
                                    <p class="alert" role="alert">"La date limite d'inscription à ce concours est passée : il n'est plus possible de se préinscrire."</p>
                                    <p><a href="/">"Revenir au catalogue des concours"</a></p>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                    Err(error) => view! { <crate::wizard::Unavailable error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
