//! argon2id password hashing on the blocking pool, with bounded concurrency: a storm of
//! logins waits its turn instead of starving uploads and page renders.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
    password_hash::SaltString,
};
use tokio::sync::Semaphore;

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A hash of nothing, verified when the dossier does not exist so that an unknown
    /// dossier takes as long to refuse as a wrong password.
    decoy: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing task stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches, and whether the stored hash should be redone because
/// the parameters changed since it was made.
fn verify_now(password: &str, phc: &str) -> (bool, bool) {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return (false, false);
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed)
            .is_ok_and(|p| p.m_cost() == MEMORY_KIB && p.t_cost() == PASSES && p.p_cost() == LANES);
    (ok, ok && !current)
}

pub struct Verified {
    pub ok: bool,
    /// A new hash to store when the old one used outdated parameters.
    pub rehash: Option<String>,
}

impl Passwords {
    /// `concurrency`: how many hashes may run at once (one per core is plenty).
    pub fn new(concurrency: usize) -> Result<Self, PasswordError> {
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            decoy: hash_now("")?.into(),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_now(&password)).await?
    }

    /// Checks `password` against `phc`, or against the decoy when there is no account.
    pub async fn verify(
        &self,
        password: &str,
        phc: Option<&str>,
    ) -> Result<Verified, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let password = password.to_string();
        let exists = phc.is_some();
        let phc: Arc<str> = phc.map(Arc::from).unwrap_or_else(|| self.decoy.clone());
        tokio::task::spawn_blocking(move || {
            let (ok, stale) = verify_now(&password, &phc);
            let rehash = if ok && stale {
                Some(hash_now(&password)?)
            } else {
                None
            };
            Ok(Verified {
                ok: ok && exists,
                rehash,
            })
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_owasp_parameters() {
        let p = Passwords::new(2).unwrap();
        let phc = p.hash("cheval correct agrafe").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            p.verify("cheval correct agrafe", Some(&phc))
                .await
                .unwrap()
                .ok
        );
        assert!(
            !p.verify("cheval correct agrafé", Some(&phc))
                .await
                .unwrap()
                .ok
        );
        // No account: refused, even with the decoy's own password.
        assert!(!p.verify("", None).await.unwrap().ok);
    }

    #[tokio::test]
    async fn an_outdated_hash_is_redone_at_login() {
        let p = Passwords::new(1).unwrap();
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"cheval correct agrafe", &salt)
        .unwrap()
        .to_string();
        let v = p
            .verify("cheval correct agrafe", Some(&weak))
            .await
            .unwrap();
        assert!(v.ok);
        let new = v.rehash.expect("a new hash");
        assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(p.verify("x", Some(&weak)).await.unwrap().rehash.is_none());
    }
}
