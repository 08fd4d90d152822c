//! The accessibility audit shipped with the site (`accessibilite/` at the project's
//! root, compiled in): the déclaration d'accessibilité and every page's footer read it.
//! Checked at start-up, so a grid that misses a criterion stops the server.

use std::sync::OnceLock;

use domain::accessibility::{Audit, AuditError, AuditFacts};

static GRID: &str = include_str!("../../../accessibilite/grille.csv");
static FACTS: &str = include_str!("../../../accessibilite/audit.toml");

#[derive(Debug, Clone, thiserror::Error)]
pub enum ShippedAuditError {
    #[error("accessibilite/grille.csv: {0}")]
    Grid(#[from] AuditError),
    #[error("accessibilite/audit.toml: {0}")]
    Facts(String),
}

/// The audit, parsed once.
pub fn audit() -> Result<&'static Audit, &'static ShippedAuditError> {
    static AUDIT: OnceLock<Result<Audit, ShippedAuditError>> = OnceLock::new();
    AUDIT
        .get_or_init(|| {
            let facts: AuditFacts = toml::from_str(FACTS)
                .map_err(|e| ShippedAuditError::Facts(e.message().to_string()))?;
            Ok(Audit::parse(GRID, facts)?)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_audit_is_complete() {
        let audit = super::audit().expect("the shipped grid and facts parse");
        assert_eq!(audit.criteria.len(), 106);
        assert!(!audit.facts.pages.is_empty());
    }
}
