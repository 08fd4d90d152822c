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

use super::{
    address::{ListQuery, dossier_in_list, dossier_path},
    failure, member_and_dossier, upper_first,
};
use crate::session::{internal, state};

/// Why a PDF declaring JavaScript is not previewed.
const SCRIPT_WARNING: &str = "Ce PDF contient du JavaScript : il n'est pas affiché ici. Téléchargez-le et ouvrez-le avec prudence.";

/// A private note on the dossier, in its journal.
#[server(endpoint = "service/note")]
pub async fn add_note(
    #[server(default)] numero: String,
    #[server(default)] texte: String,
    #[server(default)] liste: String,
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
    crate::session::redirect(&format!(
        "{}note={code}#journal",
        dossier_in_list(&numero, &liste)
    ));
    Ok(())
}

/// The candidate's waiting messages need no answer.
#[server(endpoint = "service/message-traite")]
pub async fn mark_message_handled(
    #[server(default)] numero: String,
    #[server(default)] liste: String,
) -> Result<(), ServerFnError> {
    let Some((member, d)) = member_and_dossier(&numero).await? else {
        crate::session::redirect("/service");
        return Ok(());
    };
    let state = state();
    services::dossiers::messages::mark_handled(&state.db, &*state.clock, &member, &d.id)
        .await
        .map_err(internal)?;
    crate::session::redirect(&format!("{}#messages", dossier_in_list(&numero, &liste)));
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
                let marks = match services::dossiers::instruction::checklist::of_dossier(&state.db, &d.id).await {
                    Ok(marks) => marks,
                    Err(e) => return failure(e),
                };
                // A refused correction request comes back as it was typed.
                let correction_code = query.read_untracked().get("correction");
                let kept_correction = match (&super::current_staff(), correction_code) {
                    (Some(m), Some(code)) if code != "ok" => services::access::kept_forms::kept(&state.db, &*state.clock, m, &d.id, services::access::kept_forms::CORRECTION).await.ok().flatten(),
                    _ => None,
                };
                let to_correct: Vec<String> = marks.iter().filter(|(_, m)| m.check == domain::instruction::PieceCheck::ToCorrect).map(|(p, _)| p.clone()).collect();
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
                // Back to the list the dossier was opened from, as it was, and its
                // neighbours there.
                let member = super::current_staff();
                let list = query.read_untracked().get("liste").map(|l| ListQuery::parse(&l));
                let list_link = match &list {
                    Some(list) => format!("/service/concours/{}?{}", d.exam_slug.as_str(), list.to_query()),
                    None => format!("/service/concours/{}", d.exam_slug.as_str()),
                };
                let neighbours = match &list {
                    Some(list) => match Neighbours::in_list(&state, list, &d, member.as_ref()).await {
                        Ok(n) => n,
                        Err(e) => return failure(e),
                    },
                    None => Neighbours::default(),
                };
                let (followers, agents) = match (
                    services::dossiers::following::followers(&state.db, &d.id).await,
                    services::dossiers::following::agents(&state.db).await,
                ) {
                    (Ok(f), Ok(a)) => (f, a),
                    (Err(e), _) | (_, Err(e)) => return failure(e),
                };
                let after_previous = query.read_untracked().get("fait").filter(|n| *n != "1" && *n != d.number.as_str()).and_then(|n| domain::DossierNumber::parse(&n).ok());
                view! {
                    <Title text=format!("Dossier {}", d.number) />
                    <p class="breadcrumb"><a href="/service">"Concours"</a>" › "<a href=list_link.clone()>{d.exam_title.clone()}</a></p>
                    {after_previous.map(|n| view! {
                        <p class="notice" role="status" data-after=n.to_string()>
                            "Décision enregistrée pour le dossier "<a href=neighbours.link_to(n.as_str())>{n.to_string()}</a>
                            " (le candidat en est informé par courriel). Voici le dossier suivant de la liste."
                        </p>
                    })}
                    <h1>"Dossier "<span class="dossier-number">{d.number.to_string()}</span></h1>
                    {neighbours.nav()}
                    <p class="closure-status" data-state=dossier_state.code()>{upper_first(dossier_state.label())}
                        {d.closed_at.map(|at| format!(" le {} (heure de Paris)", domain::french::paris_date_time_ms(at)))}
                    </p>
                    {(infected > 0).then(|| view! {
                        <p class="alert" role="alert" data-infected=infected>{format!("Antivirus : {infected} fichier(s) de ce dossier contenai(en)t un virus et ont été supprimés ; le candidat le voit dans son espace.")}</p>
                    })}
                    <div class="dossier-columns">
                    <div class="dossier-main">
                    <section aria-labelledby="candidat-titre">
                        <h2 id="candidat-titre">"Candidat"</h2>
                        <dl>
                            {answers(&r).into_iter().map(|(label, value)| view! { <dt>{label}</dt><dd>{value}</dd> }).collect_view()}
                            <dt>"Préinscription le"</dt><dd>{domain::french::paris_date_time_ms(d.created_at)}</dd>
                            {d.certified.as_ref().map(|c| {
                                // FranceConnect gives the birthplace and country as codes
                                // of the Code officiel géographique (INSEE).
                                let codes = [("commune", &c.identity.birthplace), ("pays", &c.identity.birthcountry)]
                                    .into_iter()
                                    .filter_map(|(what, code)| code.as_ref().map(|code| format!("{what} {code}")))
                                    .collect::<Vec<_>>()
                                    .join(", ");
                                view! {
                                    <dt>"Identité"</dt>
                                    <dd data-certified>
                                        {crate::espace::certification(c)}
                                        {(!codes.is_empty()).then(|| format!(" (lieu de naissance certifié, code INSEE : {codes})"))}
                                    </dd>
                                }
                            })}
                        </dl>
                    </section>
                    <section id="pieces" aria-labelledby="pieces-titre">
                        <h2 id="pieces-titre">"Pièces"</h2>
                        {(!files.is_empty()).then(|| view! {
                            <p><a class="button secondary" href=format!("/service/dossiers/{}/fichiers.zip", d.number) download>"Télécharger tous les fichiers (ZIP)"</a></p>
                        })}
                        <ul class="piece-list">
                            {pieces.into_iter().map(|p| {
                                let own: Vec<_> = files.iter().filter(|f| f.piece_code == p.code).cloned().collect();
                                view! {
                                    <li class="piece" data-piece=p.code.clone()>
                                        <div class="piece-text" id=format!("piece-{}", p.code)>
                                            <h3>{p.label.clone()}</h3>
                                            <super::checklist::PieceChecks number=d.number.to_string() piece=p.code.clone() label=p.label.clone()
                                                mark=marks.get(&p.code).cloned()
                                                newest_file=own.iter().filter(|f| f.scan.counts()).map(|f| f.created_at).max() />
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
                                                                        {(!f.script).then(|| view! { <a href=format!("/service/fichiers/{}", f.id) target="apercu">{format!("Voir « {} »", f.name)}</a> })}
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
                    </section>
                    </div>
                    <figure id="apercu" class="preview">
                        <figcaption>{match &previewed {
                            Some(f) => format!("Aperçu : {}", f.name),
                            None => "Aperçu du fichier choisi : « Voir » sur un fichier l'affiche ici, sans quitter le dossier.".to_string(),
                        }}</figcaption>
                        // The links « Voir » target this frame: the preview changes, the page stays.
                        {match &previewed {
                            Some(f) if f.script => view! { <p class="file-warning">{SCRIPT_WARNING}</p> }.into_any(),
                            Some(f) => view! { <iframe name="apercu" src=format!("/service/fichiers/{}", f.id) title=format!("Aperçu de {}", f.name)></iframe> }.into_any(),
                            None => view! { <iframe name="apercu" src="about:blank" title="Aperçu du fichier choisi"></iframe> }.into_any(),
                        }}
                    </figure>
                    </div>
                    <super::decisions::Instruction dossier=d.clone() state=dossier_state pieces=choices to_correct kept_correction list=neighbours.list.clone() next=neighbours.next.clone() />
                    <super::following::Following number=d.number.to_string() list=neighbours.list.clone() member_id=member.map(|m| m.id).unwrap_or_default() followers agents outcome=query.read_untracked().get("suivi") />
                    <section id="messages" aria-labelledby="messages-titre">
                        <h2 id="messages-titre">"Messages"</h2>
                        <crate::messages::Conversation messages=conversation for_staff=true files="/service/fichiers" />
                        <crate::messages::MessageForm action=format!("/service/dossiers/{}/messages", d.number) for_staff=true />
                        {waiting.then(|| view! {
                            <form method="post" action="/api/service/message-traite" class="narrow-form">
                                <input type="hidden" name="numero" value=d.number.to_string() />
                                {neighbours.list.clone().map(|l| view! { <input type="hidden" name="liste" value=l /> })}
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
                            {neighbours.list.clone().map(|l| view! { <input type="hidden" name="liste" value=l /> })}
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

/// Where the dossier stands in the list it was opened from: the previous and the next
/// ones, for links, shortcuts, and the dossier a decision leads to.
#[derive(Clone, Debug, Default)]
pub(super) struct Neighbours {
    /// The list's address (`ListQuery::to_query`), carried from dossier to dossier.
    pub list: Option<String>,
    pub previous: Option<String>,
    pub next: Option<String>,
    /// The dossier's rank in the list (from 1), and the list's length.
    pub rank: Option<(usize, usize)>,
}

impl Neighbours {
    async fn in_list(
        state: &crate::state::AppState,
        list: &ListQuery,
        d: &services::dossiers::Dossier,
        member: Option<&Staff>,
    ) -> Result<Self, instruction::InstructionError> {
        let place = instruction::place(
            &state.db,
            &*state.clock,
            d.exam_slug.as_str(),
            &list.criteria(member),
            list.sort(),
            &d.id,
        )
        .await?;
        Ok(Self {
            list: Some(list.to_query()),
            previous: place.as_ref().and_then(|p| p.previous.clone()),
            next: place.as_ref().and_then(|p| p.next.clone()),
            rank: place.map(|p| (p.rank, p.total)),
        })
    }

    /// A dossier's page, in the same list.
    pub(super) fn link_to(&self, number: &str) -> String {
        match &self.list {
            Some(list) => format!(
                "{}?liste={}",
                dossier_path(number),
                crate::account::urlencode(list)
            ),
            None => dossier_path(number),
        }
    }

    /// « Dossier précédent », « Dossier suivant » and the rank, when opened from a list;
    /// the access keys, listed.
    fn nav(&self) -> impl IntoView + use<> {
        let previous = self.previous.as_ref().map(|n| (self.link_to(n), n.clone()));
        let next = self.next.as_ref().map(|n| (self.link_to(n), n.clone()));
        let rank = self.rank;
        view! {
            <nav class="dossier-nav" aria-label="Dossiers de la liste et raccourcis">
                {previous.map(|(href, n)| view! { <a href=href rel="prev" accesskey="p">{format!("‹ Dossier précédent ({n})")}</a> })}
                {rank.map(|(rank, of)| view! { <span>{format!(" Dossier {rank} sur {of} de la liste ")}</span> })}
                {next.map(|(href, n)| view! { <a href=href rel="next" accesskey="n">{format!("Dossier suivant ({n}) ›")}</a> })}
                " "<a href="#pieces" accesskey="c">"Pièces"</a>
                " "<a href="#instruction" accesskey="i">"Instruction"</a>
                <p class="hint">"Raccourcis clavier : Alt+Maj+N dossier suivant, Alt+Maj+P précédent, Alt+Maj+C pièces, Alt+Maj+I instruction (sur Mac : Ctrl+Option et la lettre)."</p>
            </nav>
        }
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
