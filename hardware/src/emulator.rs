//! A thermal printer in software: ESC/POS bytes in, a picture of the paper roll out.
//!
//! [`parse_command`] splits bytes into commands (pure, incremental: it says when a command
//! is not complete yet); [`Emulator`] draws them on paper; [`VirtualPrinter`] does both
//! behind a TCP port like a network printer on 9100, answers `DLE EOT` status queries and
//! writes each job as a PNG. Commands it does not draw are skipped by their documented length,
//! and bytes it cannot place are skipped one at a time: no input makes it panic. Paper stops
//! at [`EMULATOR_PAPER_HEIGHT_DOTS_MAX`]: past it nothing more is drawn and the job is
//! [`EmulatorError::PaperTooLong`], so memory and drawing work are bounded by that one sheet.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::bitmap::Bitmap;
use crate::escpos::{Align, CodePage, DLE, EOT, ESC, GS, LF, PaperWidth, PrinterStatus};
use crate::typeface;

/// Longest paper the emulator draws, in dots (about 2.5 m at 203 dpi).
pub const EMULATOR_PAPER_HEIGHT_DOTS_MAX: usize = 20_000;
/// Largest raster image accepted, in dots (width × height).
pub const EMULATOR_RASTER_DOTS_MAX: usize = 576 * EMULATOR_PAPER_HEIGHT_DOTS_MAX;
/// Default line spacing (`ESC 2`): 1/6 inch, in dots.
pub const LINE_SPACING_DOTS_DEFAULT: usize = 30;
/// Blank paper left after the last line and at a cut, in dots.
const PAPER_TAIL_DOTS: usize = 24;
/// A connection idle this long ends the job, in ms.
pub const VIRTUAL_PRINTER_IDLE_MS: u64 = 1_500;
const ACCEPT_POLL_MS: u64 = 20;

const FS: u8 = 0x1C;
const FONT_B_WIDTH_DOTS: usize = 9;
const FONT_B_HEIGHT_DOTS: usize = 17;

/// A `GS ( k` QR function (symbol type 49).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QrFunction {
    Model(u8),
    ModuleSize(u8),
    ErrorCorrection(u8),
    Store(Vec<u8>),
    Print,
    Other,
}

/// One ESC/POS command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// A byte that prints a character.
    Text(u8),
    LineFeed,
    Tab,
    Init,
    /// `ESC !`: font B, bold, double height, double width, underline in one byte.
    PrintMode(u8),
    Bold(bool),
    /// `ESC -`: 0 off, 1 thin, 2 thick.
    Underline(u8),
    /// `ESC M`: 0 font A, 1 font B.
    Font(u8),
    Align(Align),
    CodePage(u8),
    /// `GS !`: width multiplier in the high nibble, height in the low one (0 = ×1).
    CharacterSize(u8),
    FeedLines(u8),
    FeedDots(u8),
    LineSpacing(Option<u8>),
    Qr(QrFunction),
    /// `GS v 0`: a raster image, 1 = black, most significant bit leftmost.
    Raster {
        width_bytes: usize,
        height: usize,
        data: Vec<u8>,
    },
    Cut,
    /// `DLE EOT n`: a real-time status request.
    StatusQuery(u8),
    /// A command we recognise by its length but do not draw, or an unknown byte.
    Skipped {
        bytes: usize,
    },
}

/// What [`parse_command`] found at the start of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A command and how many bytes it took.
    Complete(Command, usize),
    /// The input ends inside a command; call again with more bytes.
    Incomplete,
}

fn le16(low: u8, high: u8) -> usize {
    usize::from(low) | usize::from(high) << 8
}

