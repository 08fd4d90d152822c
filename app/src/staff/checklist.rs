//! The checklist beside the preview: each pièce marked « conforme » or « à corriger »;
//! a file newer than the mark makes it « à revoir ». The pièces to correct are ticked
//! in the correction request.

use domain::instruction::PieceCheck;
use leptos::prelude::*;
use services::dossiers::instruction::checklist::{self, Mark};

use super::{address::dossier_path, member_and_dossier};
use crate::session::{internal, state};

#[server(endpoint = "service/piece")]
pub async fn check_piece(
    #[server(default)] numero: String,
    #[server(default)] piece: String,
    #[server(default)] verdict: String,
) -> Result<(), ServerFnError> {
    let Some((member, d)) = member_and_dossier(&numero).await? else {
        crate::session::redirect("/service");
        return Ok(());
    };
    let state = state();
    let pieces = services::files::attachments::requested_pieces(&state.db, &d)
        .await
        .map_err(internal)?;
    // Only a pièce asked of this dossier, and a known mark.
    if let (Some(p), Some(check)) = (
        pieces.iter().find(|p| p.code == piece),
        PieceCheck::from_code(&verdict),
    ) {
        checklist::mark(
            &state.db,
            &*state.clock,
            &member,
            &d.id,
            (&p.code, &p.label),
            check,
        )
        .await
        .map_err(internal)?;
    }
    crate::session::redirect(&format!(
        "{}#piece-{}",
        dossier_path(&numero),
        crate::account::urlencode(&piece)
    ));
    Ok(())
}

/// A pièce's mark and the buttons that set it.
#[component]
pub(super) fn PieceChecks(
    number: String,
    piece: String,
    label: String,
    mark: Option<Mark>,
    /// When its newest file arrived (ms), if it has one.
    newest_file: Option<i64>,
) -> impl IntoView {
    let stale = matches!((&mark, newest_file), (Some(m), Some(at)) if at > m.at);
    let status = match &mark {
        None => "pas encore vérifiée".to_string(),
        Some(_) if stale => "à revoir : un fichier est arrivé depuis".to_string(),
        Some(m) => format!(
            "{} ({}, le {})",
            m.check.label(),
            m.by,
            domain::french::paris_date_time_ms(m.at)
        ),
    };
    let code = match (&mark, stale) {
        (_, true) => "a-revoir",
        (Some(m), false) => m.check.code(),
        (None, false) => "",
    };
    view! {
        <form method="post" action="/api/service/piece" class="piece-check">
            <input type="hidden" name="numero" value=number />
            <input type="hidden" name="piece" value=piece />
            <p class="piece-meta" data-check=code>"Vérification : "{status}</p>
            {PieceCheck::ALL.into_iter().map(|check| view! {
                <button type="submit" name="verdict" value=check.code() class="button secondary"
                    aria-label=format!("{} : {}", label, check.label())>
                    {crate::closure::sentence_start(check.label())}
                </button>
            }).collect_view()}
        </form>
    }
}
