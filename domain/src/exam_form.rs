//! The service concours' exam form, as posted: the same [`RawExam`] an exam file
//! holds, so [`crate::ExamSpec::parse`] checks both alike.
//!
//! Field names: `slug`, `title`, `kind`, `session`, `voie_<voie>` (checked),
//! `registration_deadline`, `instruction_cutoff` (AAAA-MM-JJ), `published` (checked),
//! and for pièce number `i`: `piece_<i>_code`, `_label`, `_help`, `_requirement`,
//! `_voie_<voie>`, `_when`, `_pdf`, `_jpeg`, `_max_size_mib`, `_max_files`, `_remove`.
//! A row without code nor label (the blank row offered for a new pièce) is skipped.

use std::collections::BTreeMap;

use crate::{
    Condition, ExamKind, FileKind, PieceRequirement, RawExam, RawPiece, Voie, exam::ExamError,
};

pub type ExamForm = BTreeMap<String, String>;

const VOIES: [Voie; 3] = [Voie::Externe, Voie::Interne, Voie::TroisiemeConcours];

fn checked(form: &ExamForm, key: &str) -> bool {
    form.get(key).is_some_and(|v| !v.is_empty())
}

fn voies(form: &ExamForm, prefix: &str) -> Vec<Voie> {
    VOIES
        .into_iter()
        .filter(|v| checked(form, &format!("{prefix}voie_{}", v.as_str())))
        .collect()
}

/// The pièce indices present in the form, in order.
fn piece_indices(form: &ExamForm) -> Vec<usize> {
    let mut indices: Vec<usize> = form
        .keys()
        .filter_map(|k| k.strip_prefix("piece_"))
        .filter_map(|k| k.split('_').next()?.parse().ok())
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
}

/// The exam the form describes, unchecked: [`crate::ExamSpec::parse`] decides.
pub fn from_form(form: &ExamForm) -> Result<RawExam, ExamError> {
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let kind = ExamKind::parse(&get("kind")).ok_or(ExamError::Text("kind"))?;
    let mut pieces = Vec::new();
    for i in piece_indices(form) {
        let p = |f: &str| get(&format!("piece_{i}_{f}"));
        let (code, label) = (p("code"), p("label"));
        if checked(form, &format!("piece_{i}_remove")) || (code.is_empty() && label.is_empty()) {
            continue;
        }
        let number = |field: &'static str| -> Result<u64, ExamError> {
            p(field).parse().map_err(|_| match field {
                "max_files" => ExamError::MaxFiles(code.clone()),
                _ => ExamError::MaxSize(code.clone()),
            })
        };
        pieces.push(RawPiece {
            help: p("help"),
            requirement: PieceRequirement::parse(&p("requirement"))
                .unwrap_or(PieceRequirement::Mandatory),
            voies: voies(form, &format!("piece_{i}_")),
            when: Condition::parse(&p("when")),
            kinds: [FileKind::Pdf, FileKind::Jpeg]
                .into_iter()
                .filter(|k| checked(form, &format!("piece_{i}_{}", k.as_str())))
                .collect(),
            max_size_mib: number("max_size_mib")?,
            max_files: u32::try_from(number("max_files")?)
                .map_err(|_| ExamError::MaxFiles(code.clone()))?,
            code,
            label,
        });
    }
    Ok(RawExam {
        slug: get("slug"),
        title: get("title"),
        kind,
        session: get("session"),
        voies: voies(form, ""),
        registration_deadline: get("registration_deadline"),
        instruction_cutoff: get("instruction_cutoff"),
        published: checked(form, "published"),
        pieces,
        retention_months: match get("retention_months").trim() {
            "" => super::exam::DEFAULT_RETENTION_MONTHS,
            months => months.parse().map_err(|_| ExamError::Retention)?,
        },
    })
}

/// A refusal as the form's user reads it: the fields by their labels on the form, not
/// by the exam file's keys.
pub fn message(error: &ExamError) -> String {
    let label = |field: &str| {
        match field {
            "title" => "Intitulé",
            "session" => "Session",
            "label" => "Intitulé de la pièce",
            "kind" => "Nature",
            other => other,
        }
        .to_string()
    };
    match error {
        ExamError::Text(field) => format!("le champ « {} » est vide ou trop long", label(field)),
        ExamError::Date(_) => "choisissez une date valide pour le dernier jour des inscriptions et pour celui des pièces transmises ultérieurement".into(),
        other => other.to_string(),
    }
}

