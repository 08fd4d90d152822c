//! The dossier list as the service opens it in its spreadsheet: CSV, or XLSX with
//! typed columns (dates as dates, counts as numbers); and the summary workbook put in
//! an exam's ZIP, with a sheet of the files it holds. One list of columns for both.

use jiff::civil::Date;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::dossiers::instruction::DossierLine;

pub mod models;

/// A value of the export, typed so a spreadsheet sorts and filters it as what it is.
enum Cell {
    Text(String),
    /// A calendar day (a birth date); empty when there is none.
    Day(Option<Date>),
    /// An instant, shown in Paris time; empty when there is none.
    Instant(Option<i64>),
    Count(i64),
}

/// A column of the dossiers' export: every answer of the préinscription, and where the
/// instruction stands. The agent picks and orders them (`Model`); all by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Number,
    Civilite,
    BirthName,
    UsageName,
    FirstNames,
    BirthDate,
    BirthPlace,
    BirthCountry,
    /// Whether FranceConnect certified the identity, and how.
    Certified,
    Nationality,
    Email,
    Phone,
    Address,
    AddressComplement,
    PostalCode,
    City,
    Country,
    Voie,
    Diploma,
    DiplomaYear,
    Employer,
    Grade,
    Titularisation,
    Activity,
    Accommodation,
    AccommodationDetails,
    Stage,
    Reason,
    DecidedBy,
    DecidedAt,
    FollowedBy,
    RegisteredAt,
    ClosedAt,
    WithdrawnAt,
    Files,
    InfectedFiles,
}

impl Column {
    pub const ALL: [Column; 36] = [
        Self::Number,
        Self::Civilite,
        Self::BirthName,
        Self::UsageName,
        Self::FirstNames,
        Self::BirthDate,
        Self::BirthPlace,
        Self::BirthCountry,
        Self::Nationality,
        Self::Email,
        Self::Phone,
        Self::Address,
        Self::AddressComplement,
        Self::PostalCode,
        Self::City,
        Self::Country,
        Self::Voie,
        Self::Diploma,
        Self::DiplomaYear,
        Self::Employer,
        Self::Grade,
        Self::Titularisation,
        Self::Activity,
        Self::Accommodation,
        Self::AccommodationDetails,
        Self::Stage,
        Self::Reason,
        Self::DecidedBy,
        Self::DecidedAt,
        Self::FollowedBy,
        Self::RegisteredAt,
        Self::ClosedAt,
        Self::WithdrawnAt,
        Self::Files,
        Self::InfectedFiles,
        Self::Certified,
    ];

