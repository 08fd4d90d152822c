//! An exam (a concours or examen professionnel session) and the pièces it asks for.
//!
//! Exams are written by people (TOML files today, a staff form later), so they arrive as
//! [`RawExam`] and become an [`ExamSpec`] only through [`ExamSpec::parse`].

use std::{collections::HashSet, fmt};

use jiff::{Span, civil::Date};
use serde::{Deserialize, Serialize};

use crate::{Deadline, FileKind};

/// One mebibyte: limits are written in Mo in French, which here means MiB.
pub const MIB: u64 = 1024 * 1024;
pub const DEFAULT_MAX_SIZE_MIB: u64 = 10;
/// No pièce may ask for more per file.
pub const MAX_SIZE_MIB_CEILING: u64 = 50;
const MAX_FILES_CEILING: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExamKind {
    Concours,
    ExamenProfessionnel,
}

impl ExamKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Concours => "Concours",
            Self::ExamenProfessionnel => "Examen professionnel",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Concours => "concours",
            Self::ExamenProfessionnel => "examen_professionnel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "concours" => Some(Self::Concours),
            "examen_professionnel" => Some(Self::ExamenProfessionnel),
            _ => None,
        }
    }
}

/// The route into a concours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Voie {
    Externe,
    Interne,
    TroisiemeConcours,
}

impl Voie {
    pub const ALL: [Voie; 3] = [Self::Externe, Self::Interne, Self::TroisiemeConcours];

    pub fn label(self) -> &'static str {
        match self {
            Self::Externe => "externe",
            Self::Interne => "interne",
            Self::TroisiemeConcours => "troisième concours",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Externe => "externe",
            Self::Interne => "interne",
            Self::TroisiemeConcours => "troisieme_concours",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "externe" => Some(Self::Externe),
            "interne" => Some(Self::Interne),
            "troisieme_concours" => Some(Self::TroisiemeConcours),
            _ => None,
        }
    }
}

/// Whether a pièce must be there before closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PieceRequirement {
    /// Blocks closure until a file is deposited.
    Mandatory,
    /// « peut être transmise ultérieurement »: does not block closure and still accepts
    /// files after it, until the exam's instruction cut-off.
    MayFollow,
    /// Asked for but never blocking.
    Optional,
}

impl PieceRequirement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mandatory => "mandatory",
            Self::MayFollow => "may_follow",
            Self::Optional => "optional",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mandatory" => Some(Self::Mandatory),
            "may_follow" => Some(Self::MayFollow),
            "optional" => Some(Self::Optional),
            _ => None,
        }
    }
}

/// An answer of the préinscription that makes a pièce requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The candidate asked for an aménagement d'épreuves.
    AccommodationRequested,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccommodationRequested => "accommodation_requested",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accommodation_requested" => Some(Self::AccommodationRequested),
            _ => None,
        }
    }
}

/// A validated exam identifier, used in URLs: lowercase ASCII letters, digits, hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExamSlug(String);

