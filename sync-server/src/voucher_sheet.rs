//! What a person holds: one QR PNG per voucher, and a printable A4 PDF sheet
//! of vouchers (eight to a page, QR codes drawn as vector squares so they
//! print sharp at any size), each with its typeable voucher code beside the
//! QR (`lastmile_shared::voucher_code`) for when the QR will not scan. Text
//! is set in the embedded DejaVu Sans (`sheet_typeface`), shaped, so names
//! print in every script the terminal prints.

use image::{GrayImage, Luma};
use pdf_writer::{Content, Name, Pdf, Rect, Ref};
use qrcode::{Color, EcLevel, QrCode};

use crate::calendar;
use crate::sheet_typeface::Typeface;

/// Pixels per QR module in the PNG.
const PNG_MODULE_PIXELS: u32 = 8;
/// Light modules around the code (the standard's quiet zone).
const QUIET_ZONE_MODULES: u32 = 4;
/// Largest QR version printed: a cheap camera reads it at arm's length.
pub const QR_VERSION_MAX: i16 = 10;
const A4_WIDTH_PT: f32 = 595.0;
const A4_HEIGHT_PT: f32 = 842.0;
const COLUMNS: usize = 2;
const ROWS: usize = 4;
const QR_SIDE_PT: f32 = 132.0;
/// Space above the QR code inside its cell.
const QR_TOP_PT: f32 = 12.0;
/// Left margin of the text inside a cell.
const TEXT_LEFT_PT: f32 = 16.0;
const FONT_SIZE_PT: f32 = 9.0;
const LINE_PT: f32 = 12.0;
/// The voucher code is printed larger: it is read and typed by hand.
const CODE_SIZE_PT: f32 = 14.0;
const CODE_LINE_PT: f32 = 18.0;

#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("the voucher does not fit a QR code: {0}")]
    Qr(String),
    #[error("the voucher needs QR version {0}; at most {QR_VERSION_MAX} scans reliably")]
    TooLarge(i16),
    #[error("writing {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("encoding the PNG {path}: {source}")]
    Png {
        path: std::path::PathBuf,
        source: image::ImageError,
    },
}

/// The printed facts of one voucher.
#[derive(Debug, Clone)]
pub struct SheetVoucher {
    pub qr_text: String,
    pub voucher: String,
    pub name: String,
    pub beneficiary: String,
    pub amount: String,
    pub programme: String,
    pub valid_until: i64,
    /// The typeable voucher code, grouped (`RWCW-VMNG-YGAW`).
    pub code: String,
}

/// Dark modules of a voucher's QR code (ECC level M), and its width.
pub fn modules(text: &str) -> Result<(Vec<bool>, u32), SheetError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| SheetError::Qr(e.to_string()))?;
    if let qrcode::Version::Normal(version) = code.version()
        && version > QR_VERSION_MAX
    {
        return Err(SheetError::TooLarge(version));
    }
    let width = u32::try_from(code.width()).map_err(|e| SheetError::Qr(e.to_string()))?;
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok((dark, width))
}

