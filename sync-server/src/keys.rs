//! Root and issuer keys: created, rotated, retired and revoked here; private
//! halves in files under `DATA_DIR/keys/` (directory 0700, files 0600, never
//! logged), public halves and status in the database, from which the signed
//! trust list is built.
//!
//! The root key signs the trust list, the revocation list, rosters and
//! terminal policies; its public half is handed to every terminal at
//! enrolment. Issuer keys sign vouchers. Rotation adds a new active issuer
//! key and retires the old one: vouchers it signed before stay valid.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use lastmile_shared::id::{IdError, IssuerId, KeyId};
use lastmile_shared::trust_list::{IssuerKey, KeyStatus};
use rand_core::{OsRng, RngCore};
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::documents;
pub use crate::signer::Signer;
use crate::storage::{RootKeyRow, Storage, StorageError, Tx};

/// How long an issuer key may sign vouchers, in days.
pub const ISSUER_KEY_VALIDITY_DAYS: i64 = 2 * 365;
const SECONDS_PER_DAY: i64 = 86_400;
/// Permission bits of a key file; anything wider is refused.
const KEY_FILE_MODE: u32 = 0o600;
const KEY_DIR_MODE: u32 = 0o700;
/// Random bytes in a generated key id.
const KID_RANDOM_BYTES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "the keys are already initialised (root key {0}); use `keys rotate` for a new issuer key"
    )]
    AlreadyInitialised(KeyId),
    #[error("no root key yet: run `lastmile-server keys init` first")]
    NotInitialised,
    #[error("there is no issuer key {0}")]
    UnknownKey(KeyId),
    #[error("issuer key {0} is revoked; a revoked key cannot change status")]
    AlreadyRevoked(KeyId),
    #[error("no active issuer key: run `lastmile-server keys rotate` to create one")]
    NoActiveIssuerKey,
    #[error("key file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}` and check who copied it"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("key file {0} does not hold a 32-byte hex Ed25519 seed")]
    Malformed(PathBuf),
    #[error("key id: {0}")]
    Id(#[from] IdError),
}

/// Where the key files live.
#[derive(Debug, Clone)]
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("keys"),
        }
    }

    /// `keys/<role>-<kid>.key`. Key ids carry their own prefix, so the
    /// root key `root-1a2b3c4d` is `keys/root-root-1a2b3c4d.key` (as the
    /// README shows); kept so that existing data directories still open.
    fn path(&self, role: &str, kid: &KeyId) -> PathBuf {
        self.dir.join(format!("{role}-{kid}.key"))
    }

    fn write(&self, role: &str, kid: &KeyId, key: &SigningKey) -> Result<(), KeyError> {
        let file_error = |path: &Path| {
            let path = path.to_owned();
            move |source| KeyError::File { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(file_error(&self.dir))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(KEY_DIR_MODE))
            .map_err(file_error(&self.dir))?;
        let path = self.path(role, kid);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(KEY_FILE_MODE)
            .open(&path)
            .map_err(file_error(&path))?;
        let mut text = hex::encode(key.to_bytes());
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(file_error(&path))?;
        Ok(())
    }

    fn read(&self, role: &str, kid: &KeyId) -> Result<Signer, KeyError> {
        let path = self.path(role, kid);
        let file_error = |source| KeyError::File {
            path: path.clone(),
            source,
        };
        let mode = fs::metadata(&path)
            .map_err(file_error)?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed { path, mode });
        }
        let text = fs::read_to_string(&path).map_err(file_error)?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::Malformed(path.clone()))?;
        Ok(Signer {
            kid: kid.clone(),
            key: SigningKey::from_bytes(&seed),
        })
    }
}

fn new_kid(prefix: &str) -> Result<KeyId, KeyError> {
    let mut bytes = [0u8; KID_RANDOM_BYTES];
    OsRng.fill_bytes(&mut bytes);
    Ok(KeyId::parse(&format!("{prefix}-{}", hex::encode(bytes)))?)
}

