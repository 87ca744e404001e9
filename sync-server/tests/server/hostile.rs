//! Hostile clients against the real `lastmile-server serve` process: its
//! memory under many signed bodies built to blow up a decoder, and slow
//! clients trickling bytes (slow-loris), then a shutdown with requests
//! half-sent. Memory is the server process's own, read from
//! `/proc/<pid>/status`.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{SignOptions, TestTerminal};
use lastmile_shared::sync::{self, REQUEST_BODY_BYTES_MAX};
use lastmile_tests::{Backend, Server};

/// Concurrent hostile uploads.
const HOSTILE_UPLOADS: usize = 16;
/// Most the server's peak resident memory may grow under them, in KiB:
/// less than the 128 MiB it would take to hold the 16 bodies at once, so
/// this fails both when a decoder materialises a body (2.7 GB before the
/// fix) and when bodies are buffered without a budget.
const HOSTILE_PEAK_GROWTH_KIB_MAX: u64 = 96 * 1024;

/// A `/proc/<pid>/status` field in KiB (`VmHWM` is the peak resident size).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// `{"entries": [h'', h'', …]}` of exactly `bytes` bytes: one empty byte
/// string per byte.
fn empty_byte_strings(bytes: usize) -> Vec<u8> {
    let mut body = vec![0xa1, 0x67];
    body.extend_from_slice(b"entries");
    let count = bytes - body.len() - 5;
    body.push(0x9a);
    body.extend_from_slice(&u32::try_from(count).unwrap().to_be_bytes());
    body.resize(bytes, 0x40);
    body
}

fn started(server: &mut Server) -> (String, SocketAddr) {
    server.init();
    let url = server.start().to_owned();
    let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
    (url, addr)
}

#[test]
fn hostile_bodies_from_an_enrolled_terminal_keep_memory_bounded() {
    let mut server = Server::new(Backend::Sqlite);
    let (url, _) = started(&mut server);
    let code = server.enrolment_code("shop-1", "site-1");
    let terminal = TestTerminal::enroll(&url, &code).unwrap();
    let pid = server.pid().unwrap();
    let body = empty_byte_strings(REQUEST_BODY_BYTES_MAX);
    let baseline = status_kib(pid, "VmHWM");
    std::thread::scope(|scope| {
        let uploads: Vec<_> = (0..HOSTILE_UPLOADS)
            .map(|_| {
                scope.spawn(|| {
                    terminal.signed_post("/v1/terminal/upload", &body, &SignOptions::default())
                })
            })
            .collect();
        for upload in uploads {
            let refused = upload.join().unwrap().unwrap_err();
            assert_eq!(
                (refused.status, refused.problem.code.as_str()),
                (413, "too_many_items")
            );
        }
    });
    let peak = status_kib(pid, "VmHWM");
    eprintln!(
        "{HOSTILE_UPLOADS} signed {} MiB uploads of empty byte strings: peak RSS {} MiB → {} MiB",
        REQUEST_BODY_BYTES_MAX >> 20,
        baseline / 1024,
        peak / 1024
    );
    assert!(
        peak - baseline <= HOSTILE_PEAK_GROWTH_KIB_MAX,
        "peak resident memory grew by {} KiB (at most {HOSTILE_PEAK_GROWTH_KIB_MAX})",
        peak - baseline
    );
    // The server still serves the terminal.
    let pull = sync::to_cbor(&sync::PullRequest {
        cursor: sync::SyncCursor::default(),
        balances_max: None,
        open_cases: Vec::new(),
    });
    terminal
        .signed_post("/v1/terminal/pull", &pull, &SignOptions::default())
        .unwrap();
    server.stop();
}

/// Slow-loris clients.
const SLOW_CLIENTS: usize = 200;
/// Settings of the slow-loris server: short, so the test is quick.
const HEADER_READ_TIMEOUT_SECONDS: u64 = 3;
const CONNECTIONS_PER_PEER_MAX: usize = 50;
const SHUTDOWN_GRACE_SECONDS: u64 = 3;
/// What a trickling client sends, one byte per tick.
const TRICKLE: &[u8] = b"POST /v1/terminal/upload HTTP/1.1\r\nHost: hq\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TICK: Duration = Duration::from_millis(100);