/// Writes a QR code PNG (black on white, with the quiet zone).
pub fn write_png(text: &str, path: &std::path::Path) -> Result<(), SheetError> {
    let (dark, width) = modules(text)?;
    let side = (width + 2 * QUIET_ZONE_MODULES) * PNG_MODULE_PIXELS;
    let image = GrayImage::from_fn(side, side, |x, y| {
        let mx = (x / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
        let my = (y / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
        let is_dark = match (mx, my) {
            (Some(mx), Some(my)) if mx < width && my < width => dark[(my * width + mx) as usize],
            _ => false,
        };
        Luma([if is_dark { 0 } else { 255 }])
    });
    image.save(path).map_err(|source| SheetError::Png {
        path: path.to_owned(),
        source,
    })
}

/// Renders a printable sheet of vouchers.
pub fn render_pdf(vouchers: &[SheetVoucher]) -> Result<Vec<u8>, SheetError> {
    let per_page = COLUMNS * ROWS;
    let pages = vouchers.chunks(per_page).count().max(1);
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    // The font takes five objects from here (`Typeface::write`).
    let font_id = Ref::new(3);
    let page_ids: Vec<Ref> = (0..pages).map(|i| Ref::new(8 + 2 * i as i32)).collect();
    let mut typeface = Typeface::new();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(pages as i32);
    let cell_width = A4_WIDTH_PT / COLUMNS as f32;
    let cell_height = A4_HEIGHT_PT / ROWS as f32;
    let mut chunks = vouchers.chunks(per_page);
    for page_id in &page_ids {
        let content_id = Ref::new(page_id.get() + 1);
        let mut content = Content::new();
        for (slot, voucher) in chunks.next().unwrap_or(&[]).iter().enumerate() {
            let x0 = (slot % COLUMNS) as f32 * cell_width;
            let y0 = A4_HEIGHT_PT - ((slot / COLUMNS) as f32 + 1.0) * cell_height;
            // Cut lines.
            content.set_stroke_gray(0.7);
            content.rect(x0 + 4.0, y0 + 4.0, cell_width - 8.0, cell_height - 8.0);
            content.stroke();
            let (dark, width) = modules(&voucher.qr_text)?;
            let module = QR_SIDE_PT / width as f32;
            let qr_x = x0 + (cell_width - QR_SIDE_PT) / 2.0;
            let qr_y = y0 + cell_height - QR_SIDE_PT - QR_TOP_PT;
            content.set_fill_gray(0.0);
            for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
                let (mx, my) = (i as u32 % width, i as u32 / width);
                content.rect(
                    qr_x + mx as f32 * module,
                    qr_y + (width - 1 - my) as f32 * module,
                    module,
                    module,
                );
            }
            content.fill_nonzero();
            let lines = [
                if voucher.name.is_empty() {
                    voucher.beneficiary.clone()
                } else {
                    format!("{}  ({})", voucher.name, voucher.beneficiary)
                },
                format!("{}   {}", voucher.amount, voucher.programme),
                format!(
                    "Valid until {}   Voucher {}",
                    calendar::format_date(voucher.valid_until - 1),
                    voucher.voucher
                ),
            ];
            content.begin_text();
            // The code sits centred under the QR, where the eye goes when
            // the QR fails.
            let code = typeface.shape(&voucher.code);
            let code_x = x0 + (cell_width - Typeface::width(&code, CODE_SIZE_PT)) / 2.0;
            content.set_font(Name(b"F1"), CODE_SIZE_PT);
            content.next_line(code_x, qr_y - CODE_LINE_PT);
            typeface.show(&mut content, &code);
            content.set_font(Name(b"F1"), FONT_SIZE_PT);
            for (n, line) in lines.iter().enumerate() {
                let dx = if n == 0 {
                    x0 + TEXT_LEFT_PT - code_x
                } else {
                    0.0
                };
                content.next_line(dx, -LINE_PT);
                let glyphs = typeface.shape(line);
                typeface.show(&mut content, &glyphs);
            }
            content.end_text();
        }
        pdf.stream(content_id, &content.finish());
        let mut page = pdf.page(*page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, A4_WIDTH_PT, A4_HEIGHT_PT))
            .contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), font_id);
    }
    typeface.write(&mut pdf, font_id);
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet_voucher(name: &str) -> SheetVoucher {
        SheetVoucher {
            qr_text: "LM1:6BFOXN*TS0BI$ZDFRH%".to_owned(),
            voucher: "V-7F3A19C2D4E5B6A70812".to_owned(),
            name: name.to_owned(),
            beneficiary: "ben-1".to_owned(),
            amount: "KES 1,250.00".to_owned(),
            programme: "food-2026".to_owned(),
            valid_until: 1_924_992_000,
            code: "RWCW-VMNG-YGAW".to_owned(),
        }
    }

    /// The `ToUnicode` map of the sheet's font: what each glyph shown reads as.
    fn to_unicode(pdf: &[u8]) -> String {
        let text = String::from_utf8_lossy(pdf);
        let start = text.find("beginbfchar").expect("a ToUnicode map");
        let end = text[start..].find("endcmap").expect("its end") + start;
        text[start..end].to_ascii_uppercase()
    }

    fn utf16_hex(text: &str) -> Vec<String> {
        text.encode_utf16().map(|u| format!("{u:04X}")).collect()
    }

    #[test]
    fn arabic_names_are_set_in_the_embedded_font_not_as_question_marks() {
        let names = ["فاطمة حسن", "Zoë Ngũgĩ", "Amina Wanjiru"];
        let vouchers: Vec<SheetVoucher> = names.iter().map(|n| sheet_voucher(n)).collect();
        let pdf = render_pdf(&vouchers).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/FontFile2") && text.contains("/Identity-H"));
        assert!(!text.contains("Helvetica"));
        let map = to_unicode(&pdf);
        for name in names {
            for unit in utf16_hex(&name.replace(' ', "")) {
                assert!(
                    map.contains(&unit),
                    "{name}: U+{unit} has no glyph on the sheet"
                );
            }
        }
        // The typeable code is printed too, and so is each character of it.
        for unit in utf16_hex("RWCW-VMNG-YGAW") {
            assert!(map.contains(&unit), "code character U+{unit}");
        }
    }
}
