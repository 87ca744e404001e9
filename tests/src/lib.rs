//! End-to-end test support: the real `lastmile-server` and
//! `lastmile-terminal` binaries as child processes, talking over real
//! sockets.
//!
//! - [`Server`] is one HQ: a temporary directory holding its data directory
//!   (keys), its `serve` log and, on SQLite, its database file; a fresh
//!   database of either [`Backend`]; the `lastmile-server` command line; and
//!   a `serve` process that can be stopped and started again on the same
//!   address.
//! - [`Terminal`] is one `lastmile-terminal` data directory, driven only
//!   through the terminal's command line.
//! - [`Run`] is one finished command: exit code, stdout, stderr, JSON.
//! - [`link::Link`] is a slow network link: a throttling TCP proxy.
//! - [`Backup`] is a copy of an HQ database, to restore later.
//!
//! The binaries are looked up next to the test executable
//! (`target/<profile>/`), where `cargo build --workspace` and
//! `cargo nextest run --workspace` put them.
//!
//! PostgreSQL comes from `LASTMILE_TEST_POSTGRES_URL` (as `scripts/test.sh`
//! sets it) or, when that is unset, from a throwaway cluster started with
//! `scripts/postgres.sh` and stopped when the test process exits — the same
//! convention as `sync-server/tests/common`. A PostgreSQL scenario never
//! skips: without a server and without the PostgreSQL binaries it fails.

pub mod browser;
pub mod link;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The HQ user every [`Server::init`] creates, an auditor: reads everything.
pub const HQ_READER: &str = "e2e.auditor";

/// The currency of every voucher and offline limit in these tests.
pub const CURRENCY: &str = "KES";

/// Longest time one command (server or terminal CLI) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest time `serve` may take to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The storage backend a [`Server`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates a `sqlite::NAME` and a `postgres::NAME` test for each scenario
/// `fn NAME(backend: Backend)` named.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::Backend::Postgres) } )*
        }
    };
}

/// The path of a workspace binary (`lastmile-server`, `lastmile-terminal`),
/// found next to this test executable: `target/<profile>/deps/<test>` →
/// `target/<profile>/<name>`. Panics with a hint when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| {
            if deps.ends_with("deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .expect("the test executable lies in target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} does not exist: build every workspace binary first, \
         e.g. `cargo nextest run --workspace` or `cargo build --workspace`",
        path.display()
    );
    path
}

/// A bank's side of a bank-file rail, in folders of a temporary directory:
/// where HQ delivers payment files (`outbox`), where the bank answers
/// (`inbox`), and what the simulated bank remembers between runs (`state`).
pub struct Bank {
    _dir: tempfile::TempDir,
    pub outbox: PathBuf,
    pub inbox: PathBuf,
    pub state: PathBuf,
}

impl Default for Bank {
    fn default() -> Self {
        Self::new()
    }
}

impl Bank {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let [outbox, inbox, state] =
            ["to-bank", "from-bank", "simulator"].map(|name| dir.path().join(name));
        for folder in [&outbox, &inbox, &state] {
            std::fs::create_dir_all(folder).expect("a bank folder");
        }
        Self {
            _dir: dir,
            outbox,
            inbox,
            state,
        }
    }

    /// One run of the real bank simulator (`lastmile-server bank-simulator
    /// --once`): every file it has not read yet is answered, refusing
    /// `reject_per_mille` of the payments with one of `reasons` (ISO codes,
    /// comma-separated) as the seed draws them. Returns what it printed,
    /// one line per file answered.
    #[track_caller]
    pub fn answer_once(&self, reject_per_mille: u32, reasons: &str, seed: u64) -> String {
        let output = Command::new(binary("lastmile-server"))
            .args(["bank-simulator", "--once", "--reject-per-mille"])
            .arg(reject_per_mille.to_string())
            .args(["--reasons", reasons, "--seed"])
            .arg(seed.to_string())
            .arg("--state")
            .arg(&self.state)
            .arg("--outbox")
            .arg(&self.outbox)
            .arg("--inbox")
            .arg(&self.inbox)
            .env("LASTMILE_LOG", "warn")
            .output()
            .expect("running the bank simulator");
        assert!(
            output.status.success(),
            "the bank simulator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A finished command.
#[derive(Debug)]
pub struct Run {
    /// What was run, for failure messages.
    pub command: String,
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code and returns `self` for further checks.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "`{}` exited with {:?}, expected {code}\nstdout: {}\nstderr: {}",
            self.command,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The last line of stdout as JSON (what `--json` prints for a result).
    #[track_caller]
    pub fn json(&self) -> Value {
        let line = self
            .stdout
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "`{}` printed no JSON ({e})\nstdout: {}\nstderr: {}",
                self.command, self.stdout, self.stderr
            )
        })
    }

    /// Every non-empty stdout line as JSON (the server's list commands).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("`{}` printed a non-JSON line ({e}): {l}", self.command)
                })
            })
            .collect()
    }
}