fn new_issuer_key(
    keys: &KeyDir,
    issuer: &IssuerId,
    now: i64,
) -> Result<(IssuerKey, SigningKey), KeyError> {
    let kid = new_kid("iss")?;
    let key = SigningKey::generate(&mut OsRng);
    keys.write("issuer", &kid, &key)?;
    let entry = IssuerKey {
        kid,
        issuer: issuer.clone(),
        public_key: key.verifying_key().to_bytes(),
        valid_from: now,
        valid_until: now + ISSUER_KEY_VALIDITY_DAYS * SECONDS_PER_DAY,
        status: KeyStatus::Active,
        programmes: Vec::new(),
    };
    Ok((entry, key))
}

/// What `keys init` created.
#[derive(Debug, Clone)]
pub struct Initialised {
    pub root_kid: KeyId,
    pub issuer_kid: KeyId,
    pub trust_list_version: u64,
}

/// Creates the root key and a first issuer key, and publishes the first
/// trust list and an empty revocation list.
pub fn init(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    issuer: &IssuerId,
    now: i64,
) -> Result<Initialised, KeyError> {
    storage.transaction(|tx| {
        if let Some(root) = tx.root_key()? {
            return Err(KeyError::AlreadyInitialised(root.kid));
        }
        let root_kid = new_kid("root")?;
        let root_key = SigningKey::generate(&mut OsRng);
        keys.write("root", &root_kid, &root_key)?;
        tx.put_root_key(&RootKeyRow {
            kid: root_kid.clone(),
            public_key: root_key.verifying_key().to_bytes(),
            created_at: now,
        })?;
        let (entry, _) = new_issuer_key(keys, issuer, now)?;
        tx.insert_issuer_key(&entry, now)?;
        let root = Signer {
            kid: root_kid.clone(),
            key: root_key,
        };
        let trust_list_version = documents::publish_trust_list(tx, &root, now)?;
        documents::publish_revocations(tx, &root, now)?;
        audit::record(
            tx,
            actor,
            "keys.initialised",
            &format!("key:{root_kid}"),
            serde_json::json!({ "issuer_kid": entry.kid.as_str() }),
            now,
        )?;
        Ok(Initialised {
            root_kid,
            issuer_kid: entry.kid,
            trust_list_version,
        })
    })
}

/// What a root rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct RootRotated {
    pub old_kid: KeyId,
    pub new_kid: KeyId,
    pub handover_version: u64,
}

/// Replaces the root key: a new root is created, the old one signs a
/// handover naming it, and every document terminals read is resealed with
/// the new root. Terminals follow the handover at their next sync; new
/// terminals enrol with the new root. The old root's key file stays (it
/// signed the handover) but signs nothing more.
pub fn rotate_root(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    now: i64,
) -> Result<RootRotated, KeyError> {
    storage.transaction(|tx| rotate_root_in(tx, keys, actor, serde_json::json!({}), now))
}

/// [`rotate_root`] inside the caller's transaction (an approved proposal's);
/// `detail` goes into the audit entry.
pub fn rotate_root_in(
    tx: &mut dyn Tx,
    keys: &KeyDir,
    actor: &Actor,
    detail: serde_json::Value,
    now: i64,
) -> Result<RootRotated, KeyError> {
    {
        let old = root_signer(tx, keys)?;
        let kid = new_kid("root")?;
        let key = SigningKey::generate(&mut OsRng);
        keys.write("root", &kid, &key)?;
        tx.put_root_key(&RootKeyRow {
            kid: kid.clone(),
            public_key: key.verifying_key().to_bytes(),
            created_at: now,
        })?;
        let new = Signer { kid, key };
        let handover_version = documents::hand_over_root(tx, &old, &new, now)?;
        audit::record(
            tx,
            actor,
            "keys.root_rotated",
            &format!("key:{}", new.kid),
            serde_json::json!({ "old_kid": old.kid.as_str(), "handover_version": handover_version, "by": detail }),
            now,
        )?;
        Ok(RootRotated {
            old_kid: old.kid,
            new_kid: new.kid,
            handover_version,
        })
    }
}

/// Adds a new active issuer key, retires the active ones, republishes the
/// trust list. Returns the new key id.
pub fn rotate(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    issuer: &IssuerId,
    now: i64,
) -> Result<KeyId, KeyError> {
    storage.transaction(|tx| rotate_in(tx, keys, actor, issuer, serde_json::json!({}), now))
}

