//! Text to dots, with fonts built into the binary so nothing depends on system paths.
//!
//! DejaVu Sans (proportional) prints text the printer's code page cannot hold: the Unicode
//! Bidirectional Algorithm (UAX #9, `unicode-bidi`) splits each line into directional runs,
//! `rustybuzz` shapes each run in its own direction (so Arabic joins and runs right to left,
//! while digits and Latin inside it still read left to right), and the runs are drawn in
//! visual order. DejaVu Sans Mono draws the printer's own fonts in the emulator.
//! Licence: `assets/fonts/LICENSE-DejaVu.txt`.

use std::ops::Range;

use ab_glyph_rasterizer::{Point, Rasterizer, point};
use rustybuzz::Direction;
use rustybuzz::ttf_parser::{GlyphId, OutlineBuilder};
use unicode_bidi::{BidiClass, BidiInfo, ParagraphInfo};

use crate::bitmap::Bitmap;

static SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static MONO: &[u8] = include_bytes!("../assets/fonts/DejaVuSansMono.ttf");

/// A dot is black when the glyph covers at least this share of it.
const COVERAGE_BLACK_MIN: f32 = 0.45;

fn face(data: &'static [u8]) -> rustybuzz::Face<'static> {
    // The fonts are compiled in and known to parse; the unit tests load both.
    rustybuzz::Face::from_slice(data, 0).expect("built-in DejaVu font parses")
}

/// Renders text of any script in rows `height` dots tall (ascender to descender), wrapped
/// at spaces to at most `width_max` dots; a word wider than that gets a row of its own.
/// Each paragraph (a line break ends one) starts a new row and takes its base direction
/// from its first strong character (left to right if it has none); each row is laid out
/// in visual order. Rows with no visible glyphs are left out.
pub fn render_text(text: &str, height: usize, width_max: usize) -> Vec<Bitmap> {
    let face = face(SANS);
    let scale = height as f32 / f32::from(face.ascender() - face.descender());
    let bidi = BidiInfo::new(text, None);
    let mut rows = Vec::new();
    for paragraph in &bidi.paragraphs {
        let shape = |line: Range<usize>| shape_line(&face, &bidi, paragraph, line);
        let fits = |line: Range<usize>| width_dots(&shape(line), scale) <= width_max;
        for row in wrap(text, without_separator(text, paragraph.range.clone()), fits) {
            rows.extend(draw(&face, &shape(row), height, scale));
        }
    }
    rows
}

/// One shaped glyph, in font units.
struct Glyph {
    id: GlyphId,
    x_advance: i32,
    x_offset: i32,
    y_offset: i32,
}

/// Shapes `line` (a byte range of one paragraph): each directional run on its own, in its
/// own direction, the runs left to right.
fn shape_line(
    face: &rustybuzz::Face,
    bidi: &BidiInfo,
    paragraph: &ParagraphInfo,
    line: Range<usize>,
) -> Vec<Glyph> {
    let mut glyphs = Vec::new();
    for (run, direction) in visual_runs(bidi, paragraph, line) {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(&bidi.text[run]);
        buffer.set_direction(direction);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buffer);
        // Shaped glyphs come left to right whatever the direction.
        glyphs.extend(
            shaped
                .glyph_infos()
                .iter()
                .zip(shaped.glyph_positions())
                .map(|(info, position)| Glyph {
                    id: GlyphId(info.glyph_id as u16),
                    x_advance: position.x_advance,
                    x_offset: position.x_offset,
                    y_offset: position.y_offset,
                }),
        );
    }
    glyphs
}

/// UAX #9 rules L1 and L2 for `line` (a byte range of `paragraph`): its level runs from
/// left to right, each with the direction its characters run in.
fn visual_runs(
    bidi: &BidiInfo,
    paragraph: &ParagraphInfo,
    line: Range<usize>,
) -> Vec<(Range<usize>, Direction)> {
    let direction = |level: unicode_bidi::Level| {
        if level.is_rtl() {
            Direction::RightToLeft
        } else {
            Direction::LeftToRight
        }
    };
    let levels = bidi.reordered_levels(paragraph, line.clone());
    let Some(&first) = levels[line.clone()].first() else {
        return Vec::new();
    };
    // A line at one level is one run. `BidiInfo::visual_runs` would panic on a line wholly
    // at the deepest implicit level (126, only reachable through 125 nested embeddings).
    if levels[line.clone()].iter().all(|&level| level == first) {
        return vec![(line, direction(first))];
    }
    let (levels, runs) = bidi.visual_runs(paragraph, line);
    runs.into_iter()
        .map(|run| {
            let level = levels[run.start];
            (run, direction(level))
        })
        .collect()
}

