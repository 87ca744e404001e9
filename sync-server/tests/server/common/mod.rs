//! Test support: a real server on a random port with a fresh database of
//! either backend (`spawn_app`), a throwaway PostgreSQL cluster when none is
//! given, and a test terminal built from `lastmile-shared` alone (device key,
//! signed log entries, RFC 9421 request signatures) that talks real HTTP.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use std::collections::HashMap;

use lastmile_server::api::Audience;
use lastmile_server::audit::Actor;
use lastmile_server::config::Config;
use lastmile_server::issuance::{self, IssueOptions, IssuedVoucher};
use lastmile_server::keys::{self, KeyDir};
use lastmile_server::limits;
use lastmile_server::people::{self, Language, NewUser, Permission, Role, tokens};
use lastmile_server::startup::Server;
use lastmile_server::storage::{DatabaseUrl, Storage};
use lastmile_server::terminals;
use lastmile_shared::device_log::{ChainHead, LogEntry, LogEvent, SignedEntry};
use lastmile_shared::http_signature;
use lastmile_shared::id::{DeviceId, IssuerId, KeyId, MerchantId, OperatorId, SiteId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::sync::{
    self, EnrollRequest, EnrollResponse, Problem, PullRequest, PullResponse, SyncCursor,
    UploadRequest, UploadResponse,
};
use lastmile_shared::voucher;
use rand_core::{OsRng, RngCore};
use serde_bytes::ByteBuf;

pub use lastmile_tests::Backend;

pub fn now() -> i64 {
    use lastmile_server::clock::Clock;
    lastmile_server::clock::SystemClock.now()
}

/// The test's own actor in the audit trail.
pub fn operator() -> Actor {
    Actor::Operator("test".to_owned())
}

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";

/// The username of the test user of a role.
pub fn username(role: Role) -> &'static str {
    match role {
        Role::Admin => "ada.admin",
        Role::ProgrammeOfficer => "otieno.officer",
        Role::Approver => "amina.approver",
        Role::Finance => "fatuma.finance",
        Role::Auditor => "aziz.auditor",
        Role::Support => "sam.support",
    }
}

/// One user of each role, and an API token for each.
pub fn people(storage: &Storage) -> HashMap<Role, String> {
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let name = username(role);
        people::create_user(
            storage,
            &operator(),
            &NewUser {
                username: name,
                display_name: name,
                role,
                language: Language::En,
                password: PASSWORD,
            },
            now(),
        )
        .unwrap();
        let token = tokens::create(storage, &operator(), name, "tests", now()).unwrap();
        tokens.insert(role, token.token);
    }
    tokens
}

/// The HQ route a request goes to, by method and concrete path.
fn route_permission(method: &str, path: &str) -> Option<Permission> {
    let path = path.split('?').next().unwrap_or(path);
    let wanted: Vec<&str> = path.split('/').collect();
    lastmile_server::api::routes()
        .into_iter()
        .find_map(|(m, pattern, audience, _)| {
            let parts: Vec<&str> = pattern.split('/').collect();
            let matches = m.as_str() == method
                && parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(p, w)| p.starts_with('{') || p == w);
            match (matches, audience) {
                (true, Audience::Hq(permission) | Audience::HqFile(permission)) => Some(permission),
                _ => None,
            }
        })
}

