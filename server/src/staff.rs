//! The service concours' side of the router: the gate in front of every staff address,
//! the staff pages (rendered without hydration), and the plain handlers that stream
//! files, ZIP archives and the CSV and XLSX exports. Every file served to staff is audited.

use app::{
    session::cookie_in,
    staff::{STAFF_COOKIE, shell},
    state::AppState,
};
use axum::{
    Extension, Router,
    extract::{Path, Query, RawQuery, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use leptos::prelude::provide_context;
use services::{
    access::staff::{self, Staff},
    dossiers::export::{self, Column, ZippedFile, clean, entry_name},
    dossiers::instruction::{self, InstructionError},
    files::attachments,
};

use crate::{archive, files, security};

/// A stored file in a staff ZIP: where its bytes are, and what the summary says of it.
struct Zipped {
    key: String,
    file: ZippedFile,
}

/// The archive's stored entries.
fn stored(entries: &[Zipped]) -> Vec<services::files::storage::Entry> {
    entries
        .iter()
        .map(|z| services::files::storage::Entry {
            name: z.file.entry.clone(),
            key: z.key.clone(),
            at_ms: z.file.deposited_at,
        })
        .collect()
}

/// Whether an address belongs to the service concours.
fn is_staff_path(path: &str) -> bool {
    path == "/service" || path.starts_with("/service/") || path.starts_with("/api/service/")
}

/// No staff address answers without a live staff session, but the login page and its
/// form. A candidate's session is not one: the two live in different tables under
/// different cookies. Pages go to the login page; anything else is refused.
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !is_staff_path(path) {
        return next.run(request).await;
    }
    let open = matches!(path, "/service/connexion" | "/api/service/connexion");
    let found = match cookie_in(request.headers(), STAFF_COOKIE) {
        Some(token) => staff::session_staff(&state.db, &*state.clock, &token).await,
        None => Ok(None),
    };
    match found {
        Ok(Some(member)) => {
            request.extensions_mut().insert(member);
            next.run(request).await
        }
        Ok(None) if open => next.run(request).await,
        Ok(None) if request.method() == Method::GET || request.method() == Method::HEAD => {
            Redirect::to("/service/connexion?info=session").into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            "Réservé au service concours : connectez-vous.",
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "staff session lookup failed");
            // A page asked for leads to one that renders without the database and
            // says so; a post gets its page back through `refusals`.
            if open {
                next.run(request).await
            } else if request.method() == Method::GET {
                Redirect::to("/service/connexion?refus=erreur").into_response()
            } else {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
}

/// The staff pages and files. Server functions (login, logout) are routed with the
/// candidates' ones; the gate covers both.
pub fn routes(state: &AppState) -> Router<AppState> {
    let pages = {
        let state = state.clone();
        leptos_axum::render_app_async_with_context(
            move || {
                provide_context(state.clone());
                security::provide_request_nonce();
            },
            shell,
        )
    };
    Router::new()
        .route("/service/fichiers/{id}", get(file))
        .route("/service/dossiers/{number}/fichiers.zip", get(dossier_zip))
        .route("/service/concours/{exam}/dossiers.csv", get(csv_export))
        .route("/service/concours/{exam}/dossiers.xlsx", get(xlsx_export))
        .route("/service/concours/{exam}/dossiers.zip", get(exam_zip))
        // The confirmation page at the same address as the action it confirms.
        .route(
            "/service/concours/{exam}/lot",
            get(pages.clone()).post(bulk_action),
        )
        .route(
            "/service/concours/{exam}/modeles",
            axum::routing::post(export_model),
        )
        .route("/service", get(pages.clone()))
        .route("/service/{*rest}", get(pages))
}

fn failed(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "staff request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Une erreur est survenue de notre côté. Réessayez dans quelques instants.",
    )
        .into_response()
}

/// Saves the export page's columns as a named model, or deletes one (`supprimer`);
/// back to the export page, which says how it went.
async fn export_model(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    Extension(member): Extension<Staff>,
    body: axum::body::Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let value = |key: &str| {
        form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let list = app::staff::ListQuery::parse(&value("liste").unwrap_or_default()).to_query();
    let back = |query: &str| {
        Redirect::to(&format!("/service/concours/{exam}/export?{list}&{query}")).into_response()
    };
    if let Some(id) = value("supprimer") {
        return match export::models::delete(&state.db, &id).await {
            Ok(_) => back("modele-enregistre=supprime"),
            Err(e) => failed(e),
        };
    }
    // The ticked columns only: a model of all columns is what « Télécharger » gives.
    let columns = if body.split('&').any(|pair| pair.starts_with("c=")) {
        match columns_asked(&state, &body).await {
            Ok(columns) => columns,
            Err(response) => return response,
        }
    } else {
        Vec::new()
    };
    let name = value("nom").unwrap_or_default();
    match export::models::save(&state.db, &*state.clock, &member, &name, &columns).await {
        Ok(model) => back(&format!("modele={}&modele-enregistre=ok", model.id)),
        Err(export::models::ModelError::Db(e)) => failed(e),
        Err(refused) => back(&format!("modele-enregistre={}", refused.code())),
    }
}

/// A confirmed bulk action (`app::staff` shows its confirmation): each dossier decided
/// or written to on its own; back to the list with what was done and what was not.
async fn bulk_action(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    Extension(member): Extension<Staff>,
    body: axum::body::Bytes,
) -> Response {
    use domain::instruction::{BULK_MAX, BulkAction};
    use services::dossiers::bulk::{self, Outcome};
    let (mut numbers, mut action, mut text, mut list) =
        (Vec::new(), String::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "n" if numbers.len() < BULK_MAX => numbers.push(value.into_owned()),
            "action" => action = value.into_owned(),
            "texte" => text = value.into_owned(),
            "liste" => list = value.into_owned(),
            _ => {}
        }
    }
    let list = app::staff::ListQuery::parse(&list).to_query();
    let Some(action) = BulkAction::from_code(&action) else {
        return Redirect::to(&format!("/service/concours/{exam}?{list}")).into_response();
    };
    if action.text_label().is_some() && text.trim().is_empty() {
        let selection: String = numbers
            .iter()
            .map(|n| format!("&n={}", app::account::urlencode(n)))
            .collect();
        return Redirect::to(&format!(
            "/service/concours/{exam}/lot?action={}&liste={}&erreur=texte{selection}",
            action.code(),
            app::account::urlencode(&list)
        ))
        .into_response();
    }
    let outcomes = match bulk::run(
        &state.db,
        &*state.clock,
        &state.base_url,
        &member,
        &exam,
        &numbers,
        action,
        &text,
    )
    .await
    {
        Ok(outcomes) => outcomes,
        Err(e) => return failed(e),
    };
    let done = outcomes.iter().filter(|(_, o)| *o == Outcome::Done).count();
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|(n, o)| {
            let code = match o {
                Outcome::Done => return None,
                Outcome::Refused(r) => r.code(),
                Outcome::MessageRefused(r) => r.code(),
                Outcome::Unknown => "inconnu",
            };
            Some(format!("{}:{code}", app::account::urlencode(n)))
        })
        .take(100)
        .collect();
    Redirect::to(&format!(
        "/service/concours/{exam}?{list}&lot={}&faits={done}&refus={}",
        action.code(),
        refused.join(",")
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct FileQuery {
    telecharger: Option<String>,
}

/// Any dossier's file, shown in the page or downloaded; recorded in its dossier's log.
async fn file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
    // Put there by the gate, which every staff address passes.
    Extension(member): Extension<Staff>,
) -> Response {
    let (dossier_id, attachment) = match attachments::for_staff(&state.db, &id).await {
        Ok(found) => found,
        Err(attachments::AttachmentError::NotFound) => {
            return StatusCode::NOT_FOUND.into_response();
        }
        Err(e) => return failed(e),
    };
    let download = query.telecharger.is_some();
    let action = if download {
        "fichier téléchargé"
    } else {
        "fichier consulté"
    };
    if let Err(e) = staff::audit(
        state.db.pool(),
        &*state.clock,
        &member,
        Some(&dossier_id),
        action,
        &attachment.name,
    )
    .await
    {
        // Not served unless recorded.
        return failed(e);
    }
    files::file_response(&state, &attachment, download).await
}

/// A dossier's files as ZIP entries (name, storage key), under `folder`, named by
/// pièce in the exam's order (`pieces`: those the dossier is asked for); a name used
/// twice gets « (2) ».
fn zip_entries(
    dossier: &services::dossiers::Dossier,
    pieces: &[domain::exam::PieceSpec],
    mut files: Vec<attachments::Attachment>,
    folder: &str,
) -> Vec<Zipped> {
    // An infected file's bytes are gone.
    files.retain(|a| a.scan.counts());
    let mut entries: Vec<Zipped> = Vec::new();
    for piece in pieces {
        for a in files.iter().filter(|a| a.piece_code == piece.code) {
            let mut name = format!("{folder}{}", entry_name(&piece.label, &a.name, a.kind));
            let mut n = 2;
            while entries.iter().any(|e| e.file.entry == name) {
                name = format!(
                    "{folder}{}",
                    entry_name(&piece.label, &format!("({n}) {}", a.name), a.kind)
                );
                n += 1;
            }
            entries.push(Zipped {
                key: a.storage_key.clone(),
                file: ZippedFile {
                    number: dossier.number.to_string(),
                    piece: piece.label.clone(),
                    entry: name,
                    size: a.size,
                    sha256: a.sha256.clone(),
                    deposited_at: a.created_at,
                },
            });
        }
    }
    entries
}

/// One dossier's files as a ZIP.
async fn dossier_zip(
    State(state): State<AppState>,
    Path(number): Path<String>,
    // Put there by the gate, which every staff address passes.
    Extension(member): Extension<Staff>,
) -> Response {
    let d = match instruction::dossier(&state.db, &*state.clock, &number).await {
        Ok(Some((dossier, _))) => dossier,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return failed(e),
    };
    let read = async {
        let pieces = attachments::requested_pieces(&state.db, &d).await?;
        let files = attachments::list(&state.db, &d.id).await?;
        Ok::<_, attachments::AttachmentError>(zip_entries(&d, &pieces, files, ""))
    };
    let entries = match read.await {
        Ok(e) => e,
        Err(e) => return failed(e),
    };
    let detail = format!("{} fichier(s)", entries.len());
    if let Err(e) = staff::audit(
        state.db.pool(),
        &*state.clock,
        &member,
        Some(&d.id),
        "dossier téléchargé (ZIP)",
        &detail,
    )
    .await
    {
        return failed(e);
    }
    download(
        archive::zip_body(
            &state.storage,
            stored(&entries),
            Vec::new(),
            state.clock.now().as_millisecond(),
            format!("dossier {}", d.number),
        ),
        "application/zip",
        &format!("dossier-{}.zip", d.number),
    )
}

/// Every dossier of an exam that its candidate closed (in instruction or decided), one
/// folder each (« n° NOM Prénom/ »), in one ZIP; each dossier's log records it.
async fn exam_zip(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    Extension(member): Extension<Staff>,
) -> Response {
    use domain::instruction::DossierState;
    let closed: Vec<instruction::Entry> = match instruction::entries(
        &state.db,
        &*state.clock,
        &exam,
        &instruction::Criteria::default(),
    )
    .await
    {
        Ok(entries) => entries
            .into_iter()
            .filter(|e| {
                matches!(
                    e.state,
                    DossierState::Closed | DossierState::Accepted | DossierState::Rejected
                )
            })
            .collect(),
        Err(InstructionError::UnknownExam) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return failed(e),
    };
    let audited: Result<(), staff::StaffError> = async {
        let mut tx = state
            .db
            .pool()
            .begin()
            .await
            .map_err(services::DbError::from)?;
        for entry in &closed {
            staff::audit(
                &mut *tx,
                &*state.clock,
                &member,
                Some(&entry.id),
                "dossier téléchargé (ZIP de l'examen)",
                &exam,
            )
            .await?;
        }
        let detail = format!("{exam} : {} dossier(s)", closed.len());
        staff::audit(
            &mut *tx,
            &*state.clock,
            &member,
            None,
            "dossiers clôturés téléchargés (ZIP)",
            &detail,
        )
        .await?;
        tx.commit().await.map_err(services::DbError::from)?;
        Ok(())
    }
    .await;
    if let Err(e) = audited {
        return failed(e);
    }
    let decisions = match export::decisions(&state.db, &exam).await {
        Ok(d) => d,
        Err(e) => return failed(e),
    };
    let pieces = match services::catalogue::pieces(&state.db, &exam).await {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let summary = Exported {
        exam: exam.clone(),
        entries: closed,
        columns: Column::ALL.to_vec(),
        decisions,
    };
    // Listed a chunk of dossiers at a time as the archive is written, each chunk's
    // dossiers and files added to the summary, which goes last, once complete.
    let (items, received) = tokio::sync::mpsc::channel(256);
    let db = state.db.clone();
    let scratch = scratch_dir(&state);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let send = |item| items.blocking_send(item).is_ok();
        let listed: Result<(), String> = (|| {
            let table = summary.table();
            let mut book = export::XlsxStream::new(&table, true, scratch.as_deref())
                .map_err(|e| e.to_string())?;
            for chunk in summary.entries.chunks(EXPORT_CHUNK) {
                let lines = runtime
                    .block_on(instruction::lines(&db, &summary.exam, chunk))
                    .map_err(|e| e.to_string())?;
                let ids: Vec<&str> = lines.iter().map(|l| l.dossier.id.as_str()).collect();
                let mut files = runtime
                    .block_on(attachments::of_dossiers(&db, &ids))
                    .map_err(|e| e.to_string())?;
                book.push(&lines, &table).map_err(|e| e.to_string())?;
                for line in &lines {
                    let d = &line.dossier;
                    let folder = format!(
                        "{}/",
                        clean(&format!("{} {}", d.number, d.registration.display_name()))
                    );
                    let requested = attachments::requested_among(&pieces, d);
                    let zipped = zip_entries(
                        d,
                        &requested,
                        files.remove(&d.id).unwrap_or_default(),
                        &folder,
                    );
                    let listed: Vec<ZippedFile> = zipped.iter().map(|z| z.file.clone()).collect();
                    book.push_files(&listed).map_err(|e| e.to_string())?;
                    for entry in stored(&zipped) {
                        if !send(Ok(archive::Item::Stored(entry))) {
                            // The download was dropped: nothing more to list.
                            return Ok(());
                        }
                    }
                }
            }
            let file = saved(book, scratch.as_deref())?;
            send(Ok(archive::Item::MadeFile(
                archive::SUMMARY.to_string(),
                file,
            )));
            Ok(())
        })();
        if let Err(error) = listed {
            send(Err(error));
        }
    });
    download(
        archive::zip_stream(
            &state.storage,
            tokio_stream_of(received),
            state.clock.now().as_millisecond(),
            format!("examen {exam}"),
        ),
        "application/zip",
        &format!("dossiers-clotures-{exam}.zip"),
    )
}

/// The items a blocking task sends, as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut received: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| received.poll_recv(cx))
}

/// Where an export's temporary files go: the store's spool or folder, on disk.
fn scratch_dir(state: &AppState) -> Option<std::path::PathBuf> {
    state
        .storage
        .scratch_dir()
        .map(std::path::Path::to_path_buf)
}

/// The workbook in a temporary file, read from its start.
fn saved(
    book: export::XlsxStream,
    scratch: Option<&std::path::Path>,
) -> Result<std::fs::File, String> {
    let mut file = temporary_file(scratch).map_err(|e| e.to_string())?;
    book.finish(&mut file).map_err(|e| e.to_string())?;
    std::io::Seek::rewind(&mut file).map_err(|e| e.to_string())?;
    Ok(file)
}

/// A temporary file in `dir` (or the system's temporary folder), gone once closed.
fn temporary_file(dir: Option<&std::path::Path>) -> std::io::Result<std::fs::File> {
    match dir {
        Some(dir) => tempfile::tempfile_in(dir),
        None => tempfile::tempfile(),
    }
}

/// Dossiers read whole at a time in an export: its memory is this many dossiers, not
/// the exam's.
const EXPORT_CHUNK: usize = 500;

/// An export's workbook, its dossiers read a chunk at a time and each row written to a
/// temporary file on disk (`export::XlsxStream`), on the blocking pool: thousands of
/// rows are CPU work no request's async worker should wait on. The workbook itself is
/// a temporary file too, read from its start.
async fn workbook(state: &AppState, exported: Exported) -> Result<std::fs::File, String> {
    let db = state.db.clone();
    let scratch = scratch_dir(state);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let table = exported.table();
        let mut book = export::XlsxStream::new(&table, false, scratch.as_deref())
            .map_err(|e| e.to_string())?;
        for chunk in exported.entries.chunks(EXPORT_CHUNK) {
            let lines = runtime
                .block_on(instruction::lines(&db, &exported.exam, chunk))
                .map_err(|e| e.to_string())?;
            book.push(&lines, &table).map_err(|e| e.to_string())?;
        }
        saved(book, scratch.as_deref())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A file to save, under this name, kept out of any shared cache.
fn download(body: impl IntoResponse, content_type: &'static str, name: &str) -> Response {
    files::private_file(body, content_type, "attachment", name)
}

/// An export: the dossiers (read whole a chunk at a time), its columns, and the
/// decisions they may show.
struct Exported {
    exam: String,
    entries: Vec<instruction::Entry>,
    columns: Vec<Column>,
    decisions: std::collections::HashMap<String, export::Decided>,
}

impl Exported {
    fn table(&self) -> export::Table<'_> {
        export::Table {
            columns: &self.columns,
            decisions: &self.decisions,
        }
    }
}

/// The columns an export's address asks for: a saved model (`modele`), the columns
/// ticked and ranked on the export page (`c`, `rang-CODE`), a list (`colonnes`), or all.
async fn columns_asked(state: &AppState, query: &str) -> Result<Vec<Column>, Response> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if let Some(id) = value("modele") {
        return match export::models::by_id(&state.db, id).await {
            Ok(Some(model)) => Ok(model.columns),
            Ok(None) => Err(StatusCode::NOT_FOUND.into_response()),
            Err(e) => Err(failed(e)),
        };
    }
    if let Some(codes) = value("colonnes") {
        return Ok(export::models::parse_codes(codes));
    }
    let mut ticked: Vec<(u32, usize, Column)> = pairs
        .iter()
        .filter(|(k, _)| k == "c")
        .filter_map(|(_, code)| Column::from_code(code))
        .map(|column| {
            let rank = value(&format!("rang-{}", column.code()))
                .and_then(|r| r.trim().parse().ok())
                .unwrap_or(u32::MAX);
            let order = Column::ALL.iter().position(|c| *c == column).unwrap_or(0);
            (rank, order, column)
        })
        .collect();
    if ticked.is_empty() {
        return Ok(Column::ALL.to_vec());
    }
    ticked.sort_by_key(|(rank, order, _)| (*rank, *order));
    ticked.dedup_by_key(|(_, _, c)| *c);
    Ok(ticked.into_iter().map(|(_, _, c)| c).collect())
}

