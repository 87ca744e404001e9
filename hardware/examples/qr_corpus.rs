//! Writes a corpus of camera-like QR frames and a manifest.
//!
//! Usage: `cargo run --release -p lastmile-hardware --example qr_corpus -- DIR [COUNT] [SEED]`
//!
//! DIR receives `frame-NNNN-WxH.{png,jpg}` and `manifest.tsv` (file name, payload, recipe).

#[path = "../tests/support/corpus.rs"]
#[allow(dead_code)] // Shared with the tests, which also read the decoded frames.
mod corpus;

use std::io::Write;

const DEFAULT_COUNT: u32 = 200;
const DEFAULT_SEED: u64 = 20_261_129;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: qr_corpus DIR [COUNT] [SEED]")?);
    let count: u32 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(DEFAULT_COUNT);
    let seed: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(DEFAULT_SEED);
    std::fs::create_dir_all(&dir)?;
    let mut manifest = std::io::BufWriter::new(std::fs::File::create(dir.join("manifest.tsv"))?);
    for index in 0..count {
        let frame = corpus::frame(seed, index);
        std::fs::write(dir.join(&frame.name), &frame.encoded)?;
        writeln!(
            manifest,
            "{}\t{}\t{}",
            frame.name, frame.payload, frame.recipe
        )?;
    }
    manifest.flush()?;
    eprintln!("wrote {count} frames (seed {seed}) to {}", dir.display());
    Ok(())
}
