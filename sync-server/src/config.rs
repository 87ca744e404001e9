//! Configuration, layered: built-in defaults, then a TOML file (`--config`),
//! then `LASTMILE_*` environment variables, then command-line flags.
//!
//! | key | environment | default |
//! |---|---|---|
//! | `data_dir` | `LASTMILE_DATA_DIR` | `./lastmile-data` |
//! | `database` | `LASTMILE_DATABASE` | `DATA_DIR/lastmile.sqlite` |
//! | `listen` | `LASTMILE_LISTEN` | `127.0.0.1:8470` |
//! | `tls_cert`, `tls_key` | `LASTMILE_TLS_CERT`, `LASTMILE_TLS_KEY` | none: plain HTTP |
//! | `allow_plain_http` | `LASTMILE_ALLOW_PLAIN_HTTP` | `false`: plain HTTP only on loopback |
//! | `issuer` | `LASTMILE_ISSUER` | `lastmile` |
//! | `log` | `LASTMILE_LOG` | `info` |
//! | `header_read_timeout_seconds` | `LASTMILE_HEADER_READ_TIMEOUT_SECONDS` | `10` |
//! | `body_read_timeout_seconds` | `LASTMILE_BODY_READ_TIMEOUT_SECONDS` | `120` |
//! | `connections_per_peer_max` | `LASTMILE_CONNECTIONS_PER_PEER_MAX` | `32` |
//! | `shutdown_grace_seconds` | `LASTMILE_SHUTDOWN_GRACE_SECONDS` | `10` |
//! | `job_lease_ms` | `LASTMILE_JOB_LEASE_MS` | `60000` (from `100` to `3600000`) |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lastmile_shared::id::IssuerId;
use serde::Deserialize;

use crate::jobs;
use crate::storage::{DatabaseUrl, StorageError};

/// Where the server listens unless told otherwise.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8470";
/// The issuer id of a server configured without one.
pub const ISSUER_DEFAULT: &str = "lastmile";
/// How long a client has to send a request's headers (and an idle
/// keep-alive connection to start its next request), in seconds.
pub const HEADER_READ_TIMEOUT_SECONDS_DEFAULT: u64 = 10;
/// How long a client has to send a whole request body, in seconds: an
/// upload sized for its link takes well under this even at 2G speeds.
pub const BODY_READ_TIMEOUT_SECONDS_DEFAULT: u64 = 120;
/// Most connections open at once from one IP address. Terminals behind one
/// NAT share an address, so this is per shop network, not per terminal.
pub const CONNECTIONS_PER_PEER_MAX_DEFAULT: usize = 32;
/// How long a stopping server waits for requests in flight, in seconds,
/// before it closes the connections that remain.
pub const SHUTDOWN_GRACE_SECONDS_DEFAULT: u64 = 10;
/// Largest accepted value of any of the timeouts above, in seconds.
const TIMEOUT_SECONDS_MAX: u64 = 3600;
/// Largest configuration file read, in bytes.
const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{key}: {reason}")]
    Value { key: &'static str, reason: String },
    #[error(transparent)]
    Database(#[from] StorageError),
}

/// The file's keys; every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database: Option<String>,
    listen: Option<String>,
    /// Removed: named only to say so clearly.
    hq_token: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    issuer: Option<String>,
    log: Option<String>,
    header_read_timeout_seconds: Option<u64>,
    body_read_timeout_seconds: Option<u64>,
    connections_per_peer_max: Option<usize>,
    shutdown_grace_seconds: Option<u64>,
    job_lease_ms: Option<i64>,
}

/// How connections and requests are bounded in time and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub header_read_timeout: std::time::Duration,
    pub body_read_timeout: std::time::Duration,
    pub connections_per_peer_max: usize,
    pub shutdown_grace: std::time::Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        use std::time::Duration;
        Self {
            header_read_timeout: Duration::from_secs(HEADER_READ_TIMEOUT_SECONDS_DEFAULT),
            body_read_timeout: Duration::from_secs(BODY_READ_TIMEOUT_SECONDS_DEFAULT),
            connections_per_peer_max: CONNECTIONS_PER_PEER_MAX_DEFAULT,
            shutdown_grace: Duration::from_secs(SHUTDOWN_GRACE_SECONDS_DEFAULT),
        }
    }
}