/// A command with its `LASTMILE_*` environment cleared, so nothing from the
/// developer's shell (a config file, a database URL, a PIN) leaks in.
fn clean_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LASTMILE_") {
            command.env_remove(name);
        }
    }
    command
}

fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|a| {
            let a = a.to_string_lossy();
            // QR texts are long; keep failure messages readable.
            if a.chars().count() > 40 {
                format!("{}…", a.chars().take(32).collect::<String>())
            } else {
                a.into_owned()
            }
        })
        .collect();
    format!("{program} {}", args.join(" "))
}

fn read_to_string_in_background(
    mut pipe: impl Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs a command to its end with stdin closed; kills it and fails the test
/// if it takes longer than [`COMMAND_TIMEOUT`].
#[track_caller]
fn run(command: Command) -> Run {
    run_within(command, COMMAND_TIMEOUT)
}

/// [`run`] with another time limit (a sync over a slow link).
#[track_caller]
fn run_within(mut command: Command, timeout: Duration) -> Run {
    let description = describe(&command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{description}`: {e}"));
    let stdout = read_to_string_in_background(child.stdout.take().expect("piped stdout"));
    let stderr = read_to_string_in_background(child.stderr.take().expect("piped stderr"));
    let status = wait_until(&mut child, Instant::now() + timeout)
        .unwrap_or_else(|| panic!("`{description}` did not finish within {timeout:?}"));
    Run {
        command: description,
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Waits for `child` until `deadline`; kills it and returns `None` after.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The admin URL of a PostgreSQL server: `LASTMILE_TEST_POSTGRES_URL`, or a
/// throwaway cluster started once per test process with
/// `scripts/postgres.sh` and stopped by a watchdog when this process exits.
fn postgres_admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("LASTMILE_TEST_POSTGRES_URL")
            && !url.is_empty()
        {
            return url;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let output = Command::new(&script)
            .arg("start")
            .output()
            .expect("running scripts/postgres.sh start");
        assert!(
            output.status.success(),
            "LASTMILE_TEST_POSTGRES_URL is unset and scripts/postgres.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_owned())
                .unwrap_or_else(|| panic!("postgres.sh printed no {name}: {text}"))
        };
        let dir = value("LASTMILE_PG_DIR");
        let url = value("LASTMILE_TEST_POSTGRES_URL");
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {script} stop {dir}",
            pid = std::process::id(),
            script = script.display()
        );
        // The watchdog must outlive this process to stop the cluster after
        // it, in a process group of its own so a runner that kills the
        // test's group does not take it along.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &watchdog])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the PostgreSQL watchdog");
        url
    })
}

/// A name no other test process uses at the same time.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .subsec_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new, empty database of the backend, as a `--database` value.
fn fresh_database(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => dir.join("lastmile.sqlite").display().to_string(),
        Backend::Postgres => fresh_postgres_database(),
    }
}

/// The URL of a new, empty PostgreSQL database on the test server (see
/// `postgres_admin_url`). Also used by the server crate's own tests.
pub fn fresh_postgres_database() -> String {
    let admin = postgres_admin_url();
    let name = unique_name("lastmile_test");
    postgres_admin(&format!("CREATE DATABASE {name}"));
    let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
    format!("{base}/{name}")
}

/// How a voucher may be redeemed (the `mode` column of the issuance CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    SingleUse,
    Partial,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::SingleUse => "single_use",
            Mode::Partial => "partial",
        }
    }
}

/// A beneficiary row to issue a voucher for.
#[derive(Debug, Clone, Copy)]
pub struct NewVoucher<'a> {
    pub beneficiary: &'a str,
    /// In major units, as in the CSV (`"1250.50"`).
    pub amount: &'a str,
    pub mode: Mode,
}

/// A voucher as `vouchers issue` listed it in `OUT/vouchers.csv`.
#[derive(Debug, Clone)]
pub struct IssuedVoucher {
    pub id: String,
    pub beneficiary: String,
    /// In major units with two decimals, as listed (`"1250.50"`).
    pub amount: String,
    /// The QR text (`LM1:…`) a terminal scans.
    pub qr: String,
    /// The voucher code printed under the QR (`RWCW-VMNG-YGAW`).
    pub code: String,
}

/// What `vouchers issue` wrote.
#[derive(Debug)]
pub struct Issuance {
    /// The `--out` directory: `qr/<id>.png`, `vouchers.pdf`, `vouchers.csv`.
    pub out: PathBuf,
    pub vouchers: Vec<IssuedVoucher>,
}

/// PEM files for `serve --tls-cert … --tls-key …`, and the CA that signed
/// the certificate, which the harness's HQ client trusts (and terminals
/// pin with `enroll --ca-cert`).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// The running `serve` process.
struct ServeProcess {
    child: Child,
    /// Kept open so the server can always write to its stdout.
    _stdout: BufReader<ChildStdout>,
}

/// One HQ: a `lastmile-server` data directory and database, its command
/// line, and a `serve` process started and stopped on demand. Dropping it
/// kills the process.
pub struct Server {
    dir: tempfile::TempDir,
    database: String,
    /// `http(s)://127.0.0.1:PORT`, fixed by the first start: terminals
    /// store it at enrolment, so a restart listens on the same port.
    url: Option<String>,
    /// Serve over TLS with these files (see [`Server::use_tls`]).
    tls: Option<TlsFiles>,
    /// Extra `LASTMILE_*` settings for `serve` (see [`Server::set_env`]).
    env: Vec<(String, String)>,
    process: Option<ServeProcess>,
    /// The API token of [`HQ_READER`], made by [`Server::init`].
    hq_token: OnceLock<String>,
}

/// Offline limits every [`Server::init`] sets, in major units of [`CURRENCY`].
pub const CREDENTIAL_MAX: &str = "5000";
/// See [`CREDENTIAL_MAX`].
pub const UNSYNCED_VALUE_MAX: &str = "50000";
/// See [`CREDENTIAL_MAX`].
pub const UNSYNCED_COUNT_MAX: &str = "200";
/// See [`CREDENTIAL_MAX`].
pub const OFFLINE_HOURS_MAX: &str = "72";

impl Server {
    /// A new HQ with an empty database of `backend`; nothing initialised,
    /// not serving.
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = fresh_database(backend, dir.path());
        Self {
            dir,
            database,
            url: None,
            tls: None,
            env: Vec::new(),
            process: None,
            hq_token: OnceLock::new(),
        }
    }

    /// Sets an environment variable for every later `serve`, e.g. a
    /// shorter `LASTMILE_HEADER_READ_TIMEOUT_SECONDS`.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// The process id of the running `serve`.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    /// Makes every later `serve` run over TLS with `files`, and the HQ API
    /// calls trust `files.ca`. Call before the first [`Server::start`].
    pub fn use_tls(&mut self, files: TlsFiles) {
        assert!(self.url.is_none(), "TLS is chosen before the first start");
        self.tls = Some(files);
    }

    /// `keys init` and `limits set` for [`CURRENCY`] (the offline limits in
    /// the constants above), as a programme does on a new machine.
    pub fn init(&self) {
        let keys = self.cli_ok(&["keys", "init"]);
        assert!(
            keys.contains("trust list version 1"),
            "unexpected `keys init` output: {keys}"
        );
        let limits = self.cli_ok(&[
            "limits",
            "set",
            "--currency",
            CURRENCY,
            "--credential-max",
            CREDENTIAL_MAX,
            "--unsynced-value-max",
            UNSYNCED_VALUE_MAX,
            "--unsynced-count-max",
            UNSYNCED_COUNT_MAX,
            "--offline-hours-max",
            OFFLINE_HOURS_MAX,
        ]);
        assert!(
            limits.contains(&format!("limits for {CURRENCY} set")),
            "unexpected `limits set` output: {limits}"
        );
        let password = self.dir.path().join("hq-password");
        std::fs::write(&password, "e2e password of the auditor").expect("the password file");
        let password = password.to_str().expect("a UTF-8 path");
        // The first user is an admin whatever the role; the reader comes second.
        for (name, role) in [("e2e.admin", "admin"), (HQ_READER, "auditor")] {
            self.cli_ok(&[
                "users",
                "add",
                name,
                "--name",
                name,
                "--role",
                role,
                "--password-file",
                password,
            ]);
        }
        let token = self.cli_ok(&["tokens", "create", "--user", HQ_READER, "--label", "e2e"]);
        let _ = self.hq_token.set(token.trim().to_owned());
    }

    /// The API token of [`HQ_READER`] (after [`Server::init`]).
    pub fn hq_token(&self) -> &str {
        self.hq_token
            .get()
            .expect("Server::init makes the HQ token")
    }

    /// The temporary directory this HQ's files live in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self) -> Command {
        let mut command = clean_command(&binary("lastmile-server"));
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--database", &self.database])
            .env("LASTMILE_LOG", "warn");
        command
    }

    /// Runs `lastmile-server --data-dir … --database … ARGS`.
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut command = self.command();
        command.args(args);
        run(command)
    }

    /// Runs a server command that must succeed; returns its stdout.
    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let run = self.cli(args);
        run.expect_code(0);
        run.stdout
    }

    /// Starts `serve`: on a free loopback port the first time, on the same
    /// address after that. Returns once it prints `listening on URL`.
    #[track_caller]
    pub fn start(&mut self) -> &str {
        assert!(self.process.is_none(), "the server is already running");
        let listen = match &self.url {
            Some(url) => url
                .split_once("://")
                .map_or(url.as_str(), |(_, a)| a)
                .to_owned(),
            None => "127.0.0.1:0".to_owned(),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("the server's log file");
        let mut command = self.command();
        command.args(["serve", "--listen", &listen]);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(tls) = &self.tls {
            command
                .arg("--tls-cert")
                .arg(&tls.cert)
                .arg("--tls-key")
                .arg(&tls.key);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting lastmile-server serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        // A server that fails to start exits, which ends this read.
        let read = stdout.read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "lastmile-server serve printed {line:?} ({read:?}) and ended with {status:?}\n{}",
                self.log()
            );
        };
        self.process = Some(ServeProcess {
            child,
            _stdout: stdout,
        });
        match &self.url {
            Some(previous) => assert_eq!(&url, previous, "restarted on another address"),
            None => self.url = Some(url),
        }
        self.url()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// What every `serve` run of this HQ wrote to stderr.
    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops `serve` with SIGTERM (as an operator's Ctrl-C or systemd would)
    /// and checks that it shuts down cleanly: exit status 0, no panic.
    #[track_caller]
    pub fn stop(&mut self) {
        let mut process = self.process.take().expect("the server is not running");
        let pid = process.child.id();
        let kill = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .expect("running kill");
        assert!(kill.success(), "kill -TERM {pid} failed");
        let status = wait_until(&mut process.child, Instant::now() + STOP_TIMEOUT)
            .unwrap_or_else(|| panic!("lastmile-server did not stop within {STOP_TIMEOUT:?}"));
        let log = self.log();
        assert!(
            status.success() && !log.contains("panicked"),
            "lastmile-server stopped with {status}; its log:\n{log}"
        );
    }

    /// The server's base URL (`http://127.0.0.1:PORT`, or `https://…` over
    /// TLS).
    #[track_caller]
    pub fn url(&self) -> &str {
        self.url.as_deref().expect("the server was never started")
    }

    /// `GET` on the HQ API with the bearer token; the answer must be 200
    /// with a JSON body.
    #[track_caller]
    pub fn hq_get(&self, path: &str) -> Value {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(files) = &self.tls {
            let pem = std::fs::read(&files.ca).expect("the CA certificate file");
            let ca = ureq::tls::Certificate::from_pem(&pem).expect("a PEM CA certificate");
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&[ca]));
        }
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(COMMAND_TIMEOUT))
                .tls_config(tls.build())
                .build(),
        );
        let url = format!("{}{path}", self.url());
        let mut response = agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", self.hq_token()))
            .call()
            .unwrap_or_else(|e| panic!("GET {url} got no answer: {e}"));
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .read_to_vec()
            .expect("reading the answer");
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("GET {path} answered no JSON ({e}): {text}"))
    }

    /// A voucher's state from `GET /v1/hq/vouchers/{id}`.
    #[track_caller]
    pub fn voucher(&self, id: &str) -> Value {
        self.hq_get(&format!("/v1/hq/vouchers/{id}"))
    }

    /// The double-spend cases from `GET /v1/hq/cases`.
    #[track_caller]
    pub fn cases(&self) -> Vec<Value> {
        self.hq_get("/v1/hq/cases")
            .as_array()
            .expect("cases are a JSON array")
            .clone()
    }

    /// One terminal's row from `GET /v1/hq/terminals`.
    #[track_caller]
    pub fn terminal_row(&self, device: &str) -> Value {
        self.hq_get("/v1/hq/terminals")
            .as_array()
            .expect("terminals are a JSON array")
            .iter()
            .find(|t| t["device"] == device)
            .unwrap_or_else(|| panic!("HQ lists no terminal {device}"))
            .clone()
    }

    /// A one-time enrolment code from `terminals code`.
    #[track_caller]
    pub fn enrolment_code(&self, merchant: &str, site: &str) -> String {
        let code = self.cli_ok(&["terminals", "code", "--merchant", merchant, "--site", site]);
        code.trim().to_owned()
    }

    /// Issues vouchers through `vouchers issue` from a CSV of `rows` (valid
    /// 2020-01-01 to 2099-12-31, programme `food`, in [`CURRENCY`]) and
    /// reads back `OUT/vouchers.csv`, in row order.
    #[track_caller]
    pub fn issue(&self, rows: &[NewVoucher<'_>]) -> Issuance {
        let name = unique_name("issue");
        let csv = self.dir.path().join(format!("{name}.csv"));
        let mut text = String::from(
            "beneficiary_id,name,amount,currency,programme,valid_from,valid_until,mode\n",
        );
        for row in rows {
            text.push_str(&format!(
                "{b},Person {b},{amount},{CURRENCY},food,2020-01-01,2099-12-31,{mode}\n",
                b = row.beneficiary,
                amount = row.amount,
                mode = row.mode.as_str()
            ));
        }
        std::fs::write(&csv, text).expect("writing the beneficiaries CSV");
        let out = self.dir.path().join(name);
        let printed = self.cli_ok(&[
            "vouchers",
            "issue",
            "--csv",
            &csv.display().to_string(),
            "--out",
            &out.display().to_string(),
        ]);
        assert!(
            printed.contains(&format!("{} voucher(s) issued", rows.len())),
            "unexpected `vouchers issue` output: {printed}"
        );
        let list = std::fs::read_to_string(out.join("vouchers.csv")).expect("OUT/vouchers.csv");
        let mut lines = list.lines();
        assert_eq!(
            lines.next(),
            Some("voucher_id,beneficiary_id,name,amount,currency,qr_text,code"),
            "the header of vouchers.csv"
        );
        // No field here holds a comma: ids, "Person B-…", amounts, base45 and codes.
        let vouchers = lines
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields.len(), 7, "vouchers.csv line {line:?}");
                assert_eq!(fields[4], CURRENCY);
                IssuedVoucher {
                    id: fields[0].to_owned(),
                    beneficiary: fields[1].to_owned(),
                    amount: fields[3].to_owned(),
                    qr: fields[5].to_owned(),
                    code: fields[6].to_owned(),
                }
            })
            .collect::<Vec<_>>();
        let beneficiaries: Vec<&str> = vouchers.iter().map(|v| v.beneficiary.as_str()).collect();
        let expected: Vec<&str> = rows.iter().map(|r| r.beneficiary).collect();
        assert_eq!(beneficiaries, expected, "vouchers.csv lists the rows");
        Issuance { out, vouchers }
    }
}

