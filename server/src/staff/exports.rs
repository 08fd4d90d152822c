//! The service concours' downloads of many dossiers at once: a dossier's or an exam's
//! files as a ZIP (the exam's with its summary workbook, written last), and the list as
//! CSV or XLSX, each read 500 dossiers at a time and audited before it is served.

use app::state::AppState;
use axum::{
    Extension,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use services::{
    access::staff::{self, Staff},
    dossiers::export::{self, Column, ZippedFile, clean, entry_name},
    dossiers::instruction::{self, InstructionError},
    files::attachments,
};

use super::failed;
use crate::{archive, files};

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
pub(super) async fn dossier_zip(
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
pub(super) async fn exam_zip(
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
pub(super) async fn columns_asked(state: &AppState, query: &str) -> Result<Vec<Column>, Response> {
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
pub(super) async fn csv_export(
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
pub(super) async fn xlsx_export(
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
