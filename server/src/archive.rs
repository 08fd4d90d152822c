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

/// What an archive holds, in its order.
pub enum Item {
    /// Made for this archive now: a name and its bytes.
    Made(String, Vec<u8>),
    /// Made for this archive now, in a temporary file read from its start (an exam's
    /// summary: several MiB, never held in memory).
    MadeFile(String, std::fs::File),
    /// A stored file, dated when it was deposited.
    Stored(Entry),
}

/// A ZIP of `made` (a name and its bytes, made for this archive now), then of these
/// stored files.
pub fn zip_body(
    storage: &Storage,
    stored: Vec<Entry>,
    made: Vec<(String, Vec<u8>)>,
    now_ms: i64,
    what: String,
) -> Body {
    let items = made
        .into_iter()
        .map(|(name, bytes)| Item::Made(name, bytes))
        .chain(stored.into_iter().map(Item::Stored))
        .map(Ok);
    zip_stream(storage, futures_util::stream::iter(items), now_ms, what)
}

/// A ZIP of `items` as they come, streamed as it is written (stored, not compressed:
/// PDFs and JPEGs are compressed already), through a small pipe: memory does not grow
/// with the archive. An error from `items` ends the archive unfinished (logged).
pub fn zip_stream(
    storage: &Storage,
    items: impl futures_util::Stream<Item = Result<Item, String>> + Send + 'static,
    now_ms: i64,
    what: String,
) -> Body {
    use futures_util::StreamExt;
    let now = zip_date(now_ms);
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let storage = storage.clone();
    tokio::spawn(async move {
        let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = async {
            let mut zip = ZipFileWriter::with_tokio(writer);
            let mut items = std::pin::pin!(items);
            while let Some(item) = items.next().await {
                match item? {
                    Item::Made(name, bytes) => {
                        let entry = ZipEntryBuilder::new(name.into(), Compression::Stored)
                            .last_modification_date(now);
                        zip.write_entry_whole(entry, &bytes).await?;
                    }
                    Item::MadeFile(name, file) => {
                        let entry = ZipEntryBuilder::new(name.into(), Compression::Stored)
                            .last_modification_date(now);
                        let mut out = zip.write_entry_stream(entry).await?.compat_write();
                        let mut file = tokio::fs::File::from_std(file);
                        tokio::io::copy(&mut file, &mut out).await?;
                        out.into_inner().close().await?;
                    }
                    Item::Stored(Entry { name, key, at_ms }) => {
                        let entry = ZipEntryBuilder::new(name.into(), Compression::Stored)
                            .last_modification_date(zip_date(at_ms));
                        let mut out = zip.write_entry_stream(entry).await?.compat_write();
                        let mut file = tokio_util::io::StreamReader::new(storage.read(&key).await?);
                        tokio::io::copy(&mut file, &mut out).await?;
                        out.into_inner().close().await?;
                    }
                }
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
