//! Barcode scanners that type their codes: serial (RS-232 or USB CDC) and keyboard-wedge.
//!
//! [`LineFramer`] is the protocol: a pure state machine, bytes and the time they arrived in,
//! codes out. [`SerialScanner`] runs it on a thread against a `serialport`, reconnecting when
//! the scanner is unplugged; [`KeyboardWedge`] runs it on typed keys. Both feed one channel of
//! [`ScanEvent`]s, so the till does not care which scanner the merchant bought.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest code accepted, in bytes; a longer run without a line ending is noise or a scanner
/// configured without a terminator.
pub const SCAN_CODE_BYTES_MAX: usize = 4096;
/// How long a read waits before the framer's inter-character timeout is checked, in ms.
pub const SERIAL_READ_POLL_MS: u64 = 20;
/// Pause between attempts to reopen an unplugged scanner, in ms.
pub const SERIAL_RECONNECT_INTERVAL_MS: u64 = 250;
/// Default gap between two characters of one code, in ms. Scanners send a code in one burst;
/// a longer gap means the rest is lost.
pub const SCAN_INTER_CHAR_TIMEOUT_MS_DEFAULT: u64 = 300;

/// What ends a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnding {
    Cr,
    Lf,
    CrLf,
    /// CR, LF or CRLF (a CRLF counts once). The default: scanners ship with any of them.
    Any,
    /// Nothing: a code ends when the inter-character timeout passes.
    None,
}

/// How a scanner frames its codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framing {
    pub line_ending: LineEnding,
    /// Bytes the scanner puts before every code (removed; a code without them is rejected).
    pub prefix: Vec<u8>,
    /// Bytes the scanner puts after every code, before the line ending (removed likewise).
    pub suffix: Vec<u8>,
    /// Longest gap between two bytes of one code. With a line ending, a longer gap drops the
    /// partial code; with [`LineEnding::None`], it ends the code.
    pub inter_char_timeout: Option<Duration>,
}

impl Default for Framing {
    fn default() -> Framing {
        Framing {
            line_ending: LineEnding::Any,
            prefix: Vec::new(),
            suffix: Vec::new(),
            inter_char_timeout: Some(Duration::from_millis(SCAN_INTER_CHAR_TIMEOUT_MS_DEFAULT)),
        }
    }
}

/// Why bytes from a scanner did not make a code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error(
        "code longer than {SCAN_CODE_BYTES_MAX} bytes; check the scanner's line ending setting"
    )]
    TooLong,
    #[error("code is not UTF-8 text; set the scanner to send plain text")]
    NotUtf8,
    #[error("code does not start with the configured prefix; check the scanner's prefix setting")]
    MissingPrefix,
    #[error("code does not end with the configured suffix; check the scanner's suffix setting")]
    MissingSuffix,
    #[error("code stopped after {bytes} bytes with no line ending; scan it again")]
    Incomplete { bytes: usize },
}

/// What the framer makes of the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framed {
    Code(String),
    Rejected(Rejected),
}

/// Bytes in, codes out. Holds no clock: the caller says when bytes arrived.
#[derive(Debug)]
pub struct LineFramer {
    framing: Framing,
    buffer: Vec<u8>,
    overflowed: bool,
    previous_was_cr: bool,
    last_byte_at: Option<Instant>,
}

