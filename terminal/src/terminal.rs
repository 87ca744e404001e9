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

    /// The engine's current time (Unix seconds).
    pub fn now(&self) -> i64 {
        self.clock.now()
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
