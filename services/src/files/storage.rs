//! File storage on `object_store`: a local folder by default (`APP_STORAGE_DIR`), or an
//! S3-compatible bucket (`APP_STORAGE_URL=s3://BUCKET[/PREFIX]`) that several servers
//! share. Files live under `files/KEY` (random keys) and become visible only when
//! complete (a local staging file renamed, an S3 multipart upload completed), so a
//! stored file is always whole. Memory stays bounded whatever the files' sizes: two
//! parts (256 KiB) per upload into a folder, one written while the next fills; for S3, uploads are spooled to local disk as
//! they arrive and sent at the end in 5 MiB parts, a few at once site-wide. An upload
//! dropped before its commit is abandoned; what a killed server leaves (a staging or
//! spool file; on S3 an unfinished multipart upload, which the bucket's lifecycle rule
//! ends) never becomes a file, and a file without a database row is swept once it is
//! an hour old.

use std::{
    io,
    path::{Path as FsPath, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    ClientConfigKey, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    local::LocalFileSystem,
    path::Path,
};

/// A stored file's bytes, as they come out of the store.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// S3 refuses parts under 5 MiB (but the last); a local folder has no such rule.
const S3_PART: usize = 5 * 1024 * 1024;
const LOCAL_PART: usize = 256 * 1024;
/// A stored file as an archive holds it: its name there, where its bytes are, and when
/// it was deposited (ms), the entry's date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub key: String,
    pub at_ms: i64,
}

#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Where files go in the store: `PREFIX/files`.
    files: Path,
    /// Where the parts of resumable uploads wait: `PREFIX/tus/UPLOAD/PART`.
    parts: Path,
    /// The PDFs made for each dossier: `PREFIX/printouts/DOSSIER/NAME`.
    printouts: Path,
    health: Path,
    part_size: usize,
    /// The folder, for a local store: its staging files are swept by hand.
    local: Option<PathBuf>,
    /// For a remote store: where uploads are spooled before they are sent.
    spool: Option<PathBuf>,
    /// For logs and the health check: `s3://bucket/prefix` or the folder.
    pub description: String,
    /// Operations the store failed (a missing file is no failure), for `/metrics`.
    errors: Arc<AtomicU64>,
}

/// A file being written; dropped without [`PendingFile::commit`], it is abandoned.
pub struct PendingFile {
    store: Arc<dyn ObjectStore>,
    errors: Arc<AtomicU64>,
    location: Path,
    part_size: usize,
    sink: Sink,
    pub key: String,
}

enum Sink {
    /// A local folder: parts into the store's staging file as they fill, one written
    /// while the next fills (reading the body and writing the disk overlap).
    Direct(Option<WriteMultipart>),
    /// A remote store: the bytes go to a spool file as they arrive, and to the store
    /// at the commit, a part at a time: memory stays at the parts being sent (bounded
    /// site-wide), not one part per upload being read.
    Spool(Spooled),
}

/// See [`Storage::sweep_unfinished`].
const SPOOL_AGE: Duration = Duration::from_secs(3600);

/// The store's own error, as an I/O error of the right kind (a missing file is
/// `NotFound`, so callers tell it from a store that does not answer).
fn io_error(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error),
        other => io::Error::other(other),
    }
}

/// [`io_error`], counting the failures that are the store's.
fn counted(errors: &AtomicU64) -> impl Fn(object_store::Error) -> io::Error + '_ {
    move |error| {
        let error = io_error(error);
        if error.kind() != io::ErrorKind::NotFound {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        error
    }
}

mod printouts;
mod spool;

use spool::Spooled;

impl Storage {
    /// A local folder (created if missing).
    pub async fn open(root: &FsPath) -> io::Result<Self> {
        // A folder that cannot be made (a failed mount) does not stop the server: its
        // health check and every upload say so until it is back.
        if let Err(error) = tokio::fs::create_dir_all(root).await {
            tracing::error!(%error, folder = %root.display(), "file store folder unusable");
        }
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(io_error)?
            // A file the receipt names must survive a power cut once its row is written.
            .with_fsync(true)
            .with_automatic_cleanup(false);
        Ok(Self::with_store(
            Arc::new(store),
            Path::default(),
            LOCAL_PART,
            Some(root.to_path_buf()),
            root.display().to_string(),
        ))
    }