/// Reads the command at the start of `input` (which must not be empty).
pub fn parse_command(input: &[u8]) -> Parsed {
    use Parsed::{Complete, Incomplete};
    let Some(&first) = input.first() else {
        return Incomplete;
    };
    let byte = |i: usize| input.get(i).copied();
    // A fixed-length command: `len` bytes, made into a command from its parameters.
    let fixed = |len: usize, make: &dyn Fn(&[u8]) -> Command| {
        if input.len() < len {
            Incomplete
        } else {
            Complete(make(&input[..len]), len)
        }
    };
    let skip = |len: usize| fixed(len, &|_| Command::Skipped { bytes: len });
    // `prefix` bytes, then a little-endian length at `at`, then that many bytes.
    let length_prefixed = |at: usize, width: usize| -> Option<usize> {
        let bytes = input.get(at..at + width)?;
        let len = bytes
            .iter()
            .rev()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        Some(at + width + len)
    };
    let until_nul = |from: usize| {
        input
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == 0))
            .map(|i| from + i + 1)
    };
    match first {
        LF => Complete(Command::LineFeed, 1),
        b'\t' => Complete(Command::Tab, 1),
        0x20..=0xFF => Complete(Command::Text(first), 1),
        DLE => match byte(1) {
            None => Incomplete,
            Some(EOT) => fixed(3, &|b| Command::StatusQuery(b[2])),
            Some(0x05) => skip(3),
            Some(0x14) => skip(5),
            Some(_) => skip(1),
        },
        ESC => {
            let Some(code) = byte(1) else {
                return Incomplete;
            };
            match code {
                b'@' => Complete(Command::Init, 2),
                b'!' => fixed(3, &|b| Command::PrintMode(b[2])),
                b'E' | b'G' => fixed(3, &|b| Command::Bold(b[2] & 1 == 1)),
                b'-' => fixed(3, &|b| Command::Underline(b[2] % 48)),
                b'M' => fixed(3, &|b| Command::Font(b[2] % 48)),
                b'a' => fixed(3, &|b| {
                    Command::Align(match b[2] % 48 {
                        1 => Align::Center,
                        2 => Align::Right,
                        _ => Align::Left,
                    })
                }),
                b't' => fixed(3, &|b| Command::CodePage(b[2])),
                b'd' => fixed(3, &|b| Command::FeedLines(b[2])),
                b'J' => fixed(3, &|b| Command::FeedDots(b[2])),
                b'2' => Complete(Command::LineSpacing(None), 2),
                b'3' => fixed(3, &|b| Command::LineSpacing(Some(b[2]))),
                b'i' | b'm' => Complete(Command::Cut, 2),
                b'<' => skip(2),
                b' ' | b'%' | b'=' | b'?' | b'K' | b'R' | b'U' | b'V' | b'e' | b'r' | b'u'
                | b'{' | b'c' => {
                    // `ESC c x n` has two parameters; the rest one.
                    skip(if code == b'c' { 4 } else { 3 })
                }
                b'$' | b'\\' => skip(4),
                b'p' => skip(5),
                b'*' => match (byte(2), byte(3), byte(4)) {
                    (Some(mode), Some(low), Some(high)) => {
                        let columns = le16(low, high);
                        skip(5 + columns * if mode < 2 { 1 } else { 3 })
                    }
                    _ => Incomplete,
                },
                b'D' => until_nul(2).map_or(Incomplete, skip),
                b'&' => user_defined_characters(input).map_or(Incomplete, skip),
                b'(' => length_prefixed(3, 2).map_or(Incomplete, skip),
                _ => skip(2),
            }
        }
        GS => {
            let Some(code) = byte(1) else {
                return Incomplete;
            };
            match code {
                b'!' => fixed(3, &|b| Command::CharacterSize(b[2])),
                b'V' => match byte(2) {
                    None => Incomplete,
                    Some(0 | 1 | 48 | 49) => fixed(3, &|_| Command::Cut),
                    Some(_) => fixed(4, &|_| Command::Cut),
                },
                b'v' => {
                    let (Some(low_w), Some(high_w), Some(low_h), Some(high_h)) =
                        (byte(4), byte(5), byte(6), byte(7))
                    else {
                        return Incomplete;
                    };
                    let (width_bytes, height) = (le16(low_w, high_w), le16(low_h, high_h));
                    let len = 8 + width_bytes * height;
                    if width_bytes * 8 * height > EMULATOR_RASTER_DOTS_MAX {
                        return skip(len);
                    }
                    fixed(len, &|b| Command::Raster {
                        width_bytes,
                        height,
                        data: b[8..].to_vec(),
                    })
                }
                b'(' => match length_prefixed(3, 2) {
                    None => Incomplete,
                    Some(len) if byte(2) == Some(b'k') => {
                        fixed(len, &|b| Command::Qr(qr_function(&b[5..])))
                    }
                    Some(len) => skip(len),
                },
                b'8' => match byte(2) {
                    None => Incomplete,
                    Some(_) => length_prefixed(3, 4).map_or(Incomplete, skip),
                },
                b'k' => match byte(2) {
                    None => Incomplete,
                    Some(0..=6) => until_nul(3).map_or(Incomplete, skip),
                    Some(_) => byte(3).map_or(Incomplete, |n| skip(4 + usize::from(n))),
                },
                b'*' => match (byte(2), byte(3)) {
                    (Some(x), Some(y)) => skip(4 + usize::from(x) * usize::from(y) * 8),
                    _ => Incomplete,
                },
                b'B' | b'H' | b'h' | b'w' | b'f' | b'b' | b'I' | b'r' | b'a' | b'/' | b'E'
                | b'T' => skip(3),
                b'L' | b'W' | b'P' | b'$' | b'\\' => skip(4),
                _ => skip(2),
            }
        }
        FS => {
            let Some(code) = byte(1) else {
                return Incomplete;
            };
            match code {
                b'&' | b'.' => skip(2),
                b'!' | b'-' | b'C' | b'W' => skip(3),
                b'p' | b'S' => skip(4),
                b'(' => length_prefixed(3, 2).map_or(Incomplete, skip),
                _ => skip(2),
            }
        }
        _ => skip(1),
    }
}

