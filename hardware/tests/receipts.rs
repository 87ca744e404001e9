//! Receipts: ESC/POS bytes pinned as a readable listing (insta), rendered paper pinned as
//! PNG files in `tests/snapshots/`, QR codes read back from the rendered paper, lines mixing
//! right-to-left and left-to-right text, and other libraries' common commands.

#[path = "support/sample_receipt.rs"]
mod sample_receipt;

use std::fmt::Write;

use lastmile_hardware::emulator::{self, Command, Parsed, parse_command};
use lastmile_hardware::escpos::{
    Align, CodePage, FONT_A_HEIGHT_DOTS, PaperWidth, QrMode, Receipt, Style,
};
use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::QrDecoder;
use proptest::prelude::*;

/// One line per command; text runs decoded through the selected code page; images by size
/// and a checksum of their dots.
fn listing(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut text = String::new();
    let mut page = CodePage::Pc437;
    let mut at = 0;
    while at < bytes.len() {
        let Parsed::Complete(command, len) = parse_command(&bytes[at..]) else {
            writeln!(out, "INCOMPLETE {:02x?}", &bytes[at..]).unwrap();
            break;
        };
        let raw = &bytes[at..at + len];
        at += len;
        if let Command::Text(byte) = command {
            text.push(page.decode(byte).unwrap_or('?'));
            continue;
        }
        if !text.is_empty() {
            writeln!(out, "TEXT {:?}", std::mem::take(&mut text)).unwrap();
        }
        match command {
            Command::CodePage(n) => {
                page = CodePage::from_number(n).unwrap_or(CodePage::Pc437);
                writeln!(out, "{command:?}").unwrap();
            }
            Command::Raster {
                width_bytes,
                height,
                ref data,
            } => {
                let sum = data
                    .iter()
                    .fold(0u32, |acc, &b| acc.rotate_left(5) ^ u32::from(b));
                writeln!(
                    out,
                    "RASTER {}x{height} dots, checksum {sum:08x}",
                    width_bytes * 8
                )
                .unwrap();
            }
            Command::Qr(emulator::QrFunction::Store(ref data)) => {
                writeln!(out, "QR STORE {:?}", String::from_utf8_lossy(data)).unwrap();
            }
            _ => writeln!(out, "{command:?} {raw:02x?}").unwrap(),
        }
    }
    if !text.is_empty() {
        writeln!(out, "TEXT {text:?}").unwrap();
    }
    out
}

fn snapshot_png(name: &str, image: &lastmile_hardware::bitmap::Bitmap) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.png"));
    let actual = image.to_gray();
    match std::fs::read(&path) {
        Ok(stored) => {
            let stored = GrayFrame::decode_image(&stored).expect("stored snapshot is a PNG");
            let same = (stored.width() as usize, stored.height() as usize)
                == (image.width(), image.height())
                && stored.pixels() == actual.as_slice();
            if !same {
                let new = path.with_extension("new.png");
                std::fs::write(&new, image.to_png()).unwrap();
                panic!(
                    "{name} rendered differently; see {} and replace the snapshot if it is right",
                    new.display()
                );
            }
        }
        Err(_) => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, image.to_png()).unwrap();
            eprintln!("wrote new snapshot {}", path.display());
        }
    }
}

#[test]
fn sample_receipt_58mm_raster_qr() {
    let bytes = sample_receipt::sample_receipt(PaperWidth::Mm58, QrMode::Raster).unwrap();
    insta::assert_snapshot!(listing(&bytes));
    assert_eq!(emulator::infer_paper_width(&bytes), PaperWidth::Mm58);
    snapshot_png(
        "receipt-58mm",
        &emulator::render(&bytes, PaperWidth::Mm58).unwrap(),
    );
}

#[test]
fn sample_receipt_80mm_native_qr() {
    let bytes = sample_receipt::sample_receipt(PaperWidth::Mm80, QrMode::Native).unwrap();
    insta::assert_snapshot!(listing(&bytes));
    assert_eq!(emulator::infer_paper_width(&bytes), PaperWidth::Mm80);
    snapshot_png(
        "receipt-80mm",
        &emulator::render(&bytes, PaperWidth::Mm80).unwrap(),
    );
}

/// Arabic lines with amounts, ids and brackets, set flush right as the terminal prints
/// right-to-left languages, a long one that wraps, and a Latin line quoting Arabic: each run
/// of digits or Latin reads left to right, the Arabic right to left.
#[test]
fn mixed_arabic_and_latin_lines_58mm() {
    let mut receipt = Receipt::new(PaperWidth::Mm58);
    receipt
        .align(Align::Right)
        .line("المبلغ KES 1,250.00")
        .line("رقم 12345678")
        .style(Style::BOLD)
        .line("القسيمة LM-7Q4K-92XD (مقبولة)")
        .style(Style::NORMAL)
        .line("تم دفع المبلغ KES 1,250.00 نقداً إلى المستفيد رقم 12345678 في الموقع")
        .align(Align::Left)
        .line("Voucher LM-7Q4K-92XD: القسيمة مقبولة")
        .cut();
    let bytes = receipt.finish().unwrap();
    insta::assert_snapshot!(listing(&bytes));
    snapshot_png(
        "receipt-bidi-58mm",
        &emulator::render(&bytes, PaperWidth::Mm58).unwrap(),
    );
}

