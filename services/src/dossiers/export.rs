//! The dossier list as the service opens it in its spreadsheet: CSV, or XLSX with
//! typed columns (dates as dates, counts as numbers); and the summary workbook put in
//! an exam's ZIP, with a sheet of the files it holds. One list of columns for both.

use jiff::civil::Date;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::dossiers::instruction::DossierLine;

/// A value of the export, typed so a spreadsheet sorts and filters it as what it is.
enum Cell {
    Text(String),
    /// A calendar day (a birth date).
    Day(Date),
    /// An instant, shown in Paris time; empty when there is none.
    Instant(Option<i64>),
    Count(i64),
}

const DOSSIER_COLUMNS: [&str; 12] = [
    "N° de dossier",
    "Nom",
    "Prénom(s)",
    "Date de naissance",
    "Adresse électronique",
    "Téléphone",
    "Voie",
    "État",
    "Préinscrit le",
    "Clôturé le",
    "Fichiers",
    "Fichiers infectés",
];

fn dossier_row(line: &DossierLine) -> Vec<Cell> {
    let d = &line.dossier;
    let r = &d.registration;
    vec![
        Cell::Text(d.number.to_string()),
        Cell::Text(
            r.usage_name
                .as_ref()
                .unwrap_or(&r.birth_name)
                .as_str()
                .to_string(),
        ),
        Cell::Text(r.first_names.as_str().to_string()),
        Cell::Day(r.birth_date),
        Cell::Text(r.email.as_str().to_string()),
        Cell::Text(r.phone.display()),
        Cell::Text(r.voie.map(|v| v.label().to_string()).unwrap_or_default()),
        Cell::Text(line.stage.label().to_string()),
        Cell::Instant(Some(d.created_at)),
        Cell::Instant(d.closed_at),
        Cell::Count(line.files),
        Cell::Count(line.infected),
    ]
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
/// Excel and LibreOffice open it with accents and columns right.
pub fn csv(lines: &[DossierLine]) -> String {
    let mut out = String::from("\u{feff}");
    push_row(&mut out, DOSSIER_COLUMNS.iter().map(|s| s.to_string()));
    for line in lines {
        let fields = dossier_row(line).into_iter().map(|cell| match cell {
            Cell::Text(text) => text,
            Cell::Day(day) => day.strftime("%d/%m/%Y").to_string(),
            Cell::Instant(at) => at
                .map(domain::french::paris_date_time_ms)
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
pub fn xlsx(lines: &[DossierLine], files: Option<&[ZippedFile]>) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet().set_name("Dossiers")?;
    write_sheet(sheet, &DOSSIER_COLUMNS, lines.iter().map(dossier_row))?;
    if let Some(files) = files {
        let sheet = workbook.add_worksheet().set_name("Fichiers")?;
        write_sheet(sheet, &FILE_COLUMNS, files.iter().map(file_row))?;
    }
    workbook.save_to_buffer()
}

/// A header row in bold, frozen and filterable, then one row per item.
fn write_sheet(
    sheet: &mut Worksheet,
    header: &[&str],
    rows: impl Iterator<Item = Vec<Cell>>,
) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let day = Format::new().set_num_format("dd/mm/yyyy");
    let instant = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (col, title) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &bold)?;
    }
    let mut last = 0u32;
    for (i, cells) in rows.enumerate() {
        let row = i as u32 + 1;
        last = row;
        for (col, cell) in cells.into_iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(text) => {
                    sheet.write_string(row, col, text)?;
                }
                Cell::Day(d) => {
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
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, last, header.len().saturating_sub(1) as u16)?;
    sheet.autofit();
    Ok(())
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