/// `paragraph` (a byte range of `text`) without the line break that ends it.
fn without_separator(text: &str, mut paragraph: Range<usize>) -> Range<usize> {
    if let Some(last) = text[paragraph.clone()].chars().next_back()
        && unicode_bidi::bidi_class(last) == BidiClass::B
    {
        paragraph.end -= last.len_utf8();
    }
    paragraph
}

/// Greedy wrap of `range` (bytes of `text`) at spaces: each row is the longest run of
/// words that `fits`; a word that fits no row is a row of its own.
fn wrap(text: &str, range: Range<usize>, fits: impl Fn(Range<usize>) -> bool) -> Vec<Range<usize>> {
    let mut rows = Vec::new();
    let mut current = range.start..range.start;
    let mut start = range.start;
    for word in text[range].split(' ') {
        let word = start..start + word.len();
        start = word.end + 1;
        let candidate = if current.is_empty() {
            word.clone()
        } else {
            current.start..word.end
        };
        if current.is_empty() || fits(candidate.clone()) {
            current = candidate;
        } else {
            rows.push(std::mem::replace(&mut current, word));
        }
    }
    rows.push(current);
    rows
}

fn width_dots(glyphs: &[Glyph], scale: f32) -> usize {
    let width: i32 = glyphs.iter().map(|glyph| glyph.x_advance).sum();
    (width as f32 * scale).ceil() as usize
}

/// Draws shaped glyphs left to right; `None` when nothing would show.
fn draw(face: &rustybuzz::Face, glyphs: &[Glyph], height: usize, scale: f32) -> Option<Bitmap> {
    let width = width_dots(glyphs, scale);
    if width == 0 || height == 0 {
        return None;
    }
    let baseline = f32::from(face.ascender()) * scale;
    let mut pen = Pen::new(width, height, scale);
    let mut x = 0i32;
    for glyph in glyphs {
        pen.origin = point(
            (x + glyph.x_offset) as f32 * scale,
            baseline - glyph.y_offset as f32 * scale,
        );
        face.outline_glyph(glyph.id, &mut pen);
        x += glyph.x_advance;
    }
    Some(pen.finish())
}

/// Draws `ch` into a `width`×`height` cell, as a printer's fixed-pitch font would. Characters
/// the font lacks come out as an empty cell.
pub fn render_cell(ch: char, width: usize, height: usize) -> Bitmap {
    let face = face(MONO);
    let mut pen = Pen::new(width, height, 0.0);
    let Some(glyph) = face.glyph_index(ch) else {
        return pen.finish();
    };
    let vertical = height as f32 / f32::from(face.ascender() - face.descender());
    let advance = f32::from(face.glyph_hor_advance(glyph).unwrap_or(1).max(1));
    let horizontal = (width as f32 / advance).min(vertical * 1.25);
    pen.scale_x = horizontal;
    pen.scale_y = vertical;
    pen.origin = point(
        (width as f32 - advance * horizontal) / 2.0,
        f32::from(face.ascender()) * vertical,
    );
    face.outline_glyph(glyph, &mut pen);
    pen.finish()
}

/// Turns font outlines into coverage, in dots.
struct Pen {
    rasterizer: Rasterizer,
    width: usize,
    height: usize,
    scale_x: f32,
    scale_y: f32,
    origin: Point,
    start: Point,
    last: Point,
}

impl Pen {
    fn new(width: usize, height: usize, scale: f32) -> Pen {
        Pen {
            rasterizer: Rasterizer::new(width, height),
            width,
            height,
            scale_x: scale,
            scale_y: scale,
            origin: point(0.0, 0.0),
            start: point(0.0, 0.0),
            last: point(0.0, 0.0),
        }
    }

    fn map(&self, x: f32, y: f32) -> Point {
        point(
            self.origin.x + x * self.scale_x,
            self.origin.y - y * self.scale_y,
        )
    }

    fn finish(self) -> Bitmap {
        let mut bitmap = Bitmap::new(self.width, self.height);
        self.rasterizer.for_each_pixel_2d(|x, y, coverage| {
            if coverage >= COVERAGE_BLACK_MIN {
                bitmap.set(x as usize, y as usize, true);
            }
        });
        bitmap
    }
}

