//! The fonts as a PDF embeds them: a subset of the glyphs used, renumbered, with a
//! map back to Unicode so the text can be selected, searched and read aloud.

use std::collections::BTreeMap;

use pdf_writer::{
    Filter, Finish, Name, Pdf, Rect, Ref, Str,
    types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap},
};

use super::Face;

/// A font as embedded: the glyphs used, renumbered from 1, and their characters.
pub(super) struct Embedded {
    remapper: subsetter::GlyphRemapper,
    chars: BTreeMap<u16, char>,
}

impl Embedded {
    pub(super) fn new(face: &Face, texts: impl Iterator<Item = String>) -> Self {
        let mut used: BTreeMap<u16, char> = BTreeMap::new();
        for text in texts {
            for c in text.chars() {
                used.entry(face.glyph(c)).or_insert(c);
            }
        }
        let glyphs: Vec<u16> = used.keys().copied().collect();
        let remapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(&glyphs);
        let chars = used
            .into_iter()
            .filter_map(|(old, c)| remapper.get(old).map(|new| (new, c)))
            .collect();
        Self { remapper, chars }
    }

    /// The text as the content stream shows it: two bytes per glyph (Identity-H).
    pub(super) fn encode(&self, face: &Face, text: &str) -> Vec<u8> {
        text.chars()
            .flat_map(|c| self.remapper.get(face.glyph(c)).unwrap_or(0).to_be_bytes())
            .collect()
    }

    /// Writes the font's objects from `refs` (Type0, CID font, descriptor, ToUnicode,
    /// font file).
    pub(super) fn write(&self, pdf: &mut Pdf, face: &Face, refs: [Ref; 5], name: &[u8]) {
        let [type0, cid, descriptor, cmap, file] = refs;
        // A subset's name starts with a tag of six capitals (PDF 32000, 9.6.4).
        let base = [b"CGSUBS+".as_slice(), name].concat();
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(type0)
            .base_font(Name(&base))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let widths: Vec<f32> = self
            .remapper
            .remapped_gids()
            .map(|old| face.advance(old))
            .collect();
        let mut font = pdf.cid_font(cid);
        font.subtype(CidFontType::Type2)
            .base_font(Name(&base))
            .system_info(system)
            .font_descriptor(descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        font.widths().consecutive(0, widths);
        font.finish();
        let f = &face.face;
        let scale = |v: i16| f32::from(v) * 1000.0 / face.per_em;
        let bbox = f.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(Name(&base))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                scale(bbox.x_min),
                scale(bbox.y_min),
                scale(bbox.x_max),
                scale(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(scale(f.ascender()))
            .descent(scale(f.descender()))
            .cap_height(scale(f.capital_height().unwrap_or(f.ascender())))
            .stem_v(80.0)
            .font_file2(file);
        let mut unicode = UnicodeCmap::new(Name(b"Custom"), system);
        for (&glyph, &c) in &self.chars {
            unicode.pair(glyph, c);
        }
        pdf.cmap(cmap, unicode.finish().as_slice());
        // Subsetting our own two fonts cannot fail; were it to, the whole font is
        // embedded instead (heavier, as correct).
        let program = subsetter::subset(face.data, 0, &self.remapper).unwrap_or_else(|error| {
            tracing::error!(%error, "font subset failed");
            face.data.to_vec()
        });
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&program, 6);
        pdf.stream(file, &packed)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), program.len() as i32);
    }
}
