//! Pseudo-terminal pairs made by `socat -d -d pty,raw,echo=0 pty,raw,echo=0`, for tests of
//! serial devices: the driver under test opens the `device` end, the test plays the device
//! on the `host` end. Unplug = kill socat (both ptys vanish), replug = start it again under
//! the same names.
//!
//! Shared with `terminal/tests` through `#[path]`, so it uses only std.
#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long socat may take to create or remove its ptys.
pub const PTY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PtyPair {
    dir: PathBuf,
    socat: Child,
}

impl PtyPair {
    /// A pair in a fresh directory named after `name`, or `None` (with a note on stderr) when
    /// socat is not installed, so the test can skip.
    pub fn start(name: &str) -> Option<PtyPair> {
        let dir = std::env::temp_dir().join(format!("lastmile-pty-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let Some(socat) = spawn_socat(&dir) else {
            eprintln!("skipping: socat is not installed (apt-get install socat)");
            std::fs::remove_dir_all(&dir).ok();
            return None;
        };
        Some(PtyPair { dir, socat })
    }

    /// The end the driver under test opens: a symlink that survives unplug and replug.
    pub fn device(&self) -> String {
        self.dir.join("device").display().to_string()
    }

    /// The device end as the kernel names it, e.g. `/dev/pts/7`.
    pub fn device_pts(&self) -> String {
        std::fs::canonicalize(self.dir.join("device"))
            .expect("the device pty exists")
            .display()
            .to_string()
    }

    /// The end the test plays the device on.
    pub fn host(&self) -> PathBuf {
        self.dir.join("host")
    }

    /// Writes `bytes` to the host end, as the device would send them.
    pub fn write(&self, bytes: &[u8]) {
        let mut host = std::fs::OpenOptions::new()
            .write(true)
            .open(self.host())
            .expect("open host pty");
        host.write_all(bytes).expect("write to pty");
        host.flush().expect("flush pty");
    }

    /// Unplug: socat exits, both ptys vanish.
    pub fn unplug(&mut self) {
        self.socat.kill().ok();
        self.socat.wait().ok();
        let deadline = Instant::now() + PTY_TIMEOUT;
        while self.dir.join("device").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Replug: a new pty pair under the same names.
    pub fn replug(&mut self) {
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
        .args(["-d", "-d", &link("device"), &link("host")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + PTY_TIMEOUT;
    while !(dir.join("device").exists() && dir.join("host").exists()) {
        assert!(Instant::now() < deadline, "socat did not create the ptys");
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(child)
}
