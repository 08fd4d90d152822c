//! « CLÔTURER MON INSCRIPTION »: the state of the registration on the dossier page
//! (countdown on the server's clock, warnings, what is missing), the confirmation page,
//! the closure itself, and the accusé de réception.

use domain::{PieceRequirement, deadline::Urgency, french};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::espace::{DossierView, PieceView, my_dossier, pieces_resource};

/// The exact sentence of the notices for a closed dossier.
pub const CLOSED_SENTENCE: &str = "votre dossier est clôturé, il est en cours d'instruction";

#[server(endpoint = "espace/cloturer")]
pub async fn close_dossier() -> Result<(), ServerFnError> {
    use crate::session::{current_dossier, internal, redirect, state};
    use services::dossiers::closure::{self, ClosureError};
    let Some(dossier) = current_dossier().await? else {
        redirect("/connexion?info=session");
        return Ok(());
    };
    let state = state();
    match closure::close(&state.db, &*state.clock, &dossier).await {
        // The receipt's mail was promised with the closure (the outbox sends it): a
        // slow relay never holds the candidate at 23:59.
        Ok(_) => redirect("/espace?cloture=ok"),
        Err(ClosureError::MissingPieces(_)) => redirect("/espace/cloture?erreur=pieces"),
        Err(ClosureError::DeadlinePassed) => redirect("/espace?erreur=delai"),
        // Withdrawn: the dossier page says so.
        Err(ClosureError::Withdrawn) => redirect("/espace"),
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

/// A sentence as it opens a line: its first letter a capital (« Votre dossier est
/// clôturé, … »), the notices' words otherwise unchanged.
pub fn sentence_start(sentence: &str) -> String {
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The mandatory pièces without a file: what stops the closure.
pub fn missing(pieces: &[PieceView]) -> Vec<MissingPiece> {
    pieces
        .iter()
        .filter(|p| p.requirement == PieceRequirement::Mandatory && p.deposited() == 0)
        .map(|p| MissingPiece {
            code: p.code.clone(),
            label: p.label.clone(),
        })
        .collect()
}

/// A mandatory pièce without a file, as the closure block links to it.
#[derive(Clone, Debug, PartialEq)]
pub struct MissingPiece {
    code: String,
    label: String,
}

fn is_closed(status: &str) -> bool {
    matches!(status, "closed" | "accepted" | "rejected")
}

#[component]
fn MissingList(missing: Vec<MissingPiece>) -> impl IntoView {
    view! {
        <ul class="missing-list">
            {missing.into_iter().map(|p| view! {
                <li><a href=format!("/espace/pieces/{}", p.code)>{p.label}</a></li>
            }).collect_view()}
        </ul>
    }
}

fn missed_sentence(deadline: &str) -> String {
    format!("La date limite était {deadline} : ce dossier ne peut plus être modifié ni clôturé.")
}

#[component]
fn DeadlineMissed(deadline: String) -> impl IntoView {
    view! {
        <p class="alert closure-status" data-status>{Urgency::Passed.warning()}</p>
        <p>{missed_sentence(&deadline)}</p>
    }
}

/// « État de votre inscription » on the dossier page. A closed dossier's is rendered by
/// the server only; an open one's is [`OpenStatus`], which also runs in the browser.
#[component]
pub fn ClosureStatus(dossier: DossierView, missing: Vec<MissingPiece>) -> impl IntoView {
    if let Some(at) = dossier.withdrawn_at.clone() {
        return view! {
            <section class="closure closure-done" aria-labelledby="etat-titre">
                <h2 id="etat-titre">"État de votre inscription"</h2>
                <p class="closure-status" data-status>"Votre inscription est annulée."</p>
                <p>{format!("Votre désistement a été enregistré le {at} (heure de Paris). Votre dossier reste consultable ici jusqu'à son effacement, à la fin de sa durée de conservation.")}</p>
            </section>
        }
        .into_any();
    }
    if is_closed(&dossier.status) {
        let at = dossier
            .closed_at_ms
            .map(french::paris_date_time_ms)
            .unwrap_or_default();
        let decided = matches!(dossier.status.as_str(), "accepted" | "rejected");
        let note = dossier.instruction.clone();
        let sentence = match (&note, decided) {
            (Some(n), true) => n.headline.clone(),
            _ => CLOSED_SENTENCE.to_string(),
        };
        return view! {
            <section class="closure closure-done" aria-labelledby="etat-titre">
                <h2 id="etat-titre">"État de votre inscription"</h2>
                <p class="closure-status" data-status>{sentence_start(&sentence)}</p>
                {note.map(|n| view! {
                    <div class=if n.warning { "warning instruction-note" } else { "notice instruction-note" } data-instruction>
                        {(!decided).then(|| view! { <p><strong>{n.headline.clone()}</strong></p> })}
                        {n.detail.map(|d| view! { <p>{d}</p> })}
                        {n.next.map(|d| view! { <p data-next-step>{d}</p> })}
                        {n.reopened.map(|r| view! { <p>{r}</p> })}
                    </div>
                })}
                <p>"Inscription clôturée le "<span data-closed-at>{at}</span>" (heure de Paris)."</p>
                <a class="button secondary" href="/espace/accuse-de-reception">"Voir l'accusé de réception"</a>
            </section>
        }
        .into_any();
    }
    view! {
        <OpenStatus closes=dossier.closes_at_ms now_ms=dossier.now_ms deadline=dossier.deadline missing />
    }
    .into_any()
}

/// An open dossier's status. It switches to the refusal by itself at the deadline, on
/// the server's time: the server writes the deadline and its own time on the section,
/// and [`tick`] counts down from them in the browser.
#[component]
fn OpenStatus(
    closes: i64,
    now_ms: i64,
    deadline: String,
    missing: Vec<MissingPiece>,
) -> impl IntoView {
    let urgency = Urgency::of(closes - now_ms);
    let body = if urgency == Urgency::Passed {
        view! { <DeadlineMissed deadline=deadline.clone() /> }.into_any()
    } else {
        view! {
            <p>"Préinscrit, en construction : votre inscription n'est valable qu'une fois clôturée."</p>
            <p>"Date limite : "<strong>{deadline.clone()}</strong></p>
            <p class="countdown-line">"Clôture des inscriptions dans "
                <span data-countdown>{french::remaining(closes - now_ms)}</span>
            </p>
            {urgency.warning().map(|w| view! {
                <p class="warning" data-urgency=format!("{urgency:?}")>{w}</p>
            })}
            {if missing.is_empty() {
                view! {
                    <p>"Toutes les pièces obligatoires sont déposées. Vérifiez-les, puis clôturez votre inscription."</p>
                    <a class="button primary closure-button" href="/espace/cloture">"CLÔTURER MON INSCRIPTION"</a>
                }.into_any()
            } else {
                view! {
                    <p>"Pour pouvoir clôturer votre inscription, déposez d'abord ces pièces obligatoires :"</p>
                    <MissingList missing />
                }.into_any()
            }}
        }
        .into_any()
    };
    view! {
        // Not a live region: the countdown would be read out every second (RGAA 13.8).
        // Only a change of urgency is said, once.
        <section class="closure" aria-labelledby="etat-titre" data-open-status
            data-closes-at-ms=closes data-now-ms=now_ms data-deadline=deadline>
            <h2 id="etat-titre">"État de votre inscription"</h2>
            <p class="visually-hidden" aria-live="polite" data-urgency-said>{urgency.warning().unwrap_or_default()}</p>
            {body}
        </section>
    }
}

/// In the browser, on an open dossier's page: the countdown of [`OpenStatus`] runs
/// every second from the server's time (plus the time elapsed here: the computer's
/// clock may be wrong), a new urgency's warning shows and is said once, and at the
/// deadline the section turns to [`DeadlineMissed`] without a reload.
#[cfg(feature = "hydrate")]
pub fn tick() {
    use crate::dom;
    let Some(section) = dom::find("[data-open-status]") else {
        return;
    };
    let (Some(closes), Some(served)) = (
        dom::number_of(&section, "data-closes-at-ms"),
        dom::number_of(&section, "data-now-ms"),
    ) else {
        return;
    };
    let deadline = section.get_attribute("data-deadline").unwrap_or_default();
    let arrived = dom::monotonic_ms();
    let mut shown = Urgency::of(closes - served);
    dom::every(1000, move || {
        if shown == Urgency::Passed {
            return;
        }
        let left = closes - (served + dom::monotonic_ms() - arrived);
        let urgency = Urgency::of(left);
        if urgency == Urgency::Passed {
            // Everything under the heading and the spoken line gives way.
            while let Some(last) = section.last_element_child()
                && !last.has_attribute("data-urgency-said")
            {
                last.remove();
            }
            let status = dom::element(
                "p",
                "alert closure-status",
                urgency.warning().unwrap_or_default(),
            );
            let _ = status.set_attribute("data-status", "");
            let _ = section
                .append_with_node_2(&status, &dom::element("p", "", &missed_sentence(&deadline)));
        } else {
            if let Some(countdown) = dom::find_in(&section, "[data-countdown]") {
                countdown.set_text_content(Some(&french::remaining(left)));
            }
            if urgency != shown
                && let Some(line) = dom::find_in(&section, ".countdown-line")
            {
                let warning = dom::find_in(&section, "[data-urgency]").unwrap_or_else(|| {
                    let warning = dom::element("p", "warning", "");
                    let _ = line.after_with_node_1(&warning);
                    warning
                });
                warning.set_text_content(urgency.warning());
                let _ = warning.set_attribute("data-urgency", &format!("{urgency:?}"));
            }
        }
        if urgency != shown {
            if let Some(said) = dom::find_in(&section, "[data-urgency-said]") {
                said.set_text_content(urgency.warning());
            }
            shown = urgency;
        }
    });
}

/// The confirmation before closing, saying what closure means.
#[component]
pub fn ClosurePage() -> impl IntoView {
    let dossier = Resource::new(|| (), |_| my_dossier());
    let pieces = pieces_resource();
    let query = use_query_map();
    let refused = move || query.read().get("erreur").is_some();
    view! {
        <Title text="Clôturer mon inscription" />
        <h1>"Clôturer mon inscription"</h1>
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                let (Ok(Some(d)), Ok(Some(list))) = (dossier.await, pieces.await) else {
                    return view! { <Redirect path="/connexion?info=session" /> }.into_any();
                };
                let missing = missing(&list);
                let later: Vec<_> = list.iter().filter(|p| p.requirement == PieceRequirement::MayFollow).map(|p| p.label.clone()).collect();
                if is_closed(&d.status) {
                    view! {
                        <p class="closure-status" data-status>{sentence_start(CLOSED_SENTENCE)}</p>
                        <p><a href="/espace">"Revenir à mon dossier"</a></p>
                    }.into_any()
                } else if Urgency::of(d.closes_at_ms - d.now_ms) == Urgency::Passed {
                    view! {
                        <DeadlineMissed deadline=d.deadline.clone() />
                        <p><a href="/espace">"Revenir à mon dossier"</a></p>
                    }.into_any()
                } else if !missing.is_empty() {
                    view! {
                        <div class="alert" role="alert">
                            <p>{if refused() { "Votre inscription n'est pas clôturée : " } else { "Vous ne pouvez pas encore clôturer : " }}
                               "il manque ces pièces obligatoires."</p>
                            <MissingList missing />
                        </div>
                        <p><a href="/espace">"Revenir à mon dossier"</a></p>
                    }.into_any()
                } else {
                    let sent = list.iter().map(|p| {
                        let files: Vec<_> = p.files.iter().filter(|f| f.scan.counts()).map(|f| format!("{} · {}", f.name, french::size(f.size))).collect();
                        let none = match p.requirement {
                            PieceRequirement::MayFollow => "aucun fichier pour l'instant : vous pourrez le déposer après la clôture",
                            _ => "aucun fichier (pièce facultative)",
                        };
                        view! {
                            <li data-sent=p.code.clone()>
                                <strong>{p.label.clone()}</strong>
                                {if files.is_empty() {
                                    view! { <p class="hint">{none}</p> }.into_any()
                                } else {
                                    view! { <ul>{files.into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ul> }.into_any()
                                }}
                            </li>
                        }
                    }).collect_view();
                    view! {
                        <p>{format!("Dossier n° {} · {}", d.number, d.exam_title)}</p>
                        <section class="closure-sent" aria-labelledby="envoi-titre">
                            <h2 id="envoi-titre">"Les pièces et fichiers que vous envoyez"</h2>
                            <ul class="sent-list">{sent}</ul>
                            <p><a href="/espace">"Vérifier ou changer un fichier avant de clôturer"</a></p>
                        </section>
                        <div class="notice">
                            <p><strong>"Clôturer, c'est envoyer définitivement votre dossier au service concours."</strong></p>
                            <ul>
                                <li>"Vous ne pourrez plus ajouter, remplacer ni supprimer de fichier."</li>
                                {(!later.is_empty()).then(|| view! {
                                    <li>{format!("Sauf pour les pièces qui peuvent être transmises ultérieurement ({}) : vous pourrez encore les déposer après la clôture.", later.join(", "))}</li>
                                })}
                                <li>"Vous recevrez un accusé de réception, consultable à tout moment dans votre espace sécurisé."</li>
                            </ul>
                            <p>{format!("Date limite : {}.", d.deadline)}</p>
                        </div>
                        <form method="post" action="/api/espace/cloturer" class="actions">
                            <button type="submit" class="button primary">"Je clôture mon inscription"</button>
                            <a class="button secondary" href="/espace">"Revenir à mon dossier"</a>
                        </form>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceiptFileView {
    pub piece: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub deposited_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceiptView {
    pub number: String,
    pub exam_title: String,
    pub candidate: String,
    pub closed_at_ms: i64,
    pub files: Vec<ReceiptFileView>,
    /// [`services::dossiers::closure::Receipt::fingerprint`].
    pub fingerprint: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ReceiptState {
    NoSession,
    NotClosed,
    Closed(ReceiptView),
}

#[server(endpoint = "espace/accuse")]
pub async fn my_receipt() -> Result<ReceiptState, ServerFnError> {
    use crate::session::{current_dossier, internal, state};
    let Some(dossier) = current_dossier().await? else {
        return Ok(ReceiptState::NoSession);
    };
    Ok(
        match services::dossiers::closure::receipt(&state().db, &dossier)
            .await
            .map_err(internal)?
        {
            None => ReceiptState::NotClosed,
            Some(r) => ReceiptState::Closed(ReceiptView {
                fingerprint: r.fingerprint(),
                number: r.number,
                exam_title: r.exam_title,
                candidate: r.candidate,
                closed_at_ms: r.closed_at,
                files: r
                    .files
                    .into_iter()
                    .map(|f| ReceiptFileView {
                        piece: f.piece,
                        name: f.name,
                        size: f.size,
                        sha256: f.sha256,
                        deposited_at_ms: f.deposited_at,
                    })
                    .collect(),
            }),
        },
    )
}

/// The accusé de réception, printable.
#[component]
pub fn ReceiptPage() -> impl IntoView {
    let receipt = Resource::new(|| (), |_| my_receipt());
    view! {
        <Title text="Accusé de réception" />
        <Suspense fallback=|| view! { <crate::Loading /> }>
            {move || Suspend::new(async move {
                match receipt.await {
                    Ok(ReceiptState::Closed(r)) => view! { <Receipt r /> }.into_any(),
                    Ok(ReceiptState::NotClosed) => view! {
                        <h1>"Accusé de réception"</h1>
                        <p>"L'accusé de réception est disponible une fois votre inscription clôturée. "<a href="/espace">"Revenir à mon dossier"</a></p>
                    }.into_any(),
                    Ok(ReceiptState::NoSession) => view! { <Redirect path="/connexion?info=session" /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{crate::catalogue::error_message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Receipt(r: ReceiptView) -> impl IntoView {
    view! {
        <article class="receipt">
            <h1>"Accusé de réception"</h1>
            <dl>
                <dt>"N° de dossier"</dt><dd class="dossier-number">{r.number.clone()}</dd>
                <dt>"Concours"</dt><dd>{r.exam_title.clone()}</dd>
                <dt>"Candidat"</dt><dd>{r.candidate.clone()}</dd>
                <dt>"Inscription clôturée le"</dt><dd data-closed-at>{format!("{} (heure de Paris)", french::paris_date_time_ms(r.closed_at_ms))}</dd>
            </dl>
            <p class="closure-status" data-status>{sentence_start(CLOSED_SENTENCE)}</p>
            <h2 id="fichiers-recus">{format!("Fichiers reçus ({})", r.files.len())}</h2>
            // Scrolls sideways on a phone: focusable, so the keyboard can scroll it too.
            <div class="table-scroll" role="region" aria-label="Fichiers reçus" tabindex="0">
                <table class="receipt-files" aria-labelledby="fichiers-recus">
                    <thead>
                        <tr><th scope="col">"Pièce"</th><th scope="col">"Fichier"</th><th scope="col">"Taille"</th><th scope="col">"Déposé le"</th><th scope="col">"Empreinte SHA-256"</th></tr>
                    </thead>
                    <tbody>
                        {r.files.into_iter().map(|f| view! {
                            <tr>
                                <td data-label="Pièce">{f.piece}</td>
                                <td data-label="Fichier">{f.name}</td>
                                <td data-label="Taille">{format!("{} ({} octets)", french::size(f.size), f.size)}</td>
                                <td data-label="Déposé le">{french::paris_date_time_ms(f.deposited_at_ms)}</td>
                                <td data-label="Empreinte SHA-256" class="hash">{f.sha256}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="hint">"L'empreinte SHA-256 identifie exactement chaque fichier reçu : le moindre changement du fichier la change."</p>
            <p class="hint">"Empreinte de cet accusé de réception (SHA-256) : "<span class="hash" data-fingerprint>{r.fingerprint.clone()}</span></p>
            <p class="print-hint"><a href="/espace/accuse-de-reception.pdf" data-receipt-pdf>"Télécharger l'accusé de réception (PDF)"</a>" : il a aussi été joint au message de clôture, et reste consultable dans votre espace sécurisé."</p>
            <p class="print-hint"><a href="/espace">"Revenir à mon dossier"</a></p>
        </article>
    }
}
