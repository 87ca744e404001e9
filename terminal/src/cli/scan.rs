//! `lastmile-terminal scan`: decode codes from image files or read them from a serial scanner.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context;
use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::QrDecoder;
use lastmile_hardware::scanner::{
    Framing, LineEnding, ScanEvent, SerialScanner, SerialScannerConfig,
};

/// Decode QR codes from image files, or read codes from a serial barcode scanner.
///
/// With --image, prints one line per file: the path, a tab, and the decoded text (empty when
/// no code was found or the file could not be read; the reason goes to standard error), and
/// exits 0. With --serial, prints each code on its own line; connection changes
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

/// One line per file, always, and exit status 0: a file that cannot be read (missing, not a
/// PNG or JPEG, too large) gets an empty text like a frame with no code, and the reason goes
/// to standard error.
fn decode_images(paths: &[PathBuf]) -> anyhow::Result<()> {
    let decoder = QrDecoder::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in paths {
        // The same path as camera frames: load to grayscale, then decode.
        let text = match GrayFrame::load(path) {
            Ok(frame) => decoder.decode(&frame).unwrap_or_default(),
            Err(error) => {
                eprintln!("{}: not scanned: {error}", path.display());
                String::new()
            }
        };
        writeln!(out, "{}\t{text}", path.display())?;
    }
    out.flush()?;
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
    let (_scanner, received) = start_serial(device, args.baud, framing)?;
    let stdout = std::io::stdout();
    let mut printed = 0u64;
    while args.count.is_none_or(|count| printed < count) {
        if let Some(text) = next_code(&received, None)? {
            let mut out = stdout.lock();
            writeln!(out, "{text}")?;
            out.flush()?;
            printed += 1;
        }
    }
    Ok(())
}

/// Reads one code from the serial scanner on `device` (default framing: any line ending),
/// waiting at most `timeout`; connection changes go to standard error.
pub fn read_one_code(device: &str, baud: u32, timeout: Duration) -> anyhow::Result<String> {
    let (_scanner, received) = start_serial(device, baud, Framing::default())?;
    next_code(&received, Some(Instant::now() + timeout))?.ok_or_else(|| {
        anyhow::anyhow!(
            "no code from the scanner on {device} within {} s; scan the code again",
            timeout.as_secs()
        )
    })
}

/// Starts the scanner thread; it stops when the returned `SerialScanner` is dropped.
fn start_serial(
    device: &str,
    baud: u32,
    framing: Framing,
) -> anyhow::Result<(SerialScanner, Receiver<ScanEvent>)> {
    let (events, received) = mpsc::channel();
    let config = SerialScannerConfig {
        port: device.to_owned(),
        baud_rate: baud,
        framing,
    };
    let scanner =
        SerialScanner::spawn(config, events).context("cannot start the scanner thread")?;
    Ok((scanner, received))
}

/// Waits for the next code, reporting every other event on standard error; `None` when the
/// deadline passes first.
fn next_code(
    received: &Receiver<ScanEvent>,
    deadline: Option<Instant>,
) -> anyhow::Result<Option<String>> {
    loop {
        let event = match deadline {
            None => received.recv().context("scanner thread stopped")?,
            Some(deadline) => {
                match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) => return Ok(None),
                    Err(RecvTimeoutError::Disconnected) => anyhow::bail!("scanner thread stopped"),
                }
            }
        };
        match event {
            ScanEvent::Code { text, .. } => return Ok(Some(text)),
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
}