/// An exam's dossiers as searched and filtered on its page, in the columns asked, the
/// export audited first.
async fn exported(
    state: &AppState,
    exam: &str,
    query: Option<&str>,
    member: &Staff,
    what: &str,
) -> Result<Exported, Response> {
    let list = app::staff::ListQuery::parse(query.unwrap_or(""));
    let entries = match list.entries(state, exam, Some(member)).await {
        Ok(entries) => entries,
        Err(InstructionError::UnknownExam) => return Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => return Err(failed(e)),
    };
    let columns = columns_asked(state, query.unwrap_or("")).await?;
    let decisions = export::decisions(&state.db, exam).await.map_err(failed)?;
    staff::audit(
        state.db.pool(),
        &*state.clock,
        member,
        None,
        what,
        &format!("{exam} : {} dossier(s)", entries.len()),
    )
    .await
    .map_err(failed)?;
    Ok(Exported {
        exam: exam.to_string(),
        entries,
        columns,
        decisions,
    })
}

/// The list for a spreadsheet, as CSV.
async fn csv_export(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    RawQuery(query): RawQuery,
    // Put there by the gate, which every staff address passes.
    Extension(member): Extension<Staff>,
) -> Response {
    use futures_util::StreamExt;
    let exported = match exported(&state, &exam, query.as_deref(), &member, "export CSV").await {
        Ok(exported) => std::sync::Arc::new(exported),
        Err(response) => return response,
    };
    // Sent as written, a chunk of dossiers at a time: the memory of a chunk, whatever
    // the exam's size. A failure halfway cuts the download (logged), never a wrong file.
    let header = bytes::Bytes::from(export::csv_header(&exported.table()));
    let chunks = (0..exported.entries.len()).step_by(EXPORT_CHUNK);
    let rows = futures_util::stream::iter(chunks).then(move |from| {
        let (db, exported) = (state.db.clone(), exported.clone());
        async move {
            let to = (from + EXPORT_CHUNK).min(exported.entries.len());
            let lines = instruction::lines(&db, &exported.exam, &exported.entries[from..to])
                .await
                .map_err(|error| {
                    tracing::error!(%error, "CSV export cut");
                    std::io::Error::other(error.to_string())
                })?;
            Ok::<_, std::io::Error>(bytes::Bytes::from(export::csv_rows(
                &lines,
                &exported.table(),
            )))
        }
    });
    let body = futures_util::stream::once(async { Ok(header) }).chain(rows);
    download(
        axum::body::Body::from_stream(body),
        "text/csv; charset=utf-8",
        &format!("dossiers-{exam}.csv"),
    )
}