/// Text drawn from Latin, digits, Arabic (letters, marks, Arabic-Indic digits), Hebrew,
/// Ethiopic, CJK, emoji, punctuation, line breaks and every bidi control.
fn mixed_scripts() -> impl Strategy<Value = String> {
    let controls = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}\u{200D}";
    let punctuation = " ,.:-()[]،؟\n\r\u{2029}\u{a0}";
    let ch = prop_oneof![
        3 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('0', '9'),
        4 => proptest::char::range('\u{0621}', '\u{064A}'),
        1 => proptest::char::range('\u{064B}', '\u{0652}'),
        1 => proptest::char::range('\u{0660}', '\u{0669}'),
        1 => proptest::char::range('\u{05D0}', '\u{05EA}'),
        1 => proptest::char::range('\u{1200}', '\u{1248}'),
        1 => proptest::char::range('\u{4E00}', '\u{4E20}'),
        1 => proptest::char::range('\u{1F600}', '\u{1F610}'),
        3 => proptest::sample::select(punctuation.chars().collect::<Vec<_>>()),
        1 => proptest::sample::select(controls.chars().collect::<Vec<_>>()),
    ];
    proptest::collection::vec(ch, 0..80).prop_map(String::from_iter)
}

proptest! {
    /// Any mix of scripts prints without panicking, every raster row within the paper and
    /// one font line tall, and the emulator draws the job.
    #[test]
    fn mixed_scripts_print_within_the_paper(
        lines in proptest::collection::vec(mixed_scripts(), 1..4),
        wide_paper: bool,
        title: bool,
        right: bool,
    ) {
        let paper = if wide_paper { PaperWidth::Mm80 } else { PaperWidth::Mm58 };
        let mut receipt = Receipt::new(paper);
        receipt
            .align(if right { Align::Right } else { Align::Left })
            .style(if title { Style::TITLE } else { Style::NORMAL });
        for line in &lines {
            receipt.line(line);
        }
        let bytes = receipt.finish().unwrap();
        let mut at = 0;
        while let Parsed::Complete(command, len) = parse_command(&bytes[at..]) {
            if let Command::Raster { width_bytes, height, .. } = command {
                prop_assert!(width_bytes * 8 <= paper.dots(), "{width_bytes} bytes wide");
                prop_assert!(height <= 2 * FONT_A_HEIGHT_DOTS, "{height} rows");
            }
            at += len;
        }
        prop_assert_eq!(at, bytes.len());
        prop_assert_eq!(emulator::render(&bytes, paper).unwrap().width(), paper.dots());
    }
}

/// The lam-alef ligature on 58 mm paper: the case the proptest above shrank a
/// panic inside `ab_glyph_rasterizer` to (an add overflow in debug builds;
/// see the workspace `Cargo.toml`). It prints, within the paper.
#[test]
fn a_lam_alef_ligature_prints_within_the_paper() {
    let bytes = Receipt::new(PaperWidth::Mm58).line("لآ").finish().unwrap();
    let paper = emulator::render(&bytes, PaperWidth::Mm58).unwrap();
    assert_eq!(paper.width(), PaperWidth::Mm58.dots());
    assert!(
        paper.to_gray().iter().any(|&p| p < 128),
        "something was drawn"
    );
}

#[test]
fn emulator_reads_back_the_qr_codes_it_printed() {
    let decoder = QrDecoder::default();
    for paper in [PaperWidth::Mm58, PaperWidth::Mm80] {
        for mode in [QrMode::Native, QrMode::Raster] {
            let payload = format!("LM1:{}", "NCFOXN*TS0BI$ZD4N9:9S6RC".repeat(11));
            let bytes = Receipt::new(paper)
                .line("Verification")
                .qr(&payload, mode)
                .cut()
                .finish()
                .unwrap();
            let paper_image = emulator::render(&bytes, paper).unwrap();
            let frame = GrayFrame::new(
                paper_image.width() as u32,
                paper_image.height() as u32,
                paper_image.to_gray(),
            )
            .unwrap();
            assert_eq!(
                decoder.decode(&frame).as_deref(),
                Some(payload.as_str()),
                "{paper:?} {mode:?}"
            );
        }
    }
}

#[test]
fn other_libraries_common_commands_render() {
    let mut bytes = vec![0x1B, b'@', 0x1B, b'!', 0x38, b'B', b'I', b'G', 0x0A];
    bytes.extend([0x1B, b'E', 1, 0x1B, b'-', 2, 0x1B, b'a', 1, b'X', 0x0A]);
    bytes.extend([0x1B, b't', 2, 0x82, 0x0A]); // PC850 (not drawn as such): skipped to PC437 é.
    bytes.extend([0x1D, b'!', 0x11, b'W', 0x0A]);
    bytes.extend([0x1B, b'*', 0, 2, 0, 0xFF, 0xFF]); // bit image: skipped by its length
    bytes.extend([0x1D, b'k', 4, b'1', b'2', b'3', 0]); // 1D barcode: skipped
    bytes.extend([0x1B, 0x7E, b'Z', 0x0A]); // unknown ESC ~: two bytes skipped, Z printed
    bytes.extend([0x1D, b'V', 0]);
    let image = emulator::render(&bytes, PaperWidth::Mm58).unwrap();
    assert_eq!(image.width(), 384);
    let black = image.to_gray().iter().filter(|&&g| g == 0).count();
    assert!(black > 500, "only {black} black dots");
}
