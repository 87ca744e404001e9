//! Serial devices against real pseudo-terminals made by `socat`: the scanner driver (bursts,
//! codes split across writes, the three line endings, unplug/replug) and the serial printer
//! transport (a receipt arrives byte for byte; `DLE EOT` answered by the test, paper out).

#[path = "support/pty.rs"]
mod pty;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use lastmile_hardware::emulator::{self, Emulator};
use lastmile_hardware::escpos::{
    PaperWidth, PrinterStatus, QrMode, Receipt, StatusQuery, status_bits,
};
use lastmile_hardware::printer::{PrintError, Printed, Printer, PrinterTarget};
use lastmile_hardware::scanner::{
    Framing, ScanEvent, ScanSource, SerialScanner, SerialScannerConfig,
};
use pty::PtyPair;

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

fn scanner(pair: &PtyPair, framing: Framing) -> (SerialScanner, Receiver<ScanEvent>) {
    let (tx, rx) = channel();
    let config = SerialScannerConfig {
        port: pair.device(),
        baud_rate: 9600,
        framing,
    };
    let scanner = SerialScanner::spawn(config, tx).expect("thread starts");
    let connected = rx.recv_timeout(EVENT_TIMEOUT).expect("an event");
    assert!(
        matches!(connected, ScanEvent::Connected { .. }),
        "{connected:?}"
    );
    (scanner, rx)
}

fn next_code(rx: &Receiver<ScanEvent>) -> String {
    match rx.recv_timeout(EVENT_TIMEOUT).expect("a code in time") {
        ScanEvent::Code {
            source: ScanSource::Serial(_),
            text,
        } => text,
        other => panic!("expected a code, got {other:?}"),
    }
}

#[test]
fn codes_in_a_burst_with_all_three_line_endings() {
    let Some(pair) = PtyPair::start("burst") else {
        return;
    };
    let (_scanner, rx) = scanner(&pair, Framing::default());
    pair.write(b"LM1:ONE\rLM1:TWO\nLM1:THREE\r\nLM1:FOUR\r\n");
    for expected in ["LM1:ONE", "LM1:TWO", "LM1:THREE", "LM1:FOUR"] {
        assert_eq!(next_code(&rx), expected);
    }
}

#[test]
fn a_code_split_across_writes_arrives_whole() {
    let Some(pair) = PtyPair::start("split") else {
        return;
    };
    let (_scanner, rx) = scanner(&pair, Framing::default());
    let code = format!("LM1:{}", "6BFOXN*TS0BI$ZD4N9:9S6RCVN5".repeat(10));
    let bytes = format!("{code}\r\n");
    for chunk in bytes.as_bytes().chunks(37) {
        pair.write(chunk);
        std::thread::sleep(Duration::from_millis(15));
    }
    assert_eq!(next_code(&rx), code);
    // The LF of the CRLF was split from its CR: no empty code, and the next code is fine.
    pair.write(b"LM1:NEXT\r");
    std::thread::sleep(Duration::from_millis(30));
    pair.write(b"\n");
    assert_eq!(next_code(&rx), "LM1:NEXT");
}