impl LineFramer {
    pub fn new(framing: Framing) -> LineFramer {
        LineFramer {
            framing,
            buffer: Vec::new(),
            overflowed: false,
            previous_was_cr: false,
            last_byte_at: None,
        }
    }

    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Feeds bytes that arrived at `now`; returns the codes (and rejections) they complete.
    pub fn push(&mut self, bytes: &[u8], now: Instant) -> Vec<Framed> {
        let mut out: Vec<Framed> = self.poll(now).into_iter().collect();
        for &byte in bytes {
            let ends_code = match self.framing.line_ending {
                LineEnding::Cr => byte == b'\r',
                LineEnding::Lf => byte == b'\n',
                LineEnding::CrLf => byte == b'\n' && self.buffer.last() == Some(&b'\r'),
                LineEnding::Any => {
                    if byte == b'\n' && self.previous_was_cr {
                        // The LF of a CRLF whose CR already ended the code.
                        self.previous_was_cr = false;
                        continue;
                    }
                    byte == b'\r' || byte == b'\n'
                }
                LineEnding::None => false,
            };
            self.previous_was_cr = byte == b'\r';
            if ends_code {
                if self.framing.line_ending == LineEnding::CrLf {
                    self.buffer.pop();
                }
                out.extend(self.finish_code());
                continue;
            }
            if self.buffer.len() < SCAN_CODE_BYTES_MAX {
                self.buffer.push(byte);
            } else {
                self.overflowed = true;
            }
        }
        self.last_byte_at = (!self.buffer.is_empty() || self.overflowed).then_some(now);
        out
    }

    /// Applies the inter-character timeout at `now`; call it when a read times out.
    pub fn poll(&mut self, now: Instant) -> Option<Framed> {
        let timeout = self.framing.inter_char_timeout?;
        let last = self.last_byte_at?;
        if now.saturating_duration_since(last) < timeout {
            return None;
        }
        self.last_byte_at = None;
        if self.framing.line_ending == LineEnding::None {
            return self.finish_code();
        }
        let bytes = self.buffer.len();
        self.clear();
        Some(Framed::Rejected(Rejected::Incomplete { bytes }))
    }

    /// When [`LineFramer::poll`] next has something to say, if bytes are waiting.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.last_byte_at? + self.framing.inter_char_timeout?)
    }

    /// Drops a partial code, e.g. after the scanner was unplugged mid-code.
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.overflowed = false;
        self.previous_was_cr = false;
        self.last_byte_at = None;
    }

    fn finish_code(&mut self) -> Option<Framed> {
        let overflowed = self.overflowed;
        let raw = std::mem::take(&mut self.buffer);
        self.overflowed = false;
        self.last_byte_at = None;
        if overflowed {
            return Some(Framed::Rejected(Rejected::TooLong));
        }
        if raw.is_empty() {
            return None;
        }
        let Some(rest) = raw.strip_prefix(self.framing.prefix.as_slice()) else {
            return Some(Framed::Rejected(Rejected::MissingPrefix));
        };
        let Some(code) = rest.strip_suffix(self.framing.suffix.as_slice()) else {
            return Some(Framed::Rejected(Rejected::MissingSuffix));
        };
        if code.is_empty() {
            return None;
        }
        Some(match std::str::from_utf8(code) {
            Ok(text) => Framed::Code(text.to_owned()),
            Err(_) => Framed::Rejected(Rejected::NotUtf8),
        })
    }
}

/// Which scanner an event came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanSource {
    /// A serial scanner, by its port name (e.g. `/dev/ttyACM0`).
    Serial(String),
    KeyboardWedge,
}

/// Everything scanners tell the till, on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanEvent {
    Code {
        source: ScanSource,
        text: String,
    },
    Rejected {
        source: ScanSource,
        reason: Rejected,
    },
    /// The serial port opened (at start, or after a replug).
    Connected {
        port: String,
    },
    /// The port cannot be opened; reported once per outage, then retried quietly.
    Unavailable {
        port: String,
        reason: String,
    },
    /// An open port stopped working, usually because the scanner was unplugged.
    Disconnected {
        port: String,
        reason: String,
    },
}

fn framed_event(source: &ScanSource, framed: Framed) -> ScanEvent {
    match framed {
        Framed::Code(text) => ScanEvent::Code {
            source: source.clone(),
            text,
        },
        Framed::Rejected(reason) => ScanEvent::Rejected {
            source: source.clone(),
            reason,
        },
    }
}

/// Where and how to reach a serial scanner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialScannerConfig {
    /// Device path, e.g. `/dev/ttyACM0` or a stable `/dev/serial/by-id/...` link.
    pub port: String,
    pub baud_rate: u32,
    pub framing: Framing,
}