    /// `s3://BUCKET[/PREFIX]` with the standard `AWS_*` variables (endpoint, keys,
    /// region, `AWS_ALLOW_HTTP`), its uploads spooled in the folder `spool` (on disk:
    /// not `/tmp`, which may be memory); or else a local folder's path.
    pub async fn from_url(url: &str, spool: &FsPath) -> io::Result<Self> {
        Self::from_url_at(url, spool, None).await
    }

    /// The same, with another S3 endpoint than `AWS_ENDPOINT_URL` (tests reach one
    /// where nothing answers).
    pub async fn from_url_at(
        url: &str,
        spool: &FsPath,
        endpoint: Option<&str>,
    ) -> io::Result<Self> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Self::open(FsPath::new(url.strip_prefix("file://").unwrap_or(url))).await;
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(io::Error::other(format!("no bucket in {url}")));
        }
        let mut builder = AmazonS3Builder::from_env();
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let store = builder
            .with_bucket_name(bucket)
            // A store that does not answer must fail an upload in seconds, not minutes:
            // the candidate is told to try again, and nothing is half-saved.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            })
            // Set key by key: replacing the client options would drop AWS_ALLOW_HTTP.
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "3 seconds",
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                "60 seconds",
            )
            .build()
            .map_err(io_error)?;
        tokio::fs::create_dir_all(spool).await?;
        let mut storage = Self::with_store(
            Arc::new(store),
            Path::from(prefix),
            S3_PART,
            None,
            url.to_string(),
        );
        storage.spool = Some(spool.to_path_buf());
        Ok(storage)
    }

    fn with_store(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
        part_size: usize,
        local: Option<PathBuf>,
        description: String,
    ) -> Self {
        Self {
            store,
            files: prefix.clone().join("files"),
            parts: prefix.clone().join("tus"),
            printouts: prefix.clone().join("printouts"),
            health: prefix.join("health"),
            part_size,
            local,
            spool: None,
            description,
            errors: Arc::default(),
        }
    }

    /// A folder on disk for a request's temporary files (an export's rows): the spool
    /// of a remote store, or the local store's folder.
    pub fn scratch_dir(&self) -> Option<&FsPath> {
        self.spool.as_deref().or(self.local.as_deref())
    }

    /// Operations the store failed since the start.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    fn location(&self, key: &str) -> io::Result<Path> {
        Ok(self.files.clone().join(checked(key)?))
    }

    /// A part of the resumable upload `upload`.
    fn part_location(&self, upload: &str, key: &str) -> io::Result<Path> {
        Ok(self
            .parts
            .clone()
            .join(checked(upload)?)
            .join(checked(key)?))
    }

    /// Whether the store takes a file now: a small probe written, then removed. For the
    /// health check, so a server whose disk, mount or bucket failed leaves the load
    /// balancer.
    pub async fn check(&self) -> io::Result<()> {
        let probe = self
            .health
            .clone()
            .join(uuid::Uuid::new_v4().to_string().as_str());
        self.store
            .put(&probe, PutPayload::from_static(b"ok"))
            .await
            .map_err(counted(&self.errors))?;
        self.store
            .delete(&probe)
            .await
            .map_err(counted(&self.errors))
    }

    pub async fn create(&self) -> io::Result<PendingFile> {
        let key = uuid::Uuid::new_v4().to_string();
        let location = self.location(&key)?;
        self.create_at(location, key).await
    }

    /// A new part of the resumable upload `upload`, written and committed as a file is.
    pub async fn create_part(&self, upload: &str) -> io::Result<PendingFile> {
        let key = uuid::Uuid::new_v4().to_string();
        let location = self.part_location(upload, &key)?;
        self.create_at(location, key).await
    }

    async fn create_at(&self, location: Path, key: String) -> io::Result<PendingFile> {
        let sink = match &self.spool {
            Some(spool) => {
                let path = spool.join(&key);
                // Written, then read back to be sent.
                let file = tokio::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await?
                    .into_std()
                    .await;
                Sink::Spool(Spooled::new(file, path))
            }
            None => {
                let upload = self
                    .store
                    .put_multipart(&location)
                    .await
                    .map_err(counted(&self.errors))?;
                Sink::Direct(Some(WriteMultipart::new_with_chunk_size(
                    upload,
                    self.part_size,
                )))
            }
        };
        Ok(PendingFile {
            store: self.store.clone(),
            errors: self.errors.clone(),
            location,
            part_size: self.part_size,
            sink,
            key,
        })
    }

    /// A stored file's bytes as a stream; `NotFound` when there is none.
    pub async fn read(&self, key: &str) -> io::Result<ByteStream> {
        self.read_at(&self.location(key)?).await
    }

    /// A part's bytes as a stream.
    pub async fn read_part(&self, upload: &str, key: &str) -> io::Result<ByteStream> {
        self.read_at(&self.part_location(upload, key)?).await
    }

    /// Removes a part (already gone is no error).
    pub async fn delete_part(&self, upload: &str, key: &str) -> io::Result<()> {
        self.delete_at(&self.part_location(upload, key)?).await
    }

    /// Every part in the store: (upload, part, age in seconds).
    pub async fn list_parts(&self) -> io::Result<Vec<(String, String, u64)>> {
        let now = std::time::SystemTime::now();
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&self.parts));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(counted(&self.errors))?;
            let mut names = meta
                .location
                .prefix_match(&self.parts)
                .into_iter()
                .flatten();
            let (Some(upload), Some(key)) = (names.next(), names.next()) else {
                continue;
            };
            let modified = std::time::SystemTime::from(meta.last_modified);
            let age = now.duration_since(modified).map_or(0, |d| d.as_secs());
            out.push((upload.as_ref().to_string(), key.as_ref().to_string(), age));
        }
        Ok(out)
    }

    async fn read_at(&self, location: &Path) -> io::Result<ByteStream> {
        let found = self
            .store
            .get(location)
            .await
            .map_err(counted(&self.errors))?;
        let errors = self.errors.clone();
        Ok(found
            .into_stream()
            .map_err(move |e| counted(&errors)(e))
            .boxed())
    }

    /// A whole stored file in memory: for tests and small checks, never to serve one.
    pub async fn read_all(&self, key: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = self.read(key).await?;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    pub async fn delete(&self, key: &str) -> io::Result<()> {
        self.delete_at(&self.location(key)?).await
    }

    async fn delete_at(&self, location: &Path) -> io::Result<()> {
        match self.store.delete(location).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other.map_err(counted(&self.errors)),
        }
    }

    pub async fn exists(&self, key: &str) -> bool {
        match self.location(key) {
            Ok(location) => self.store.head(&location).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Every stored key with its age in seconds.
    pub async fn list(&self) -> io::Result<Vec<(String, u64)>> {
        let now = std::time::SystemTime::now();
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&self.files));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(counted(&self.errors))?;
            let Some(key) = meta.location.filename() else {
                continue;
            };
            let modified = std::time::SystemTime::from(meta.last_modified);
            let age = now.duration_since(modified).map_or(0, |d| d.as_secs());
            out.push((key.to_string(), age));
        }
        Ok(out)
    }

    /// Removes unfinished writes older than `age`: a server killed during an upload
    /// leaves the local store's staging file (`KEY#n`, never listed as a file), or its
    /// spool file; and the `incoming/` folder of earlier versions. Returns how many
    /// went.
    /// On S3 an unfinished multipart upload is no object: the bucket's lifecycle rule
    /// (`AbortIncompleteMultipartUpload`) ends it.
    pub async fn sweep_unfinished(&self, age: Duration) -> io::Result<usize> {
        // (folder, only its staging files)
        let folders = match (&self.local, &self.spool) {
            (Some(root), _) => {
                let mut folders = vec![(root.join("files"), true), (root.join("incoming"), false)];
                // Each resumable upload's parts have a folder: its staging files too.
                folders.extend(
                    subfolders(&root.join("tus"))
                        .await?
                        .into_iter()
                        .map(|f| (f, true)),
                );
                folders
            }
            // The spool folder may be shared by several servers (one data folder): a
            // file there is written without a pause of 30 s (the upload is cut
            // otherwise), so only one untouched for an hour is a dead server's.
            (None, Some(spool)) if age >= SPOOL_AGE => vec![(spool.clone(), false)],
            _ => Vec::new(),
        };
        let mut removed = 0;
        for (folder, staged_only) in folders {
            let mut dir = match tokio::fs::read_dir(&folder).await {
                Ok(dir) => dir,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            while let Some(entry) = dir.next_entry().await? {
                let name = entry.file_name().to_string_lossy().into_owned();
                if staged_only && !name.contains('#') {
                    continue;
                }
                let old = entry
                    .metadata()
                    .await?
                    .modified()?
                    .elapsed()
                    .is_ok_and(|d| d > age);
                if old {
                    tokio::fs::remove_file(entry.path()).await?;
                    removed += 1;
                }
            }
            // An upload's folder left empty (finished or abandoned) goes too; one that
            // still holds a part stays.
            let idle = async {
                let modified = tokio::fs::metadata(&folder).await?.modified()?;
                Ok::<_, io::Error>(modified.elapsed().is_ok_and(|d| d > age))
            };
            if folder.parent().is_some_and(|p| p.ends_with("tus")) && idle.await.unwrap_or(false) {
                let _ = tokio::fs::remove_dir(&folder).await;
            }
        }
        Ok(removed)
    }
}

