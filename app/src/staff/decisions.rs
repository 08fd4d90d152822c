//! The service's decisions on one dossier (complet, incomplet, admis, rejeté, the
//! reopening, a désistement recorded): the forms of the dossier page's « Instruction »
//! and the server functions they post to.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use services::{access::staff::Staff, dossiers::instruction};

use super::{address::dossier_path, current_staff};
use crate::session::{internal, state};

#[server(endpoint = "service/decision")]
pub async fn record_decision(
    #[server(default)] numero: String,
    #[server(default)] decision: String,
    #[server(default)] texte: String,
    #[server(default)] liste: String,
    #[server(default)] suivant: String,
) -> Result<(), ServerFnError> {
    use domain::instruction::Decision;
    let decision = match decision.as_str() {
        "complet" => Decision::Complete,
        "incomplet" => Decision::Incomplete { missing: texte },
        "admis" => Decision::Accept,
        "rejete" => Decision::Reject { reason: texte },
        _ => return Err(ServerFnError::new("Décision inconnue.")),
    };
    let back = numero.clone();
    let onward = Onward::from_form(&liste, &suivant);
    decided(&back, onward, |state, member| async move {
        instruction::decide(
            &state.db,
            &*state.clock,
            &state.base_url,
            &member,
            &numero,
            decision,
        )
        .await
    })
    .await
}

#[server(endpoint = "service/rouvrir")]
pub async fn reopen_dossier(
    #[server(default)] numero: String,
    #[server(default)] jusqua: String,
    #[server(default)] liste: String,
) -> Result<(), ServerFnError> {
    // `<input type="date">` sends AAAA-MM-JJ; typed by hand, JJ/MM/AAAA.
    let day = jusqua
        .parse::<jiff::civil::Date>()
        .ok()
        .or_else(|| domain::candidate::parse_date(&jusqua));
    let Some(day) = day else {
        crate::session::redirect(&format!(
            "{}erreur=date#instruction",
            super::address::dossier_in_list(&numero, &liste)
        ));
        return Ok(());
    };
    let back = numero.clone();
    decided(
        &back,
        Onward::from_form(&liste, ""),
        |state, member| async move {
            instruction::reopen(
                &state.db,
                &*state.clock,
                &state.base_url,
                &member,
                &numero,
                day,
            )
            .await
        },
    )
    .await
}

