//! The serial scanner driver against real pseudo-terminals made by `socat`: bursts, codes
//! split across writes, the three line endings, and unplug/replug.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use lastmile_hardware::scanner::{
    Framing, ScanEvent, ScanSource, SerialScanner, SerialScannerConfig,
};

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A socat pty pair: the scanner end (`scanner`) and the end the test writes to (`host`).
struct PtyPair {
    dir: PathBuf,
    socat: Child,
}

impl PtyPair {
    fn start(dir: &Path) -> Option<PtyPair> {
        let socat = spawn_socat(dir)?;
        Some(PtyPair {
            dir: dir.to_owned(),
            socat,
        })
    }

    fn scanner(&self) -> String {
        self.dir.join("scanner").display().to_string()
    }

    fn write(&self, bytes: &[u8]) {
        let mut host = std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("host"))
            .expect("open host pty");
        host.write_all(bytes).expect("write to pty");
        host.flush().expect("flush pty");
    }

    /// Unplug: socat exits, both ptys vanish.
    fn unplug(&mut self) {
        self.socat.kill().ok();
        self.socat.wait().ok();
        let deadline = Instant::now() + EVENT_TIMEOUT;
        while self.dir.join("scanner").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Replug: a new pty pair under the same names.
    fn replug(&mut self) {
        self.socat = spawn_socat(&self.dir).expect("socat restarts");
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        self.socat.kill().ok();
        self.socat.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn spawn_socat(dir: &Path) -> Option<Child> {
    let link = |name: &str| format!("pty,raw,echo=0,link={}", dir.join(name).display());
    let child = Command::new("socat")
        .args(["-d", "-d", &link("scanner"), &link("host")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while !(dir.join("scanner").exists() && dir.join("host").exists()) {
        assert!(Instant::now() < deadline, "socat did not create the ptys");
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(child)
}

fn pty_pair(name: &str) -> Option<PtyPair> {
    let dir = std::env::temp_dir().join(format!("lastmile-pty-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pair = PtyPair::start(&dir);
    if pair.is_none() {
        eprintln!("skipping: socat is not installed (apt-get install socat)");
    }
    pair
}

fn scanner(pair: &PtyPair, framing: Framing) -> (SerialScanner, Receiver<ScanEvent>) {
    let (tx, rx) = channel();
    let config = SerialScannerConfig {
        port: pair.scanner(),
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
    let Some(pair) = pty_pair("burst") else {
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
    let Some(pair) = pty_pair("split") else {
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
    let Some(mut pair) = pty_pair("replug") else {
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