/// A serial scanner read on its own thread; reconnects by itself after an unplug. Stops when
/// dropped or when the event receiver is gone.
pub struct SerialScanner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SerialScanner {
    pub fn spawn(
        config: SerialScannerConfig,
        events: Sender<ScanEvent>,
    ) -> std::io::Result<SerialScanner> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("scanner {}", config.port))
            .spawn(move || run_serial(config, &events, &thread_stop))?;
        Ok(SerialScanner {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for SerialScanner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            // A panic in the reader thread has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

fn run_serial(config: SerialScannerConfig, events: &Sender<ScanEvent>, stop: &AtomicBool) {
    let source = ScanSource::Serial(config.port.clone());
    let mut framer = LineFramer::new(config.framing.clone());
    let mut outage_reported = false;
    while !stop.load(Ordering::Acquire) {
        let opened = serialport::new(&config.port, config.baud_rate)
            .timeout(Duration::from_millis(SERIAL_READ_POLL_MS))
            .open();
        let mut port = match opened {
            Ok(port) => port,
            Err(error) => {
                if !outage_reported {
                    outage_reported = true;
                    let event = ScanEvent::Unavailable {
                        port: config.port.clone(),
                        reason: error.to_string(),
                    };
                    if events.send(event).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(SERIAL_RECONNECT_INTERVAL_MS));
                continue;
            }
        };
        outage_reported = false;
        framer.clear();
        if events
            .send(ScanEvent::Connected {
                port: config.port.clone(),
            })
            .is_err()
        {
            return;
        }
        let mut buffer = [0u8; 256];
        let reason = loop {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let outcome = match port.read(&mut buffer) {
                Ok(0) => Err("the port closed".to_owned()),
                Ok(n) => Ok(framer.push(&buffer[..n], Instant::now())),
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                    Ok(framer.poll(Instant::now()).into_iter().collect())
                }
                Err(error) => Err(error.to_string()),
            };
            match outcome {
                Ok(framed) => {
                    for item in framed {
                        if events.send(framed_event(&source, item)).is_err() {
                            return;
                        }
                    }
                }
                Err(reason) => break reason,
            }
        };
        if events
            .send(ScanEvent::Disconnected {
                port: config.port.clone(),
                reason,
            })
            .is_err()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(SERIAL_RECONNECT_INTERVAL_MS));
    }
}

/// A keyboard-wedge scanner: it types the code and presses Enter into whatever has focus.
/// The UI passes typed text here (with `'\n'` or `'\r'` for Enter); codes go out as
/// [`ScanEvent`]s on the same channel as the serial scanners'.
pub struct KeyboardWedge {
    framer: LineFramer,
    events: Sender<ScanEvent>,
}

impl KeyboardWedge {
    pub fn new(events: Sender<ScanEvent>) -> KeyboardWedge {
        KeyboardWedge {
            framer: LineFramer::new(Framing::default()),
            events,
        }
    }

    /// Text typed at `now`. Returns `false` when nobody listens to the events any more.
    pub fn typed(&mut self, text: &str, now: Instant) -> bool {
        self.framer
            .push(text.as_bytes(), now)
            .into_iter()
            .all(|framed| {
                self.events
                    .send(framed_event(&ScanSource::KeyboardWedge, framed))
                    .is_ok()
            })
    }