/// Records the désistement a candidate asked for (by message, by mail); logged.
#[server(endpoint = "service/desistement")]
pub async fn record_withdrawal(
    #[server(default)] numero: String,
    #[server(default)] texte: String,
) -> Result<(), ServerFnError> {
    use services::dossiers::withdrawal::{self, WithdrawalError};
    let member =
        current_staff().ok_or_else(|| ServerFnError::new("Réservé au service concours."))?;
    let back = dossier_path(&numero);
    let state = state();
    let recorded = withdrawal::record(
        &state.db,
        &*state.clock,
        &state.base_url,
        &member,
        &numero,
        &texte,
    )
    .await;
    match recorded {
        Ok(_) => crate::session::redirect(&format!("{back}?fait=1#instruction")),
        Err(WithdrawalError::Refused(_)) => crate::session::redirect(&format!(
            "{back}?erreur={}#instruction",
            domain::instruction::DecisionRefused::Withdrawn.code()
        )),
        Err(WithdrawalError::UnknownDossier) => crate::session::redirect("/service"),
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

/// Where a decision leads: the list the dossier was opened from, and its next dossier.
#[derive(Default)]
struct Onward {
    /// The list's address, read back from its own keys only.
    list: Option<String>,
    next: Option<domain::DossierNumber>,
}

impl Onward {
    fn from_form(list: &str, next: &str) -> Self {
        Self {
            list: (!list.is_empty()).then(|| super::address::ListQuery::parse(list).to_query()),
            next: domain::DossierNumber::parse(next).ok(),
        }
    }

    /// `?liste=…&` or nothing.
    fn list_param(&self) -> String {
        self.list
            .as_ref()
            .map(|l| format!("liste={}&", crate::account::urlencode(l)))
            .unwrap_or_default()
    }
}

/// Runs a decision for the staff member of the request, and answers with a redirect:
/// done, to the next dossier of the list when there is one; otherwise back to the
/// dossier saying how it went.
async fn decided<F, Fut>(number: &str, onward: Onward, run: F) -> Result<(), ServerFnError>
where
    F: FnOnce(crate::state::AppState, Staff) -> Fut,
    Fut: std::future::Future<
            Output = Result<services::dossiers::Dossier, instruction::DecisionError>,
        >,
{
    use instruction::DecisionError;
    let member =
        current_staff().ok_or_else(|| ServerFnError::new("Réservé au service concours."))?;
    let back = dossier_path(number);
    let list = onward.list_param();
    match run(state(), member).await {
        Ok(d) => match &onward.next {
            Some(next) => crate::session::redirect(&format!(
                "{}?{list}fait={}",
                dossier_path(next.as_str()),
                d.number
            )),
            None => crate::session::redirect(&format!("{back}?{list}fait=1#instruction")),
        },
        Err(DecisionError::Refused(r)) => {
            crate::session::redirect(&format!("{back}?{list}erreur={}#instruction", r.code()))
        }
        Err(DecisionError::ReopenDate) => {
            crate::session::redirect(&format!("{back}?{list}erreur=date#instruction"))
        }
        Err(DecisionError::UnknownDossier) => crate::session::redirect("/service"),
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

/// A decision, as its button and its confirmation say it.
fn decision_label(action: domain::instruction::BulkAction) -> &'static str {
    use domain::instruction::BulkAction;
    match action {
        BulkAction::Complete => "dossier complet",
        BulkAction::Accept => "admettre à concourir",
        BulkAction::Reject => "rejeter le dossier",
        BulkAction::Message => "envoyer un message",
    }
}

/// Takes back the dossier's decision, for a reason the candidate reads.
#[server(endpoint = "service/annuler-decision")]
pub async fn take_back_decision(
    #[server(default)] numero: String,
    #[server(default)] texte: String,
    #[server(default)] liste: String,
) -> Result<(), ServerFnError> {
    let back = numero.clone();
    decided(
        &back,
        Onward::from_form(&liste, ""),
        |state, member| async move {
            instruction::take_back(
                &state.db,
                &*state.clock,
                &state.base_url,
                &member,
                &numero,
                &texte,
            )
            .await
        },
    )
    .await
}

/// The service's review and decision, and the forms that record them: only what the
/// dossier's state allows is offered (the server checks it again).
#[component]
pub(super) fn Instruction(
    dossier: services::dossiers::Dossier,
    state: domain::instruction::DossierState,
    /// The pièces asked of this dossier (code, label), to choose which to correct.
    pieces: Vec<(String, String)>,
    /// The pièces the checklist marks « à corriger »: ticked in the correction request.
    to_correct: Vec<String>,
    /// A correction request the server refused, as the agent typed it.
    kept_correction: Option<services::access::kept_forms::Fields>,
    /// The list the dossier was opened from, and its next dossier: a decision
    /// leads there.
    list: Option<String>,
    next: Option<String>,
) -> impl IntoView {
    use domain::instruction::{DecisionRefused, DossierState, Review};
    let query = use_query_map();
    let q = query.read_untracked();
    let correction = q.get("correction").map(|code| match code.as_str() {
        "ok" => (
            "notice",
            "Correction demandée : le candidat en est informé par courriel et sur son espace sécurisé."
                .to_string(),
        ),
        code => (
            "alert",
            domain::conversation::Refusal::from_code(code)
                .map_or("La correction n'a pas pu être demandée.", |r| r.text())
                .to_string(),
        ),
    });
    let message = if q.get("fait").is_some() {
        Some((
            "notice",
            "Enregistré : le candidat en est informé par courriel et sur son espace sécurisé."
                .to_string(),
        ))
    } else {
        q.get("erreur").and_then(|code| match code.as_str() {
            "date" => Some((
                "alert",
                "Indiquez une date de réouverture postérieure à aujourd'hui.".to_string(),
            )),
            code => DecisionRefused::from_code(code).map(|r| ("alert", r.to_string())),
        })
    };
    let d = dossier;
    let number = d.number.to_string();
    let number_for_withdrawal = number.clone();
    let open = state == DossierState::Closed;
    let complete = d.review == Some(Review::Complete);
    let review = match d.review {
        Some(Review::Complete) => "complet".to_string(),
        Some(Review::Incomplete) => {
            format!("incomplet : {}", d.review_note.clone().unwrap_or_default())
        }
        None => "pas encore vérifié".to_string(),
    };
    let kept_value = {
        let kept = kept_correction.clone();
        move |key: &str| {
            kept.as_ref()
                .and_then(|k| k.iter().find(|(k, _)| k == key))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        }
    };
    let number_for_take_back = number.clone();
    let decided_label =
        domain::instruction::decision_to_take_back(state, d.review).unwrap_or_default();
    let taken_back = !decided_label.is_empty();
    let list_param = {
        let list = list.clone();
        move || {
            list.clone()
                .map(|l| view! { <input type="hidden" name="liste" value=l /> })
        }
    };
    // A decision that mails the candidate is confirmed first, the mail shown.
    let asking = open && q.get("confirmer").is_some();
    let confirming = q
        .get("confirmer")
        .and_then(|code| domain::instruction::BulkAction::from_code(&code))
        .filter(|a| open && a.decision("").is_some())
        .map(|action| {
            let app = crate::session::state();
            let letter = services::dossiers::bulk::letter(&app.base_url, action, &d, super::TYPED, app.clock.now());
            let (subject, body) = match letter.content {
                services::letters::outbox::Content::Text { subject, body } => (subject, body),
                _ => (String::new(), String::new()),
            };
            let cancel = match &list {
                Some(l) => format!("?liste={}#instruction", crate::account::urlencode(l)),
                None => "?#instruction".to_string(),
            };
            let number = d.number.to_string();
            let (list, next) = (list.clone(), next.clone());
            view! {
                <div class="confirm-decision" data-confirm=action.code()>
                    <h3>{format!("Confirmer : {}", decision_label(action))}</h3>
                    <p>"Le candidat recevra ce courriel, une minute après la décision (d'ici là, revenir sur la décision ne l'envoie pas) :"</p>
                    <p><strong>"Objet : "</strong>{subject}</p>
                    <pre data-mail>{body}</pre>
                    <form method="post" action="/api/service/decision" class="narrow-form">
                        <input type="hidden" name="numero" value=number />
                        <input type="hidden" name="decision" value=action.code() />
                        {list.map(|l| view! { <input type="hidden" name="liste" value=l /> })}
                        {next.map(|n| view! { <input type="hidden" name="suivant" value=n /> })}
                        {action.text_label().map(|label| view! {
                            <div class="field">
                                <label for="motif">{label}</label>
                                <textarea id="motif" name="texte" rows="3" maxlength="5000" required></textarea>
                            </div>
                        })}
                        <button type="submit" class="button primary">{format!("Confirmer : {}", decision_label(action))}</button>
                    </form>
                    <p><a href=cancel>"Annuler"</a></p>
                </div>
            }
        });
    let hidden = move || view! { <input type="hidden" name="numero" value=number.clone() /> };
    let then = next.as_ref().map_or(String::new(), |n| {
        format!(" Le dossier suivant de la liste ({n}) s'ouvre ensuite.")
    });
    let onward = move || {
        view! {
            {list.clone().map(|l| view! { <input type="hidden" name="liste" value=l /> })}
            {next.clone().map(|n| view! { <input type="hidden" name="suivant" value=n /> })}
        }
    };
    view! {
        <section id="instruction" aria-labelledby="instruction-titre">
            <h2 id="instruction-titre">"Instruction"</h2>
            {message.map(|(class, text)| view! { <crate::form::Outcome class text /> })}
            <dl>
                <dt>"Pièces"</dt><dd data-review>{review}</dd>
                {d.withdrawn_at.map(|t| view! { <dt>"Désistement"</dt><dd data-withdrawn>{format!("le {} (heure de Paris)", domain::french::paris_date_time_ms(t))}</dd> })}
                {d.decision_reason.clone().map(|r| view! { <dt>"Motif du rejet"</dt><dd>{r}</dd> })}
                {d.reopened_until.map(|t| view! { <dt>"Fin de la réouverture"</dt><dd>{domain::french::deadline_ms(t)}</dd> })}
                {(!d.corrections.is_empty()).then(|| {
                    let label = |code: &str| pieces.iter().find(|(c, _)| c == code).map_or(code.to_string(), |(_, l)| l.clone());
                    let text = d.corrections.iter().map(|c| format!("{} (à corriger {})", label(&c.piece), domain::french::deadline_ms(c.until))).collect::<Vec<_>>().join(", ");
                    view! { <dt>"Corrections demandées"</dt><dd data-corrections>{text}</dd> }
                })}
            </dl>
            {confirming.map(|panel| panel.into_any())}
            {(open && !asking).then(|| view! {
                <div class="decisions">
                    {(!then.is_empty()).then(|| view! { <p class="hint" data-then>{format!("Chaque décision est enregistrée et envoyée au candidat.{then}")}</p> })}
                    <form method="get" action="#instruction">
                        <input type="hidden" name="confirmer" value="complet" />
                        {list_param()}
                        <p class="hint">"Toutes les pièces sont conformes : le dossier peut ensuite être admis. Le candidat reçoit un courriel."</p>
                        <button type="submit" class="button secondary">"Dossier complet"</button>
                    </form>
                    <form method="post" action="/api/service/decision" class="narrow-form">
                        {hidden()}{onward()}
                        <input type="hidden" name="decision" value="incomplet" />
                        <div class="field">
                            <label for="manquantes">"Pièces manquantes ou à corriger"</label>
                            <textarea id="manquantes" name="texte" rows="2" required></textarea>
                        </div>
                        <p class="hint">"Dit au candidat ce qui manque, sans rouvrir aucune pièce : pour qu'il puisse déposer, demandez plutôt une correction des pièces concernées (ci-dessous)."</p>
                        <button type="submit" class="button secondary">"Dossier incomplet"</button>
                    </form>
                    <form method="post" action="/api/service/rouvrir" class="narrow-form">
                        {hidden()}{list_param()}
                        <div class="field">
                            <label for="jusqua">"Rouvrir au candidat jusqu'au (inclus)"</label>
                            <input id="jusqua" name="jusqua" type="date" required />
                        </div>
                        <p class="hint">"Rouvre toutes les pièces jusqu'à cette date (une pièce oubliée, un dossier à reprendre) ; pour certaines pièces seulement, demandez une correction."</p>
                        <button type="submit" class="button secondary">"Rouvrir le dossier"</button>
                    </form>
                    <form id="correction" method="post" action=format!("/service/dossiers/{}/correction", d.number) class="narrow-form">
                        {correction.clone().map(|(class, text)| view! { <crate::form::Outcome class text /> })}
                        <fieldset>
                            <legend>"Demander une correction de pièces"</legend>
                            <p class="hint">"Les pièces cochées acceptent de nouveau des fichiers jusqu'à la date choisie ; les autres restent clôturées. Le candidat reçoit un courriel."</p>
                            {pieces.iter().map(|(code, label)| {
                                let id = format!("corriger-{code}");
                                view! {
                                    <div class="choice">
                                        <input type="checkbox" id=id.clone() name="piece" value=code.clone() checked=match &kept_correction {
                                            Some(kept) => kept.iter().any(|(k, v)| k == "piece" && v == code),
                                            None => to_correct.contains(code),
                                        } />
                                        <label for=id>{label.clone()}</label>
                                    </div>
                                }
                            }).collect_view()}
                        </fieldset>
                        <div class="field">
                            <label for="motif-correction">"Ce qu'il faut corriger"</label>
                            <textarea id="motif-correction" name="motif" rows="2" maxlength="5000" required>{kept_value("motif")}</textarea>
                        </div>
                        <div class="field">
                            <label for="correction-jusqua">"À corriger jusqu'au (inclus)"</label>
                            <input id="correction-jusqua" name="jusqua" type="date" required value=kept_value("jusqua") />
                        </div>
                        <button type="submit" class="button secondary">"Demander la correction"</button>
                    </form>
                    <form method="get" action="#instruction">
                        <input type="hidden" name="confirmer" value="admis" />
                        {list_param()}
                        {(!complete).then(|| view! { <p class="hint">"Marquez d'abord le dossier complet pour l'admettre à concourir."</p> })}
                        <button type="submit" class="button primary" disabled=!complete>"Admettre à concourir"</button>
                    </form>
                    <form method="get" action="#instruction">
                        <input type="hidden" name="confirmer" value="rejete" />
                        {list_param()}
                        <p class="hint">"Le motif est demandé à l'étape suivante, avec le courriel que le candidat recevra."</p>
                        <button type="submit" class="button secondary">"Rejeter le dossier"</button>
                    </form>
                </div>
            })}
            {taken_back.then(|| view! {
                <form method="post" action="/api/service/annuler-decision" class="narrow-form" id="annuler">
                    <input type="hidden" name="numero" value=number_for_take_back.clone() />
                    {list_param()}
                    <div class="field">
                        <label for="annulation">{format!("Revenir sur la décision ({}) : motif, que le candidat lira", decided_label)}</label>
                        <textarea id="annulation" name="texte" rows="2" maxlength="2000" required></textarea>
                    </div>
                    <p class="hint">"Le dossier redevient « à vérifier ». Le courriel d'une décision part une minute après elle : annulée d'ici là, elle n'envoie rien ; sinon, le candidat est informé de l'annulation."</p>
                    <button type="submit" class="button secondary">"Revenir sur la décision"</button>
                </form>
            })}
            {(state != DossierState::Withdrawn).then(|| view! {
                <form method="post" action="/api/service/desistement" class="narrow-form">
                    <input type="hidden" name="numero" value=number_for_withdrawal.clone() />
                    <div class="field">
                        <label for="desistement">"Désistement demandé par le candidat : comment et quand"</label>
                        <textarea id="desistement" name="texte" rows="2" maxlength="2000" required></textarea>
                    </div>
                    <button type="submit" class="button secondary">"Enregistrer le désistement"</button>
                </form>
            })}
        </section>
    }
}