/// Values given on the command line; they win over everything.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub allow_plain_http: bool,
    pub issuer: IssuerId,
    pub log: String,
    pub connections: ConnectionSettings,
    /// How long the background-job worker's claims hold their jobs (see
    /// [`jobs::LEASE_MS`]): longer than the longest batch of jobs takes,
    /// and how long a dead instance's jobs wait for another.
    pub job_lease_ms: i64,
}

impl std::fmt::Debug for Config {
    /// Never prints a database password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database", &self.database.describe())
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("issuer", &self.issuer)
            .field("log", &self.log)
            .field("connections", &self.connections)
            .field("job_lease_ms", &self.job_lease_ms)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A number from the environment, else the file, else the default, within
/// `min..=max`.
fn number<T>(
    key: &'static str,
    env_name: &str,
    file: Option<T>,
    default: T,
    (min, max): (T, T),
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value = match env(env_name) {
        Some(text) => text.parse().map_err(|_| ConfigError::Value {
            key,
            reason: format!("{text:?} is not a whole number"),
        })?,
        None => file.unwrap_or(default),
    };
    if value < min || value > max {
        return Err(ConfigError::Value {
            key,
            reason: format!("must be from {min} to {max}, not {value}"),
        });
    }
    Ok(value)
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let fail = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if size > CONFIG_FILE_BYTES_MAX {
        return Err(fail(format!("larger than {CONFIG_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    toml::from_str(&text).map_err(|e| fail(e.to_string()))
}

impl Config {
    /// Resolves the layers: defaults, file, environment, flags.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let file_path = overrides
            .config_file
            .clone()
            .or_else(|| env("LASTMILE_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = overrides
            .data_dir
            .clone()
            .or_else(|| env("LASTMILE_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("lastmile-data"));
        let database = match overrides
            .database
            .clone()
            .or_else(|| env("LASTMILE_DATABASE"))
            .or(file.database)
        {
            Some(url) => DatabaseUrl::parse(&url)?,
            None => DatabaseUrl::Sqlite(data_dir.join("lastmile.sqlite")),
        };
        let listen_text = overrides
            .listen
            .clone()
            .or_else(|| env("LASTMILE_LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| LISTEN_DEFAULT.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Value {
            key: "listen",
            reason: format!("{listen_text:?} is not an address like 127.0.0.1:8470"),
        })?;
        if env("LASTMILE_HQ_TOKEN").is_some() || file.hq_token.is_some() {
            return Err(ConfigError::Value {
                key: "hq_token",
                reason: "the shared HQ token is gone: each person signs in with their own \
                         account and API tokens; create the first admin with \
                         `lastmile-server users add`, then remove hq_token / LASTMILE_HQ_TOKEN"
                    .to_owned(),
            });
        }
        let tls_cert = overrides
            .tls_cert
            .clone()
            .or_else(|| env("LASTMILE_TLS_CERT").map(PathBuf::from))
            .or(file.tls_cert);
        let tls_key = overrides
            .tls_key
            .clone()
            .or_else(|| env("LASTMILE_TLS_KEY").map(PathBuf::from))
            .or(file.tls_key);
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Value {
                    key: "tls_cert/tls_key",
                    reason: "give both the certificate and the key, or neither".to_owned(),
                });
            }
        };
        let allow_plain_http = match env("LASTMILE_ALLOW_PLAIN_HTTP") {
            Some(v) => matches!(v.as_str(), "1" | "true" | "yes"),
            None => file.allow_plain_http.unwrap_or(false),
        };
        let issuer_text = env("LASTMILE_ISSUER")
            .or(file.issuer)
            .unwrap_or_else(|| ISSUER_DEFAULT.to_owned());
        let issuer = IssuerId::parse(&issuer_text).map_err(|e| ConfigError::Value {
            key: "issuer",
            reason: e.to_string(),
        })?;
        let log = env("LASTMILE_LOG")
            .or(file.log)
            .unwrap_or_else(|| "info".to_owned());
        let seconds = |key: &'static str,
                       env_name: &str,
                       file: Option<u64>,
                       default: u64|
         -> Result<std::time::Duration, ConfigError> {
            number(key, env_name, file, default, (1, TIMEOUT_SECONDS_MAX))
                .map(std::time::Duration::from_secs)
        };
        let connections = ConnectionSettings {
            header_read_timeout: seconds(
                "header_read_timeout_seconds",
                "LASTMILE_HEADER_READ_TIMEOUT_SECONDS",
                file.header_read_timeout_seconds,
                HEADER_READ_TIMEOUT_SECONDS_DEFAULT,
            )?,
            body_read_timeout: seconds(
                "body_read_timeout_seconds",
                "LASTMILE_BODY_READ_TIMEOUT_SECONDS",
                file.body_read_timeout_seconds,
                BODY_READ_TIMEOUT_SECONDS_DEFAULT,
            )?,
            connections_per_peer_max: number(
                "connections_per_peer_max",
                "LASTMILE_CONNECTIONS_PER_PEER_MAX",
                file.connections_per_peer_max,
                CONNECTIONS_PER_PEER_MAX_DEFAULT,
                (1, usize::from(u16::MAX)),
            )?,
            shutdown_grace: seconds(
                "shutdown_grace_seconds",
                "LASTMILE_SHUTDOWN_GRACE_SECONDS",
                file.shutdown_grace_seconds,
                SHUTDOWN_GRACE_SECONDS_DEFAULT,
            )?,
        };
        let job_lease_ms = number(
            "job_lease_ms",
            "LASTMILE_JOB_LEASE_MS",
            file.job_lease_ms,
            jobs::LEASE_MS,
            (jobs::LEASE_MS_MIN, jobs::LEASE_MS_MAX),
        )?;
        Ok(Self {
            data_dir,
            database,
            listen,
            tls,
            allow_plain_http,
            issuer,
            log,
            connections,
            job_lease_ms,
        })
    }

    /// Plain HTTP is for loopback (tests, a laptop demo) unless allowed.
    pub fn check_transport(&self) -> Result<(), ConfigError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.allow_plain_http {
            return Err(ConfigError::Value {
                key: "listen",
                reason: format!(
                    "{} is not a loopback address and no TLS certificate is configured; \
                     set tls_cert and tls_key (or allow_plain_http = true behind a TLS proxy)",
                    self.listen
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration from a file of `text` alone (the tests' environment
    /// sets none of its keys).
    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lastmile.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&Overrides {
            config_file: Some(path),
            data_dir: Some(dir.path().to_owned()),
            ..Overrides::default()
        })
    }

    fn refused_key(text: &str) -> &'static str {
        match load(text) {
            Err(ConfigError::Value { key, .. }) => key,
            other => panic!("{text:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn the_job_lease_defaults_and_is_bounded() {
        assert_eq!(load("").unwrap().job_lease_ms, jobs::LEASE_MS);
        for lease in [jobs::LEASE_MS_MIN, 2_000, jobs::LEASE_MS_MAX] {
            let config = load(&format!("job_lease_ms = {lease}")).unwrap();
            assert_eq!(config.job_lease_ms, lease);
        }
        for lease in [jobs::LEASE_MS_MIN - 1, jobs::LEASE_MS_MAX + 1, 0, -1] {
            assert_eq!(
                refused_key(&format!("job_lease_ms = {lease}")),
                "job_lease_ms",
                "{lease}"
            );
        }
    }

    #[test]
    fn the_other_numbers_start_at_one() {
        assert_eq!(
            refused_key("connections_per_peer_max = 0"),
            "connections_per_peer_max"
        );
        assert_eq!(
            refused_key("shutdown_grace_seconds = 3601"),
            "shutdown_grace_seconds"
        );
    }
}