/// Length of `ESC & y c1 c2 [x d1…d(y×x)]…`, if complete.
fn user_defined_characters(input: &[u8]) -> Option<usize> {
    let (y, c1, c2) = (usize::from(*input.get(2)?), *input.get(3)?, *input.get(4)?);
    let mut at = 5;
    for _ in c1..=c2.max(c1) {
        let x = usize::from(*input.get(at)?);
        at += 1 + x * y;
    }
    (at <= input.len()).then_some(at)
}

fn qr_function(body: &[u8]) -> QrFunction {
    match body {
        [49, 65, n, ..] => QrFunction::Model(*n),
        [49, 67, n, ..] => QrFunction::ModuleSize(*n),
        [49, 69, n, ..] => QrFunction::ErrorCorrection(*n),
        [49, 80, 48, data @ ..] => QrFunction::Store(data.to_vec()),
        [49, 81, ..] => QrFunction::Print,
        _ => QrFunction::Other,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmulatorError {
    #[error(
        "receipt is longer than {EMULATOR_PAPER_HEIGHT_DOTS_MAX} dots of paper; it is probably not a receipt"
    )]
    PaperTooLong,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CharStyle {
    bold: bool,
    underline: u8,
    font_b: bool,
    width: usize,
    height: usize,
}

impl Default for CharStyle {
    fn default() -> CharStyle {
        CharStyle {
            bold: false,
            underline: 0,
            font_b: false,
            width: 1,
            height: 1,
        }
    }
}

struct Glyph {
    ch: char,
    style: CharStyle,
}

/// Draws ESC/POS commands onto a paper roll.
pub struct Emulator {
    paper: PaperWidth,
    pending: Vec<u8>,
    /// The paper so far, grown as lines are printed, never past
    /// [`EMULATOR_PAPER_HEIGHT_DOTS_MAX`].
    sheet: Bitmap,
    y: usize,
    style: CharStyle,
    align: Align,
    code_page: CodePage,
    line_spacing: usize,
    line: Vec<Glyph>,
    qr_data: Vec<u8>,
    qr_module_dots: usize,
    qr_ecc: u8,
    printed: bool,
    glyphs: HashMap<(char, usize, usize), Bitmap>,
    error: Option<EmulatorError>,
}

impl Emulator {
    pub fn new(paper: PaperWidth) -> Emulator {
        Emulator {
            paper,
            pending: Vec::new(),
            sheet: Bitmap::new(paper.dots(), 0),
            y: 0,
            style: CharStyle::default(),
            align: Align::Left,
            code_page: CodePage::Pc437,
            line_spacing: LINE_SPACING_DOTS_DEFAULT,
            line: Vec::new(),
            qr_data: Vec::new(),
            qr_module_dots: 3,
            qr_ecc: 49,
            printed: false,
            glyphs: HashMap::new(),
            error: None,
        }
    }

    /// Takes the next bytes of a job; returns the status queries (`DLE EOT n`) among them in
    /// order, for the caller to answer.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let mut queries = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match parse_command(&self.pending[at..]) {
                Parsed::Incomplete => break,
                Parsed::Complete(command, len) => {
                    at += len;
                    if let Command::StatusQuery(n) = command {
                        queries.push(n);
                    } else if self.error.is_none() {
                        // Past the end of the paper nothing more is drawn: the job fails as
                        // a whole, and hostile bytes cannot make us draw without end.
                        self.apply(command);
                    }
                }
            }
        }
        self.pending.drain(..at);
        queries
    }

    /// Whether anything has been drawn.
    pub fn printed(&self) -> bool {
        self.printed || !self.line.is_empty()
    }

    /// The paper as printed so far; a trailing incomplete command is dropped.
    pub fn finish(mut self) -> Result<Bitmap, EmulatorError> {
        self.flush_line(false);
        self.advance(PAPER_TAIL_DOTS);
        if let Some(error) = self.error {
            return Err(error);
        }
        self.sheet.set_height(self.y);
        Ok(self.sheet)
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Text(byte) => {
                let ch = self.code_page.decode(byte).unwrap_or('?');
                self.put_glyph(ch);
            }
            Command::Tab => {
                let tab_columns = 8;
                let column = self.line.len();
                for _ in column..(column / tab_columns + 1) * tab_columns {
                    self.put_glyph(' ');
                }
            }
            Command::LineFeed => self.flush_line(true),
            Command::Init => {
                self.flush_line(false);
                self.style = CharStyle::default();
                self.align = Align::Left;
                self.code_page = CodePage::Pc437;
                self.line_spacing = LINE_SPACING_DOTS_DEFAULT;
            }
            Command::PrintMode(n) => {
                self.style.font_b = n & 0x01 != 0;
                self.style.bold = n & 0x08 != 0;
                self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
                self.style.underline = u8::from(n & 0x80 != 0);
            }
            Command::Bold(on) => self.style.bold = on,
            Command::Underline(n) => self.style.underline = n.min(2),
            Command::Font(n) => self.style.font_b = n == 1,
            Command::Align(align) => self.align = align,
            Command::CodePage(n) => {
                self.code_page = CodePage::from_number(n).unwrap_or(CodePage::Pc437)
            }
            Command::CharacterSize(n) => {
                self.style.width = usize::from((n >> 4) & 7) + 1;
                self.style.height = usize::from(n & 7) + 1;
            }
            Command::FeedLines(n) => {
                self.flush_line(true);
                self.advance(self.line_spacing * usize::from(n));
            }
            Command::FeedDots(n) => {
                self.flush_line(false);
                self.advance(usize::from(n));
            }
            Command::LineSpacing(n) => {
                self.line_spacing = n.map_or(LINE_SPACING_DOTS_DEFAULT, usize::from)
            }
            Command::Qr(function) => self.qr(function),
            Command::Raster {
                width_bytes,
                height,
                data,
            } => {
                self.flush_line(false);
                let mut image = Bitmap::new(width_bytes * 8, height);
                for (i, byte) in data.iter().enumerate() {
                    for bit in 0..8 {
                        if byte & (0x80 >> bit) != 0 {
                            image.set(
                                (i % width_bytes.max(1)) * 8 + bit,
                                i / width_bytes.max(1),
                                true,
                            );
                        }
                    }
                }
                self.draw_block(&image);
            }
            Command::Cut => {
                self.flush_line(false);
                self.advance(PAPER_TAIL_DOTS);
                // A dotted line where the knife went.
                let width = self.paper.dots();
                for x in (0..width).step_by(4) {
                    self.set(x, self.y);
                }
                self.advance(PAPER_TAIL_DOTS);
            }
            Command::StatusQuery(_) | Command::Skipped { .. } => {}
        }
    }

    fn qr(&mut self, function: QrFunction) {
        match function {
            QrFunction::ModuleSize(n) => self.qr_module_dots = usize::from(n.clamp(1, 16)),
            QrFunction::ErrorCorrection(n) => self.qr_ecc = n,
            QrFunction::Store(data) => self.qr_data = data,
            QrFunction::Print => {
                self.flush_line(false);
                let level = match self.qr_ecc {
                    48 => qrcode::EcLevel::L,
                    50 => qrcode::EcLevel::Q,
                    51 => qrcode::EcLevel::H,
                    _ => qrcode::EcLevel::M,
                };
                // A printer prints nothing for data it cannot encode; so do we.
                let Ok(code) = qrcode::QrCode::with_error_correction_level(&self.qr_data, level)
                else {
                    return;
                };
                let (modules, size) = (code.width(), self.qr_module_dots);
                let mut image = Bitmap::new(modules * size, modules * size);
                for (i, color) in code.to_colors().iter().enumerate() {
                    if *color == qrcode::Color::Dark {
                        for d in 0..size * size {
                            image.set(
                                (i % modules) * size + d % size,
                                (i / modules) * size + d / size,
                                true,
                            );
                        }
                    }
                }
                self.draw_block(&image);
            }
            QrFunction::Model(_) | QrFunction::Other => {}
        }
    }

    fn put_glyph(&mut self, ch: char) {
        let used: usize = self.line.iter().map(|g| cell_width(g.style)).sum();
        if used + cell_width(self.style) > self.paper.dots() {
            self.flush_line(true);
        }
        self.line.push(Glyph {
            ch,
            style: self.style,
        });
    }

    /// Prints the pending characters as one line; with `advance`, moves down one line even
    /// when there were none (a bare LF).
    fn flush_line(&mut self, advance: bool) {
        if self.line.is_empty() {
            if advance {
                self.advance(self.line_spacing);
            }
            return;
        }
        let glyphs = std::mem::take(&mut self.line);
        let width: usize = glyphs.iter().map(|g| cell_width(g.style)).sum();
        let height = glyphs
            .iter()
            .map(|g| cell_height(g.style))
            .max()
            .unwrap_or(0);
        let mut x = match self.align {
            Align::Left => 0,
            Align::Center => self.paper.dots().saturating_sub(width) / 2,
            Align::Right => self.paper.dots().saturating_sub(width),
        };
        self.ensure_height(self.y + height);
        for glyph in &glyphs {
            let (w, h) = (cell_width(glyph.style), cell_height(glyph.style));
            let (base_w, base_h) = (w / glyph.style.width, h / glyph.style.height);
            let cell = self
                .glyphs
                .entry((glyph.ch, base_w, base_h))
                .or_insert_with(|| typeface::render_cell(glyph.ch, base_w, base_h))
                .clone();
            let top = self.y + height - h;
            let (scale_x, scale_y) = (glyph.style.width, glyph.style.height);
            // Each black dot of the cell becomes a scale_x × scale_y block.
            for sy in 0..base_h {
                for sx in 0..base_w {
                    let black =
                        cell.get(sx, sy) || (glyph.style.bold && sx > 0 && cell.get(sx - 1, sy));
                    if black {
                        for d in 0..scale_x * scale_y {
                            self.set(
                                x + sx * scale_x + d % scale_x,
                                top + sy * scale_y + d / scale_x,
                            );
                        }
                    }
                }
            }
            for thickness in 0..usize::from(glyph.style.underline) {
                for cx in 0..w {
                    self.set(x + cx, self.y + height - 1 - thickness);
                }
            }
            x += w;
        }
        self.printed = true;
        // As on Epson printers: a line taller than the line spacing feeds its own height.
        self.advance(height.max(self.line_spacing));
    }

    fn draw_block(&mut self, image: &Bitmap) {
        let x = match self.align {
            Align::Left => 0,
            Align::Center => self.paper.dots().saturating_sub(image.width()) / 2,
            Align::Right => self.paper.dots().saturating_sub(image.width()),
        };
        self.ensure_height(self.y + image.height());
        for iy in 0..image.height() {
            for ix in 0..image.width().min(self.paper.dots()) {
                if image.get(ix, iy) {
                    self.set(x + ix, self.y + iy);
                }
            }
        }
        self.printed = true;
        self.advance(image.height());
    }

    fn advance(&mut self, dots: usize) {
        self.y += dots;
        self.ensure_height(self.y);
    }

    fn ensure_height(&mut self, height: usize) {
        if height > EMULATOR_PAPER_HEIGHT_DOTS_MAX {
            self.error.get_or_insert(EmulatorError::PaperTooLong);
            self.y = self.y.min(EMULATOR_PAPER_HEIGHT_DOTS_MAX);
            return;
        }
        if self.sheet.height() < height {
            self.sheet.set_height(height);
        }
    }

    fn set(&mut self, x: usize, y: usize) {
        self.sheet.set(x, y, true);
    }
}

