//! [`Terminal`]: the engine handle that owns one data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::Roster;
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::TrustStore;
use rusqlite::Connection;

use crate::clock::Clock;
use crate::device_key::{DeviceKey, DeviceKeyError};
use crate::enrolment::{Documents, Enrolment};
use crate::error::Error;
use crate::store;

/// The SQLite file inside the data directory.
pub const DATABASE_FILE: &str = "terminal.sqlite3";
/// The device key file inside the data directory.
pub const DEVICE_KEY_FILE: &str = "device.key";
/// How far the corrected clock may trail the latest time the terminal has
/// seen and still record an entry (stamped with that latest time): a server
/// time comes in whole seconds and arrives after the network's delay.
pub const CLOCK_BEHIND_TOLERANCE_SECONDS: i64 = 5;
/// Permissions of a data directory the terminal creates.
const DATA_DIR_MODE: u32 = 0o700;

/// The terminal engine. One per data directory per process; several
/// processes may share a directory (SQLite locking serialises their writes).
///
/// Not `Sync`: a GUI keeps it on one worker thread and sends it requests.
pub struct Terminal {
    pub(crate) conn: Connection,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dir: PathBuf,
    pub(crate) key: Option<DeviceKey>,
    pub(crate) enrolment: Option<Enrolment>,
    pub(crate) documents: Documents,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("dir", &self.dir)
            .field("enrolment", &self.enrolment)
            .finish_non_exhaustive()
    }
}

/// The clock as the engine reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockReading {
    /// The clock plus the offset to the server's clock.
    pub corrected: i64,
    /// The latest time seen: last entry, last sync, last server answer.
    pub latest_seen: i64,
}

/// Everything a money-moving action needs, borrowed from an enrolled and
/// provisioned terminal.
pub(crate) struct Ready<'a> {
    pub enrolment: &'a Enrolment,
    pub key: &'a DeviceKey,
    pub trust: &'a TrustStore,
    pub policy: &'a TerminalPolicy,
    pub revocations: Option<&'a RevocationList>,
    pub roster: Option<&'a Roster>,
}

impl Terminal {
    /// Opens the data directory `dir` (creating it, the database and its
    /// schema as needed) and loads the enrolment and the signed documents,
    /// re-verifying each against the enrolled root key.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        create_private_dir(dir)?;
        let conn = store::open(&dir.join(DATABASE_FILE), clock.now())?;
        let enrolment = Enrolment::load(&conn)?;
        let (key, documents) = match &enrolment {
            Some(enrolment) => {
                let path = dir.join(DEVICE_KEY_FILE);
                let key = DeviceKey::load(&path)?;
                if key.public().to_bytes() != enrolment.device_public_key {
                    return Err(DeviceKeyError::Mismatch { path }.into());
                }
                (Some(key), Documents::load(&conn, enrolment)?)
            }
            None => (None, Documents::default()),
        };
        Ok(Self {
            conn,
            clock,
            dir: dir.to_owned(),
            key,
            enrolment,
            documents,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The engine's current time (Unix seconds): the clock corrected by the
    /// offset to the server's clock learnt at the last contact with it, so a
    /// board whose clock is wrong still signs, stamps and checks validity in
    /// the server's time.
    pub fn now(&self) -> Result<i64, Error> {
        Ok(self.clock_reading()?.corrected)
    }

    /// What the clock says now, and the latest time this terminal has seen.
    pub(crate) fn clock_reading(&self) -> Result<ClockReading, Error> {
        let (offset, latest_seen): (i64, i64) = self
            .conn
            .prepare_cached("SELECT clock_offset_s, latest_seen_at FROM sync_state WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(ClockReading {
            corrected: self.clock.now().saturating_add(offset),
            latest_seen,
        })
    }

    /// The time to stamp a new log entry with: the corrected time, never
    /// earlier than the latest time this terminal has seen (its last entry,
    /// its last sync, the server's last answer). A clock that trails that
    /// time by more than [`CLOCK_BEHIND_TOLERANCE_SECONDS`] was set back (or
    /// its battery failed): nothing is recorded until it is set right or a
    /// sync corrects it, so an entry can never claim a time before one the
    /// terminal already saw (which would also stretch the offline window).
    pub(crate) fn entry_time(&self) -> Result<i64, Error> {
        let reading = self.clock_reading()?;
        if reading.corrected >= reading.latest_seen {
            return Ok(reading.corrected);
        }
        if reading.latest_seen - reading.corrected <= CLOCK_BEHIND_TOLERANCE_SECONDS {
            return Ok(reading.latest_seen);
        }
        Err(Error::ClockBehind {
            now: reading.corrected,
            latest_seen: reading.latest_seen,
        })
    }

    /// Who this terminal is, once enrolled.
    pub fn enrolment(&self) -> Option<&Enrolment> {
        self.enrolment.as_ref()
    }

    /// The device's public key, once enrolled: what verifies its log.
    pub fn device_public_key(&self) -> Option<VerifyingKey> {
        self.key.as_ref().map(DeviceKey::public)
    }

    /// The signed roster (people, entitlements and the distribution list).
    pub fn roster(&self) -> Option<&Roster> {
        self.documents.roster.as_ref()
    }

    /// The signed terminal policy (offline limits, ID authorities).
    pub fn policy(&self) -> Option<&TerminalPolicy> {
        self.documents.policy.as_ref()
    }

    pub(crate) fn enrolled(&self) -> Result<(&Enrolment, &DeviceKey), Error> {
        match (&self.enrolment, &self.key) {
            (Some(enrolment), Some(key)) => Ok((enrolment, key)),
            _ => Err(Error::NotEnrolled),
        }
    }

    /// The connection and everything needed to decide and sign, or why the
    /// terminal cannot move money yet.
    pub(crate) fn ready(&mut self) -> Result<(&mut Connection, Ready<'_>), Error> {
        let (Some(enrolment), Some(key)) = (&self.enrolment, &self.key) else {
            return Err(Error::NotEnrolled);
        };
        let docs = &self.documents;
        let trust = &docs
            .trust
            .as_ref()
            .ok_or(Error::NotProvisioned("trust list"))?
            .1;
        let policy = docs
            .policy
            .as_ref()
            .ok_or(Error::NotProvisioned("terminal policy"))?;
        Ok((
            &mut self.conn,
            Ready {
                enrolment,
                key,
                trust,
                policy,
                revocations: docs.revocations.as_ref(),
                roster: docs.roster.as_ref(),
            },
        ))
    }
}

fn create_private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DATA_DIR_MODE)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}
