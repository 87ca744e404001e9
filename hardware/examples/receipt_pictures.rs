//! Renders the sample receipt for 58 mm and 80 mm paper through the emulator, into DIR
//! (`docs/` in the repository): `receipt-58mm.png`, `receipt-80mm.png`, and the ESC/POS
//! bytes as `receipt-58mm.bin` and `receipt-80mm.bin`.
//!
//! Usage: `cargo run -p lastmile-hardware --example receipt_pictures -- docs`

#[path = "../tests/support/sample_receipt.rs"]
mod sample_receipt;

use lastmile_hardware::emulator;
use lastmile_hardware::escpos::{PaperWidth, QrMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: receipt_pictures DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    // The 58 mm receipt shows the raster QR (any printer), the 80 mm one the native QR.
    for (paper, qr, name) in [
        (PaperWidth::Mm58, QrMode::Raster, "receipt-58mm"),
        (PaperWidth::Mm80, QrMode::Native, "receipt-80mm"),
    ] {
        let bytes = sample_receipt::sample_receipt(paper, qr)?;
        let image = emulator::render(&bytes, paper)?;
        std::fs::write(dir.join(format!("{name}.bin")), &bytes)?;
        std::fs::write(dir.join(format!("{name}.png")), image.to_png())?;
        println!(
            "{name}: {} bytes of ESC/POS, {}×{} dots",
            bytes.len(),
            image.width(),
            image.height()
        );
    }
    Ok(())
}
