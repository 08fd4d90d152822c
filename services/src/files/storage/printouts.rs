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

    /// Removes every PDF kept for `dossier` (erased with it); says how many.
    pub async fn forget_printouts(&self, dossier: &str) -> io::Result<usize> {
        let folder = self.printouts.clone().join(checked(dossier)?);
        let mut listing = self.store.list(Some(&folder));
        let mut kept = Vec::new();
        while let Some(meta) = listing.next().await {
            kept.push(meta.map_err(counted(&self.errors))?.location);
        }
        for location in &kept {
            self.delete_at(location).await?;
        }
        Ok(kept.len())
    }

    /// The dossiers that have PDFs kept: the sweep forgets those whose dossier is gone.
    pub async fn printout_dossiers(&self) -> io::Result<std::collections::BTreeSet<String>> {
        let mut listing = self.store.list(Some(&self.printouts));
        let mut dossiers = std::collections::BTreeSet::new();
        let depth = self.printouts.parts().count();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(counted(&self.errors))?;
            if let Some(part) = meta.location.parts().nth(depth) {
                dossiers.insert(part.as_ref().to_string());
            }
        }
        Ok(dossiers)
    }
}
