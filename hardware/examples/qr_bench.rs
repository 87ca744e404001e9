//! Decodes every frame of a corpus written by `qr_corpus` and reports the decode rate and the
//! time per frame. Files are loaded before the clock starts, as in the zxing-cpp half of
//! `scripts/bench-qr-decode.sh`.
//!
//! Usage: `cargo run --release -p lastmile-hardware --example qr_bench -- DIR [PASSES]`
//!
//! PASSES (optional) replaces the default pass list, e.g. `full-cpp-hybrid,half-cpp-hybrid`;
//! each pass is `{full|half}-{cpp|java}-{hybrid|histogram}`.

use std::time::Instant;

use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::{Detector, Pass, QrDecoder, Scale, Threshold};

fn parse_pass(spec: &str) -> Result<Pass, String> {
    let parts: Vec<&str> = spec.split('-').collect();
    let [scale, detector, threshold] = parts[..] else {
        return Err(format!("pass {spec:?} is not scale-detector-threshold"));
    };
    Ok(Pass {
        scale: match scale {
            "full" => Scale::Full,
            "half" => Scale::Half,
            other => return Err(format!("unknown scale {other:?}")),
        },
        detector: match detector {
            "cpp" => Detector::Cpp,
            "java" => Detector::Java,
            other => return Err(format!("unknown detector {other:?}")),
        },
        threshold: match threshold {
            "hybrid" => Threshold::Hybrid,
            "histogram" => Threshold::GlobalHistogram,
            "mean" => Threshold::LocalMean,
            "stretch" => Threshold::StretchedHybrid,
            "sharp" => Threshold::SharpenedHybrid,
            other => return Err(format!("unknown threshold {other:?}")),
        },
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: qr_bench DIR [PASSES]")?);
    let decoder = match args.next() {
        Some(spec) => {
            QrDecoder::with_passes(spec.split(',').map(parse_pass).collect::<Result<_, _>>()?)
        }
        None => QrDecoder::default(),
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv"))?;
    let mut frames = Vec::new();
    for line in manifest.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(payload)) = (fields.next(), fields.next()) else {
            continue;
        };
        frames.push((
            name.to_owned(),
            payload.to_owned(),
            GrayFrame::load(&dir.join(name))?,
        ));
    }
    let (mut decoded, mut wrong) = (0usize, 0usize);
    let mut by_pass = vec![0usize; decoder.passes().len()];
    let mut per_size: std::collections::BTreeMap<(u32, u32), (usize, usize, f64)> =
        Default::default();
    let started = Instant::now();
    for (name, payload, frame) in &frames {
        let frame_started = Instant::now();
        let result = decoder.decode_detailed(frame);
        let ms = frame_started.elapsed().as_secs_f64() * 1000.0;
        let entry = per_size.entry((frame.width(), frame.height())).or_default();
        entry.0 += 1;
        entry.2 += ms;
        match result {
            Some(found) if found.text == *payload => {
                decoded += 1;
                entry.1 += 1;
                if let Some(i) = decoder.passes().iter().position(|p| *p == found.pass) {
                    by_pass[i] += 1;
                }
            }
            Some(found) => {
                wrong += 1;
                eprintln!("WRONG {name}: {:?}", found.text);
            }
            None => {
                if std::env::var_os("QR_BENCH_VERBOSE").is_some() {
                    eprintln!("missed {name}");
                }
            }
        }
    }
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    let n = frames.len().max(1);
    println!(
        "lastmile (rxing): decoded {decoded}/{} ({:.1} %), wrong {wrong}, {:.2} ms/frame",
        frames.len(),
        100.0 * decoded as f64 / n as f64,
        total_ms / n as f64
    );
    for ((w, h), (count, ok, ms)) in &per_size {
        println!(
            "  {w}x{h}: decoded {ok}/{count}, {:.2} ms/frame",
            ms / *count as f64
        );
    }
    for (pass, count) in decoder.passes().iter().zip(&by_pass) {
        println!("  pass {pass:?}: {count}");
    }
    Ok(())
}