/// The form filled with an exam, to edit it.
pub fn to_form(exam: &RawExam) -> ExamForm {
    let mut form = ExamForm::new();
    let mut put = |k: String, v: String| {
        form.insert(k, v);
    };
    put("slug".into(), exam.slug.clone());
    put("title".into(), exam.title.clone());
    put("kind".into(), exam.kind.as_str().into());
    put("session".into(), exam.session.clone());
    for v in &exam.voies {
        put(format!("voie_{}", v.as_str()), "on".into());
    }
    put(
        "registration_deadline".into(),
        exam.registration_deadline.clone(),
    );
    put("instruction_cutoff".into(), exam.instruction_cutoff.clone());
    put("retention_months".into(), exam.retention_months.to_string());
    if exam.published {
        put("published".into(), "on".into());
    }
    for (i, p) in exam.pieces.iter().enumerate() {
        put(format!("piece_{i}_code"), p.code.clone());
        put(format!("piece_{i}_label"), p.label.clone());
        put(format!("piece_{i}_help"), p.help.clone());
        put(
            format!("piece_{i}_requirement"),
            p.requirement.as_str().into(),
        );
        for v in &p.voies {
            put(format!("piece_{i}_voie_{}", v.as_str()), "on".into());
        }
        if let Some(c) = p.when {
            put(format!("piece_{i}_when"), c.as_str().into());
        }
        for k in &p.kinds {
            put(format!("piece_{i}_{}", k.as_str()), "on".into());
        }
        put(
            format!("piece_{i}_max_size_mib"),
            p.max_size_mib.to_string(),
        );
        put(format!("piece_{i}_max_files"), p.max_files.to_string());
    }
    form
}

/// The pièce rows to show again: those with a code or a label, then one blank row
/// (numbered after every row the form had) to add a pièce.
pub fn piece_rows(form: &ExamForm) -> Vec<usize> {
    let indices = piece_indices(form);
    let filled = |i: &usize| {
        ["code", "label"].iter().any(|f| {
            form.get(&format!("piece_{i}_{f}"))
                .is_some_and(|v| !v.trim().is_empty())
        })
    };
    let mut rows: Vec<usize> = indices.iter().copied().filter(filled).collect();
    rows.push(indices.last().map_or(0, |i| i + 1));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExamSpec;

    fn exam() -> RawExam {
        let text = r#"
            slug = "redacteur-2027"
            title = "Concours de rédacteur territorial"
            kind = "concours"
            session = "Session 2027"
            voies = ["externe", "interne"]
            registration_deadline = "2027-03-04"
            instruction_cutoff = "2027-04-30"
            retention_months = 30
            [[pieces]]
            code = "piece-identite"
            label = "Pièce d'identité"
            requirement = "mandatory"
            max_files = 2
            [[pieces]]
            code = "etat-des-services"
            label = "État des services"
            requirement = "may_follow"
            voies = ["interne"]
            kinds = ["pdf"]
            max_size_mib = 20
            [[pieces]]
            code = "certificat"
            label = "Certificat médical"
            requirement = "optional"
            when = "accommodation_requested"
        "#;
        toml::from_str(text).unwrap()
    }

    #[test]
    fn an_exam_goes_through_the_form_and_back_unchanged() {
        let raw = exam();
        let back = from_form(&to_form(&raw)).unwrap();
        let today = jiff::civil::date(2026, 11, 25);
        assert_eq!(ExamSpec::parse(back, today), ExamSpec::parse(raw, today));
    }

    #[test]
    fn the_blank_row_and_removed_rows_are_skipped() {
        let mut form = to_form(&exam());
        form.insert("piece_3_code".into(), "  ".into());
        form.insert("piece_3_label".into(), String::new());
        form.insert("piece_1_remove".into(), "on".into());
        let raw = from_form(&form).unwrap();
        let codes: Vec<&str> = raw.pieces.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["piece-identite", "certificat"]);
        assert_eq!(piece_rows(&form), [0, 1, 2, 4]);
    }

    #[test]
    fn refusals_name_the_form_s_fields() {
        let today = jiff::civil::date(2026, 11, 25);
        let mut form = to_form(&exam());
        form.insert("title".into(), "  ".into());
        let error = ExamSpec::parse(from_form(&form).unwrap(), today).unwrap_err();
        assert_eq!(
            message(&error),
            "le champ « Intitulé » est vide ou trop long"
        );
        form = to_form(&exam());
        form.insert("registration_deadline".into(), String::new());
        let error = ExamSpec::parse(from_form(&form).unwrap(), today).unwrap_err();
        assert!(
            message(&error).starts_with("choisissez une date valide"),
            "{error}"
        );
    }

    #[test]
    fn what_the_exam_files_refuse_the_form_refuses() {
        let today = jiff::civil::date(2026, 11, 25);
        let mut form = to_form(&exam());
        form.insert("piece_0_max_files".into(), "deux".into());
        assert_eq!(
            from_form(&form).unwrap_err(),
            ExamError::MaxFiles("piece-identite".into())
        );
        let mut form = to_form(&exam());
        form.remove("piece_1_pdf");
        let raw = from_form(&form).unwrap();
        assert_eq!(
            ExamSpec::parse(raw, today).unwrap_err(),
            ExamError::NoKind("etat-des-services".into())
        );
        let mut form = to_form(&exam());
        form.insert("instruction_cutoff".into(), "2027-03-01".into());
        assert_eq!(
            ExamSpec::parse(from_form(&form).unwrap(), today).unwrap_err(),
            ExamError::CutoffBeforeDeadline
        );
        let mut form = to_form(&exam());
        form.remove("voie_interne");
        assert!(matches!(
            ExamSpec::parse(from_form(&form).unwrap(), today),
            Err(ExamError::PieceVoie { .. })
        ));
    }
}
