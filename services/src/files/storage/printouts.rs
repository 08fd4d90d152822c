//! The PDFs kept for each dossier (see `printouts::kept`): `PREFIX/printouts/DOSSIER/NAME`.

use std::io;

use futures_util::StreamExt;
use object_store::{ObjectStoreExt, PutPayload};

use super::{Storage, checked, counted};

impl Storage {
    /// A PDF kept for `dossier` under `name` (see `printouts::kept`).
    pub async fn read_printout(&self, dossier: &str, name: &str) -> io::Result<Vec<u8>> {
        let location = self
            .printouts
            .clone()
            .join(checked(dossier)?)
            .join(checked(name)?);
        let got = self
            .store
            .get(&location)
            .await
            .map_err(counted(&self.errors))?;
        Ok(got.bytes().await.map_err(counted(&self.errors))?.to_vec())
    }

    /// Keeps `bytes` as `dossier`'s PDF `name`, and removes the other versions of it:
    /// those whose name starts with `kind` (what they showed has changed).
    pub async fn keep_printout(
        &self,
        dossier: &str,
        (kind, name): (&str, &str),
        bytes: Vec<u8>,
    ) -> io::Result<()> {
        let folder = self.printouts.clone().join(checked(dossier)?);
        self.store
            .put(
                &folder.clone().join(checked(name)?),
                PutPayload::from(bytes),
            )
            .await
            .map_err(counted(&self.errors))?;
        let mut listing = self.store.list(Some(&folder));
        let mut old = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(counted(&self.errors))?;
            if let Some(other) = meta.location.filename()
                && other.starts_with(kind)
                && other != name
            {
                old.push(meta.location.clone());
            }
        }
        for location in old {
            self.delete_at(&location).await?;
        }
        Ok(())
    }

    /// The names of the PDFs kept for `dossier`.
    pub async fn printouts_of(&self, dossier: &str) -> io::Result<Vec<String>> {
        let folder = self.printouts.clone().join(checked(dossier)?);
        let mut listing = self.store.list(Some(&folder));
        let mut names = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(counted(&self.errors))?;
            names.extend(meta.location.filename().map(str::to_string));
        }
        Ok(names)
    }
}
