//! The voucher sheet's typeface: DejaVu Sans (the font the terminal prints
//! with, `hardware/assets/fonts`), embedded in the PDF as a CID font so that
//! names print in the scripts its font covers (Latin, Arabic, …).
//!
//! Text is laid out as the terminal's printer does it: the Unicode
//! Bidirectional Algorithm (`unicode-bidi`) splits a line into directional
//! runs in visual order (the sheet is a left-to-right document), and
//! `rustybuzz` shapes each run in its own direction, so Arabic letters join
//! and read right to left. The PDF shows the shaped glyph ids (`Identity-H`)
//! and carries a `ToUnicode` map from each glyph to the text it came from,
//! so the names can be searched and copied. The whole font is embedded,
//! compressed (about 330 KB per sheet).
//!
//! The same bidi-and-shape steps exist for raster printing in
//! `hardware/src/typeface.rs`; the server may not depend on the hardware
//! crate, and the two differ in what they produce (glyph ids and advances
//! here, dots there).

use std::collections::BTreeMap;
use std::ops::Range;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Name, Pdf, Rect, Ref, Str};
use rustybuzz::Direction;
use unicode_bidi::{BidiInfo, Level};

static SANS: &[u8] = include_bytes!("../../hardware/assets/fonts/DejaVuSans.ttf");
/// The font's name inside the PDF.
const FONT_NAME: &[u8] = b"DejaVuSans";
/// PDF glyph widths are in thousandths of the font size.
const PDF_UNITS_PER_EM: f32 = 1000.0;

/// One glyph as shaped, in PDF glyph-space units (1/1000 em).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedGlyph {
    pub id: u16,
    pub advance: f32,
    pub x_offset: f32,
}

/// The embedded font and the glyphs used so far (their widths and text).
pub struct Typeface {
    face: rustybuzz::Face<'static>,
    /// Glyph id → (width from the font, the text it stands for).
    used: BTreeMap<u16, (f32, String)>,
}

impl Default for Typeface {
    fn default() -> Self {
        Self::new()
    }
}

impl Typeface {
    pub fn new() -> Self {
        Self {
            // Compiled in and known to parse; the tests load it.
            face: rustybuzz::Face::from_slice(SANS, 0).expect("built-in DejaVu font parses"),
            used: BTreeMap::new(),
        }
    }

    fn scale(&self) -> f32 {
        PDF_UNITS_PER_EM / self.face.units_per_em() as f32
    }

    /// Shapes one line: directional runs in visual order, each shaped in its
    /// own direction; glyphs left to right.
    pub fn shape(&mut self, text: &str) -> Vec<PlacedGlyph> {
        let bidi = BidiInfo::new(text, Some(Level::ltr()));
        let mut placed = Vec::new();
        for paragraph in &bidi.paragraphs {
            let line = paragraph.range.clone();
            let (levels, runs) = bidi.visual_runs(paragraph, line);
            for run in runs {
                let direction = if levels[run.start].is_rtl() {
                    Direction::RightToLeft
                } else {
                    Direction::LeftToRight
                };
                self.shape_run(text, run, direction, &mut placed);
            }
        }
        placed
    }

