//! The trust list: issuer keys that may sign vouchers, signed by a root key.
//!
//! A terminal is enrolled with one root public key and accepts a trust list
//! only when that root signed it and its version is newer than the one it
//! holds. Keys rotate by adding a new active key and retiring the old one:
//! vouchers the old key signed before it was retired stay valid, so nothing
//! has to be reissued. A revoked key invalidates everything it ever signed.

use std::collections::HashMap;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::envelope::{self, ENVELOPE_BYTES_MAX, Envelope, EnvelopeError};
use crate::id::{IssuerId, KeyId, ProgrammeId};

/// Most issuer keys one trust list may hold.
pub const TRUST_LIST_KEYS_MAX: usize = 1024;

/// What a key may still do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new vouchers.
    Active,
    /// Signs nothing new; vouchers issued before `since` remain valid.
    Retired { since: i64 },
    /// Compromised: nothing it signed is valid.
    Revoked { since: i64 },
}

/// One issuer key as published in a trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerKey {
    pub kid: KeyId,
    pub issuer: IssuerId,
    /// Raw 32-byte Ed25519 public key.
    #[serde(with = "serde_bytes_32")]
    pub public_key: [u8; 32],
    /// Vouchers must be issued (`iat`) within this window, in Unix seconds.
    pub valid_from: i64,
    pub valid_until: i64,
    pub status: KeyStatus,
    /// Programmes this key may sign for; empty means any.
    #[serde(default)]
    pub programmes: Vec<ProgrammeId>,
}

/// The content of a trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustList {
    pub version: u64,
    pub issued_at: i64,
    pub keys: Vec<IssuerKey>,
}

/// A root public key configured on a terminal at enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKey {
    pub kid: KeyId,
    pub key: VerifyingKey,
}

/// Why a root-signed document (trust list, revocation list, roster) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("signed by key {found}, not by this terminal's root key {expected}")]
    WrongRoot { expected: KeyId, found: KeyId },
    #[error("version {offered} is not newer than the version {held} already held")]
    NotNewer { offered: u64, held: u64 },
    #[error("the root handover names a successor key that is not a valid Ed25519 public key")]
    BadSuccessorKey,
}

/// A document that the root key signs and that replaces older versions.
pub trait RootSigned: Serialize + DeserializeOwned {
    fn version(&self) -> u64;

    /// Signs the document with the root key.
    fn seal(&self, root_kid: &KeyId, root: &SigningKey) -> Vec<u8> {
        envelope::seal(self, root_kid, root)
    }

    /// Opens a signed document: right root, good signature, newer than
    /// `held_version` when one is held.
    fn open(
        bytes: &[u8],
        root: &RootKey,
        held_version: Option<u64>,
    ) -> Result<Self, DocumentError> {
        let envelope = Envelope::parse(bytes, ENVELOPE_BYTES_MAX)?;
        if envelope.kid() != &root.kid {
            return Err(DocumentError::WrongRoot {
                expected: root.kid.clone(),
                found: envelope.kid().clone(),
            });
        }
        let document: Self = envelope.open(&root.key)?;
        if let Some(held) = held_version
            && document.version() <= held
        {
            return Err(DocumentError::NotNewer {
                offered: document.version(),
                held,
            });
        }
        Ok(document)
    }
}

/// The root key handing over to its successor, signed by the outgoing root.
/// A terminal enrolled with root `from` that opens this with that root
/// trusts `to` from then on, and only `to`: every later document is signed
/// by the new root. Handovers chain (A→B, B→C), so a terminal that slept
/// through several rotations follows them in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootHandover {
    /// Counts rotations: 1 for the first.
    pub version: u64,
    pub issued_at: i64,
    pub from: KeyId,
    pub to: KeyId,
    #[serde(with = "serde_bytes")]
    pub to_public_key: Vec<u8>,
}

impl RootSigned for RootHandover {
    fn version(&self) -> u64 {
        self.version
    }
}

impl RootHandover {
    /// The root this handover names as successor, if `root` signed it.
    pub fn follow(bytes: &[u8], root: &RootKey) -> Result<RootKey, DocumentError> {
        let handover = RootHandover::open(bytes, root, None)?;
        if handover.from != root.kid {
            return Err(DocumentError::WrongRoot {
                expected: root.kid.clone(),
                found: handover.from,
            });
        }
        let key = <[u8; 32]>::try_from(handover.to_public_key.as_slice())
            .ok()
            .and_then(|bytes| envelope::verifying_key(&bytes))
            .ok_or(DocumentError::BadSuccessorKey)?;
        Ok(RootKey {
            kid: handover.to,
            key,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustListError {
    #[error("trust list: {0}")]
    Document(#[from] DocumentError),
    #[error("the trust list holds {0} keys; the limit is {TRUST_LIST_KEYS_MAX}")]
    TooManyKeys(usize),
    #[error("key {0} appears twice in the trust list")]
    DuplicateKey(KeyId),
    #[error("key {0} is not a valid Ed25519 public key")]
    InvalidKey(KeyId),
}

impl RootSigned for TrustList {
    fn version(&self) -> u64 {
        self.version
    }
}

impl TrustList {
    /// Opens a signed trust list (see [`RootSigned::open`]) and checks its
    /// keys. Returns the list and its lookup store.
    pub fn open_with_store(
        bytes: &[u8],
        root: &RootKey,
        held_version: Option<u64>,
    ) -> Result<(TrustList, TrustStore), TrustListError> {
        let list = <TrustList as RootSigned>::open(bytes, root, held_version)?;
        let store = TrustStore::new(&list)?;
        Ok((list, store))
    }
}

/// A key ready for verification.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub entry: IssuerKey,
    pub key: VerifyingKey,
}

/// Issuer keys indexed by key id, with public keys already decompressed so
/// that verifying a voucher costs one signature check.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: HashMap<KeyId, TrustedKey>,
}

impl TrustStore {
    pub fn new(list: &TrustList) -> Result<Self, TrustListError> {
        if list.keys.len() > TRUST_LIST_KEYS_MAX {
            return Err(TrustListError::TooManyKeys(list.keys.len()));
        }
        let mut keys = HashMap::with_capacity(list.keys.len());
        for entry in &list.keys {
            let key = envelope::verifying_key(&entry.public_key)
                .ok_or_else(|| TrustListError::InvalidKey(entry.kid.clone()))?;
            let trusted = TrustedKey {
                entry: entry.clone(),
                key,
            };
            if keys.insert(entry.kid.clone(), trusted).is_some() {
                return Err(TrustListError::DuplicateKey(entry.kid.clone()));
            }
        }
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &KeyId) -> Option<&TrustedKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Serde for fixed 32-byte keys as CBOR byte strings.
pub(crate) mod serde_bytes_32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let bytes = ciborium::value::Value::deserialize(d)?;
        match bytes {
            ciborium::value::Value::Bytes(b) => b
                .try_into()
                .map_err(|_| serde::de::Error::custom("expected 32 bytes")),
            _ => Err(serde::de::Error::custom("expected a byte string")),
        }
    }
}
