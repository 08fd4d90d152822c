//! The service concours' pages, under `/service`. Server-rendered only: they are never
//! hydrated, so none of their code is in the candidates' Wasm, and a candidate's
//! browser never holds a line of them. Every form is a plain post answered by a
//! redirect. The server's gate (see `server::staff`) lets no request reach them
//! without a staff session, and hands them the staff member through the request.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    hooks::{use_params_map, use_query_map},
    path,
};
use services::{
    attachments,
    instruction::{self, DossierLine},
    staff::{self, Staff, StaffError},
};

use crate::session::{internal, state};

/// The staff session's cookie: never the candidates' one.
pub const STAFF_COOKIE: &str = "service";

/// Why a PDF declaring JavaScript is not previewed.
const SCRIPT_WARNING: &str = "Ce PDF contient du JavaScript : il n'est pas affiché ici. Téléchargez-le et ouvrez-le avec prudence.";

/// The staff member the gate found for this request.
fn current_staff() -> Option<Staff> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Staff>()
        .cloned()
}

#[server(endpoint = "service/connexion")]
pub async fn staff_login(
    #[server(default)] email: String,
    #[server(default)] mot_de_passe: String,
) -> Result<(), ServerFnError> {
    use crate::session::{client_ip, redirect};
    let state = state();
    match staff::login(
        &state.db,
        &state.passwords,
        &*state.clock,
        &email,
        &mot_de_passe,
        &client_ip(),
    )
    .await
    {
        Ok((_, token)) => {
            crate::session::start_session(
                STAFF_COOKIE,
                &token,
                staff::SESSION_LIFETIME.as_secs(),
                |old| async move { staff::close_session(&state.db, &old).await },
            )
            .await?;
            redirect("/service");
        }
        Err(StaffError::InvalidCredentials) => redirect("/service/connexion?erreur=identifiants"),
        Err(StaffError::TooManyAttempts { retry_at_ms }) => redirect(&format!(
            "/service/connexion?erreur=tentatives&jusqua={retry_at_ms}"
        )),
        Err(StaffError::Password(services::passwords::PasswordError::Busy)) => {
            return Err(crate::session::busy());
        }
        Err(e) => return Err(internal(e)),
    }
    Ok(())
}

#[server(endpoint = "service/deconnexion")]
pub async fn staff_logout() -> Result<(), ServerFnError> {
    use crate::session::{cookie, redirect, set_cookie};
    if let Some(token) = cookie(STAFF_COOKIE) {
        staff::close_session(&state().db, &token)
            .await
            .map_err(internal)?;
    }
    set_cookie(STAFF_COOKIE, "", 0);
    redirect("/service/connexion?info=deconnecte");
    Ok(())
}

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

/// The HTML document of a staff page: the site's style sheet, no scripts.
pub fn shell() -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="fr">
            <head>
                <crate::HeadBasics />
                <MetaTags />
            </head>
            <body class="staff">
                <StaffApp />
            </body>
        </html>
    }
}

#[component]
fn StaffApp() -> impl IntoView {
    provide_meta_context();
    let staff = current_staff();
    view! {
        <Router>
            <a class="skip-link" href="#contenu">"Aller au contenu"</a>
            <header class="site-header">
                <a href="/service" class="brand">
                    <span class="brand-org">"Centre de gestion"</span>
                    <span class="brand-name">"Service concours"</span>
                </a>
                {staff.map(|s| view! {
                    <form method="post" action="/api/service/deconnexion" class="staff-identity">
                        <span>{s.name}</span>
                        <button type="submit" class="button secondary">"Se déconnecter"</button>
                    </form>
                })}
            </header>
            <main id="contenu" tabindex="-1" class="wide">
                <Routes fallback=|| view! { <Title text="Page introuvable" /><h1>"Page introuvable"</h1><p><a href="/service">"Revenir aux concours"</a></p> }>
                    <Route path=path!("/service/connexion") view=StaffLoginPage ssr=SsrMode::Async />
                    <Route path=path!("/service") view=ExamsPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/nouveau") view=ExamFormPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/:exam/modifier") view=ExamFormPage ssr=SsrMode::Async />
                    <Route path=path!("/service/concours/:exam") view=DossiersPage ssr=SsrMode::Async />
                    <Route path=path!("/service/dossiers/:number") view=DossierDetailPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

fn failure(error: impl std::fmt::Display) -> AnyView {
    tracing::error!(%error, "staff page failed");
    view! { <p class="alert" role="alert">"Une erreur est survenue de notre côté. Réessayez dans quelques instants."</p> }.into_any()
}

#[component]
fn StaffLoginPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let message = match (q.get("erreur").as_deref(), q.get("info").as_deref()) {
        (Some("identifiants"), _) => Some((
            "alert",
            "Adresse électronique ou mot de passe incorrect.".to_string(),
        )),
        (Some("tentatives"), _) => {
            let at = q
                .get("jusqua")
                .and_then(|v| v.parse().ok())
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(domain::french::paris_time)
                .unwrap_or_default();
            Some((
                "alert",
                format!(
                    "Trop de tentatives de connexion. Réessayez à partir de {at} (heure de Paris)."
                ),
            ))
        }
        (_, Some("deconnecte")) => Some(("notice", "Vous êtes déconnecté.".to_string())),
        (_, Some("session")) => Some((
            "notice",
            "Connectez-vous pour accéder au service concours.".to_string(),
        )),
        _ => None,
    };
    view! {
        <Title text="Connexion du service concours" />
        <h1>"Connexion du service concours"</h1>
        {message.map(|(class, text)| view! { <p class=class role=if class == "alert" { "alert" } else { "status" }>{text}</p> })}
        <form method="post" action="/api/service/connexion" class="narrow-form">
            <div class="field">
                <label for="email">"Adresse électronique"</label>
                <input id="email" name="email" type="email" autocomplete="username" spellcheck="false" required />
            </div>
            <div class="field">
                <label for="mot_de_passe">"Mot de passe"</label>
                <input id="mot_de_passe" name="mot_de_passe" type="password" autocomplete="current-password" required />
            </div>
            <div class="actions">
                <button type="submit" class="button primary">"Se connecter"</button>
            </div>
        </form>
    }
}