fn cell_width(style: CharStyle) -> usize {
    let base = if style.font_b {
        FONT_B_WIDTH_DOTS
    } else {
        crate::escpos::FONT_A_WIDTH_DOTS
    };
    base * style.width
}

fn cell_height(style: CharStyle) -> usize {
    let base = if style.font_b {
        FONT_B_HEIGHT_DOTS
    } else {
        crate::escpos::FONT_A_HEIGHT_DOTS
    };
    base * style.height
}

/// Renders a whole job.
pub fn render(bytes: &[u8], paper: PaperWidth) -> Result<Bitmap, EmulatorError> {
    let mut emulator = Emulator::new(paper);
    emulator.feed(bytes);
    emulator.finish()
}

/// Guesses the paper from the job: 80 mm if a raster image is wider than 384 dots or a text
/// line (font A, ×1) is longer than 32 characters; 58 mm otherwise.
pub fn infer_paper_width(bytes: &[u8]) -> PaperWidth {
    let narrow = PaperWidth::Mm58;
    let mut at = 0;
    let mut column = 0usize;
    while at < bytes.len() {
        let Parsed::Complete(command, len) = parse_command(&bytes[at..]) else {
            break;
        };
        at += len;
        match command {
            Command::Raster { width_bytes, .. } if width_bytes * 8 > narrow.dots() => {
                return PaperWidth::Mm80;
            }
            Command::Text(_) => {
                column += 1;
                if column > narrow.columns() {
                    return PaperWidth::Mm80;
                }
            }
            Command::LineFeed | Command::Raster { .. } | Command::Init | Command::FeedLines(_) => {
                column = 0
            }
            _ => {}
        }
    }
    narrow
}