/// [`rotate`] inside the caller's transaction (an approved proposal's);
/// `detail` goes into the audit entry.
pub fn rotate_in(
    tx: &mut dyn Tx,
    keys: &KeyDir,
    actor: &Actor,
    issuer: &IssuerId,
    detail: serde_json::Value,
    now: i64,
) -> Result<KeyId, KeyError> {
    {
        let root = root_signer(tx, keys)?;
        for key in tx.issuer_keys()? {
            if key.status == KeyStatus::Active {
                tx.set_issuer_key_status(&key.kid, KeyStatus::Retired { since: now })?;
            }
        }
        let (entry, _) = new_issuer_key(keys, issuer, now)?;
        tx.insert_issuer_key(&entry, now)?;
        documents::publish_trust_list(tx, &root, now)?;
        audit::record(
            tx,
            actor,
            "keys.issuer_rotated",
            &format!("key:{}", entry.kid),
            serde_json::json!({ "issuer": issuer.as_str(), "by": detail }),
            now,
        )?;
        Ok(entry.kid)
    }
}

/// Retires (no new vouchers; old ones stay valid) or revokes (everything it
/// signed becomes invalid) an issuer key, and republishes.
pub fn set_status(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    kid: &KeyId,
    revoke: bool,
    now: i64,
) -> Result<(), KeyError> {
    storage.transaction(|tx| {
        let root = root_signer(tx, keys)?;
        let current = tx
            .issuer_keys()?
            .into_iter()
            .find(|k| &k.kid == kid)
            .ok_or_else(|| KeyError::UnknownKey(kid.clone()))?;
        if matches!(current.status, KeyStatus::Revoked { .. }) {
            return Err(KeyError::AlreadyRevoked(kid.clone()));
        }
        let status = if revoke {
            KeyStatus::Revoked { since: now }
        } else {
            KeyStatus::Retired { since: now }
        };
        tx.set_issuer_key_status(kid, status)?;
        documents::publish_trust_list(tx, &root, now)?;
        if revoke {
            documents::publish_revocations(tx, &root, now)?;
        }
        audit::record(
            tx,
            actor,
            if revoke {
                "keys.issuer_revoked"
            } else {
                "keys.issuer_retired"
            },
            &format!("key:{kid}"),
            serde_json::json!({}),
            now,
        )?;
        Ok(())
    })
}

/// The root key's private half, for signing documents.
pub fn root_signer(tx: &mut dyn Tx, keys: &KeyDir) -> Result<Signer, KeyError> {
    let root = tx.root_key()?.ok_or(KeyError::NotInitialised)?;
    keys.read("root", &root.kid)
}

/// The newest active issuer key's private half, for signing vouchers.
pub fn active_issuer(tx: &mut dyn Tx, keys: &KeyDir) -> Result<(IssuerKey, Signer), KeyError> {
    let entry = tx
        .issuer_keys()?
        .into_iter()
        .rev()
        .find(|k| k.status == KeyStatus::Active)
        .ok_or(KeyError::NoActiveIssuerKey)?;
    let signer = keys.read("issuer", &entry.kid)?;
    Ok((entry, signer))
}

/// A key as HQ sees it: public half in hex, never the private half.
#[derive(Serialize)]
pub struct KeyView {
    pub kid: String,
    pub role: &'static str,
    pub issuer: Option<String>,
    pub public_key: String,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub status: KeyStatus,
}

/// The root key and every issuer key.
pub fn key_views(storage: &Storage) -> Result<Vec<KeyView>, StorageError> {
    storage.transaction(|tx| {
        let mut views = Vec::new();
        if let Some(root) = tx.root_key()? {
            views.push(KeyView {
                kid: root.kid.to_string(),
                role: "root",
                issuer: None,
                public_key: hex::encode(root.public_key),
                valid_from: Some(root.created_at),
                valid_until: None,
                status: KeyStatus::Active,
            });
        }
        for key in tx.issuer_keys()? {
            views.push(KeyView {
                kid: key.kid.to_string(),
                role: "issuer",
                issuer: Some(key.issuer.to_string()),
                public_key: hex::encode(key.public_key),
                valid_from: Some(key.valid_from),
                valid_until: Some(key.valid_until),
                status: key.status,
            });
        }
        Ok(views)
    })
}