#[component]
fn ExamsPage() -> impl IntoView {
    let query = use_query_map();
    let saved = query.read_untracked().get("enregistre");
    view! {
        <Title text="Concours et dossiers" />
        <h1>"Concours et dossiers"</h1>
        <p><a class="button secondary" href="/service/concours/nouveau">"Créer un examen"</a></p>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let state = state();
                let exams = match instruction::exams(&state.db, &*state.clock).await {
                    Ok(exams) => exams,
                    Err(e) => return failure(e),
                };
                // The address names an exam by its slug; its title is ours, never the link's text.
                let saved = saved.as_ref().and_then(|slug| exams.iter().find(|e| &e.slug == slug)).map(|e| {
                    view! { <p class="notice" role="status">{format!("L'examen « {} » est enregistré.", e.title)}</p> }
                });
                view! {
                    {saved}
                    <div class="table-scroll" role="region" aria-label="Concours" tabindex="0">
                    <table class="staff-table">
                        <thead>
                            <tr>
                                <th scope="col">"Concours"</th>
                                <th scope="col">"Clôture des inscriptions"</th>
                                {domain::instruction::DossierState::ALL.into_iter().map(|s| view! { <th scope="col">{upper_first(s.label())}</th> }).collect_view()}
                            </tr>
                        </thead>
                        <tbody>
                            {exams.into_iter().map(|e| {
                                let slug = e.slug.clone();
                                view! {
                                    <tr data-exam=e.slug.clone()>
                                        <th scope="row">
                                            <a href=format!("/service/concours/{}", e.slug)>{e.title.clone()}</a>
                                            <span class="hint">{format!(" {}{}", e.session, if e.published { "" } else { " · non publié" })}</span>
                                            " "
                                            <a class="edit-link" href=format!("/service/concours/{}/modifier", e.slug)>{format!("Modifier « {} »", e.title)}</a>
                                        </th>
                                        <td>{e.deadline.to_french()}</td>
                                        {e.counts.into_iter().map(|(state, n)| view! {
                                            <td class="count" data-state=state.code()>
                                                <a href=format!("/service/concours/{slug}?etat={}", state.code())>{n}</a>
                                            </td>
                                        }).collect_view()}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[component]
fn DossiersPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let exam = params.read_untracked().get("exam").unwrap_or_default();
    let search = query.read_untracked().get("q").unwrap_or_default();
    let state_code = query.read_untracked().get("etat").unwrap_or_default();
    let filter = domain::instruction::DossierState::from_code(&state_code);
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
                let export = format!(
                    "/service/concours/{exam}/dossiers.csv?q={}&etat={}",
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
                    <form method="get" class="staff-search" role="search">
                        <div class="field">
                            <label for="q">"N° de dossier ou nom"</label>
                            <input id="q" name="q" type="search" value=search.clone() />
                        </div>
                        <div class="field">
                            <label for="etat">"État"</label>
                            <select id="etat" name="etat">
                                <option value="" selected=filter.is_none()>"Tous"</option>
                                {domain::instruction::DossierState::ALL.into_iter().map(|s| view! {
                                    <option value=s.code() selected=filter == Some(s)>{upper_first(s.label())}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <button type="submit" class="button secondary">"Rechercher"</button>
                    </form>
                    <p role="status">{count}" · "<a href=export download>"Exporter ces dossiers (CSV)"</a>
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
            <th scope="row"><a href=format!("/service/dossiers/{}", d.number)>{d.number.to_string()}</a></th>
            <td>{d.registration.display_name()}</td>
            <td>{d.registration.voie.map(|v| v.label().to_string()).unwrap_or_default()}</td>
            <td data-state=line.state.code()>{line.state.label()}</td>
            <td>{d.closed_at.map(domain::french::paris_date_time_ms).unwrap_or_default()}</td>
            <td class="count">{line.files}</td>
        </tr>
    }
}

#[component]
fn DossierDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let number = params.read_untracked().get("number").unwrap_or_default();
    let preview = query.read_untracked().get("voir");
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
                let letters = match services::outbox::of_dossier(&state.db, &d.id).await {
                    Ok(letters) => letters,
                    Err(e) => return failure(e),
                };
                let duplicates = match services::registrations::refused_duplicates(&state.db, &d.id).await {
                    Ok(duplicates) => duplicates,
                    Err(e) => return failure(e),
                };
                let previewed = preview.and_then(|id| files.iter().find(|f| f.id == id).cloned());
                let r = d.registration.clone();
                view! {
                    <Title text=format!("Dossier {}", d.number) />
                    <p class="breadcrumb"><a href="/service">"Concours"</a>" › "<a href=format!("/service/concours/{}", d.exam_slug.as_str())>{d.exam_title.clone()}</a></p>
                    <h1>"Dossier "<span class="dossier-number">{d.number.to_string()}</span></h1>
                    <p class="closure-status" data-state=dossier_state.code()>{upper_first(dossier_state.label())}
                        {d.closed_at.map(|at| format!(" le {} (heure de Paris)", domain::french::paris_date_time_ms(at)))}
                    </p>
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
                                                                <span class="file-actions">
                                                                    <a href=format!("?voir={}#apercu", f.id)>{format!("Voir « {} »", f.name)}</a>
                                                                    <a href=format!("/service/fichiers/{}?telecharger=1", f.id) download>{format!("Télécharger « {} »", f.name)}</a>
                                                                </span>
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
                    <Instruction dossier=d.clone() state=dossier_state />
                    <section aria-labelledby="journal-titre">
                        <h2 id="journal-titre">"Journal"</h2>
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
                    {(!duplicates.is_empty()).then(|| view! {
                        <section aria-labelledby="doublons-titre" class="duplicates">
                            <h2 id="doublons-titre">"Préinscriptions refusées avec la même identité"</h2>
                            <p>"Quelqu'un a voulu se préinscrire avec l'identité de ce dossier. Si ce n'est pas le candidat de ce dossier, contactez-le :"</p>
                            <ul>
                                {duplicates.into_iter().map(|r| view! {
                                    <li>{format!("{} · {} · {} · le {}", r.name, r.email, r.phone, domain::french::paris_date_time_ms(r.at))}</li>
                                }).collect_view()}
                            </ul>
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
) -> impl IntoView {
    use domain::instruction::{DecisionRefused, DossierState, Review};
    let query = use_query_map();
    let q = query.read_untracked();
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
            {message.map(|(class, text)| view! { <p class=class role=if class == "alert" { "alert" } else { "status" }>{text}</p> })}
            <dl>
                <dt>"Pièces"</dt><dd data-review>{review}</dd>
                {d.decision_reason.clone().map(|r| view! { <dt>"Motif du rejet"</dt><dd>{r}</dd> })}
                {d.reopened_until.map(|t| view! { <dt>"Rouvert jusqu'au"</dt><dd>{domain::french::paris_date_time_ms(t)}</dd> })}
            </dl>
            {open.then(|| view! {
                <div class="decisions">
                    <form method="post" action="/api/service/decision">
                        {hidden()}
                        <input type="hidden" name="decision" value="complet" />
                        <button type="submit" class="button secondary">"Dossier complet"</button>
                    </form>
                    <form method="post" action="/api/service/decision" class="narrow-form">
                        {hidden()}
                        <input type="hidden" name="decision" value="incomplet" />
                        <div class="field">
                            <label for="manquantes">"Pièces manquantes ou à corriger"</label>
                            <textarea id="manquantes" name="texte" rows="2" required></textarea>
                        </div>
                        <button type="submit" class="button secondary">"Dossier incomplet"</button>
                    </form>
                    <form method="post" action="/api/service/rouvrir" class="narrow-form">
                        {hidden()}
                        <div class="field">
                            <label for="jusqua">"Rouvrir au candidat jusqu'au (inclus)"</label>
                            <input id="jusqua" name="jusqua" type="date" required />
                        </div>
                        <button type="submit" class="button secondary">"Rouvrir le dossier"</button>
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
        </section>
    }
}

/// Creating or editing an exam: the fields of an exam file, checked by the same rules.
/// Works without JavaScript: a blank row adds a pièce, a box removes one, « Vérifier »
/// shows the deadline's instant without saving.
#[component]
fn ExamFormPage() -> impl IntoView {
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
