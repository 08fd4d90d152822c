//! What the pages of the espace sécurisé share: the session's dossier and its pièces
//! as the pages show them, the server functions that load them, and their wording.
//! The dossier page, the closure and the document window all read from here, so their
//! modules import one way: `espace` ← `closure` ← `dossier` ← `pieces`.

use domain::{FileKind, PieceRequirement};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the dossier page shows of the session's dossier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DossierView {
    pub number: String,
    pub exam_title: String,
    pub candidate: String,
    pub email: String,
    pub status: String,
    pub created_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    /// The exam's closing instant, and the server's time when the page was made: the
    /// countdown runs on the server's clock, not the browser's.
    pub closes_at_ms: i64,
    pub now_ms: i64,
    /// « le jeudi 30 novembre 2023 avant minuit (heure de Paris) » (`french::deadline`).
    pub deadline: String,
    /// What the service concours has said of the dossier, once it has.
    pub instruction: Option<InstructionNote>,
    /// The pièces the service asked to correct, while each request runs.
    pub corrections: Vec<CorrectionNote>,
    /// How many messages the conversation holds, and when the service last wrote.
    pub messages: i64,
    pub service_wrote_at: Option<String>,
    /// When the candidate withdrew (« le … à … »), if they did.
    pub withdrawn_at: Option<String>,
    /// Whether the candidate may withdraw by themselves now (before the deadline, before
    /// a decision); otherwise they ask the service.
    pub may_withdraw: bool,
    /// How FranceConnect certified the identity (« … le … »), when it did.
    pub certified: Option<String>,
}

/// How a dossier's identity was certified, in words (candidate and staff alike).
#[cfg(feature = "ssr")]
pub fn certification(c: &services::dossiers::Certification) -> String {
    let when = domain::french::paris_date_time_ms(c.at);
    match c.via.as_str() {
        "inscription" => format!("certifiée par FranceConnect à la préinscription, le {when}"),
        _ => format!("certifiée par FranceConnect : dossier lié le {when}"),
    }
}

/// A pièce to correct, as the candidate reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrectionNote {
    pub piece: String,
    pub label: String,
    pub until: String,
    pub reason: String,
}

/// The service concours' word on a closed dossier, as the candidate reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructionNote {
    pub headline: String,
    /// A warning (incomplete, rejected) rather than a notice.
    pub warning: bool,
    pub detail: Option<String>,
    /// What the candidate can do next, when there is something to say.
    pub next: Option<String>,
    /// « Le service concours a rouvert votre dossier … jusqu'au … ».
    pub reopened: Option<String>,
}

#[cfg(feature = "ssr")]
fn instruction_note(
    d: &services::dossiers::Dossier,
    now: jiff::Timestamp,
) -> Option<InstructionNote> {
    use domain::instruction::Review;
    let mut next = None;
    let (headline, detail) = match (d.status.as_str(), d.review) {
        ("accepted", _) => ("Vous êtes admis à concourir.".to_string(), None),
        ("rejected", _) => (
            "Votre dossier a été rejeté.".to_string(),
            d.decision_reason.as_ref().map(|r| format!("Motif : {r}")),
        ),
        ("closed", Some(Review::Incomplete)) => {
            next = Some(d.incomplete_next_step(now));
            (
                "Votre dossier est incomplet.".to_string(),
                d.review_note
                    .as_ref()
                    .map(|n| format!("Pièces manquantes ou à corriger : {n}")),
            )
        }
        ("closed", Some(Review::Complete)) => ("Votre dossier est complet.".to_string(), None),
        _ => return None,
    };
    let reopened = d
        .is_reopened_at(now)
        .then(|| d.reopened_until.map(domain::french::deadline_ms))
        .flatten()
        .map(|until| {
            format!("Le service concours a rouvert votre dossier : vous pouvez ajouter ou remplacer des fichiers, au plus tard {until}.")
        });
    // The next step already says it when the dossier is reopened.
    let reopened = reopened.filter(|_| next.is_none());
    Some(InstructionNote {
        warning: matches!(
            (d.status.as_str(), d.review),
            ("rejected", _) | ("closed", Some(Review::Incomplete))
        ),
        headline,
        detail,
        next,
        reopened,
    })
}

/// The dossier's state in the candidate's words, by the server's time when the page
/// was made (the status block above it switches by itself at the deadline).
pub fn state_label(status: &str, deadline_passed: bool) -> &'static str {
    match status {
        "open" if deadline_passed => "non clôturé : inscription non prise en compte",
        "open" => "préinscrit, en construction",
        "accepted" => "admis à concourir",
        "rejected" => "rejeté",
        _ => "clôturé, en cours d'instruction",
    }
}