    /// Its code in addresses and saved models: the wizard's field name for an answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::Number => "numero",
            Self::Civilite => "civilite",
            Self::BirthName => "nom_naissance",
            Self::UsageName => "nom_usage",
            Self::FirstNames => "prenoms",
            Self::BirthDate => "date_naissance",
            Self::BirthPlace => "lieu_naissance",
            Self::BirthCountry => "pays_naissance",
            Self::Certified => "franceconnect",
            Self::Nationality => "nationalite",
            Self::Email => "email",
            Self::Phone => "telephone",
            Self::Address => "adresse",
            Self::AddressComplement => "complement_adresse",
            Self::PostalCode => "code_postal",
            Self::City => "commune",
            Self::Country => "pays",
            Self::Voie => "voie",
            Self::Diploma => "diplome",
            Self::DiplomaYear => "diplome_annee",
            Self::Employer => "employeur",
            Self::Grade => "grade",
            Self::Titularisation => "date_titularisation",
            Self::Activity => "activite",
            Self::Accommodation => "amenagement",
            Self::AccommodationDetails => "amenagement_precisions",
            Self::Stage => "etat",
            Self::Reason => "motif",
            Self::DecidedBy => "decide_par",
            Self::DecidedAt => "decide_le",
            Self::FollowedBy => "suivi_par",
            Self::RegisteredAt => "preinscrit_le",
            Self::ClosedAt => "cloture_le",
            Self::WithdrawnAt => "desiste_le",
            Self::Files => "fichiers",
            Self::InfectedFiles => "fichiers_infectes",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Its header: the wizard's label for an answer.
    pub fn label(self) -> &'static str {
        match self {
            Self::Number => "N° de dossier",
            Self::Certified => "Identité certifiée par FranceConnect",
            Self::AddressComplement => "Complément d'adresse",
            Self::Stage => "État",
            Self::Reason => "Motif (rejet, pièces manquantes)",
            Self::DecidedBy => "Décision prise par",
            Self::DecidedAt => "Décision le",
            Self::FollowedBy => "Suivi par",
            Self::RegisteredAt => "Préinscrit le",
            Self::ClosedAt => "Clôturé le",
            Self::WithdrawnAt => "Désisté le",
            Self::Files => "Fichiers",
            Self::InfectedFiles => "Fichiers infectés",
            Self::Accommodation => "Aménagement demandé",
            answer => domain::registration::label(answer.code()),
        }
    }

    fn cell(self, line: &DossierLine, decision: Option<&Decided>) -> Cell {
        use domain::registration::{Situation, shown};
        let d = &line.dossier;
        let r = &d.registration;
        let text = |s: &str| Cell::Text(s.to_string());
        let (diploma, year, employer, grade, titularisation, activity) = match &r.situation {
            Situation::Diploma { title, year } => {
                (Some(title.as_str()), Some(*year), None, None, None, None)
            }
            Situation::PublicAgent {
                employer,
                grade,
                titularisation,
            } => (
                None,
                None,
                Some(employer.as_str()),
                Some(grade.as_str()),
                Some(*titularisation),
                None,
            ),
            Situation::Activity { description } => {
                (None, None, None, None, None, Some(description.as_str()))
            }
        };
        match self {
            Self::Number => text(d.number.as_str()),
            Self::Civilite => Cell::Text(shown("civilite", &r.civilite)),
            Self::BirthName => text(r.birth_name.as_str()),
            Self::UsageName => text(r.usage_name.as_ref().map_or("", |n| n.as_str())),
            Self::FirstNames => text(r.first_names.as_str()),
            Self::BirthDate => Cell::Day(Some(r.birth_date)),
            Self::BirthPlace => text(&r.birth_place),
            Self::BirthCountry => text(&r.birth_country),
            Self::Certified => text(match d.certified.as_ref().map(|c| c.via.as_str()) {
                Some("inscription") => "Oui, à la préinscription",
                Some(_) => "Oui, dossier lié",
                None => "Non",
            }),
            Self::Nationality => Cell::Text(shown("nationalite", &r.nationality)),
            Self::Email => text(r.email.as_str()),
            Self::Phone => Cell::Text(r.phone.display()),
            Self::Address => text(&r.address),
            Self::AddressComplement => text(r.address_complement.as_deref().unwrap_or("")),
            Self::PostalCode => text(&r.postal_code),
            Self::City => text(&r.city),
            Self::Country => text(&r.country),
            Self::Voie => text(r.voie.map_or("", |v| v.label())),
            Self::Diploma => text(diploma.unwrap_or("")),
            Self::DiplomaYear => year.map_or(Cell::Text(String::new()), |y| Cell::Count(y.into())),
            Self::Employer => text(employer.unwrap_or("")),
            Self::Grade => text(grade.unwrap_or("")),
            Self::Titularisation => Cell::Day(titularisation),
            Self::Activity => text(activity.unwrap_or("")),
            Self::Accommodation => text(if r.accommodation.is_some() {
                "Oui"
            } else {
                "Non"
            }),
            Self::AccommodationDetails => text(r.accommodation.as_deref().unwrap_or("")),
            Self::Stage => text(line.stage.label()),
            Self::Reason => text(
                d.decision_reason
                    .as_deref()
                    .or(d.review_note.as_deref())
                    .unwrap_or(""),
            ),
            Self::DecidedBy => text(decision.map_or("", |x| x.by.as_str())),
            Self::DecidedAt => Cell::Instant(decision.map(|x| x.at)),
            Self::FollowedBy => Cell::Text(line.followers.join(", ")),
            Self::RegisteredAt => Cell::Instant(Some(d.created_at)),
            Self::ClosedAt => Cell::Instant(d.closed_at),
            Self::WithdrawnAt => Cell::Instant(d.withdrawn_at),
            Self::Files => Cell::Count(line.files),
            Self::InfectedFiles => Cell::Count(line.infected),
        }
    }
}

/// The last decision recorded on a dossier: by whom, when (ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub by: String,
    pub at: i64,
}

/// The journal's actions that are decisions, for « Décision prise par ».
const DECISIONS: [&str; 4] = [
    "dossier complet",
    "dossier incomplet",
    "admis à concourir",
    "dossier rejeté",
];

/// The last decision of each decided dossier of an exam, read from the journal.
pub async fn decisions(
    db: &crate::Db,
    exam: &str,
) -> Result<std::collections::HashMap<String, Decided>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT a.dossier_id, s.name, a.at FROM audit_log a
         JOIN dossiers d ON d.id = a.dossier_id JOIN staff s ON s.id = a.staff_id
         WHERE d.exam_slug = $1 AND a.action IN ($2, $3, $4, $5)
         ORDER BY a.at, a.id",
    )
    .bind(exam)
    .bind(DECISIONS[0])
    .bind(DECISIONS[1])
    .bind(DECISIONS[2])
    .bind(DECISIONS[3])
    .fetch_all(db.pool())
    .await?;
    let mut out = std::collections::HashMap::new();
    for r in rows {
        out.insert(
            r.try_get("dossier_id")?,
            Decided {
                by: r.try_get("name")?,
                at: r.try_get("at")?,
            },
        );
    }
    Ok(out)
}