    fn shape_run(
        &mut self,
        text: &str,
        run: Range<usize>,
        direction: Direction,
        placed: &mut Vec<PlacedGlyph>,
    ) {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(&text[run.clone()]);
        buffer.set_direction(direction);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(&self.face, &[], buffer);
        // Each cluster's text runs to the next larger cluster start.
        let mut starts: Vec<usize> = shaped
            .glyph_infos()
            .iter()
            .map(|info| info.cluster as usize)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let scale = self.scale();
        for (info, position) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
            let id = u16::try_from(info.glyph_id).unwrap_or(0);
            let start = info.cluster as usize;
            let end = starts
                .iter()
                .find(|&&s| s > start)
                .map_or(run.len(), |&s| s);
            let source = text[run.start + start..run.start + end].to_owned();
            let width = self
                .face
                .glyph_hor_advance(rustybuzz::ttf_parser::GlyphId(id))
                .map_or(0.0, |w| f32::from(w) * scale);
            self.used.entry(id).or_insert((width, source));
            placed.push(PlacedGlyph {
                id,
                advance: position.x_advance as f32 * scale,
                x_offset: position.x_offset as f32 * scale,
            });
        }
    }

    /// The width of a shaped line at `size` points.
    pub fn width(glyphs: &[PlacedGlyph], size: f32) -> f32 {
        glyphs.iter().map(|g| g.advance).sum::<f32>() * size / PDF_UNITS_PER_EM
    }

    /// Shows shaped glyphs at the current text position: each glyph's own
    /// width is corrected to the shaped advance (kerning, joined Arabic,
    /// zero-width marks) with `TJ` adjustments.
    pub fn show(&self, content: &mut Content, glyphs: &[PlacedGlyph]) {
        let mut show = content.show_positioned();
        let mut items = show.items();
        for glyph in glyphs {
            let width = self.used.get(&glyph.id).map_or(0.0, |(w, _)| *w);
            // A TJ number moves the pen left by that many thousandths.
            if glyph.x_offset != 0.0 {
                items.adjust(-glyph.x_offset);
            }
            items.show(Str(&glyph.id.to_be_bytes()));
            let correction = width - glyph.advance + glyph.x_offset;
            if correction != 0.0 {
                items.adjust(correction);
            }
        }
    }

    /// Writes the font objects: a Type 0 font at `ids.font` and its
    /// descendant, descriptor, compressed font file and `ToUnicode` map at
    /// the next four references.
    pub fn write(&self, pdf: &mut Pdf, font: Ref) {
        let cid = Ref::new(font.get() + 1);
        let descriptor = Ref::new(font.get() + 2);
        let file = Ref::new(font.get() + 3);
        let to_unicode = Ref::new(font.get() + 4);
        let scale = self.scale();
        pdf.type0_font(font)
            .base_font(Name(FONT_NAME))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(to_unicode);
        {
            let mut cid_font = pdf.cid_font(cid);
            cid_font
                .subtype(CidFontType::Type2)
                .base_font(Name(FONT_NAME))
                .system_info(identity())
                .font_descriptor(descriptor)
                .cid_to_gid_map_predefined(Name(b"Identity"));
            let mut widths = cid_font.widths();
            for (id, (width, _)) in &self.used {
                widths.consecutive(*id, [*width]);
            }
        }
        let bbox = self.face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(Name(FONT_NAME))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(self.face.ascender()) * scale)
            .descent(f32::from(self.face.descender()) * scale)
            .cap_height(f32::from(self.face.capital_height().unwrap_or(0)) * scale)
            .stem_v(80.0)
            .font_file2(file);
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(SANS, 6);
        pdf.stream(file, &compressed)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), SANS.len() as i32);
        let mut cmap = UnicodeCmap::new(Name(b"Lastmile-UTF16"), identity());
        for (id, (_, text)) in &self.used {
            if !text.is_empty() {
                cmap.pair_with_multiple(*id, text.chars());
            }
        }
        let cmap = cmap.finish();
        pdf.cmap(to_unicode, &cmap);
    }
}

/// Glyph ids are the character codes (`Identity-H`, `CIDToGIDMap Identity`).
fn identity() -> SystemInfo<'static> {
    SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_and_latin_names_shape_to_real_glyphs() {
        // DejaVu Sans has no Ethiopic: Amharic needs a second bundled font.
        let mut face = Typeface::new();
        for name in ["فاطمة حسن", "Amina Wanjiru", "Zoë Ngũgĩ"] {
            let glyphs = face.shape(name);
            assert!(!glyphs.is_empty(), "{name}");
            // Glyph 0 is .notdef: the empty box a missing character prints as.
            assert!(glyphs.iter().all(|g| g.id != 0), "{name}: {glyphs:?}");
        }
    }

    #[test]
    fn an_arabic_run_is_laid_right_to_left_and_joined() {
        let mut face = Typeface::new();
        let name = "فاطمة";
        let glyphs = face.shape(name);
        // Drawn left to right, the first glyph is the word's last letter
        // (teh marbuta, U+0629) in its final, joined form.
        let first = face.used[&glyphs[0].id].1.clone();
        assert_eq!(first, "\u{0629}");
        let isolated = face
            .face
            .glyph_index('\u{0629}')
            .map(|g| g.0)
            .unwrap_or_default();
        assert_ne!(
            glyphs[0].id, isolated,
            "joined form, not the isolated letter"
        );
        // The Latin id after it stays left to right, after the Arabic run.
        let mixed = face.shape("فاطمة (ben-7)");
        let texts: String = mixed.iter().map(|g| face.used[&g.id].1.as_str()).collect();
        assert!(texts.ends_with("ben-7)"), "{texts}");
    }
}
