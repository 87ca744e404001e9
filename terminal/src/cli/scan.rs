//! `lastmile-terminal scan`: decode codes from image files or read them from a serial scanner.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::QrDecoder;
use lastmile_hardware::scanner::{
    Framing, LineEnding, ScanEvent, SerialScanner, SerialScannerConfig,
};

/// Decode QR codes from image files, or read codes from a serial barcode scanner.
///
/// With --image, prints one line per file: the path, a tab, and the decoded text (empty when
/// no code was found). With --serial, prints each code on its own line; connection changes
/// go to standard error.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["image", "serial"])))]
pub struct Args {
    /// Image files (PNG or JPEG) to decode, as camera frames.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    image: Vec<PathBuf>,

    /// Serial device of a barcode scanner, e.g. /dev/ttyACM0.
    #[arg(long, value_name = "DEVICE")]
    serial: Option<String>,

    /// Baud rate of the serial scanner.
    #[arg(long, value_name = "N", default_value_t = 9600, requires = "serial")]
    baud: u32,

    /// Exit after this many codes (default: run until interrupted).
    #[arg(long, value_name = "K", requires = "serial")]
    count: Option<u64>,

    /// What ends a code: any (CR, LF or CRLF), cr, lf, crlf, or none (inter-character timeout).
    #[arg(long, value_enum, default_value_t = Ending::Any, requires = "serial")]
    line_ending: Ending,

    /// Bytes the scanner sends before each code, removed from the output.
    #[arg(long, default_value = "", requires = "serial")]
    prefix: String,

    /// Bytes the scanner sends after each code (before the line ending), removed likewise.
    #[arg(long, default_value = "", requires = "serial")]
    suffix: String,

    /// Longest gap between two characters of one code, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 300, requires = "serial")]
    inter_char_timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Ending {
    Any,
    Cr,
    Lf,
    Crlf,
    None,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match &args.serial {
        Some(device) => read_serial(device, &args),
        None => decode_images(&args.image),
    }
}

fn decode_images(paths: &[PathBuf]) -> anyhow::Result<()> {
    let decoder = QrDecoder::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut unreadable = 0usize;
    for path in paths {
        // The same path as camera frames: load to grayscale, then decode.
        let text = match GrayFrame::load(path) {
            Ok(frame) => decoder.decode(&frame).unwrap_or_default(),
            Err(error) => {
                eprintln!("warning: {error}");
                unreadable += 1;
                String::new()
            }
        };
        writeln!(out, "{}\t{text}", path.display())?;
    }
    out.flush()?;
    if unreadable > 0 {
        anyhow::bail!(
            "{unreadable} of {} image file(s) could not be read",
            paths.len()
        );
    }
    Ok(())
}

fn read_serial(device: &str, args: &Args) -> anyhow::Result<()> {
    let framing = Framing {
        line_ending: match args.line_ending {
            Ending::Any => LineEnding::Any,
            Ending::Cr => LineEnding::Cr,
            Ending::Lf => LineEnding::Lf,
            Ending::Crlf => LineEnding::CrLf,
            Ending::None => LineEnding::None,
        },
        prefix: args.prefix.as_bytes().to_vec(),
        suffix: args.suffix.as_bytes().to_vec(),
        inter_char_timeout: Some(Duration::from_millis(args.inter_char_timeout_ms)),
    };
    let (events, received) = mpsc::channel();
    let config = SerialScannerConfig {
        port: device.to_owned(),
        baud_rate: args.baud,
        framing,
    };
    let _scanner =
        SerialScanner::spawn(config, events).context("cannot start the scanner thread")?;
    let stdout = std::io::stdout();
    let mut printed = 0u64;
    while args.count.is_none_or(|count| printed < count) {
        match received.recv().context("scanner thread stopped")? {
            ScanEvent::Code { text, .. } => {
                let mut out = stdout.lock();
                writeln!(out, "{text}")?;
                out.flush()?;
                printed += 1;
            }
            ScanEvent::Rejected { reason, .. } => eprintln!("rejected: {reason}"),
            ScanEvent::Connected { port } => eprintln!("scanner connected on {port}"),
            ScanEvent::Unavailable { port, reason } => {
                eprintln!(
                    "waiting for scanner on {port} ({reason}); plug it in or check the device path"
                )
            }
            ScanEvent::Disconnected { port, reason } => {
                eprintln!("scanner on {port} disconnected ({reason}); waiting for it to come back")
            }
        }
    }
    Ok(())
}