/// What an export holds: its columns in order, and the decisions they may show.
pub struct Table<'a> {
    pub columns: &'a [Column],
    pub decisions: &'a std::collections::HashMap<String, Decided>,
}

impl Table<'_> {
    fn headers(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.label()).collect()
    }

    fn row(&self, line: &DossierLine) -> Vec<Cell> {
        let decided = self.decisions.get(&line.dossier.id);
        self.columns.iter().map(|c| c.cell(line, decided)).collect()
    }
}

/// A name safe in any archive tool: no folders, no control characters, not hidden.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// « Pièce - fichier.pdf » in an archive. Rows stored before names were given their
/// kind's extension get it here too: an unzipped `scan.pdf.bat` must not open as a
/// program.
pub fn entry_name(piece: &str, file: &str, kind: domain::FileKind) -> String {
    let file = domain::attachment::stored_file_name(file, kind);
    format!("{} - {}", clean(piece), clean(&file))
}

/// One file of an exam's ZIP, for its summary sheet.
#[derive(Clone, Debug)]
pub struct ZippedFile {
    pub number: String,
    pub piece: String,
    /// Its path inside the ZIP.
    pub entry: String,
    pub size: u64,
    pub sha256: String,
    pub deposited_at: i64,
}

const FILE_COLUMNS: [&str; 6] = [
    "N° de dossier",
    "Pièce",
    "Fichier dans le ZIP",
    "Taille (octets)",
    "Empreinte SHA-256",
    "Déposé le",
];

fn file_row(f: &ZippedFile) -> Vec<Cell> {
    vec![
        Cell::Text(f.number.clone()),
        Cell::Text(f.piece.clone()),
        Cell::Text(f.entry.clone()),
        Cell::Count(f.size as i64),
        Cell::Text(f.sha256.clone()),
        Cell::Instant(Some(f.deposited_at)),
    ]
}

/// The dossiers as CSV for a spreadsheet: UTF-8 with a BOM and `;` between fields, so
/// Excel and LibreOffice open it with accents and columns right; days and instants in
/// ISO 8601 (an instant with its Paris offset), which every tool reads.
pub fn csv(lines: &[DossierLine], table: &Table) -> String {
    let mut out = csv_header(table);
    out.push_str(&csv_rows(lines, table));
    out
}

/// The CSV's first line, after its BOM: what [`csv_rows`] follow, a chunk at a time
/// for a download whose memory does not grow with the dossiers.
pub fn csv_header(table: &Table) -> String {
    let mut out = String::from("\u{feff}");
    push_row(&mut out, table.headers().into_iter().map(str::to_string));
    out
}

/// These lines as CSV rows.
pub fn csv_rows(lines: &[DossierLine], table: &Table) -> String {
    let mut out = String::new();
    for line in lines {
        let fields = table.row(line).into_iter().map(|cell| match cell {
            Cell::Text(text) => text,
            Cell::Day(day) => day.map(|d| d.to_string()).unwrap_or_default(),
            Cell::Instant(at) => at
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|t| {
                    t.to_zoned(domain::paris::zone())
                        .strftime("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string()
                })
                .unwrap_or_default(),
            Cell::Count(n) => n.to_string(),
        });
        push_row(&mut out, fields);
    }
    out
}

fn push_row(out: &mut String, fields: impl Iterator<Item = String>) {
    let row: Vec<String> = fields.map(|f| csv_field(&f)).collect();
    out.push_str(&row.join(";"));
    out.push_str("\r\n");
}

/// Quoted when it holds a separator, a quote or a line break; a leading `=`, `+`, `-`
/// or `@` is neutralised so a spreadsheet never runs a candidate's answer as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The dossiers as an XLSX workbook; with `files`, a second sheet lists them (the
/// summary of an exam's ZIP). Text is written as text, never as a formula, whatever
/// it starts with.
pub fn xlsx(
    lines: &[DossierLine],
    table: &Table,
    files: Option<&[ZippedFile]>,
) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = XlsxStream::new(table, files.is_some(), None)?;
    workbook.push(lines, table)?;
    workbook.push_files(files.unwrap_or_default())?;
    let mut bytes = Vec::new();
    workbook.finish(&mut bytes)?;
    Ok(bytes)
}

/// A workbook of dossiers written a chunk of lines at a time: each row goes to a
/// temporary file as it is written (rust_xlsxwriter's constant memory), so an export of
/// 50,000 dossiers holds no more than one chunk. Rows must come in order. An exam's ZIP
/// adds the « Fichiers » sheet, written the same way as the files go into the archive.
pub struct XlsxStream {
    workbook: Workbook,
    /// The last row written (the header is row 0) of each sheet.
    last: u32,
    columns: u16,
    last_file: Option<u32>,
}

