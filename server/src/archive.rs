//! ZIP archives streamed as they are written: a dossier's or an exam's files for staff
//! (`staff`), everything held on a candidate for the candidate (`files`, « Mes
//! données »).

use async_zip::{Compression, ZipEntryBuilder, tokio::write::ZipFileWriter};
use axum::body::Body;
use services::files::storage::Storage;
use tokio_util::{compat::FuturesAsyncWriteCompatExt, io::ReaderStream};

/// The summary workbook at the root of an exam's ZIP.
pub const SUMMARY: &str = "synthese.xlsx";

/// A ZIP of `made` (a name and its bytes, made for this archive), then of these stored
/// files (a name in the archive and the file's storage key), streamed as it is written
/// (stored, not compressed: PDFs and JPEGs are compressed already), through a small
/// pipe: memory does not grow with the archive.
pub fn zip_body(
    storage: &Storage,
    stored: Vec<(String, String)>,
    made: Vec<(String, Vec<u8>)>,
    what: String,
) -> Body {
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let storage = storage.clone();
    tokio::spawn(async move {
        let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = async {
            let mut zip = ZipFileWriter::with_tokio(writer);
            for (name, bytes) in made {
                let entry = ZipEntryBuilder::new(name.into(), Compression::Stored);
                zip.write_entry_whole(entry, &bytes).await?;
            }
            for (name, key) in stored {
                let entry = ZipEntryBuilder::new(name.into(), Compression::Stored);
                let mut out = zip.write_entry_stream(entry).await?.compat_write();
                let mut file = tokio_util::io::StreamReader::new(storage.read(&key).await?);
                tokio::io::copy(&mut file, &mut out).await?;
                out.into_inner().close().await?;
            }
            zip.close().await?;
            Ok(())
        }
        .await;
        // The client sees a truncated archive, which no tool opens as complete.
        if let Err(error) = result {
            tracing::error!(%error, %what, "ZIP stream failed");
        }
    });
    Body::from_stream(ReaderStream::new(reader))
}
