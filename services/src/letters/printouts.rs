//! What the candidate keeps: the dossier d'inscription (at préinscription) and the
//! accusé de réception (at closure) as PDF files, made on the server. The text is set
//! in DejaVu Sans, a subset of which is embedded (every French accent; no font needed
//! on the reader's side), with a map back to Unicode so it can be selected, searched
//! and read aloud. A small layout of its own: blocks top to bottom, lines wrapped at
//! spaces (or anywhere in a word wider than the page, a SHA-256), pages as needed.
//!
//! Tagged (RGAA 13.3): a structure tree gives each block its role (H1, H2, P, a table
//! of label and value, a list), in reading order; rules and footers are artifacts; the
//! catalog has `/Lang (fr-FR)` and asks viewers to show the title.

use pdf_writer::{
    Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr,
    types::{ArtifactType, StructRole, TableHeaderScope},
};

static REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// Where a field's value starts, from the left margin.
const LABEL_WIDTH: f32 = 150.0;
const BODY: f32 = 10.0;
const SMALL: f32 = 8.0;
/// Room kept at the bottom of each page for its footer.
const FOOTER: f32 = 36.0;

/// One part of a printout, laid out below the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// Who issues the document, at its head, in bold.
    Issuer(String),
    Title(String),
    Heading(String),
    /// A label and its value, the value beside the label.
    Field(String, String),
    /// A field whose value is a fingerprint, set smaller so a SHA-256 holds on a line.
    Hash(String, String),
    Text(String),
    /// Set smaller: fingerprints, notes.
    Small(String),
    /// The dossier number, set large.
    Big(String),
    /// An item of a list (its mark included); items in a row make one list.
    Item(String),
    Rule,
}

/// A document to print: its title (also the PDF's), who issues it (on every page's
/// footer), and its blocks.
#[derive(Clone, Debug)]
pub struct Printout {
    pub title: String,
    pub issuer: String,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
}

/// A line of text at its place on a page, and the element of the structure tree it
/// belongs to (none: an artifact, the footer).
struct Run {
    weight: Weight,
    size: f32,
    x: f32,
    y: f32,
    text: String,
    tag: Option<usize>,
}

/// An element of the structure tree; the first is the document.
struct Element {
    role: StructRole,
    parent: usize,
    kids: Vec<Kid>,
}

enum Kid {
    Element(usize),
    /// A marked sequence of a page's content.
    Content {
        page: usize,
        mcid: i32,
    },
}

enum Mark {
    Run(Run),
    Rule { y: f32 },
}

struct Face {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    per_em: f32,
}

impl Face {
    fn new(data: &'static [u8]) -> Self {
        // The fonts are part of the binary and parsed by the tests: they parse.
        let face = ttf_parser::Face::parse(data, 0).expect("embedded font");
        Self {
            per_em: f32::from(face.units_per_em()),
            face,
            data,
        }
    }

    /// The character as printed: one the font lacks becomes a space (a narrow
    /// no-break space, say) or « ? ».
    fn printable(&self, c: char) -> char {
        if c.is_control() {
            ' '
        } else if self.face.glyph_index(c).is_some() {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '?'
        }
    }

    fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |g| g.0)
    }

    /// Advance in thousandths of the size, as PDF widths are written.
    fn advance(&self, glyph: u16) -> f32 {
        let units = self
            .face
            .glyph_hor_advance(ttf_parser::GlyphId(glyph))
            .unwrap_or(0);
        f32::from(units) * 1000.0 / self.per_em
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.advance(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }
}

struct Layout {
    regular: Face,
    bold: Face,
    pages: Vec<Vec<Mark>>,
    /// The baseline of the next line on the current page.
    y: f32,
    elements: Vec<Element>,
    /// The table (of fields) or list (of items) the previous block left open.
    open: Option<(StructRole, usize)>,
}

impl Layout {
    fn new() -> Self {
        Self {
            regular: Face::new(REGULAR),
            bold: Face::new(BOLD),
            pages: Vec::new(),
            y: 0.0,
            elements: vec![Element {
                role: StructRole::Document,
                parent: 0,
                kids: Vec::new(),
            }],
            open: None,
        }
    }

    /// A new element under `parent`.
    fn element(&mut self, role: StructRole, parent: usize) -> usize {
        let id = self.elements.len();
        self.elements.push(Element {
            role,
            parent,
            kids: Vec::new(),
        });
        self.elements[parent].kids.push(Kid::Element(id));
        id
    }

    /// The table or list this block goes in: the one left open, or a new one.
    fn group(&mut self, role: StructRole) -> usize {
        match self.open {
            Some((open, id)) if open == role => id,
            _ => {
                let id = self.element(role, 0);
                self.open = Some((role, id));
                id
            }
        }
    }

    fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// The text as lines no wider than `width`: broken at spaces, and inside a word
    /// only when the word alone is wider.
    fn wrap(&self, weight: Weight, size: f32, text: &str, width: f32) -> Vec<String> {
        let face = self.face(weight);
        let text: String = text.chars().map(|c| face.printable(c)).collect();
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if face.width(&candidate, size) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone: cut it where it overflows.
                for c in word.chars() {
                    line.push(c);
                    if face.width(&line, size) > width && line.chars().count() > 1 {
                        line.pop();
                        lines.push(std::mem::replace(&mut line, c.to_string()));
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Room for `height` more points on this page, or a new page.
    fn room(&mut self, height: f32) {
        if self.pages.is_empty() || self.y - height < MARGIN + FOOTER {
            self.pages.push(Vec::new());
            self.y = HEIGHT - MARGIN;
        }
    }

    fn run(&mut self, weight: Weight, size: f32, x: f32, y: f32, text: String, tag: usize) {
        if let Some(page) = self.pages.last_mut() {
            page.push(Mark::Run(Run {
                weight,
                size,
                x,
                y,
                text,
                tag: Some(tag),
            }));
        }
    }

    /// A paragraph (or heading, or list item's body) as the element `role` under
    /// `parent`.
    #[allow(clippy::too_many_arguments)]
    fn lines(
        &mut self,
        role: StructRole,
        parent: usize,
        weight: Weight,
        size: f32,
        text: &str,
        space_after: f32,
    ) {
        let tag = self.element(role, parent);
        let leading = size * 1.4;
        for line in self.wrap(weight, size, text, WIDTH - 2.0 * MARGIN) {
            self.room(leading);
            self.y -= leading;
            let y = self.y;
            self.run(weight, size, MARGIN, y, line, tag);
        }
        self.y -= space_after;
    }

    /// A row of the table: the label its header cell, the value its data cell. Each
    /// cell's lines are written together, so the content reads label then value.
    fn field(&mut self, label: &str, value: &str, value_size: f32) {
        let table = self.group(StructRole::Table);
        let row = self.element(StructRole::TR, table);
        let (th, td) = (
            self.element(StructRole::TH, row),
            self.element(StructRole::TD, row),
        );
        let leading = BODY * 1.4;
        let labels = self.wrap(Weight::Bold, BODY, label, LABEL_WIDTH - 8.0);
        let values = self.wrap(
            Weight::Regular,
            value_size,
            value,
            WIDTH - 2.0 * MARGIN - LABEL_WIDTH,
        );
        let rows = labels.len().max(values.len());
        // A field of a few lines stays on one page.
        self.room(leading * rows.min(6) as f32);
        let mut at = Vec::with_capacity(rows);
        for _ in 0..rows {
            self.room(leading);
            self.y -= leading;
            at.push((self.pages.len(), self.y));
        }
        // A field longer than a page (never seen) may end on the next one: each line
        // goes to the page it was placed on.
        for (lines, x, weight, size, tag) in [
            (&labels, MARGIN, Weight::Bold, BODY, th),
            (
                &values,
                MARGIN + LABEL_WIDTH,
                Weight::Regular,
                value_size,
                td,
            ),
        ] {
            for (line, &(page, y)) in lines.iter().zip(&at) {
                self.pages[page - 1].push(Mark::Run(Run {
                    weight,
                    size,
                    x,
                    y,
                    text: line.clone(),
                    tag: Some(tag),
                }));
            }
        }
        self.y -= 3.0;
    }

    fn block(&mut self, block: &Block) {
        use StructRole::{H1, H2, P};
        // A table or list runs on while its rows or items follow one another; a rule
        // ends it (each file of a receipt is a table of its own).
        match block {
            Block::Field(..) | Block::Hash(..) | Block::Item(_) => {}
            _ => self.open = None,
        }
        match block {
            Block::Issuer(text) => self.lines(P, 0, Weight::Bold, BODY, text, 1.0),
            Block::Title(text) => self.lines(H1, 0, Weight::Bold, 18.0, text, 8.0),
            Block::Heading(text) => {
                // A heading is never the last line of a page.
                self.room(12.0 * 1.4 + 8.0 + 3.0 * BODY * 1.4);
                self.y -= 8.0;
                self.lines(H2, 0, Weight::Bold, 12.0, text, 4.0);
            }
            Block::Field(label, value) => self.field(label, value, BODY),
            Block::Hash(label, value) => self.field(label, value, SMALL),
            Block::Text(text) => self.lines(P, 0, Weight::Regular, BODY, text, 4.0),
            Block::Small(text) => self.lines(P, 0, Weight::Regular, SMALL, text, 3.0),
            Block::Big(text) => self.lines(P, 0, Weight::Bold, 24.0, text, 6.0),
            Block::Item(text) => {
                let list = self.group(StructRole::L);
                let item = self.element(StructRole::LI, list);
                self.lines(StructRole::LBody, item, Weight::Regular, BODY, text, 4.0);
            }
            Block::Rule => {
                self.room(12.0);
                self.y -= 6.0;
                let y = self.y;
                if let Some(page) = self.pages.last_mut() {
                    page.push(Mark::Rule { y });
                }
                self.y -= 6.0;
            }
        }
    }
}

impl Printout {
    /// The printout as a PDF file.
    pub fn to_pdf(&self) -> Vec<u8> {
        let mut layout = Layout::new();
        for block in &self.blocks {
            layout.block(block);
        }
        if layout.pages.is_empty() {
            layout.room(0.0);
        }
        // Footers, now that the number of pages is known.
        let count = layout.pages.len();
        let footer = |n: usize| format!("{} · {} · page {n} / {count}", self.issuer, self.title);
        for (i, page) in layout.pages.iter_mut().enumerate() {
            page.push(Mark::Run(Run {
                weight: Weight::Regular,
                size: SMALL,
                x: MARGIN,
                y: MARGIN,
                text: footer(i + 1)
                    .chars()
                    .map(|c| layout.regular.printable(c))
                    .collect(),
                tag: None,
            }));
        }
        let texts = |weight: Weight| {
            layout
                .pages
                .iter()
                .flatten()
                .filter_map(move |mark| match mark {
                    Mark::Run(run) if run.weight == weight => Some(run.text.clone()),
                    _ => None,
                })
        };
        let regular = Embedded::new(&layout.regular, texts(Weight::Regular));
        let bold = Embedded::new(&layout.bold, texts(Weight::Bold));

        let mut pdf = Pdf::new();
        let mut next = Ref::new(1);
        let mut alloc = || next.bump();
        let catalog = alloc();
        let tree = alloc();
        let info = alloc();
        let structure = alloc();
        let elements: Vec<Ref> = layout.elements.iter().map(|_| alloc()).collect();
        let regular_refs = [alloc(), alloc(), alloc(), alloc(), alloc()];
        let bold_refs = [alloc(), alloc(), alloc(), alloc(), alloc()];
        let pages: Vec<(Ref, Ref)> = layout.pages.iter().map(|_| (alloc(), alloc())).collect();

        let mut cat = pdf.catalog(catalog);
        cat.pages(tree).lang(TextStr("fr-FR"));
        cat.pair(Name(b"StructTreeRoot"), structure);
        cat.mark_info().marked(true);
        cat.viewer_preferences().display_doc_title(true);
        cat.finish();
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .author(TextStr(&self.issuer))
            .producer(TextStr("Inscriptions aux concours"));
        pdf.pages(tree)
            .kids(pages.iter().map(|(page, _)| *page))
            .count(pages.len() as i32);
        // Which element each marked sequence of a page belongs to (the parent tree).
        let mut owners: Vec<Vec<Ref>> = Vec::with_capacity(pages.len());
        for (index, ((page_ref, content_ref), marks)) in pages.iter().zip(&layout.pages).enumerate()
        {
            let mut content = Content::new();
            let mut owned = Vec::new();
            for mark in marks {
                match mark {
                    Mark::Run(run) => {
                        let (font, face, name) = match run.weight {
                            Weight::Regular => (&regular, &layout.regular, Name(b"F1")),
                            Weight::Bold => (&bold, &layout.bold, Name(b"F2")),
                        };
                        match run.tag {
                            Some(tag) => {
                                let mcid = owned.len() as i32;
                                owned.push(elements[tag]);
                                layout.elements[tag]
                                    .kids
                                    .push(Kid::Content { page: index, mcid });
                                content
                                    .begin_marked_content_with_properties(
                                        layout.elements[tag].role.to_name(),
                                    )
                                    .properties()
                                    .identify(mcid);
                            }
                            None => {
                                content
                                    .begin_marked_content_with_properties(Name(b"Artifact"))
                                    .properties()
                                    .artifact()
                                    .kind(ArtifactType::Pagination);
                            }
                        }
                        content
                            .begin_text()
                            .set_font(name, run.size)
                            .set_text_matrix([1.0, 0.0, 0.0, 1.0, run.x, run.y])
                            .show(Str(&font.encode(face, &run.text)))
                            .end_text()
                            .end_marked_content();
                    }
                    Mark::Rule { y } => {
                        content
                            .begin_marked_content_with_properties(Name(b"Artifact"))
                            .properties()
                            .artifact()
                            .kind(ArtifactType::Layout);
                        content
                            .set_line_width(0.5)
                            .move_to(MARGIN, *y)
                            .line_to(WIDTH - MARGIN, *y)
                            .stroke()
                            .end_marked_content();
                    }
                }
            }
            owners.push(owned);
            let stream = miniz_oxide::deflate::compress_to_vec_zlib(&content.finish(), 6);
            pdf.stream(*content_ref, &stream)
                .filter(Filter::FlateDecode);
            let mut page = pdf.page(*page_ref);
            page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
                .parent(tree)
                .contents(*content_ref)
                .struct_parents(index as i32);
            page.resources()
                .fonts()
                .pair(Name(b"F1"), regular_refs[0])
                .pair(Name(b"F2"), bold_refs[0]);
            page.finish();
        }
        // The structure tree: the root, each element with its kids in reading order,
        // and for each page the elements of its marked sequences.
        let owner_lists: Vec<Ref> = owners.iter().map(|_| alloc()).collect();
        let mut root = pdf
            .indirect(structure)
            .start::<pdf_writer::writers::StructTreeRoot>();
        root.child(elements[0]);
        root.parent_tree_next_key(owners.len() as i32);
        let mut numbers = root.parent_tree();
        let mut nums = numbers.nums();
        for (index, list) in owner_lists.iter().enumerate() {
            nums.insert(index as i32, *list);
        }
        nums.finish();
        numbers.finish();
        root.finish();
        for (list, owned) in owner_lists.iter().zip(&owners) {
            pdf.indirect(*list).array().items(owned.iter().copied());
        }
        for (index, element) in layout.elements.iter().enumerate() {
            let mut writer = pdf.struct_element(elements[index]);
            writer.kind(element.role);
            writer.parent(if index == 0 {
                structure
            } else {
                elements[element.parent]
            });
            if element.role == StructRole::TH {
                writer
                    .attributes()
                    .push()
                    .table()
                    .scope(TableHeaderScope::Row);
            }
            let mut kids = writer.children();
            for kid in &element.kids {
                match kid {
                    Kid::Element(id) => {
                        kids.struct_element(elements[*id]);
                    }
                    Kid::Content { page, mcid } => {
                        kids.marked_content_ref()
                            .page(pages[*page].0)
                            .marked_content_id(*mcid);
                    }
                }
            }
        }
        regular.write(&mut pdf, &layout.regular, regular_refs, b"DejaVuSans");
        bold.write(&mut pdf, &layout.bold, bold_refs, b"DejaVuSans-Bold");
        pdf.finish()
    }
}

/// PDFs made at once on this server for candidates' requests. Each takes a few
/// milliseconds of CPU (2.4 ms for a receipt of 12 files, release build, measured
/// here), on the blocking pool, at most this many cores; and one candidate's
/// requests are made one at a time ([`kept`]), so a candidate asking again and again
/// holds one of them at most.
const MAKING_AT_ONCE: usize = 2;
static MAKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAKING_AT_ONCE);
/// The outbox's own: a candidate's requests never delay a promised mail's PDF.
static LETTERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
/// How long a PDF waits for its turn before the answer is « busy ».
const MAKING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// No PDF could be made in time (or its maker failed): try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("the PDF could not be made in time")]
pub struct Busy;

impl Printout {
    /// [`Printout::to_pdf`] on the blocking pool, [`MAKING_AT_ONCE`] at a time.
    pub async fn render(self) -> Result<Vec<u8>, Busy> {
        render_with(&MAKING, MAKING_WAIT, self).await
    }

    /// The same for a letter of the outbox, on its own slot.
    pub async fn render_letter(self) -> Result<Vec<u8>, Busy> {
        render_with(&LETTERS, MAKING_WAIT, self).await
    }

    /// What the printout shows, as a SHA-256: the same text, the same PDF.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let shown = format!("{:?}", (&self.title, &self.issuer, &self.blocks));
        hex::encode(Sha256::digest(shown.as_bytes()))
    }
}

async fn render_with(
    slots: &tokio::sync::Semaphore,
    wait: std::time::Duration,
    printout: Printout,
) -> Result<Vec<u8>, Busy> {
    let _slot = tokio::time::timeout(wait, slots.acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    let made = tokio::task::spawn_blocking(move || printout.to_pdf())
        .await
        .map_err(|_| Busy)?;
    MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(made)
}

static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// PDFs made by this process since it started (for `/metrics`, and tests).
pub fn made() -> u64 {
    MADE.load(std::sync::atomic::Ordering::Relaxed)
}

mod documents;
mod font;
mod kept;

pub use documents::{dossier_sheet, receipt};
use font::Embedded;
pub use kept::{kept, kept_for_letter};

#[cfg(test)]
mod tests;