/// The list for a spreadsheet, as XLSX with typed columns.
async fn xlsx_export(
    State(state): State<AppState>,
    Path(exam): Path<String>,
    RawQuery(query): RawQuery,
    Extension(member): Extension<Staff>,
) -> Response {
    let exported = match exported(&state, &exam, query.as_deref(), &member, "export XLSX").await {
        Ok(exported) => exported,
        Err(response) => return response,
    };
    match workbook(&state, exported).await {
        Ok(file) => download(
            axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
                tokio::fs::File::from_std(file),
            )),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &format!("dossiers-{exam}.xlsx"),
        ),
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_paths_are_recognised_and_nothing_else() {
        for p in [
            "/service",
            "/service/",
            "/service/dossiers/x",
            "/api/service/connexion",
        ] {
            assert!(is_staff_path(p), "{p}");
        }
        for p in [
            "/",
            "/services",
            "/espace",
            "/api/espace/connexion",
            "/servicex/a",
        ] {
            assert!(!is_staff_path(p), "{p}");
        }
    }

    #[test]
    fn zip_entry_names_cannot_escape_or_hide() {
        use domain::FileKind::{Jpeg, Pdf};
        use services::dossiers::export::entry_name;
        assert_eq!(
            entry_name("Copie du diplôme", "licence.pdf", Pdf),
            "Copie du diplôme - licence.pdf"
        );
        assert_eq!(
            entry_name("a/b", "../../etc/passwd", Pdf),
            "a-b - passwd.pdf"
        );
        assert_eq!(entry_name(".cache", "x", Jpeg), "cache - x.jpg");
        // Rows stored before names were forced to their kind.
        assert_eq!(
            entry_name("Diplôme", "scan.pdf.bat", Pdf),
            "Diplôme - scan.pdf"
        );
        assert_eq!(
            entry_name("Diplôme", "diplome\u{202E}fdp.hta", Pdf),
            "Diplôme - diplomefdp.pdf"
        );
    }
}
