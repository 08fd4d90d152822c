//! ZIP archives streamed as they are written: a dossier's or an exam's files for staff
//! (`staff`), everything held on a candidate for the candidate (`files`, « Mes
//! données »).

use async_zip::{
    Compression, ZipDateTime, ZipDateTimeBuilder, ZipEntryBuilder, tokio::write::ZipFileWriter,
};
use axum::body::Body;
use services::files::storage::{Entry, Storage};
use tokio_util::{compat::FuturesAsyncWriteCompatExt, io::ReaderStream};

/// The summary workbook at the root of an exam's ZIP.
pub const SUMMARY: &str = "synthese.xlsx";

/// An instant as a ZIP entry's date: Paris time, as the service reads it (a ZIP date
/// has no zone).
fn zip_date(at_ms: i64) -> ZipDateTime {
    let z = jiff::Timestamp::from_millisecond(at_ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(domain::paris::zone());
    ZipDateTimeBuilder::new()
        .year(z.year().into())
        .month(z.month() as u32)
        .day(z.day() as u32)
        .hour(z.hour() as u32)
        .minute(z.minute() as u32)
        .second(z.second() as u32)
        .build()
}

/// A ZIP of `made` (a name and its bytes, made for this archive now), then of these
/// stored files, each dated when it was deposited, streamed as it is written
/// (stored, not compressed: PDFs and JPEGs are compressed already), through a small
/// pipe: memory does not grow with the archive.
pub fn zip_body(
    storage: &Storage,
    stored: Vec<Entry>,
    made: Vec<(String, Vec<u8>)>,
    now_ms: i64,
    what: String,
) -> Body {
    let now = zip_date(now_ms);
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let storage = storage.clone();
    tokio::spawn(async move {
        let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = async {
            let mut zip = ZipFileWriter::with_tokio(writer);
            for (name, bytes) in made {
                let entry = ZipEntryBuilder::new(name.into(), Compression::Stored)
                    .last_modification_date(now);
                zip.write_entry_whole(entry, &bytes).await?;
            }
            for Entry { name, key, at_ms } in stored {
                let entry = ZipEntryBuilder::new(name.into(), Compression::Stored)
                    .last_modification_date(zip_date(at_ms));
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
