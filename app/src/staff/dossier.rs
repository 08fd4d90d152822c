//! One dossier as the service sees it: the answers, the files, the log, and the
//! instruction's decisions.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use services::{
    access::staff::{self, Staff},
    dossiers::instruction,
    files::attachments,
};

use super::{current_staff, failure, upper_first};
use crate::session::{internal, state};

/// Why a PDF declaring JavaScript is not previewed.
const SCRIPT_WARNING: &str = "Ce PDF contient du JavaScript : il n'est pas affiché ici. Téléchargez-le et ouvrez-le avec prudence.";

#[server(endpoint = "service/decision")]
pub async fn record_decision(
    #[server(default)] numero: String,
    #[server(default)] decision: String,
    #[server(default)] texte: String,
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
    decided(&back, |state, member| async move {
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
) -> Result<(), ServerFnError> {
    // `<input type="date">` sends AAAA-MM-JJ; typed by hand, JJ/MM/AAAA.
    let day = jusqua
        .parse::<jiff::civil::Date>()
        .ok()
        .or_else(|| domain::candidate::parse_date(&jusqua));
    let Some(day) = day else {
        crate::session::redirect(&format!("{}?erreur=date", dossier_path(&numero)));
        return Ok(());
    };
    let back = numero.clone();
    decided(&back, |state, member| async move {
        instruction::reopen(
            &state.db,
            &*state.clock,
            &state.base_url,
            &member,
            &numero,
            day,
        )
        .await
    })
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

/// The staff member asking, and the dossier of this number (`None`: no such dossier).
async fn member_and_dossier(
    number: &str,
) -> Result<Option<(Staff, services::dossiers::Dossier)>, ServerFnError> {
    let member =
        current_staff().ok_or_else(|| ServerFnError::new("Réservé au service concours."))?;
    let state = state();
    Ok(instruction::dossier(&state.db, &*state.clock, number)
        .await
        .map_err(internal)?
        .map(|(d, _)| (member, d)))
}

/// A private note on the dossier, in its journal.
#[server(endpoint = "service/note")]
pub async fn add_note(
    #[server(default)] numero: String,
    #[server(default)] texte: String,
) -> Result<(), ServerFnError> {
    let Some((member, d)) = member_and_dossier(&numero).await? else {
        crate::session::redirect("/service");
        return Ok(());
    };
    let state = state();
    let added = staff::note(&state.db, &*state.clock, &member, &d.id, &texte)
        .await
        .map_err(internal)?;
    let code = if added.is_some() { "ok" } else { "vide" };
    crate::session::redirect(&format!("{}?note={code}#journal", dossier_path(&numero)));
    Ok(())
}

/// The candidate's waiting messages need no answer.
#[server(endpoint = "service/message-traite")]
pub async fn mark_message_handled(#[server(default)] numero: String) -> Result<(), ServerFnError> {
    let Some((member, d)) = member_and_dossier(&numero).await? else {
        crate::session::redirect("/service");
        return Ok(());
    };
    let state = state();
    services::dossiers::messages::mark_handled(&state.db, &*state.clock, &member, &d.id)
        .await
        .map_err(internal)?;
    crate::session::redirect(&format!("{}#messages", dossier_path(&numero)));
    Ok(())
}

fn dossier_path(number: &str) -> String {
    format!("/service/dossiers/{}", crate::account::urlencode(number))
}

/// Runs a decision for the staff member of the request, and answers with a redirect
/// back to the dossier saying how it went.
async fn decided<F, Fut>(number: &str, run: F) -> Result<(), ServerFnError>
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
    match run(state(), member).await {
        Ok(_) => crate::session::redirect(&format!("{back}?fait=1#instruction")),
        Err(DecisionError::Refused(r)) => {
            crate::session::redirect(&format!("{back}?erreur={}#instruction", r.code()))
        }
        Err(DecisionError::ReopenDate) => {
            crate::session::redirect(&format!("{back}?erreur=date#instruction"))
        }
        Err(DecisionError::UnknownDossier) => crate::session::redirect("/service"),
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

#[component]
pub(super) fn DossierDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let number = params.read_untracked().get("number").unwrap_or_default();
    let preview = query.read_untracked().get("voir");
    let duplicates_page: i64 = query
        .read_untracked()
        .get("doublons")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let (d, dossier_state) = match instruction::dossier(&state.db, &*state.clock, &number).await {
                    Ok(Some(found)) => found,
                    Ok(None) => return view! {
                        <Title text="Dossier introuvable" />
                        <h1>"Dossier introuvable"</h1>
                        <p><a href="/service">"Revenir aux concours"</a></p>
                    }.into_any(),
                    Err(e) => return failure(e),
                };
                let (pieces, files, audit) = match (
                    attachments::requested_pieces(&state.db, &d).await,
                    attachments::list(&state.db, &d.id).await,
                    staff::audit_of_dossier(&state.db, &d.id).await,
                ) {
                    (Ok(p), Ok(f), Ok(a)) => (p, f, a),
                    (Err(e), _, _) | (_, Err(e), _) => return failure(e),
                    (_, _, Err(e)) => return failure(e),
                };
                let letters = match services::letters::outbox::of_dossier(&state.db, &d.id).await {
                    Ok(letters) => letters,
                    Err(e) => return failure(e),
                };
                let (duplicates, duplicates_total) = match services::dossiers::registrations::refused_duplicates(&state.db, &d.id, duplicates_page).await {
                    Ok(found) => found,
                    Err(e) => return failure(e),
                };
                let per_page = services::dossiers::registrations::REFUSED_DUPLICATES_PER_PAGE;
                let duplicates_pages = (duplicates_total + per_page - 1) / per_page;
                let duplicates_link = |page: i64| format!("/service/dossiers/{}?doublons={page}#doublons-titre", d.number);
                let (previous_duplicates, next_duplicates) = (
                    (duplicates_page > 1).then(|| duplicates_link(duplicates_page - 1)),
                    (duplicates_page < duplicates_pages).then(|| duplicates_link(duplicates_page + 1)),
                );
                let conversation = match services::dossiers::messages::history(&state.db, &d.id).await {
                    Ok(history) => crate::messages::views(history, &pieces),
                    Err(e) => return failure(e),
                };
                let waiting = match services::dossiers::messages::is_unanswered(&state.db, &d.id).await {
                    Ok(waiting) => waiting,
                    Err(e) => return failure(e),
                };
                let noted = query.read_untracked().get("note").map(|code| match code.as_str() {
                    "ok" => ("notice", "Note ajoutée au journal."),
                    _ => ("alert", "Écrivez la note (2 000 caractères au plus)."),
                });
                let choices: Vec<(String, String)> = pieces.iter().map(|p| (p.code.clone(), p.label.clone())).collect();
                let previewed = preview.and_then(|id| files.iter().find(|f| f.id == id && f.scan.counts()).cloned());
                let infected = files.iter().filter(|f| !f.scan.counts()).count();
                let r = d.registration.clone();
                // Back to the list the dossier was opened from, as it was.
                let list_link = match query.read_untracked().get("liste") {
                    Some(list) => format!(
                        "/service/concours/{}?{}",
                        d.exam_slug.as_str(),
                        super::dossiers::ListQuery::parse(&list).to_query()
                    ),
                    None => format!("/service/concours/{}", d.exam_slug.as_str()),
                };
                view! {
                    <Title text=format!("Dossier {}", d.number) />
                    <p class="breadcrumb"><a href="/service">"Concours"</a>" › "<a href=list_link.clone()>{d.exam_title.clone()}</a></p>
                    <h1>"Dossier "<span class="dossier-number">{d.number.to_string()}</span></h1>
                    <p class="closure-status" data-state=dossier_state.code()>{upper_first(dossier_state.label())}
                        {d.closed_at.map(|at| format!(" le {} (heure de Paris)", domain::french::paris_date_time_ms(at)))}
                    </p>
                    {(infected > 0).then(|| view! {
                        <p class="alert" role="alert" data-infected=infected>{format!("Antivirus : {infected} fichier(s) de ce dossier contenai(en)t un virus et ont été supprimés ; le candidat le voit dans son espace.")}</p>
                    })}
                    <section aria-labelledby="candidat-titre">
                        <h2 id="candidat-titre">"Candidat"</h2>
                        <dl>
                            {answers(&r).into_iter().map(|(label, value)| view! { <dt>{label}</dt><dd>{value}</dd> }).collect_view()}
                            <dt>"Préinscription le"</dt><dd>{domain::french::paris_date_time_ms(d.created_at)}</dd>
                        </dl>
                    </section>
                    <section aria-labelledby="pieces-titre">
                        <h2 id="pieces-titre">"Pièces"</h2>
                        {(!files.is_empty()).then(|| view! {
                            <p><a class="button secondary" href=format!("/service/dossiers/{}/fichiers.zip", d.number) download>"Télécharger tous les fichiers (ZIP)"</a></p>
                        })}
                        <ul class="piece-list">
                            {pieces.into_iter().map(|p| {
                                let own: Vec<_> = files.iter().filter(|f| f.piece_code == p.code).cloned().collect();
                                view! {
                                    <li class="piece" data-piece=p.code.clone()>
                                        <div class="piece-text">
                                            <h3>{p.label.clone()}</h3>
                                            {if own.is_empty() {
                                                view! { <p class="piece-meta">"Aucun fichier"</p> }.into_any()
                                            } else {
                                                view! {
                                                    <ul class="file-list">
                                                        {own.into_iter().map(|f| view! {
                                                            <li class="file">
                                                                <span class="file-name">{f.name.clone()}</span>
                                                                {f.script.then(|| view! { <span class="file-warning">{SCRIPT_WARNING}</span> })}
                                                                <span class="file-scan" data-scan=f.scan.code()>{format!("Antivirus : {}", f.scan.label())}</span>
                                                                {f.scan.counts().then(|| view! {
                                                                    <span class="file-actions">
                                                                        <a href=format!("?voir={}#apercu", f.id)>{format!("Voir « {} »", f.name)}</a>
                                                                        <a href=format!("/service/fichiers/{}?telecharger=1", f.id) download>{format!("Télécharger « {} »", f.name)}</a>
                                                                    </span>
                                                                })}
                                                                // What the candidate's accusé de réception lists.
                                                                <span class="file-meta">{format!("{} · déposé le {} · SHA-256 ", domain::french::size(f.size), domain::french::paris_date_time_ms(f.created_at))}<span class="hash">{f.sha256.clone()}</span></span>
                                                            </li>
                                                        }).collect_view()}
                                                    </ul>
                                                }.into_any()
                                            }}
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        {previewed.map(|f| {
                            let src = format!("/service/fichiers/{}", f.id);
                            view! {
                                <figure id="apercu" class="preview">
                                    {if f.script {
                                        view! { <p class="file-warning">{SCRIPT_WARNING}</p> }.into_any()
                                    } else if f.kind == domain::FileKind::Jpeg {
                                        view! { <img src=src alt=format!("Aperçu de {}", f.name) /> }.into_any()
                                    } else {
                                        view! { <iframe src=src title=format!("Aperçu de {}", f.name)></iframe> }.into_any()
                                    }}
                                    <figcaption>{f.name.clone()}</figcaption>
                                </figure>
                            }
                        })}
                    </section>
                    <Instruction dossier=d.clone() state=dossier_state pieces=choices />
                    <section id="messages" aria-labelledby="messages-titre">
                        <h2 id="messages-titre">"Messages"</h2>
                        <crate::messages::Conversation messages=conversation for_staff=true files="/service/fichiers" />
                        <crate::messages::MessageForm action=format!("/service/dossiers/{}/messages", d.number) for_staff=true />
                        {waiting.then(|| view! {
                            <form method="post" action="/api/service/message-traite" class="narrow-form">
                                <input type="hidden" name="numero" value=d.number.to_string() />
                                <p class="hint">"Le dernier message du candidat n'appelle pas de réponse ?"</p>
                                <button type="submit" class="button secondary">"Marquer comme traité"</button>
                            </form>
                        })}
                    </section>
                    <section id="journal" aria-labelledby="journal-titre">
                        <h2 id="journal-titre">"Journal"</h2>
                        {noted.map(|(class, text)| view! { <crate::form::Outcome class text=text.to_string() /> })}
                        <form method="post" action="/api/service/note" class="narrow-form">
                            <input type="hidden" name="numero" value=d.number.to_string() />
                            <div class="field">
                                <label for="note">"Note interne"</label>
                                <p class="hint" id="note-aide">"Pour le service seulement : le candidat ne la voit jamais. Elle s'ajoute au journal, à votre nom."</p>
                                <textarea id="note" name="texte" rows="2" maxlength="2000" aria-describedby="note-aide" required></textarea>
                            </div>
                            <button type="submit" class="button secondary">"Ajouter la note"</button>
                        </form>
                        {if audit.is_empty() {
                            view! { <p>"Aucune action du service sur ce dossier."</p> }.into_any()
                        } else {
                            view! {
                                <table class="staff-table audit">
                                    <thead><tr><th scope="col">"Quand"</th><th scope="col">"Qui"</th><th scope="col">"Quoi"</th></tr></thead>
                                    <tbody>
                                        {audit.into_iter().map(|a| view! {
                                            <tr>
                                                <td>{domain::french::paris_date_time_ms(a.at)}</td>
                                                <td>{a.staff_name}</td>
                                                <td>{if a.detail.is_empty() { a.action } else { format!("{} : {}", a.action, a.detail) }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </section>
                    {(duplicates_total > 0).then(|| view! {
                        <section aria-labelledby="doublons-titre" class="duplicates">
                            <h2 id="doublons-titre">"Préinscriptions refusées avec la même identité"</h2>
                            <p>"Quelqu'un a voulu se préinscrire avec l'identité de ce dossier. Si ce n'est pas le candidat de ce dossier, contactez-le :"</p>
                            <ul>
                                {duplicates.into_iter().map(|r| {
                                    let when = if r.times > 1 {
                                        format!("{} fois, du {} au {}", r.times, domain::french::paris_date_time_ms(r.first_at), domain::french::paris_date_time_ms(r.at))
                                    } else {
                                        format!("le {}", domain::french::paris_date_time_ms(r.at))
                                    };
                                    view! { <li>{format!("{} · {} · {} · {when}", r.name, r.email, r.phone)}</li> }
                                }).collect_view()}
                            </ul>
                            {(duplicates_pages > 1).then(|| view! {
                                <nav class="pages" aria-label="Pages des préinscriptions refusées">
                                    {previous_duplicates.map(|href| view! { <a href=href rel="prev">"Plus récentes"</a> })}
                                    <span>{format!(" Page {duplicates_page} sur {duplicates_pages} ({duplicates_total} adresses) ")}</span>
                                    {next_duplicates.map(|href| view! { <a href=href rel="next">"Plus anciennes"</a> })}
                                </nav>
                            })}
                        </section>
                    })}
                    <section aria-labelledby="courriels-titre">
                        <h2 id="courriels-titre">"Courriels au candidat"</h2>
                        {if letters.is_empty() {
                            view! { <p>"Aucun courriel pour ce dossier."</p> }.into_any()
                        } else {
                            view! {
                                <table class="staff-table mails">
                                    <thead><tr><th scope="col">"Objet"</th><th scope="col">"Écrit le"</th><th scope="col">"Envoi"</th></tr></thead>
                                    <tbody>
                                        {letters.into_iter().map(|l| {
                                            let status = match (l.sent_at, &l.last_error) {
                                                (Some(at), _) => format!("envoyé le {}", domain::french::paris_date_time_ms(at)),
                                                (None, Some(error)) => format!("en échec après {} essai(s), nouvel essai prévu (détail technique : {error})", l.attempts),
                                                (None, None) => "en attente d'envoi".to_string(),
                                            };
                                            view! {
                                                <tr data-sent=l.sent_at.is_some().to_string()>
                                                    <td>{l.subject}</td>
                                                    <td>{domain::french::paris_date_time_ms(l.created_at)}</td>
                                                    <td>{status}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </section>
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// The service's review and decision, and the forms that record them: only what the
/// dossier's state allows is offered (the server checks it again).
#[component]
fn Instruction(
    dossier: services::dossiers::Dossier,
    state: domain::instruction::DossierState,
    /// The pièces asked of this dossier (code, label), to choose which to correct.
    pieces: Vec<(String, String)>,
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
    let hidden = move || view! { <input type="hidden" name="numero" value=number.clone() /> };
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
            {open.then(|| view! {
                <div class="decisions">
                    <form method="post" action="/api/service/decision">
                        {hidden()}
                        <input type="hidden" name="decision" value="complet" />
                        <p class="hint">"Toutes les pièces sont conformes : le dossier peut ensuite être admis. Le candidat reçoit un courriel."</p>
                        <button type="submit" class="button secondary">"Dossier complet"</button>
                    </form>
                    <form method="post" action="/api/service/decision" class="narrow-form">
                        {hidden()}
                        <input type="hidden" name="decision" value="incomplet" />
                        <div class="field">
                            <label for="manquantes">"Pièces manquantes ou à corriger"</label>
                            <textarea id="manquantes" name="texte" rows="2" required></textarea>
                        </div>
                        <p class="hint">"Dit au candidat ce qui manque, sans rouvrir aucune pièce : pour qu'il puisse déposer, demandez plutôt une correction des pièces concernées (ci-dessous)."</p>
                        <button type="submit" class="button secondary">"Dossier incomplet"</button>
                    </form>
                    <form method="post" action="/api/service/rouvrir" class="narrow-form">
                        {hidden()}
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
                                        <input type="checkbox" id=id.clone() name="piece" value=code.clone() />
                                        <label for=id>{label.clone()}</label>
                                    </div>
                                }
                            }).collect_view()}
                        </fieldset>
                        <div class="field">
                            <label for="motif-correction">"Ce qu'il faut corriger"</label>
                            <textarea id="motif-correction" name="motif" rows="2" maxlength="5000" required></textarea>
                        </div>
                        <div class="field">
                            <label for="correction-jusqua">"À corriger jusqu'au (inclus)"</label>
                            <input id="correction-jusqua" name="jusqua" type="date" required />
                        </div>
                        <button type="submit" class="button secondary">"Demander la correction"</button>
                    </form>
                    <form method="post" action="/api/service/decision">
                        {hidden()}
                        <input type="hidden" name="decision" value="admis" />
                        {(!complete).then(|| view! { <p class="hint">"Marquez d'abord le dossier complet pour l'admettre à concourir."</p> })}
                        <button type="submit" class="button primary" disabled=!complete>"Admettre à concourir"</button>
                    </form>
                    <form method="post" action="/api/service/decision" class="narrow-form">
                        {hidden()}
                        <input type="hidden" name="decision" value="rejete" />
                        <div class="field">
                            <label for="motif">"Motif du rejet"</label>
                            <textarea id="motif" name="texte" rows="2" required></textarea>
                        </div>
                        <button type="submit" class="button secondary">"Rejeter le dossier"</button>
                    </form>
                </div>
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

/// The préinscription's answers as the wizard's summary names them.
fn answers(r: &domain::registration::Registration) -> Vec<(&'static str, String)> {
    use crate::wizard::{label, shown};
    use domain::registration::Situation;
    let mut out = vec![
        (label("civilite"), shown("civilite", &r.civilite)),
        (label("nom_naissance"), r.birth_name.as_str().to_string()),
    ];
    if let Some(n) = &r.usage_name {
        out.push((label("nom_usage"), n.as_str().to_string()));
    }
    out.extend([
        (label("prenoms"), r.first_names.as_str().to_string()),
        (
            label("date_naissance"),
            r.birth_date.strftime("%d/%m/%Y").to_string(),
        ),
        (label("lieu_naissance"), r.birth_place.clone()),
        (label("pays_naissance"), r.birth_country.clone()),
        (label("nationalite"), shown("nationalite", &r.nationality)),
        (label("email"), r.email.as_str().to_string()),
        (label("telephone"), r.phone.display()),
        (
            label("adresse"),
            [
                Some(r.address.clone()),
                r.address_complement.clone(),
                Some(format!("{} {}", r.postal_code, r.city)),
                Some(r.country.clone()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        ),
    ]);
    if let Some(v) = r.voie {
        out.push((label("voie"), shown("voie", v.as_str())));
    }
    match &r.situation {
        Situation::Diploma { title, year } => {
            out.push((label("diplome"), title.clone()));
            out.push((label("diplome_annee"), year.to_string()));
        }
        Situation::PublicAgent {
            employer,
            grade,
            titularisation,
        } => {
            out.push((label("employeur"), employer.clone()));
            out.push((label("grade"), grade.clone()));
            out.push((
                label("date_titularisation"),
                titularisation.strftime("%d/%m/%Y").to_string(),
            ));
        }
        Situation::Activity { description } => out.push((label("activite"), description.clone())),
    }
    out.push((
        label("amenagement_precisions"),
        r.accommodation.clone().unwrap_or_else(|| "Aucun".into()),
    ));
    out
}