/// Widths of the « Fichiers » sheet's columns, set before its rows (a constant-memory
/// sheet cannot fit them after).
const FILE_WIDTHS: [f64; 6] = [16.0, 40.0, 60.0, 16.0, 66.0, 18.0];

impl XlsxStream {
    /// The « Dossiers » sheet with its header, and « Fichiers » when `files`;
    /// temporary files in `scratch` (a folder on disk: the system's temporary folder
    /// may be memory), or the system's.
    pub fn new(
        table: &Table,
        files: bool,
        scratch: Option<&std::path::Path>,
    ) -> Result<Self, XlsxError> {
        let mut workbook = Workbook::new();
        if let Some(dir) = scratch {
            workbook.set_tempdir(dir)?;
        }
        let headers = table.headers();
        let sheet = workbook
            .add_worksheet_with_constant_memory()?
            .set_name("Dossiers")?;
        // Widths before the rows: the header's, at least 12 characters.
        for (col, title) in headers.iter().enumerate() {
            let width = title.chars().count().max(12) as f64 + 2.0;
            sheet.set_column_width(col as u16, width)?;
        }
        write_header(sheet, &headers)?;
        sheet.set_freeze_panes(1, 0)?;
        if files {
            let sheet = workbook
                .add_worksheet_with_constant_memory()?
                .set_name("Fichiers")?;
            for (col, width) in FILE_WIDTHS.into_iter().enumerate() {
                sheet.set_column_width(col as u16, width)?;
            }
            write_header(sheet, &FILE_COLUMNS)?;
            sheet.set_freeze_panes(1, 0)?;
        }
        Ok(Self {
            workbook,
            last: 0,
            columns: headers.len() as u16,
            last_file: files.then_some(0),
        })
    }

    pub fn push(&mut self, lines: &[DossierLine], table: &Table) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        self.last = write_rows(sheet, self.last, lines.iter().map(|l| table.row(l)))?;
        Ok(())
    }

    /// Rows of the « Fichiers » sheet (made with `files`).
    pub fn push_files(&mut self, files: &[ZippedFile]) -> Result<(), XlsxError> {
        let Some(last) = self.last_file else {
            return Ok(());
        };
        let sheet = self.workbook.worksheet_from_index(1)?;
        self.last_file = Some(write_rows(sheet, last, files.iter().map(file_row))?);
        Ok(())
    }

    /// The workbook, written to `out` (a file on disk: a few MiB for 50,000 dossiers).
    pub fn finish(mut self, out: impl std::io::Write + Send) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        sheet.autofilter(0, 0, self.last, self.columns.saturating_sub(1))?;
        if let Some(last) = self.last_file {
            let sheet = self.workbook.worksheet_from_index(1)?;
            sheet.autofilter(0, 0, last, FILE_COLUMNS.len().saturating_sub(1) as u16)?;
        }
        self.workbook.save_to_writer(out)
    }
}

/// The header row, in bold.
fn write_header(sheet: &mut Worksheet, header: &[&str]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    for (col, title) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &bold)?;
    }
    Ok(())
}

/// One row per item after row `after`; returns the last row written.
fn write_rows(
    sheet: &mut Worksheet,
    after: u32,
    rows: impl Iterator<Item = Vec<Cell>>,
) -> Result<u32, XlsxError> {
    let day = Format::new().set_num_format("dd/mm/yyyy");
    let instant = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let mut last = after;
    for cells in rows {
        last += 1;
        let row = last;
        for (col, cell) in cells.into_iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(text) => {
                    sheet.write_string(row, col, text)?;
                }
                Cell::Day(None) => {}
                Cell::Day(Some(d)) => {
                    let value =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
                    sheet.write_datetime_with_format(row, col, &value, &day)?;
                }
                Cell::Instant(Some(ms)) => {
                    if let Ok(at) = jiff::Timestamp::from_millisecond(ms) {
                        let z = at.to_zoned(domain::paris::zone());
                        let value = ExcelDateTime::from_ymd(
                            z.year() as u16,
                            z.month() as u8,
                            z.day() as u8,
                        )?
                        .and_hms(
                            z.hour() as u16,
                            z.minute() as u8,
                            z.second() as u8,
                        )?;
                        sheet.write_datetime_with_format(row, col, &value, &instant)?;
                    }
                }
                Cell::Instant(None) => {}
                Cell::Count(n) => {
                    sheet.write_number(row, col, n as f64)?;
                }
            }
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("Le Bihan"), "Le Bihan");
        assert_eq!(csv_field("a;b"), "\"a;b\"");
        assert_eq!(csv_field("dit \"Jo\""), "\"dit \"\"Jo\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-2"), "'-2");
    }
}