#[server(endpoint = "espace/dossier")]
pub async fn my_dossier() -> Result<Option<DossierView>, ServerFnError> {
    use crate::session::internal;
    let state = crate::session::state();
    let now = state.clock.now();
    let now_ms = now.as_millisecond();
    let Some(d) = crate::session::current_dossier().await? else {
        return Ok(None);
    };
    let (messages, service_wrote_at) = services::dossiers::messages::summary(&state.db, &d.id)
        .await
        .map_err(internal)?;
    // Only a dossier with corrections running reads its pièces' labels.
    let running: Vec<_> = d
        .corrections
        .iter()
        .filter(|c| d.correction(&c.piece, now).is_some())
        .cloned()
        .collect();
    let corrections = if running.is_empty() {
        Vec::new()
    } else {
        let pieces = services::files::attachments::requested_pieces(&state.db, &d)
            .await
            .map_err(internal)?;
        running
            .into_iter()
            .map(|c| CorrectionNote {
                label: pieces
                    .iter()
                    .find(|p| p.code == c.piece)
                    .map_or_else(|| c.piece.clone(), |p| p.label.clone()),
                until: domain::french::deadline_ms(c.until),
                reason: c.reason,
                piece: c.piece,
            })
            .collect()
    };
    let state_now = domain::instruction::DossierState::of(
        &d.status,
        !d.deadline.is_open_at(now),
        d.withdrawn_at.is_some(),
    );
    let may_withdraw = state_now.is_some_and(|s| {
        domain::instruction::candidate_may_withdraw(s, !d.deadline.is_open_at(now)).is_ok()
    });
    Ok(Some(DossierView {
        certified: d.certified.as_ref().map(certification),
        withdrawn_at: d.withdrawn_at.map(domain::french::paris_date_time_ms),
        may_withdraw,
        corrections,
        messages,
        service_wrote_at: service_wrote_at.map(domain::french::paris_date_time_ms),
        instruction: instruction_note(&d, now),
        closed_at_ms: d.closed_at,
        closes_at_ms: d.deadline.closes_at().as_millisecond(),
        now_ms,
        deadline: d.deadline.to_french(),
        number: d.number.to_string(),
        exam_title: d.exam_title,
        candidate: d.registration.display_name(),
        email: d.registration.email.as_str().to_string(),
        status: d.status,
        created_at_ms: d.created_at,
    }))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileView {
    pub id: String,
    pub name: String,
    pub kind: FileKind,
    pub size: u64,
    pub created_at_ms: i64,
    pub scan: domain::antivirus::VirusScan,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PieceView {
    pub code: String,
    pub label: String,
    pub help: String,
    pub requirement: PieceRequirement,
    pub kinds: Vec<FileKind>,
    pub max_size: u64,
    pub max_files: u32,
    pub can_change: bool,
    /// Until when the service asked to correct it, while it may.
    pub correction_until: Option<String>,
    pub files: Vec<FileView>,
}

#[server(endpoint = "espace/pieces")]
pub async fn load_pieces() -> Result<Option<Vec<PieceView>>, ServerFnError> {
    use crate::session::{current_dossier, internal, state};
    use services::files::attachments;
    let Some(dossier) = current_dossier().await? else {
        return Ok(None);
    };
    let state = state();
    let files = attachments::list(&state.db, &dossier.id)
        .await
        .map_err(internal)?;
    let pieces = attachments::requested_pieces(&state.db, &dossier)
        .await
        .map_err(internal)?;
    let now = state.clock.now();
    let views = pieces.into_iter().map(|piece| {
        let can_change = attachments::can_change(now, &dossier, &piece);
        PieceView {
            correction_until: dossier
                .correction(&piece.code, now)
                .map(|c| domain::french::deadline_ms(c.until)),
            files: files
                .iter()
                .filter(|f| f.piece_code == piece.code)
                .map(|f| FileView {
                    id: f.id.clone(),
                    name: f.name.clone(),
                    kind: f.kind,
                    size: f.size,
                    created_at_ms: f.created_at,
                    scan: f.scan,
                })
                .collect(),
            code: piece.code,
            label: piece.label,
            help: piece.help,
            requirement: piece.requirement,
            kinds: piece.kinds,
            max_size: piece.max_size_bytes,
            max_files: piece.max_files,
            can_change,
        }
    });
    Ok(Some(views.collect()))
}

pub fn requirement_text(r: PieceRequirement) -> &'static str {
    match r {
        PieceRequirement::Mandatory => "obligatoire",
        PieceRequirement::MayFollow => "peut être transmise ultérieurement",
        PieceRequirement::Optional => "facultative",
    }
}

impl PieceView {
    /// The files that count: all but those the antivirus found infected (deleted).
    pub fn deposited(&self) -> usize {
        self.files.iter().filter(|f| f.scan.counts()).count()
    }
}

pub fn state_text(p: &PieceView) -> String {
    match p.deposited() {
        0 => "à fournir".into(),
        1 => "1 fichier déposé".into(),
        n => format!("{n} fichiers déposés"),
    }
}

/// The pièces of the session's dossier, for [`PieceList`]. Created by the page itself,
/// not inside a suspended view, so the server renders it within the request's context.
pub type PiecesResource = Resource<Result<Option<Vec<PieceView>>, ServerFnError>>;

pub fn pieces_resource() -> PiecesResource {
    Resource::new(|| (), |_| load_pieces())
}