/// A copy of an HQ database, taken by [`Server::backup`] while the server
/// was stopped, as an operator's nightly backup would be.
pub enum Backup {
    /// The SQLite file, copied into this directory.
    Sqlite(tempfile::TempDir),
    /// A PostgreSQL database made from the live one as a template.
    Postgres(String),
}

impl Server {
    /// Copies the database; the server must be stopped (a consistent copy,
    /// and PostgreSQL copies a template only with nobody connected).
    #[track_caller]
    pub fn backup(&self) -> Backup {
        assert!(self.process.is_none(), "stop the server before a backup");
        match postgres_database_name(&self.database) {
            None => {
                let copy = tempfile::tempdir().expect("a temporary directory");
                for suffix in ["", "-wal"] {
                    let file = format!("{}{suffix}", self.database);
                    if Path::new(&file).exists() {
                        std::fs::copy(&file, copy.path().join(format!("lastmile.sqlite{suffix}")))
                            .expect("copying the SQLite database");
                    }
                }
                Backup::Sqlite(copy)
            }
            Some(name) => {
                let backup = unique_name("lastmile_backup");
                postgres_admin(&format!("CREATE DATABASE {backup} TEMPLATE {name}"));
                Backup::Postgres(backup)
            }
        }
    }

    /// Replaces the database with `backup`, as restoring it after a disk
    /// failure would; the server must be stopped.
    #[track_caller]
    pub fn restore(&self, backup: &Backup) {
        assert!(self.process.is_none(), "stop the server before a restore");
        match (backup, postgres_database_name(&self.database)) {
            (Backup::Sqlite(copy), None) => {
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.database));
                }
                for suffix in ["", "-wal"] {
                    let file = copy.path().join(format!("lastmile.sqlite{suffix}"));
                    if file.exists() {
                        std::fs::copy(&file, format!("{}{suffix}", self.database))
                            .expect("restoring the SQLite database");
                    }
                }
            }
            (Backup::Postgres(backup), Some(name)) => {
                postgres_admin(&format!("DROP DATABASE {name}"));
                postgres_admin(&format!("CREATE DATABASE {name} TEMPLATE {backup}"));
            }
            _ => panic!("a backup restores only into the backend it was taken from"),
        }
    }
}

