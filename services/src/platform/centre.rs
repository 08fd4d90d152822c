//! Reads the Centre's description (`APP_CENTRE_FILE`, `centre.toml` by default) at
//! start-up; `domain::centre` says what a complete one is.

use std::path::{Path, PathBuf};

use domain::centre::{Centre, CentreError};

#[derive(Debug, thiserror::Error)]
pub enum CentreFileError {
    #[error("{}: cannot be read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{}: {source}", path.display())]
    Invalid { path: PathBuf, source: CentreError },
}

/// The Centre described in `path`, checked.
pub fn read(path: &Path) -> Result<Centre, CentreFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| CentreFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let centre: Centre = toml::from_str(&text).map_err(|e| CentreFileError::Toml {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    centre.check().map_err(|source| CentreFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(centre)
}
