//! Text to dots, with fonts built into the binary so nothing depends on system paths.
//!
//! DejaVu Sans (proportional, shaped by `rustybuzz`, so Arabic joins and runs right to left)
//! prints text the printer's code page cannot hold; DejaVu Sans Mono draws the printer's own
//! fonts in the emulator. Licence: `assets/fonts/LICENSE-DejaVu.txt`.

use ab_glyph_rasterizer::{Point, Rasterizer, point};
use rustybuzz::ttf_parser::{GlyphId, OutlineBuilder};

use crate::bitmap::Bitmap;

static SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static MONO: &[u8] = include_bytes!("../assets/fonts/DejaVuSansMono.ttf");

/// A dot is black when the glyph covers at least this share of it.
const COVERAGE_BLACK_MIN: f32 = 0.45;

fn face(data: &'static [u8]) -> rustybuzz::Face<'static> {
    // The fonts are compiled in and known to parse; the unit tests load both.
    rustybuzz::Face::from_slice(data, 0).expect("built-in DejaVu font parses")
}

/// Renders one line of any script, `height` dots from ascender to descender. Returns `None`
/// for text with no visible glyphs.
pub fn render_line(text: &str, height: usize) -> Option<Bitmap> {
    let face = face(SANS);
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    let shaped = rustybuzz::shape(&face, &[], buffer);
    let scale = height as f32 / f32::from(face.ascender() - face.descender());
    let width: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
    let width = (width as f32 * scale).ceil() as usize;
    if width == 0 || height == 0 {
        return None;
    }
    let baseline = f32::from(face.ascender()) * scale;
    let mut pen = Pen::new(width, height, scale);
    let mut x = 0i32;
    for (info, position) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
        pen.origin = point(
            (x + position.x_offset) as f32 * scale,
            baseline - position.y_offset as f32 * scale,
        );
        face.outline_glyph(GlyphId(info.glyph_id as u16), &mut pen);
        x += position.x_advance;
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

    #[test]
    fn both_fonts_draw_latin_and_arabic() {
        let line = render_line("مرحبا Lastmile", 24).expect("visible text");
        assert_eq!(line.height(), 24);
        assert!(black_dots(&line) > 100);
        let cell = render_cell('é', 12, 24);
        assert!(black_dots(&cell) > 10);
        assert_eq!(black_dots(&render_cell(' ', 12, 24)), 0);
    }
}