/// One trickling connection.
struct Slow {
    stream: TcpStream,
    sent: usize,
    closed_after: Option<Duration>,
}

impl Slow {
    /// Sends the next byte and notes when the server has closed.
    fn tick(&mut self, started: Instant) {
        if self.closed_after.is_some() {
            return;
        }
        let mut buf = [0u8; 256];
        let closed = match self.stream.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(_) => true,
        } || self
            .stream
            .write_all(&TRICKLE[self.sent % TRICKLE.len()..][..1])
            .is_err();
        self.sent += 1;
        if closed {
            self.closed_after = Some(started.elapsed());
        }
    }
}

/// `GET /health` from another loopback address than the slow clients', so
/// with its own connection count.
fn health_from(source: &str, server: SocketAddr) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let mut stream = socket.connect(server).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: hq\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
            .await
            .unwrap()
            .unwrap();
        answer
    })
}

#[test]
fn slow_clients_are_disconnected_and_shutdown_is_bounded() {
    let mut server = Server::new(Backend::Sqlite);
    server.set_env(
        "LASTMILE_HEADER_READ_TIMEOUT_SECONDS",
        &HEADER_READ_TIMEOUT_SECONDS.to_string(),
    );
    server.set_env(
        "LASTMILE_CONNECTIONS_PER_PEER_MAX",
        &CONNECTIONS_PER_PEER_MAX.to_string(),
    );
    server.set_env(
        "LASTMILE_SHUTDOWN_GRACE_SECONDS",
        &SHUTDOWN_GRACE_SECONDS.to_string(),
    );
    let (_, addr) = started(&mut server);

    let started_at = Instant::now();
    let mut slow: Vec<Slow> = (0..SLOW_CLIENTS)
        .map(|_| {
            let stream = TcpStream::connect(addr).unwrap();
            stream.set_nonblocking(true).unwrap();
            Slow {
                stream,
                sent: 0,
                closed_after: None,
            }
        })
        .collect();
    let mut healthy = None;
    let deadline = Duration::from_secs(HEADER_READ_TIMEOUT_SECONDS + 5);
    while started_at.elapsed() < deadline && slow.iter().any(|s| s.closed_after.is_none()) {
        for client in &mut slow {
            client.tick(started_at);
        }
        if healthy.is_none() && started_at.elapsed() > Duration::from_millis(500) {
            healthy = Some(health_from("127.0.0.2", addr));
        }
        std::thread::sleep(TICK);
    }
    let early = Duration::from_secs(HEADER_READ_TIMEOUT_SECONDS) / 2;
    let closed_early = slow
        .iter()
        .filter(|s| s.closed_after.is_some_and(|t| t < early))
        .count();
    let still_open = slow.iter().filter(|s| s.closed_after.is_none()).count();
    let last_closed = slow.iter().filter_map(|s| s.closed_after).max();
    eprintln!(
        "{SLOW_CLIENTS} slow clients: {closed_early} closed within {early:?} (over the per-peer limit), \
         the last closed after {last_closed:?}, {still_open} still open"
    );
    assert_eq!(still_open, 0, "slow clients were never disconnected");
    assert_eq!(closed_early, SLOW_CLIENTS - CONNECTIONS_PER_PEER_MAX);
    assert!(last_closed.unwrap() >= Duration::from_secs(HEADER_READ_TIMEOUT_SECONDS));
    let healthy = healthy.unwrap();
    assert!(
        healthy.starts_with("HTTP/1.1 200"),
        "another address was refused during the attack: {healthy}"
    );

    // Requests half-sent (headers done, body trickling) when SIGTERM comes:
    // the server waits the grace period for them, then closes them.
    let token = server.hq_token().to_owned();
    let half_sent: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(
                    format!(
                        "POST /v1/hq/enrolment-codes HTTP/1.1\r\nHost: hq\r\n\
                         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
                         Content-Length: 1000\r\n\r\n{{",
                        token
                    )
                    .as_bytes(),
                )
                .unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let stopping = Instant::now();
    server.stop();
    let stopped_after = stopping.elapsed();
    eprintln!("SIGTERM with 5 requests half-sent: stopped after {stopped_after:?}");
    assert!(
        stopped_after < Duration::from_secs(SHUTDOWN_GRACE_SECONDS + 3),
        "shutdown took {stopped_after:?}"
    );
    drop(half_sent);
}
