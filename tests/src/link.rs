//! A slow network link on loopback: a TCP proxy that passes bytes in each
//! direction at a set rate, shared by all connections through it, as one 2G
//! modem would be.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes forwarded per step: small enough that the rate holds within a
/// fraction of a second at 8 KB/s.
const CHUNK_BYTES: usize = 512;
/// How often the accept loop looks whether the link was dropped.
const ACCEPT_POLL_MS: u64 = 20;

/// One direction's schedule: when the link is next free to send.
struct Direction {
    next_free: Mutex<Instant>,
}

impl Direction {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            next_free: Mutex::new(Instant::now()),
        })
    }

    /// Waits until `bytes` may pass at `rate` bytes per second (0: at once).
    fn pass(&self, bytes: usize, rate: u64) {
        if rate == 0 {
            return;
        }
        let until = {
            let mut next = self.next_free.lock().expect("the link's schedule");
            let start = (*next).max(Instant::now());
            *next = start + Duration::from_secs_f64(bytes as f64 / rate as f64);
            *next
        };
        thread::sleep(until.saturating_duration_since(Instant::now()));
    }
}

/// A proxy from a loopback port to `upstream`, throttled by
/// [`Link::set_rate`]. Dropping it stops accepting connections.
pub struct Link {
    address: SocketAddr,
    rate: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
    /// Bytes that went from clients to the upstream, and back.
    up_bytes: Arc<AtomicU64>,
    down_bytes: Arc<AtomicU64>,
}

impl Link {
    /// Starts the proxy to `upstream` (`host:port`), unthrottled.
    pub fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream.parse().expect("an upstream host:port");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the link");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let link = Self {
            address: listener.local_addr().expect("the link's address"),
            rate: Arc::new(AtomicU64::new(0)),
            stopped: Arc::new(AtomicBool::new(false)),
            up_bytes: Arc::new(AtomicU64::new(0)),
            down_bytes: Arc::new(AtomicU64::new(0)),
        };
        let (rate, stopped) = (link.rate.clone(), link.stopped.clone());
        let (up_bytes, down_bytes) = (link.up_bytes.clone(), link.down_bytes.clone());
        let (up, down) = (Direction::new(), Direction::new());
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(ACCEPT_POLL_MS));
                        continue;
                    }
                    Err(e) => panic!("the link stopped accepting: {e}"),
                };
                client.set_nonblocking(false).expect("a blocking socket");
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let pairs = [
                    (&client, &server, up.clone(), up_bytes.clone()),
                    (&server, &client, down.clone(), down_bytes.clone()),
                ];
                for (from, to, direction, counted) in pairs {
                    let (from, to) = (
                        from.try_clone().expect("a socket clone"),
                        to.try_clone().expect("a socket clone"),
                    );
                    let rate = rate.clone();
                    thread::spawn(move || pump(from, to, &direction, &rate, &counted));
                }
            }
        });
        link
    }

    /// `http://ADDRESS` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Limits each direction to `bytes_per_second` (0: no limit).
    pub fn set_rate(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::Relaxed);
    }

    /// Bytes forwarded (client to server, server to client) so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.up_bytes.load(Ordering::Relaxed),
            self.down_bytes.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to` at the link's rate until either side closes.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    direction: &Direction,
    rate: &AtomicU64,
    counted: &AtomicU64,
) {
    let mut buffer = [0u8; CHUNK_BYTES];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        direction.pass(n, rate.load(Ordering::Relaxed));
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        counted.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