/// A role whose people may make this request.
pub fn role_for(method: &str, path: &str) -> Role {
    let permission = route_permission(method, path)
        .unwrap_or_else(|| panic!("{method} {path} is not an HQ route"));
    Role::ALL
        .into_iter()
        .find(|role| role.allows(permission))
        .unwrap()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new, empty database of the backend.
pub fn fresh_database(backend: Backend, dir: &Path) -> DatabaseUrl {
    match backend {
        Backend::Sqlite => DatabaseUrl::Sqlite(dir.join("lastmile.sqlite")),
        Backend::Postgres => DatabaseUrl::Postgres(lastmile_tests::fresh_postgres_database()),
    }
}

pub fn kes() -> Currency {
    Currency::parse("KES").unwrap()
}

pub fn kes_limits() -> OfflineLimits {
    OfflineLimits {
        currency: kes(),
        credential_value_max_minor: 1_000_000,
        unsynced_value_max_minor: 100_000_000,
        unsynced_count_max: 10_000,
        offline_seconds_max: 7 * 24 * 3600,
    }
}

/// A running server with its database and data directory.
pub struct TestApp {
    pub base_url: String,
    pub storage: Arc<Storage>,
    pub keys: KeyDir,
    pub database: DatabaseUrl,
    pub dir: tempfile::TempDir,
    /// An API token of a user of each role.
    pub tokens: HashMap<Role, String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn config(dir: &Path, database: DatabaseUrl) -> Config {
    Config {
        data_dir: dir.to_owned(),
        database,
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        allow_plain_http: false,
        issuer: IssuerId::parse("lastmile-test").unwrap(),
        log: "warn".to_owned(),
        connections: Default::default(),
        job_lease_ms: lastmile_server::jobs::LEASE_MS,
    }
}

/// Keys created, KES limits set: what `keys init` and `limits set` do.
pub fn prepare(storage: &Storage, keys: &KeyDir) {
    keys::init(
        storage,
        keys,
        &operator(),
        &IssuerId::parse("lastmile-test").unwrap(),
        now(),
    )
    .unwrap();
    limits::set(storage, keys, &operator(), &kes_limits(), now()).unwrap();
}

pub fn spawn_app(backend: Backend) -> TestApp {
    spawn(backend, true)
}

/// [`spawn_app`] without the background-job worker: the HTTP API alone, for
/// a test whose jobs only `lastmile-server serve` processes it starts run.
pub fn spawn_api(backend: Backend) -> TestApp {
    spawn(backend, false)
}

fn spawn(backend: Backend, worker: bool) -> TestApp {
    if let Ok(filter) = std::env::var("LASTMILE_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database(backend, dir.path());
    let storage = Arc::new(Storage::open(&database).unwrap());
    let keys = KeyDir::new(dir.path());
    prepare(&storage, &keys);
    let tokens = people(&storage);
    let config = config(dir.path(), database.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server_storage = storage.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server = Server::with_storage(&config, server_storage).await.unwrap();
            let server = if worker {
                server
            } else {
                server.without_jobs()
            };
            ready_tx.send(server.local_addr().unwrap()).unwrap();
            server
                .run(async {
                    let _ = shutdown_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    TestApp {
        base_url: format!("http://{addr}"),
        storage,
        keys,
        database,
        dir,
        tokens,
        shutdown: Some(shutdown_tx),
        thread: Some(thread),
    }
}

impl TestApp {
    pub fn code(&self, merchant: &str, site: &str) -> String {
        terminals::create_code(
            &self.storage,
            &operator(),
            Some(MerchantId::parse(merchant).unwrap()),
            Some(SiteId::parse(site).unwrap()),
            3600,
            now(),
        )
        .unwrap()
        .code
    }

    /// Enrols a new test terminal at this merchant and site.
    pub fn terminal(&self, merchant: &str, site: &str) -> TestTerminal {
        let code = self.code(merchant, site);
        TestTerminal::enroll(&self.base_url, &code).expect("enrolment")
    }

    /// Issues `count` vouchers of `amount` KES through the CSV path.
    pub fn issue(&self, count: usize, amount: &str, mode: &str) -> Vec<IssuedVoucher> {
        let csv = self.dir.path().join(format!("issue-{}.csv", random_hex(4)));
        let mut text = String::from(
            "beneficiary_id,name,amount,currency,programme,valid_from,valid_until,mode\n",
        );
        for i in 0..count {
            text.push_str(&format!(
                "B-{}-{i},Person {i},{amount},KES,food,2020-01-01,2099-12-31,{mode}\n",
                random_hex(3)
            ));
        }
        std::fs::write(&csv, text).unwrap();
        let out = self.dir.path().join(format!("out-{}", random_hex(4)));
        issuance::issue(
            &self.storage,
            &self.keys,
            &IssueOptions {
                csv,
                out,
                allow_partial_errors: false,
                bind_beneficiary: false,
            },
            now(),
        )
        .unwrap()
        .issued
    }

    pub fn entry_count(&self) -> u64 {
        self.storage.transaction(|tx| tx.entry_count()).unwrap()
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// A request by someone whose role may make it.
    pub fn hq(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let role = role_for(method, path);
        hq_request(&self.base_url, method, path, body, Some(self.token(role)))
    }

    /// A request by the test user of `role`.
    pub fn hq_as(
        &self,
        role: Role,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        hq_request(&self.base_url, method, path, body, Some(self.token(role)))
    }

    pub fn hq_get(&self, path: &str) -> (u16, serde_json::Value) {
        self.hq("GET", path, None)
    }

    pub fn hq_post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.hq("POST", path, Some(body))
    }

    /// A file sent as the body, by the test user of `role`.
    pub fn hq_upload(&self, role: Role, path: &str, file: &[u8]) -> (u16, serde_json::Value) {
        let mut response = agent()
            .post(&format!("{}{path}", self.base_url))
            .header("authorization", &format!("Bearer {}", self.token(role)))
            .header("content-type", "text/csv")
            .send(file)
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Proposes by the role allowed to, and approves by the approver.
    pub fn propose_and_approve(&self, path: &str, reason: &str) -> serde_json::Value {
        let (status, proposal) = self.hq_post(path, serde_json::json!({ "reason": reason }));
        assert_eq!(status, 202, "{proposal}");
        let id = proposal["id"].as_i64().unwrap();
        let (status, decided) = self.hq_as(
            Role::Approver,
            "POST",
            &format!("/v1/hq/proposals/{id}/decision"),
            Some(serde_json::json!({ "decision": "approve", "note": "checked" })),
        );
        assert_eq!(status, 200, "{decided}");
        decided
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

pub fn hq_request(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let url = format!("{base}{path}");
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let response = match method {
        "GET" => {
            let mut request = agent.get(&url);
            if let Some(auth) = &auth {
                request = request.header("authorization", auth);
            }
            request.call()
        }
        _ => {
            let mut request = if method == "PUT" {
                agent.put(&url)
            } else {
                agent.post(&url)
            };
            if let Some(auth) = &auth {
                request = request.header("authorization", auth);
            }
            request.header("content-type", "application/json").send(
                serde_json::to_vec(&body.unwrap_or_default())
                    .unwrap()
                    .as_slice(),
            )
        }
    };
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let bytes = response.body_mut().read_to_vec().unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, value)
}

/// A refusal as the terminal sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub problem: Problem,
}

/// How to sign one request (defaults: now, a fresh nonce, the device key).
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    pub created: Option<i64>,
    pub nonce: Option<String>,
    pub key: Option<SigningKey>,
    pub kid: Option<KeyId>,
}

/// A terminal made of `lastmile-shared` parts only.
pub struct TestTerminal {
    pub base_url: String,
    pub key: SigningKey,
    pub enrolment: EnrollResponse,
    pub log: Vec<SignedEntry>,
    pub cursor: SyncCursor,
}

pub fn post(
    base: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> Result<Vec<u8>, Refused> {
    let mut request = agent()
        .post(&format!("{base}{path}"))
        .header("content-type", sync::CONTENT_TYPE);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let bytes = response.body_mut().read_to_vec().unwrap();
    if (200..300).contains(&status) {
        Ok(bytes)
    } else {
        let problem: Problem = sync::from_cbor(&bytes)
            .unwrap_or_else(|e| panic!("HTTP {status} without a CBOR problem: {e}"));
        Err(Refused { status, problem })
    }
}

/// The headers of a signed request.
pub fn sign_headers(
    path: &str,
    body: &[u8],
    kid: &KeyId,
    key: &SigningKey,
    options: &SignOptions,
) -> Vec<(&'static str, String)> {
    let headers = http_signature::sign(
        "POST",
        path,
        body,
        options.kid.as_ref().unwrap_or(kid),
        options.key.as_ref().unwrap_or(key),
        options.created.unwrap_or_else(now),
        options.nonce.as_deref().unwrap_or(&random_hex(16)),
    );
    vec![
        ("content-digest", headers.content_digest),
        ("signature-input", headers.signature_input),
        ("signature", headers.signature),
    ]
}

impl TestTerminal {
    pub fn enroll(base_url: &str, code: &str) -> Result<Self, Refused> {
        let key = SigningKey::generate(&mut OsRng);
        let request = EnrollRequest {
            code: code.to_owned(),
            device_public_key: ByteBuf::from(key.verifying_key().to_bytes().to_vec()),
            label: "test counter".to_owned(),
        };
        let bytes = post(
            base_url,
            "/v1/terminal/enroll",
            &sync::to_cbor(&request),
            &[],
        )?;
        let enrolment: EnrollResponse = sync::from_cbor(&bytes).unwrap();
        Ok(Self {
            base_url: base_url.to_owned(),
            key,
            enrolment,
            log: Vec::new(),
            cursor: SyncCursor::default(),
        })
    }

    pub fn device(&self) -> &DeviceId {
        &self.enrolment.device
    }

    pub fn head(&self) -> ChainHead {
        self.log.last().map_or(ChainHead::GENESIS, |e| ChainHead {
            seq: e.entry.seq,
            hash: e.hash,
        })
    }

    /// Appends a signed log entry for an event, dated now.
    pub fn record(&mut self, event: LogEvent) -> &SignedEntry {
        self.record_at(event, now())
    }

    /// Appends a signed log entry for an event, dated `at`.
    pub fn record_at(&mut self, event: LogEvent, at: i64) -> &SignedEntry {
        let head = self.head();
        let entry = LogEntry {
            seq: head.seq + 1,
            prev: head.hash,
            device: self.enrolment.device.clone(),
            operator: OperatorId::parse("op-1").unwrap(),
            merchant: self.enrolment.merchant.clone(),
            site: self.enrolment.site.clone(),
            at,
            event,
        };
        self.log.push(SignedEntry::sign(
            entry,
            &self.enrolment.device_kid,
            &self.key,
        ));
        self.log.last().unwrap()
    }

    /// Records an offline redemption of `amount_minor` from a voucher.
    pub fn redeem(&mut self, voucher_text: &str, amount_minor: i64) -> u64 {
        let claims = voucher::decode(voucher_text).unwrap().claims().clone();
        let amount = Money::new(amount_minor, claims.value.currency);
        let remaining_after = Money::new(claims.value.minor - amount_minor, claims.value.currency);
        let kid = voucher::decode(voucher_text).unwrap().kid().clone();
        self.record(LogEvent::VoucherRedeemed {
            voucher: claims.id,
            issuer: claims.issuer,
            programme: claims.programme,
            kid,
            amount,
            remaining_after,
            credential: voucher_text.to_owned(),
        })
        .entry
        .seq
    }

    /// Signed entries with sequence numbers in `range` (1-based, inclusive).
    pub fn entries(&self, range: std::ops::RangeInclusive<u64>) -> Vec<ByteBuf> {
        self.log
            .iter()
            .filter(|e| range.contains(&e.entry.seq))
            .map(|e| ByteBuf::from(e.bytes.clone()))
            .collect()
    }

    pub fn signed_post(
        &self,
        path: &str,
        body: &[u8],
        options: &SignOptions,
    ) -> Result<Vec<u8>, Refused> {
        let headers = sign_headers(path, body, &self.enrolment.device_kid, &self.key, options);
        post(&self.base_url, path, body, &headers)
    }

    pub fn upload_entries(&self, entries: Vec<ByteBuf>) -> Result<UploadResponse, Refused> {
        let body = sync::to_cbor(&UploadRequest {
            entries,
            acknowledged_seq: 0,
        });
        self.signed_post("/v1/terminal/upload", &body, &SignOptions::default())
            .map(|bytes| sync::from_cbor(&bytes).unwrap())
    }

    pub fn upload(&self, range: std::ops::RangeInclusive<u64>) -> Result<UploadResponse, Refused> {
        self.upload_entries(self.entries(range))
    }

    /// Pulls with the current cursor and advances it.
    pub fn pull(&mut self) -> Result<PullResponse, Refused> {
        self.pull_with(None, Vec::new())
    }

    /// Pulls asking for at most `balances_max` balances and about the
    /// outcome of `open_cases`, and advances the cursor.
    pub fn pull_with(
        &mut self,
        balances_max: Option<u32>,
        open_cases: Vec<u64>,
    ) -> Result<PullResponse, Refused> {
        let body = sync::to_cbor(&PullRequest {
            cursor: self.cursor,
            balances_max,
            open_cases,
        });
        let answer: PullResponse = self
            .signed_post("/v1/terminal/pull", &body, &SignOptions::default())
            .map(|bytes| sync::from_cbor(&bytes).unwrap())?;
        use lastmile_shared::trust_list::RootSigned;
        // Follow root handovers from the root this terminal trusts, as the
        // real terminal does, before opening anything they reseal.
        for bytes in &answer.root_handovers {
            if let Ok(next) = lastmile_shared::trust_list::RootHandover::follow(bytes, &self.root())
            {
                self.enrolment.root_kid = next.kid;
                self.enrolment.root_public_key = ByteBuf::from(next.key.to_bytes().to_vec());
            }
        }
        let root = self.root();
        if let Some(bytes) = &answer.trust_list {
            let list = lastmile_shared::trust_list::TrustList::open(bytes, &root, None).unwrap();
            self.cursor.trust_list = list.version;
        }
        if let Some(bytes) = &answer.revocations {
            let list =
                lastmile_shared::revocation::RevocationList::open(bytes, &root, None).unwrap();
            self.cursor.revocations = list.version;
        }
        if let Some(bytes) = &answer.roster {
            let roster = lastmile_shared::roster::Roster::open(bytes, &root, None).unwrap();
            self.cursor.roster = roster.version;
        }
        if let Some(bytes) = &answer.policy {
            let policy = lastmile_shared::sync::TerminalPolicy::open(bytes, &root, None).unwrap();
            self.cursor.policy = policy.version;
        }
        self.cursor.balances = answer.balances_cursor;
        Ok(answer)
    }

    pub fn root(&self) -> lastmile_shared::trust_list::RootKey {
        let bytes: [u8; 32] = self
            .enrolment
            .root_public_key
            .as_slice()
            .try_into()
            .unwrap();
        lastmile_shared::trust_list::RootKey {
            kid: self.enrolment.root_kid.clone(),
            key: ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap(),
        }
    }
}

/// Polls `check` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

pub fn data_path(app: &TestApp) -> PathBuf {
    app.dir.path().to_owned()
}

/// The directory of the official ISO 20022 XSDs (`scripts/iso20022-schemas.sh`,
/// exported by `scripts/test.sh`), or `None` outside CI, to skip.
pub fn xsd_dir() -> Option<PathBuf> {
    match std::env::var_os("LASTMILE_ISO20022_XSD_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var_os("CI").is_some_and(|ci| !ci.is_empty()) => panic!(
            "LASTMILE_ISO20022_XSD_DIR is not set and CI is: run the tests through \
             scripts/test.sh, or export LASTMILE_ISO20022_XSD_DIR=\"$(scripts/iso20022-schemas.sh)\""
        ),
        None => {
            eprintln!(
                "skipped: LASTMILE_ISO20022_XSD_DIR is not set \
                 (export LASTMILE_ISO20022_XSD_DIR=\"$(scripts/iso20022-schemas.sh)\")"
            );
            None
        }
    }
}

/// Runs `xmllint --schema` on `file` with the XSD `xsd` of `dir`; panics
/// with its report when the file is invalid or the XSD is missing.
pub fn assert_valid_xml(dir: &Path, xsd: &str, file: &Path) {
    let schema = dir.join(xsd);
    assert!(schema.exists(), "{} is missing", schema.display());
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .expect("xmllint (Debian libxml2-utils; scripts/install-deps.sh installs it)");
    assert!(
        output.status.success(),
        "{} is not valid against {}:\n{}",
        file.display(),
        schema.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