    /// Reads typed text from `input` (e.g. standard input, where a wedge scanner types when
    /// the terminal runs in a console) on a thread until it ends.
    pub fn spawn_reader<R: Read + Send + 'static>(
        mut self,
        mut input: R,
    ) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("keyboard-wedge".into())
            .spawn(move || {
                let mut buffer = [0u8; 256];
                while let Ok(n @ 1..) = input.read(&mut buffer) {
                    let delivered = self
                        .framer
                        .push(&buffer[..n], Instant::now())
                        .into_iter()
                        .all(|framed| {
                            self.events
                                .send(framed_event(&ScanSource::KeyboardWedge, framed))
                                .is_ok()
                        });
                    if !delivered {
                        return;
                    }
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(framing: Framing, chunks: &[&[u8]]) -> Vec<Framed> {
        let mut framer = LineFramer::new(framing);
        let now = Instant::now();
        chunks
            .iter()
            .flat_map(|chunk| framer.push(chunk, now))
            .collect()
    }

    fn code(text: &str) -> Framed {
        Framed::Code(text.to_owned())
    }

    #[test]
    fn any_line_ending_accepts_cr_lf_and_crlf_once() {
        let got = codes(Framing::default(), &[b"A\rB\nC\r\nD\r", b"\nE\n"]);
        assert_eq!(
            got,
            vec![code("A"), code("B"), code("C"), code("D"), code("E")]
        );
    }

    #[test]
    fn crlf_only_ends_on_the_pair() {
        let framing = Framing {
            line_ending: LineEnding::CrLf,
            ..Framing::default()
        };
        assert_eq!(codes(framing, &[b"A\rB\r", b"\n"]), vec![code("A\rB")]);
    }

    #[test]
    fn prefix_and_suffix_are_stripped_or_rejected() {
        let framing = Framing {
            prefix: b"]Q1".to_vec(),
            suffix: b"#".to_vec(),
            ..Framing::default()
        };
        let got = codes(framing, &[b"]Q1LM1:ABC#\nLM1:X#\n]Q1Y\n"]);
        assert_eq!(
            got,
            vec![
                code("LM1:ABC"),
                Framed::Rejected(Rejected::MissingPrefix),
                Framed::Rejected(Rejected::MissingSuffix)
            ]
        );
    }

    #[test]
    fn timeout_drops_a_partial_code_or_ends_one_without_terminator() {
        let start = Instant::now();
        let mut framer = LineFramer::new(Framing::default());
        assert!(framer.push(b"LM1:AB", start).is_empty());
        assert_eq!(framer.poll(start + Duration::from_millis(100)), None);
        let later = start + Duration::from_millis(SCAN_INTER_CHAR_TIMEOUT_MS_DEFAULT);
        assert_eq!(
            framer.poll(later),
            Some(Framed::Rejected(Rejected::Incomplete { bytes: 6 }))
        );
        assert_eq!(framer.push(b"CD\n", later), vec![code("CD")]);

        let framing = Framing {
            line_ending: LineEnding::None,
            ..Framing::default()
        };
        let mut framer = LineFramer::new(framing);
        framer.push(b"LM1:", start);
        framer.push(b"XY", start + Duration::from_millis(50));
        assert_eq!(
            framer.deadline(),
            Some(start + Duration::from_millis(50 + SCAN_INTER_CHAR_TIMEOUT_MS_DEFAULT))
        );
        assert_eq!(
            framer.poll(start + Duration::from_secs(1)),
            Some(code("LM1:XY"))
        );
    }

    #[test]
    fn overlong_and_binary_codes_are_rejected() {
        let long = vec![b'A'; SCAN_CODE_BYTES_MAX + 10];
        let got = codes(Framing::default(), &[&long, b"\n\xff\xfe\nOK\n"]);
        assert_eq!(
            got,
            vec![
                Framed::Rejected(Rejected::TooLong),
                Framed::Rejected(Rejected::NotUtf8),
                code("OK")
            ]
        );
    }

    #[test]
    fn keyboard_wedge_feeds_the_same_events() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut wedge = KeyboardWedge::new(tx);
        let now = Instant::now();
        assert!(wedge.typed("LM1:", now));
        assert!(wedge.typed("ABC\n", now));
        assert_eq!(
            rx.try_recv().ok(),
            Some(ScanEvent::Code {
                source: ScanSource::KeyboardWedge,
                text: "LM1:ABC".into()
            })
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = KeyboardWedge::new(tx)
            .spawn_reader(std::io::Cursor::new(b"ONE\r\nTWO\n".to_vec()))
            .unwrap();
        reader.join().unwrap();
        let texts: Vec<_> = rx.iter().collect();
        assert_eq!(texts.len(), 2);
    }
}