#[test]
fn survives_unplug_and_replug() {
    let Some(mut pair) = PtyPair::start("replug") else {
        return;
    };
    let (_scanner, rx) = scanner(&pair, Framing::default());
    pair.write(b"LM1:BEFORE\n");
    assert_eq!(next_code(&rx), "LM1:BEFORE");
    pair.unplug();
    let event = rx.recv_timeout(EVENT_TIMEOUT).expect("disconnect reported");
    assert!(matches!(event, ScanEvent::Disconnected { .. }), "{event:?}");
    pair.replug();
    // Maybe an `Unavailable` while the pty was gone, then `Connected` again.
    loop {
        match rx.recv_timeout(EVENT_TIMEOUT).expect("reconnect reported") {
            ScanEvent::Connected { .. } => break,
            ScanEvent::Unavailable { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    pair.write(b"LM1:AFTER\r\n");
    assert_eq!(next_code(&rx), "LM1:AFTER");
}

/// A serial printer played by the test on the host end of a pty: records every byte, answers
/// `DLE EOT n` with `answers[n - 1]`, until stopped.
struct PlayedPrinter {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u8>>,
}

impl PlayedPrinter {
    fn start(pair: &PtyPair, answers: [u8; 4]) -> PlayedPrinter {
        let mut host = serialport::new(pair.host().display().to_string(), 9600)
            .timeout(Duration::from_millis(20))
            .open()
            .expect("open host pty");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut emulator = Emulator::new(PaperWidth::Mm58);
            let mut received = Vec::new();
            let mut buffer = [0u8; 1024];
            while !stopped.load(Ordering::Acquire) {
                let n = match host.read(&mut buffer) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                    Err(e) => panic!("host pty read: {e}"),
                };
                received.extend_from_slice(&buffer[..n]);
                for query in emulator.feed(&buffer[..n]) {
                    let answer = answers[usize::from(query) - 1];
                    host.write_all(&[answer]).expect("answer status");
                }
            }
            received
        });
        PlayedPrinter { stop, thread }
    }

    /// Every byte the printer received.
    fn finish(self) -> Vec<u8> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("printer thread")
    }
}

fn status_queries() -> Vec<u8> {
    [
        StatusQuery::Printer,
        StatusQuery::OfflineCause,
        StatusQuery::ErrorCause,
        StatusQuery::PaperSensor,
    ]
    .iter()
    .flat_map(|q| q.bytes())
    .collect()
}

fn serial_printer(pair: &PtyPair) -> Printer {
    let target = PrinterTarget::parse(&format!("serial:{}@9600", pair.device_pts())).unwrap();
    assert!(
        matches!(&target, PrinterTarget::Serial { path, baud_rate: 9600 } if path.starts_with("/dev/pts/")),
        "{target:?}"
    );
    Printer::new(target.open().expect("open the serial printer"))
}

#[test]
fn a_receipt_reaches_a_serial_printer_byte_for_byte() {
    let Some(pair) = PtyPair::start("printer") else {
        return;
    };
    let job = Receipt::new(PaperWidth::Mm58)
        .line("Reçu — Montant payé")
        .line("KES 1,250.00")
        .qr("LM1:SERIAL", QrMode::Native)
        .cut()
        .finish()
        .unwrap();
    let played = PlayedPrinter::start(&pair, PrinterStatus::default().answers());
    assert_eq!(
        serial_printer(&pair).print(&job).unwrap(),
        Printed::Confirmed
    );
    let received = played.finish();
    // Status before and after the job, and the job itself unchanged in between.
    let queries = status_queries();
    assert_eq!(received.len(), job.len() + 2 * queries.len());
    assert_eq!(received[..queries.len()], queries[..]);
    assert!(
        received[queries.len()..].starts_with(&job),
        "the job arrived changed"
    );
    assert_eq!(received[queries.len() + job.len()..], queries[..]);
    assert_eq!(
        emulator::render(&received, PaperWidth::Mm58).unwrap(),
        emulator::render(&job, PaperWidth::Mm58).unwrap(),
        "the paper printed from the wire is the receipt's"
    );
}

#[test]
fn a_serial_printer_out_of_paper_is_a_clear_error_and_gets_no_job() {
    let Some(pair) = PtyPair::start("paper-out") else {
        return;
    };
    let job = Receipt::new(PaperWidth::Mm58)
        .line("not printed")
        .cut()
        .finish()
        .unwrap();
    // Online, no offline or error cause; the paper roll sensor says "paper end".
    let fine = status_bits::FIXED_VALUE;
    let played = PlayedPrinter::start(&pair, [fine, fine, fine, fine | status_bits::PAPER_END]);
    let mut printer = serial_printer(&pair);
    let paper_out = PrinterStatus {
        paper_out: true,
        ..PrinterStatus::default()
    };
    assert_eq!(printer.status().unwrap(), Some(paper_out));
    let error = printer.print(&job).unwrap_err();
    assert!(matches!(error, PrintError::PaperOut), "{error:?}");
    assert!(error.to_string().contains("out of paper"), "{error}");
    assert_eq!(
        played.finish(),
        [status_queries(), status_queries()].concat()
    );
}