/// The folders inside `folder` (none when it does not exist).
async fn subfolders(folder: &FsPath) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dir = match tokio::fs::read_dir(folder).await {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    while let Some(entry) = dir.next_entry().await? {
        if entry.file_type().await?.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

impl PendingFile {
    /// Appends bytes. Local: a part goes to the store as soon as it is full, and the
    /// next bytes wait only while an earlier part is still being written; the chunk
    /// itself joins the part, not a copy. Remote: to the spool file.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        match &mut self.sink {
            Sink::Spool(spooled) => spooled.write(&chunk).await,
            Sink::Direct(writer) => {
                let writer = writer.as_mut().ok_or_else(committed)?;
                // Fewer than two parts in flight, then the new bytes.
                writer
                    .wait_for_capacity(2)
                    .await
                    .map_err(counted(&self.errors))?;
                writer.put(chunk);
                Ok(())
            }
        }
    }

    /// Makes the file durable and visible under its key.
    pub async fn commit(mut self) -> io::Result<String> {
        let done = match &mut self.sink {
            Sink::Direct(writer) => {
                let writer = writer.take().ok_or_else(committed)?;
                writer.finish().await.map(drop).map_err(Failure::Store)
            }
            Sink::Spool(spooled) => {
                spooled
                    .send(&*self.store, &self.location, self.part_size)
                    .await
            }
        };
        done.map_err(|e| match e {
            Failure::Store(e) => counted(&self.errors)(e),
            Failure::Spool(e) => e,
        })?;
        Ok(std::mem::take(&mut self.key))
    }
}

