//! Uploads to a remote store: spooled to local disk as they arrive, then sent in parts
//! of `part_size` (5 MiB on S3), a few at once site-wide.

use std::{
    io,
    path::{Path as FsPath, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, path::Path};

use super::{Failure, abandon};

/// What a spooled upload gathers before a write to its spool file: its one buffer.
const SPOOL_BUFFER: usize = 64 * 1024;

/// A spool file and the bytes gathered for its next write. One buffer per upload,
/// handed to a blocking thread and back: tokio's file would copy each write into a
/// buffer of its own and keep it, doubling what every upload in flight holds.
pub(super) struct Spooled {
    file: Arc<std::fs::File>,
    path: PathBuf,
    /// Bytes already in the file: each write is positioned, so a write cut off by a
    /// dropped request can never shift the next.
    written: u64,
    gathered: Vec<u8>,
}

impl Spooled {
    pub(super) fn new(file: std::fs::File, path: PathBuf) -> Self {
        Self {
            file: Arc::new(file),
            path,
            written: 0,
            gathered: Vec::new(),
        }
    }

    pub(super) fn path(&self) -> &FsPath {
        &self.path
    }

    pub(super) async fn write(&mut self, mut chunk: &[u8]) -> io::Result<()> {
        while !chunk.is_empty() {
            if self.gathered.capacity() == 0 {
                self.gathered.reserve_exact(SPOOL_BUFFER);
            }
            let room = SPOOL_BUFFER - self.gathered.len();
            let (now, rest) = chunk.split_at(room.min(chunk.len()));
            self.gathered.extend_from_slice(now);
            chunk = rest;
            if self.gathered.len() == SPOOL_BUFFER {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Writes what was gathered on a blocking thread, and keeps the buffer for the next.
    async fn flush(&mut self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.gathered.is_empty() {
            return Ok(());
        }
        let gathered = std::mem::take(&mut self.gathered);
        let (file, at) = (self.file.clone(), self.written);
        let mut gathered = tokio::task::spawn_blocking(move || {
            file.write_all_at(&gathered, at).map(|()| gathered)
        })
        .await
        .map_err(io::Error::other)??;
        self.written += gathered.len() as u64;
        gathered.clear();
        self.gathered = gathered;
        Ok(())
    }

    /// The last bytes written, then the file sent to the store a part at a time.
    pub(super) async fn send(
        &mut self,
        store: &dyn ObjectStore,
        location: &Path,
        part_size: usize,
    ) -> Result<(), Failure> {
        self.flush().await.map_err(Failure::Spool)?;
        // Nothing held while waiting for a part's permit: the file is read back by
        // positioned reads straight into each part.
        self.gathered = Vec::new();
        send_spooled(store, location, part_size, self.file.clone()).await
    }
}

/// Parts being sent to a remote store at once, site-wide: 2 per core.
fn part_sends() -> Arc<tokio::sync::Semaphore> {
    static SENDS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    SENDS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(2 * cores))
        })
        .clone()
}

async fn send_part(
    store: &dyn ObjectStore,
    location: &Path,
    upload: &mut Option<Box<dyn MultipartUpload>>,
    part: Bytes,
) -> object_store::Result<()> {
    if upload.is_none() {
        *upload = Some(store.put_multipart(location).await?);
    }
    upload
        .as_mut()
        .expect("started above")
        .put_part(part.into())
        .await
}

/// The last bytes, then the file made visible: one put when it never filled a part.
async fn finish(
    store: &dyn ObjectStore,
    location: &Path,
    upload: &mut Option<Box<dyn MultipartUpload>>,
    rest: Bytes,
) -> Result<(), Failure> {
    if upload.is_none() {
        store.put(location, rest.into()).await?;
        return Ok(());
    }
    if !rest.is_empty() {
        send_part(store, location, upload, rest).await?;
    }
    let mut started = upload.take().expect("started");
    if let Err(error) = started.complete().await {
        abandon(started);
        return Err(error.into());
    }
    Ok(())
}

/// A spooled file to the store, a part at a time, each part under a site-wide permit.
async fn send_spooled(
    store: &dyn ObjectStore,
    location: &Path,
    part_size: usize,
    file: Arc<std::fs::File>,
) -> Result<(), Failure> {
    let mut upload = None;
    let mut offset = 0u64;
    loop {
        let permit = part_sends().acquire_owned().await.expect("never closed");
        let spooled = file.clone();
        let part = tokio::task::spawn_blocking(move || read_part(&spooled, offset, part_size))
            .await
            .map_err(|e| Failure::Spool(io::Error::other(e)))?
            .map_err(Failure::Spool)?;
        offset += part.len() as u64;
        if part.len() < part_size {
            // The last bytes.
            let sent = finish(store, location, &mut upload, part.into()).await;
            drop(permit);
            if let Some(started) = upload.take() {
                abandon(started);
            }
            return sent;
        }
        let sent = send_part(store, location, &mut upload, part.into()).await;
        drop(permit);
        if let Err(error) = sent {
            if let Some(started) = upload.take() {
                abandon(started);
            }
            return Err(error.into());
        }
    }
}

/// Up to `len` bytes of `file` from `offset`: fewer only at its end.
fn read_part(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut part = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut part[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    part.truncate(filled);
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks of every size around the buffer's: the spool file holds the bytes in
    /// order, whole, and the buffer is given back once the file is sent.
    #[tokio::test]
    async fn the_spool_file_holds_every_byte_in_order() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("spooled");
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut spooled = Spooled::new(file, path.clone());
        let sizes = [
            1,
            SPOOL_BUFFER - 1,
            1,
            SPOOL_BUFFER + 1,
            3 * SPOOL_BUFFER + 7,
            0,
            5,
        ];
        let mut expected = Vec::new();
        for (n, size) in sizes.into_iter().enumerate() {
            let chunk: Vec<u8> = (0..size).map(|i| (i * 7 + n) as u8).collect();
            spooled.write(&chunk).await.unwrap();
            expected.extend_from_slice(&chunk);
            assert!(spooled.gathered.capacity() <= SPOOL_BUFFER);
        }
        spooled.flush().await.unwrap();
        assert_eq!(spooled.written, expected.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        let store = object_store::memory::InMemory::new();
        let location = Path::from("files/spooled");
        assert!(spooled.send(&store, &location, 100_000).await.is_ok());
        assert_eq!(spooled.gathered.capacity(), 0);
        let sent = store.get(&location).await.unwrap().bytes().await.unwrap();
        assert_eq!(sent.as_ref(), expected.as_slice());
    }
}