/// A network printer in software: listens on TCP, answers `DLE EOT`, writes each job
/// (one connection) as `job-NNNN.png` into a directory. For tests and demos.
pub struct VirtualPrinter {
    address: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    status: Mutex<PrinterStatus>,
    jobs: Mutex<Vec<PathBuf>>,
    stop: AtomicBool,
}

impl VirtualPrinter {
    /// Listens on `address` (use port 0 for any free port) and saves jobs into `directory`.
    pub fn start(
        address: SocketAddr,
        directory: &Path,
        paper: PaperWidth,
    ) -> std::io::Result<VirtualPrinter> {
        std::fs::create_dir_all(directory)?;
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            status: Mutex::new(PrinterStatus::default()),
            jobs: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let thread_shared = Arc::clone(&shared);
        let directory = directory.to_owned();
        let thread = std::thread::Builder::new()
            .name("virtual-printer".into())
            .spawn(move || serve(&listener, &directory, paper, &thread_shared))?;
        Ok(VirtualPrinter {
            address,
            shared,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// What the printer reports from now on; with paper out or the cover open, jobs are
    /// received but not printed, as on a real printer.
    pub fn set_status(&self, status: PrinterStatus) {
        *self
            .shared
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = status;
    }

    /// The PNG files written so far.
    pub fn jobs(&self) -> Vec<PathBuf> {
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves until the process ends (for `lastmile-terminal printer serve`).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

fn serve(listener: &TcpListener, directory: &Path, paper: PaperWidth, shared: &Shared) {
    while !shared.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                // One job at a time, like a printer.
                if let Err(error) = print_job(stream, directory, paper, shared) {
                    eprintln!("virtual printer: job failed: {error}");
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(ACCEPT_POLL_MS));
            }
            Err(error) => eprintln!("virtual printer: accept failed: {error}"),
        }
    }
}

fn print_job(
    mut stream: TcpStream,
    directory: &Path,
    paper: PaperWidth,
    shared: &Shared,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(ACCEPT_POLL_MS * 5)))?;
    let mut emulator = Emulator::new(paper);
    let mut received = 0usize;
    let mut last_data = Instant::now();
    let mut buffer = [0u8; 4096];
    let mut printable = true;
    loop {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let n = match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if last_data.elapsed() > Duration::from_millis(VIRTUAL_PRINTER_IDLE_MS) {
                    break;
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        last_data = Instant::now();
        received += n;
        if received > crate::escpos::PRINT_JOB_BYTES_MAX {
            return Err(std::io::Error::other(
                "job larger than PRINT_JOB_BYTES_MAX; dropped",
            ));
        }
        let status = *shared.status.lock().unwrap_or_else(PoisonError::into_inner);
        printable &= status.ready();
        let answers = status.answers();
        for query in emulator.feed(&buffer[..n]) {
            if let Some(answer) = answers.get(usize::from(query).wrapping_sub(1)) {
                stream.write_all(&[*answer])?;
            }
        }
    }
    if !printable || !emulator.printed() {
        return Ok(());
    }
    let image = emulator.finish().map_err(std::io::Error::other)?;
    let mut jobs = shared.jobs.lock().unwrap_or_else(PoisonError::into_inner);
    let path = directory.join(format!("job-{:04}.png", jobs.len() + 1));
    std::fs::write(&path, image.to_png())?;
    jobs.push(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_every_command_is_incomplete_or_complete_never_a_panic() {
        let samples: &[&[u8]] = &[
            &[ESC, b'@'],
            &[ESC, b'!', 0x38],
            &[GS, b'(', b'k', 4, 0, 49, 65, 50, 0],
            &[GS, b'v', b'0', 0, 1, 0, 2, 0, 0xFF, 0x00],
            &[GS, b'V', 66, 3],
            &[GS, b'k', 4, b'1', b'2', 0],
            &[ESC, b'*', 33, 2, 0, 1, 2, 3, 4, 5, 6],
            &[ESC, b'&', 3, 65, 66, 1, 1, 2, 3, 1, 4, 5, 6],
            &[DLE, EOT, 1],
            &[FS, b'p', 1, 0],
        ];
        for sample in samples {
            for end in 1..sample.len() {
                assert_eq!(
                    parse_command(&sample[..end]),
                    Parsed::Incomplete,
                    "{sample:?}[..{end}]"
                );
            }
            let Parsed::Complete(_, len) = parse_command(sample) else {
                panic!("{sample:?} incomplete")
            };
            assert_eq!(len, sample.len(), "{sample:?}");
        }
    }

    #[test]
    fn arbitrary_bytes_render_without_panicking() {
        let mut state = 0x1234_5678u32;
        let noise: Vec<u8> = (0..20_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let _ = render(&noise, PaperWidth::Mm58);
    }
}