/// The database name of a PostgreSQL `--database` URL; `None` for SQLite.
fn postgres_database_name(database: &str) -> Option<&str> {
    database
        .starts_with("postgres")
        .then(|| database.rsplit_once('/').map_or(database, |(_, name)| name))
}

/// Runs one statement as the test server's administrator, through `psql`
/// rather than a client crate, so that crates testing with this harness
/// (the terminal among them) link no PostgreSQL client.
fn postgres_admin(statement: &str) {
    let admin = postgres_admin_url();
    let output = Command::new("psql")
        .args([admin, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1"])
        .args(["--command", statement])
        .stdin(Stdio::null())
        .output()
        .expect("running psql (scripts/install-deps.sh installs it)");
    assert!(
        output.status.success(),
        "{statement} on PostgreSQL at {admin}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

/// One `lastmile-terminal` data directory (its SQLite store and device
/// key), driven through the terminal's command line.
pub struct Terminal {
    dir: tempfile::TempDir,
    /// How far off this board's clock runs, in seconds (the hidden
    /// `--clock-skew-seconds`, through its environment variable).
    clock_skew_s: std::cell::Cell<i64>,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Terminal {
    /// A terminal with an empty data directory: not enrolled.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            clock_skew_s: std::cell::Cell::new(0),
        }
    }

    /// Makes every later command read a clock `seconds` off the real one, as
    /// on a board whose clock drifted or lost its battery.
    pub fn set_clock_skew(&self, seconds: i64) {
        self.clock_skew_s.set(seconds);
    }

    /// Runs `lastmile-terminal --data-dir DIR ARGS` (messages in English).
    pub fn cli(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }

    /// [`Terminal::cli`] given `timeout` to finish instead of the usual limit.
    pub fn cli_within(&self, args: &[&str], timeout: Duration) -> Run {
        run_within(self.command(args), timeout)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = clean_command(&binary("lastmile-terminal"));
        command
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("LASTMILE_LANG", "en")
            .env(
                "LASTMILE_TERMINAL_CLOCK_SKEW_S",
                self.clock_skew_s.get().to_string(),
            );
        command
    }

    /// Runs `lastmile-terminal --json ARGS`.
    pub fn json(&self, args: &[&str]) -> Run {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.cli(&all)
    }

    /// Enrols with a fresh code for `merchant` and `site` from `server`
    /// (which must be serving); returns the device id the server gave.
    #[track_caller]
    pub fn enroll(&self, server: &Server, merchant: &str, site: &str) -> String {
        let code = server.enrolment_code(merchant, site);
        self.enroll_with_code(server, &code, &[])
    }

    /// Enrols with `code`, adding `args` (`--ca-cert FILE`) to `enroll`;
    /// it must succeed. Returns the device id the server gave.
    #[track_caller]
    pub fn enroll_with_code(&self, server: &Server, code: &str, args: &[&str]) -> String {
        self.enroll_at(server.url(), code, args)
    }

    /// Enrols with `code` against the server at `url` (a proxy in front of
    /// it, say); it must succeed. Returns the device id the server gave.
    #[track_caller]
    pub fn enroll_at(&self, url: &str, code: &str, args: &[&str]) -> String {
        let mut all = vec![
            "enroll",
            "--server",
            url,
            "--code",
            code,
            "--label",
            "e2e counter",
        ];
        all.extend_from_slice(args);
        let run = self.json(&all);
        let answer = run.expect_code(0).json();
        assert_eq!(answer["ok"], true, "{answer}");
        let device = answer["device"]
            .as_str()
            .unwrap_or_else(|| panic!("enrol answer without a device: {answer}"))
            .to_owned();
        // The enrolment syncs once and brings the documents redemption needs.
        let updated = answer["sync"]["updated"].to_string();
        for document in ["trust list", "revocation list", "terminal policy"] {
            assert!(
                updated.contains(document),
                "{document} missing after enrolment: {answer}"
            );
        }
        device
    }

    /// Adds the first operator and logs them in.
    #[track_caller]
    pub fn operator(&self, id: &str, pin: &str) {
        let added = self.json(&["operator", "add", "--id", id, "--name", id, "--pin", pin]);
        assert_eq!(added.expect_code(0).json()["operator"], id);
        let login = self.json(&["operator", "login", "--id", id, "--pin", pin]);
        assert_eq!(login.expect_code(0).json()["login"]["operator"], id);
    }

    /// `redeem --qr QR [--amount AMOUNT]` with `--json`.
    pub fn redeem(&self, qr: &str, amount: Option<&str>) -> Run {
        let mut args = vec!["redeem", "--qr", qr];
        if let Some(amount) = amount {
            args.extend(["--amount", amount]);
        }
        self.json(&args)
    }

    /// A redemption that must be accepted; returns its receipt.
    #[track_caller]
    pub fn redeem_ok(&self, qr: &str, amount: Option<&str>) -> Value {
        let answer = self.redeem(qr, amount).expect_code(0).json();
        assert_eq!(
            answer["receipt"]["status"], "accepted_offline_pending",
            "{answer}"
        );
        answer["receipt"].clone()
    }

    /// `sync` with `--json`.
    pub fn sync(&self) -> Run {
        self.json(&["sync"])
    }

    /// A sync that must succeed; returns its report (`uploaded`,
    /// `acknowledged_seq`, `newly_confirmed`, `double_spends`, …).
    #[track_caller]
    pub fn sync_ok(&self) -> Value {
        self.sync().expect_code(0).json()["sync"].clone()
    }

    /// `status --json`.
    #[track_caller]
    pub fn status(&self) -> Value {
        self.json(&["status"]).expect_code(0).json()
    }

    /// A copy of this terminal as it is now (store and device key), as a
    /// backup restored later would be: the same device, the same log.
    pub fn copy(&self) -> Terminal {
        let copy = Terminal::new();
        copy.set_clock_skew(self.clock_skew_s.get());
        for entry in std::fs::read_dir(self.dir.path()).expect("the terminal's directory") {
            let entry = entry.expect("a directory entry");
            // std::fs::copy keeps the mode, so device.key stays 0600.
            std::fs::copy(entry.path(), copy.dir.path().join(entry.file_name()))
                .expect("copying the terminal's files");
        }
        copy
    }
}

/// The arguments of `command` and its subcommands that have no help line,
/// as `command subcommand argument` paths: `--help` must read like a manual.
pub fn arguments_without_help(command: &clap::Command) -> Vec<String> {
    fn walk(command: &clap::Command, path: &str, found: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                found.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }
    let mut found = Vec::new();
    walk(command, command.get_name(), &mut found);
    found
}