enum Failure {
    Store(object_store::Error),
    Spool(io::Error),
}

impl From<object_store::Error> for Failure {
    fn from(e: object_store::Error) -> Self {
        Self::Store(e)
    }
}

/// Ends an unfinished multipart upload in the background (a drop cannot wait).
fn abandon(mut upload: Box<dyn MultipartUpload>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            if let Err(error) = upload.abort().await {
                tracing::warn!(%error, "abandoned upload not aborted; the sweep will");
            }
        });
    }
}

/// A key as a path segment: ours are UUIDs, but never let one name anything outside
/// its folder.
fn checked(key: &str) -> io::Result<&str> {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(key)
    } else {
        Err(io::Error::new(io::ErrorKind::NotFound, "invalid key"))
    }
}

/// A pending file used after its commit: a bug, said as an error rather than a panic.
fn committed() -> io::Error {
    io::Error::other("file already committed")
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        match &mut self.sink {
            // Its parts in flight stop, and its staging file goes.
            Sink::Direct(writer) => {
                if let (Some(writer), Ok(runtime)) =
                    (writer.take(), tokio::runtime::Handle::try_current())
                {
                    runtime.spawn(async move {
                        if let Err(error) = writer.abort().await {
                            tracing::warn!(%error, "abandoned upload not aborted; the sweep will");
                        }
                    });
                }
            }
            // Sent or not, the spool file has done its work.
            Sink::Spool(spooled) => {
                let _ = std::fs::remove_file(spooled.path());
            }
        }
    }
}
