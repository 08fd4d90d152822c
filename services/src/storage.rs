//! File storage: a local folder by default. A file is written under `incoming/`, synced,
//! then renamed into `files/` under a random key, so a stored file is always complete;
//! what a crash leaves in `incoming/`, or in `files/` without a database row, is swept.
//!
//! Kept to the four operations an object store offers (put, get, delete, list) so an
//! S3-compatible backend can take its place.

use std::path::{Path, PathBuf};

use tokio::{fs, io::AsyncWriteExt};

#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
}

/// A file being written; dropped without [`PendingFile::commit`], it is removed.
pub struct PendingFile {
    file: Option<fs::File>,
    incoming: PathBuf,
    target: PathBuf,
    pub key: String,
}

impl Storage {
    pub async fn open(root: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(root.join("incoming")).await?;
        fs::create_dir_all(root.join("files")).await?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        // Keys are ours (UUIDs), but never let one name a path outside the folder.
        key.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
            .then(|| self.root.join("files").join(key))
    }

    /// Whether the store takes a file now: a small probe written, then removed. For the
    /// health check, so a server whose disk or mount failed leaves the load balancer.
    pub async fn check(&self) -> std::io::Result<()> {
        let probe = self
            .root
            .join("incoming")
            .join(format!("health-{}", uuid::Uuid::new_v4()));
        fs::write(&probe, b"ok").await?;
        fs::remove_file(&probe).await
    }

    pub async fn create(&self) -> std::io::Result<PendingFile> {
        let key = uuid::Uuid::new_v4().to_string();
        let incoming = self.root.join("incoming").join(&key);
        let file = fs::File::create(&incoming).await?;
        Ok(PendingFile {
            file: Some(file),
            target: self.root.join("files").join(&key),
            incoming,
            key,
        })
    }

    pub async fn read(&self, key: &str) -> std::io::Result<fs::File> {
        let path = self
            .path(key)
            .ok_or_else(|| std::io::Error::other("invalid key"))?;
        fs::File::open(path).await
    }

    pub async fn delete(&self, key: &str) -> std::io::Result<()> {
        let path = self
            .path(key)
            .ok_or_else(|| std::io::Error::other("invalid key"))?;
        match fs::remove_file(path).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    pub async fn exists(&self, key: &str) -> bool {
        match self.path(key) {
            Some(p) => fs::try_exists(p).await.unwrap_or(false),
            None => false,
        }
    }

    /// Every stored key, and every key still in `incoming/` with its age in seconds.
    pub async fn list(&self) -> std::io::Result<(Vec<String>, Vec<(String, u64)>)> {
        let mut stored = Vec::new();
        let mut dir = fs::read_dir(self.root.join("files")).await?;
        while let Some(entry) = dir.next_entry().await? {
            stored.push(entry.file_name().to_string_lossy().into_owned());
        }
        let mut incoming = Vec::new();
        let mut dir = fs::read_dir(self.root.join("incoming")).await?;
        while let Some(entry) = dir.next_entry().await? {
            let age = entry
                .metadata()
                .await?
                .modified()?
                .elapsed()
                .map_or(0, |d| d.as_secs());
            incoming.push((entry.file_name().to_string_lossy().into_owned(), age));
        }
        Ok((stored, incoming))
    }

    pub async fn delete_incoming(&self, key: &str) -> std::io::Result<()> {
        if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            let _ = fs::remove_file(self.root.join("incoming").join(key)).await;
        }
        Ok(())
    }
}

impl PendingFile {
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(chunk).await,
            None => Err(std::io::Error::other("file already closed")),
        }
    }

    /// Makes the file durable and visible under its key.
    pub async fn commit(mut self) -> std::io::Result<String> {
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.sync_all().await?;
        }
        fs::rename(&self.incoming, &self.target).await?;
        Ok(std::mem::take(&mut self.key))
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.key.is_empty() {
            // Not committed: the partial file goes. Sync removal is fine here: one unlink.
            let _ = std::fs::remove_file(&self.incoming);
        }
    }
}