impl ExamSlug {
    pub fn parse(s: &str) -> Result<Self, ExamError> {
        let ok = (3..=80).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(ExamError::Slug(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExamSlug {
    type Error = ExamError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ExamSlug> for String {
    fn from(value: ExamSlug) -> Self {
        value.0
    }
}

impl fmt::Display for ExamSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An exam as a person writes it (one TOML file per exam).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawExam {
    pub slug: String,
    pub title: String,
    pub kind: ExamKind,
    pub session: String,
    #[serde(default)]
    pub voies: Vec<Voie>,
    /// The last day of registration, `AAAA-MM-JJ`, or `today+N` for a demo exam that
    /// must always be open.
    pub registration_deadline: String,
    /// The last day « pièces transmises ultérieurement » are accepted.
    pub instruction_cutoff: String,
    #[serde(default = "yes")]
    pub published: bool,
    #[serde(default)]
    pub pieces: Vec<RawPiece>,
    /// How long the dossiers are kept after the deadline, in months, before they are
    /// erased (`Deadline::purges_at`).
    #[serde(default = "default_retention")]
    pub retention_months: u32,
}

fn yes() -> bool {
    true
}

/// Dossiers kept 24 months after the deadline unless the exam says otherwise.
pub const DEFAULT_RETENTION_MONTHS: u32 = 24;
/// At most ten years: longer is archiving, not this service's business.
pub const MAX_RETENTION_MONTHS: u32 = 120;

fn default_retention() -> u32 {
    DEFAULT_RETENTION_MONTHS
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPiece {
    pub code: String,
    pub label: String,
    #[serde(default)]
    pub help: String,
    pub requirement: PieceRequirement,
    /// The voies that require it; empty means every candidate.
    #[serde(default)]
    pub voies: Vec<Voie>,
    #[serde(default)]
    pub when: Option<Condition>,
    #[serde(default = "both_kinds")]
    pub kinds: Vec<FileKind>,
    #[serde(default = "default_max_size")]
    pub max_size_mib: u64,
    #[serde(default = "one")]
    pub max_files: u32,
}

fn both_kinds() -> Vec<FileKind> {
    vec![FileKind::Pdf, FileKind::Jpeg]
}

fn default_max_size() -> u64 {
    DEFAULT_MAX_SIZE_MIB
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExamError {
    #[error(
        "identifiant d'examen invalide « {0} » : lettres minuscules, chiffres et tirets, 3 à 80 caractères"
    )]
    Slug(String),
    #[error("le champ « {0} » est vide ou trop long")]
    Text(&'static str),
    #[error("date invalide « {0} » : attendu AAAA-MM-JJ ou today+N")]
    Date(String),
    #[error("la date de fin d'instruction doit suivre la date limite d'inscription")]
    CutoffBeforeDeadline,
    #[error("un concours doit proposer au moins une voie")]
    NoVoie,
    #[error("la voie « {0} » est en double")]
    DuplicateVoie(&'static str),
    #[error("l'examen ne demande aucune pièce")]
    NoPiece,
    #[error("la pièce « {0} » est en double")]
    DuplicatePiece(String),
    #[error("code de pièce invalide « {0} »")]
    PieceCode(String),
    #[error("la pièce « {piece} » est liée à la voie « {voie} », que l'examen ne propose pas")]
    PieceVoie { piece: String, voie: &'static str },
    #[error("la pièce « {0} » n'accepte aucun format")]
    NoKind(String),
    #[error("la pièce « {0} » : taille maximale entre 1 et {MAX_SIZE_MIB_CEILING} Mo")]
    MaxSize(String),
    #[error("la pièce « {0} » : nombre de fichiers entre 1 et {MAX_FILES_CEILING}")]
    MaxFiles(String),
    #[error("la durée de conservation des dossiers est entre 1 et {MAX_RETENTION_MONTHS} mois")]
    Retention,
}

/// An exam that passed every check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamSpec {
    /// What the public catalogue shows of it.
    pub summary: ExamSummary,
    pub instruction_cutoff: Date,
    pub published: bool,
    pub pieces: Vec<PieceSpec>,
    /// Months the dossiers are kept after the deadline.
    pub retention_months: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceSpec {
    pub code: String,
    pub label: String,
    pub help: String,
    pub requirement: PieceRequirement,
    pub voies: Vec<Voie>,
    pub when: Option<Condition>,
    pub kinds: Vec<FileKind>,
    pub max_size_bytes: u64,
    pub max_files: u32,
}

/// A checked pièce written back as a file (or the service's form) has it.
impl From<&PieceSpec> for RawPiece {
    fn from(p: &PieceSpec) -> Self {
        Self {
            code: p.code.clone(),
            label: p.label.clone(),
            help: p.help.clone(),
            requirement: p.requirement,
            voies: p.voies.clone(),
            when: p.when,
            kinds: p.kinds.clone(),
            max_size_mib: p.max_size_bytes.div_ceil(MIB),
            max_files: p.max_files,
        }
    }
}

impl PieceSpec {
    /// Whether this pièce is asked of a candidate with these answers.
    pub fn is_requested(&self, voie: Option<Voie>, accommodation_requested: bool) -> bool {
        let voie_ok = self.voies.is_empty() || voie.is_some_and(|v| self.voies.contains(&v));
        let when_ok = match self.when {
            None => true,
            Some(Condition::AccommodationRequested) => accommodation_requested,
        };
        voie_ok && when_ok
    }
}

/// One exam as the public catalogue shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamSummary {
    pub slug: ExamSlug,
    pub title: String,
    pub kind: ExamKind,
    pub session: String,
    pub voies: Vec<Voie>,
    pub deadline: Deadline,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, ExamError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        Err(ExamError::Text(field))
    } else {
        Ok(value.to_string())
    }
}

/// `AAAA-MM-JJ`, or `today+N` counted from `today`.
fn date(value: &str, today: Date) -> Result<Date, ExamError> {
    let bad = || ExamError::Date(value.to_string());
    match value.trim().strip_prefix("today+") {
        Some(days) => {
            let days: i32 = days.parse().map_err(|_| bad())?;
            today
                .checked_add(Span::new().try_days(days).map_err(|_| bad())?)
                .map_err(|_| bad())
        }
        None => value.trim().parse().map_err(|_| bad()),
    }
}

impl ExamSpec {
    /// The only way to an [`ExamSpec`]. `today` is the Paris date, for `today+N` dates.
    pub fn parse(raw: RawExam, today: Date) -> Result<Self, ExamError> {
        let slug = ExamSlug::parse(raw.slug.trim())?;
        let title = text("title", &raw.title, 200)?;
        let session = text("session", &raw.session, 100)?;
        let last_day = date(&raw.registration_deadline, today)?;
        let deadline =
            Deadline::on(last_day).map_err(|_| ExamError::Date(raw.registration_deadline))?;
        let instruction_cutoff = date(&raw.instruction_cutoff, today)?;
        if instruction_cutoff < last_day {
            return Err(ExamError::CutoffBeforeDeadline);
        }
        if raw.kind == ExamKind::Concours && raw.voies.is_empty() {
            return Err(ExamError::NoVoie);
        }
        let mut seen = HashSet::new();
        for voie in &raw.voies {
            if !seen.insert(*voie) {
                return Err(ExamError::DuplicateVoie(voie.as_str()));
            }
        }
        if raw.pieces.is_empty() {
            return Err(ExamError::NoPiece);
        }
        if !(1..=MAX_RETENTION_MONTHS).contains(&raw.retention_months) {
            return Err(ExamError::Retention);
        }
        let mut codes = HashSet::new();
        let pieces = raw
            .pieces
            .into_iter()
            .map(|piece| {
                let code = piece.code.trim().to_string();
                if ExamSlug::parse(&code).is_err() {
                    return Err(ExamError::PieceCode(code));
                }
                if !codes.insert(code.clone()) {
                    return Err(ExamError::DuplicatePiece(code));
                }
                if let Some(voie) = piece.voies.iter().find(|v| !raw.voies.contains(v)) {
                    return Err(ExamError::PieceVoie {
                        piece: code,
                        voie: voie.as_str(),
                    });
                }
                if piece.kinds.is_empty() {
                    return Err(ExamError::NoKind(code));
                }
                if !(1..=MAX_SIZE_MIB_CEILING).contains(&piece.max_size_mib) {
                    return Err(ExamError::MaxSize(code));
                }
                if !(1..=MAX_FILES_CEILING).contains(&piece.max_files) {
                    return Err(ExamError::MaxFiles(code));
                }
                let mut kinds = piece.kinds;
                kinds.dedup();
                Ok(PieceSpec {
                    label: text("label", &piece.label, 200)?,
                    help: piece.help.trim().to_string(),
                    requirement: piece.requirement,
                    voies: piece.voies,
                    when: piece.when,
                    kinds,
                    max_size_bytes: piece.max_size_mib * MIB,
                    max_files: piece.max_files,
                    code,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            summary: ExamSummary {
                slug,
                title,
                kind: raw.kind,
                session,
                voies: raw.voies,
                deadline,
            },
            instruction_cutoff,
            published: raw.published,
            pieces,
            retention_months: raw.retention_months,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;

    fn piece(code: &str) -> RawPiece {
        RawPiece {
            code: code.into(),
            label: "Pièce d'identité".into(),
            help: String::new(),
            requirement: PieceRequirement::Mandatory,
            voies: vec![],
            when: None,
            kinds: both_kinds(),
            max_size_mib: 10,
            max_files: 2,
        }
    }

    fn raw() -> RawExam {
        RawExam {
            slug: "animateur-2025".into(),
            title: "Concours d'animateur territorial".into(),
            kind: ExamKind::Concours,
            session: "Session 2025".into(),
            voies: vec![Voie::Externe, Voie::Interne],
            registration_deadline: "2025-04-17".into(),
            instruction_cutoff: "2025-05-30".into(),
            published: true,
            pieces: vec![piece("piece-identite")],
            retention_months: DEFAULT_RETENTION_MONTHS,
        }
    }

    #[test]
    fn dossiers_are_kept_24_months_after_the_deadline_unless_the_exam_says_otherwise() {
        let exam = ExamSpec::parse(raw(), d(2026, 1, 1)).unwrap();
        assert_eq!(exam.retention_months, 24);
        // Closed at 2025-04-18 00:00 Paris (summer time): erased two years later, at
        // the same Paris midnight.
        assert_eq!(
            exam.summary.deadline.purges_at(24).to_string(),
            "2027-04-17T22:00:00Z"
        );
        // Closed at 2026-12-31 00:00 Paris (23:00 UTC): a month that lacks the 31st
        // ends on its last day, 2027-02-28 00:00 Paris.
        let winter = crate::Deadline::on(d(2026, 12, 30)).unwrap();
        assert_eq!(winter.purges_at(2).to_string(), "2027-02-27T23:00:00Z");
        for months in [0, 121] {
            let mut r = raw();
            r.retention_months = months;
            assert_eq!(ExamSpec::parse(r, d(2026, 1, 1)), Err(ExamError::Retention));
        }
        let file: RawExam = toml::from_str(
            r#"slug = "x-2026"
title = "X"
kind = "examen_professionnel"
session = "S"
registration_deadline = "2026-01-01"
instruction_cutoff = "2026-01-02"
retention_months = 36
"#,
        )
        .unwrap();
        assert_eq!(file.retention_months, 36);
    }

    #[test]
    fn a_well_formed_exam_parses() {
        let exam = ExamSpec::parse(raw(), d(2026, 1, 1)).unwrap();
        assert_eq!(exam.summary.deadline.last_day(), d(2025, 4, 17));
        assert_eq!(exam.pieces[0].max_size_bytes, 10 * MIB);
    }

    #[test]
    fn relative_dates_count_from_today() {
        let mut r = raw();
        r.registration_deadline = "today+30".into();
        r.instruction_cutoff = "today+60".into();
        let exam = ExamSpec::parse(r, d(2026, 11, 24)).unwrap();
        assert_eq!(exam.summary.deadline.last_day(), d(2026, 12, 24));
        assert_eq!(exam.instruction_cutoff, d(2027, 1, 23));
    }

    #[test]
    fn refusals() {
        let today = d(2026, 1, 1);
        type Mutation = Box<dyn Fn(&mut RawExam)>;
        let cases: Vec<(Mutation, ExamError)> = vec![
            (
                Box::new(|r| r.slug = "Bad Slug".into()),
                ExamError::Slug("Bad Slug".into()),
            ),
            (
                Box::new(|r| r.title = "  ".into()),
                ExamError::Text("title"),
            ),
            (
                Box::new(|r| r.registration_deadline = "2025-02-30".into()),
                ExamError::Date("2025-02-30".into()),
            ),
            (
                Box::new(|r| r.instruction_cutoff = "2025-04-16".into()),
                ExamError::CutoffBeforeDeadline,
            ),
            (Box::new(|r| r.voies.clear()), ExamError::NoVoie),
            (
                Box::new(|r| r.voies.push(Voie::Interne)),
                ExamError::DuplicateVoie("interne"),
            ),
            (Box::new(|r| r.pieces.clear()), ExamError::NoPiece),
            (
                Box::new(|r| r.pieces.push(piece("piece-identite"))),
                ExamError::DuplicatePiece("piece-identite".into()),
            ),
            (
                Box::new(|r| r.pieces[0].voies = vec![Voie::TroisiemeConcours]),
                ExamError::PieceVoie {
                    piece: "piece-identite".into(),
                    voie: "troisieme_concours",
                },
            ),
            (
                Box::new(|r| r.pieces[0].kinds.clear()),
                ExamError::NoKind("piece-identite".into()),
            ),
            (
                Box::new(|r| r.pieces[0].max_size_mib = 0),
                ExamError::MaxSize("piece-identite".into()),
            ),
            (
                Box::new(|r| r.pieces[0].max_files = 21),
                ExamError::MaxFiles("piece-identite".into()),
            ),
        ];
        for (mutate, expected) in cases {
            let mut r = raw();
            mutate(&mut r);
            assert_eq!(ExamSpec::parse(r, today), Err(expected));
        }
    }

    #[test]
    fn an_examen_professionnel_may_have_no_voie() {
        let mut r = raw();
        r.kind = ExamKind::ExamenProfessionnel;
        r.voies.clear();
        assert!(ExamSpec::parse(r, d(2026, 1, 1)).is_ok());
    }

    #[test]
    fn which_candidates_a_piece_is_requested_of() {
        let mut p = ExamSpec::parse(raw(), d(2026, 1, 1))
            .unwrap()
            .pieces
            .remove(0);
        assert!(p.is_requested(None, false));
        p.voies = vec![Voie::Externe];
        assert!(p.is_requested(Some(Voie::Externe), false));
        assert!(!p.is_requested(Some(Voie::Interne), false));
        assert!(!p.is_requested(None, false));
        p.voies.clear();
        p.when = Some(Condition::AccommodationRequested);
        assert!(!p.is_requested(Some(Voie::Externe), false));
        assert!(p.is_requested(Some(Voie::Externe), true));
    }

    proptest::proptest! {
        #[test]
        fn slugs_accepted_are_url_safe(s in "\\PC{0,90}") {
            if let Ok(slug) = ExamSlug::parse(&s) {
                proptest::prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                proptest::prop_assert!((3..=80).contains(&slug.as_str().len()));
            }
        }
    }
}