impl OutlineBuilder for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.start = self.map(x, y);
        self.last = self.start;
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let to = self.map(x, y);
        self.rasterizer.draw_line(self.last, to);
        self.last = to;
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (control, to) = (self.map(x1, y1), self.map(x, y));
        self.rasterizer.draw_quad(self.last, control, to);
        self.last = to;
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (c1, c2, to) = (self.map(x1, y1), self.map(x2, y2), self.map(x, y));
        self.rasterizer.draw_cubic(self.last, c1, c2, to);
        self.last = to;
    }

    fn close(&mut self) {
        if self.last != self.start {
            self.rasterizer.draw_line(self.last, self.start);
        }
        self.last = self.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn black_dots(bitmap: &Bitmap) -> usize {
        (0..bitmap.height())
            .flat_map(|y| (0..bitmap.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| bitmap.get(x, y))
            .count()
    }

    /// The runs of `text` (one paragraph, one line) left to right, `>` left to right, `<`
    /// right to left.
    fn runs(text: &str) -> Vec<String> {
        let bidi = BidiInfo::new(text, None);
        let paragraph = &bidi.paragraphs[0];
        visual_runs(&bidi, paragraph, paragraph.range.clone())
            .into_iter()
            .map(|(run, direction)| {
                let arrow = if direction == Direction::RightToLeft {
                    '<'
                } else {
                    '>'
                };
                format!("{arrow}{}", &text[run])
            })
            .collect()
    }

    #[test]
    fn mixed_lines_run_in_visual_order() {
        assert_eq!(runs("Amount KES 1,250.00"), [">Amount KES 1,250.00"]);
        assert_eq!(
            runs("تم استلام الدفع، شكراً لكم"),
            ["<تم استلام الدفع، شكراً لكم"]
        );
        assert_eq!(runs("المبلغ KES 1,250.00"), [">KES 1,250.00", "<المبلغ "]);
        assert_eq!(runs("رقم 12345678"), [">12345678", "<رقم "]);
        assert_eq!(
            runs("المبلغ abc والرقم 123"),
            [">123", "< والرقم ", ">abc", "<المبلغ "]
        );
        // Left-to-right base (first strong character is Latin); digits after Arabic
        // belong to it (rule W2), so the Arabic phrase and its number flip together.
        assert_eq!(
            runs("Total المبلغ 1,250 KES"),
            [">Total ", ">1,250", "<المبلغ ", "> KES"]
        );
    }

    #[test]
    fn a_line_deep_in_embeddings_is_one_run() {
        // 125 nested embeddings put "abc" at level 126, where `BidiInfo::visual_runs` panics.
        let text = format!("{}abc", "\u{202B}\u{202A}".repeat(63));
        let bidi = BidiInfo::new(&text, None);
        let paragraph = &bidi.paragraphs[0];
        let abc = text.len() - 3..text.len();
        assert_eq!(
            visual_runs(&bidi, paragraph, abc.clone()),
            [(abc, Direction::LeftToRight)]
        );
        assert!(!render_text(&text, 24, 384).is_empty());
    }

    #[test]
    fn digits_in_an_arabic_line_print_left_of_it_and_unreversed() {
        let mixed = &render_text("رقم 12345678", 24, 384)[0];
        let digits = &render_text("12345678", 24, 384)[0];
        let arabic = &render_text("رقم", 24, 384)[0];
        // The digits' run comes first, drawn exactly as on its own.
        for y in 0..digits.height() {
            for x in 0..digits.width() {
                assert_eq!(mixed.get(x, y), digits.get(x, y), "dot ({x}, {y})");
            }
        }
        // The Arabic word is to the right of the digits and the space.
        let inked = |x: usize| (0..mixed.height()).any(|y| mixed.get(x, y));
        let arabic_start = (digits.width()..mixed.width()).find(|&x| inked(x)).unwrap();
        assert!(arabic_start > digits.width() + 3);
        assert!(mixed.width() - arabic_start <= arabic.width() + 1);
    }

    #[test]
    fn wraps_at_spaces_and_breaks_paragraphs() {
        assert_eq!(render_text("مرحبا\nabc\r\n\n123", 24, 384).len(), 3);
        let one = render_text("مرحبا Lastmile", 24, 384);
        assert_eq!(one.len(), 1);
        let narrow = render_text("مرحبا Lastmile", 24, one[0].width() - 1);
        assert_eq!(narrow.len(), 2);
        assert!(narrow.iter().all(|row| row.width() < one[0].width()));
        assert!(render_text("  ", 24, 384).is_empty());
    }

    #[test]
    fn both_fonts_draw_latin_and_arabic() {
        let line = &render_text("مرحبا Lastmile", 24, 384)[0];
        assert_eq!(line.height(), 24);
        assert!(black_dots(line) > 100);
        let cell = render_cell('é', 12, 24);
        assert!(black_dots(&cell) > 10);
        assert_eq!(black_dots(&render_cell(' ', 12, 24)), 0);
    }
}
