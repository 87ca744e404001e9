//! The device log: an append-only, hash-chained, device-signed record of
//! everything a terminal did with money.
//!
//! Each entry is a COSE_Sign1 (see [`crate::envelope`]) signed by the
//! device key, whose payload is a CBOR [`LogEntry`]. Entry `n` carries the
//! SHA-256 of entry `n-1`'s complete signed bytes, so altering, removing or
//! reordering any entry breaks every later link; entry 1 links to
//! [`GENESIS_HASH`]. The log is also the sync outbox.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envelope::{self, Envelope, EnvelopeError};
use crate::id::{
    BeneficiaryId, DeviceId, EntitlementId, IssuerId, KeyId, MerchantId, OperatorId, ProgrammeId,
    SiteId, VoucherId,
};
use crate::money::Money;

/// Largest signed log entry in bytes.
pub const LOG_ENTRY_BYTES_MAX: usize = 8 * 1024;
/// The `prev` of the first entry.
pub const GENESIS_HASH: EntryHash = EntryHash([0; 32]);

/// SHA-256 of an entry's complete signed bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryHash(#[serde(with = "crate::trust_list::serde_bytes_32")] pub [u8; 32]);

impl EntryHash {
    pub fn of(signed_bytes: &[u8]) -> Self {
        Self(Sha256::digest(signed_bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryHash({})", &self.to_hex()[..16])
    }
}

/// How the person's identity was checked before a payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// A signed Claim 169 ID card was scanned and verified.
    SignedIdCard,
    /// An ID number barcode was scanned.
    IdBarcode,
    /// The operator typed the ID number and compared name and photo.
    Manual,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEvent {
    /// A voucher was redeemed; the credential text is kept as evidence.
    VoucherRedeemed {
        voucher: VoucherId,
        issuer: IssuerId,
        programme: ProgrammeId,
        kid: KeyId,
        amount: Money,
        remaining_after: Money,
        credential: String,
    },
    /// An entitlement from the signed roster was redeemed after an ID check.
    EntitlementRedeemed {
        entitlement: EntitlementId,
        beneficiary: BeneficiaryId,
        programme: ProgrammeId,
        amount: Money,
        remaining_after: Money,
        identity: IdentityCheck,
    },
    /// A field agent opened a cash session with a counted float.
    CashSessionOpened { session: u64, float: Money },
    /// Cash was handed to a person on the distribution list.
    CashPaidOut {
        session: u64,
        entitlement: EntitlementId,
        beneficiary: BeneficiaryId,
        programme: ProgrammeId,
        amount: Money,
        identity: IdentityCheck,
    },
    /// The session was closed: counted cash against what should remain.
    CashSessionClosed {
        session: u64,
        expected: Money,
        counted: Money,
        variance: Money,
    },
}

/// One entry's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: u64,
    pub prev: EntryHash,
    pub device: DeviceId,
    pub operator: OperatorId,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    /// Unix seconds on the terminal's clock.
    pub at: i64,
    pub event: LogEvent,
}

/// An entry as stored and sent: its signed bytes and what they say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEntry {
    pub entry: LogEntry,
    pub bytes: Vec<u8>,
    pub hash: EntryHash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("log entry envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("log entry signed by key {found}, expected device key {expected}")]
    WrongKey { expected: KeyId, found: KeyId },
}

impl SignedEntry {
    /// Signs an entry with the device key; `kid` names that key.
    pub fn sign(entry: LogEntry, kid: &KeyId, key: &SigningKey) -> Self {
        let bytes = envelope::seal(&entry, kid, key);
        let hash = EntryHash::of(&bytes);
        Self { entry, bytes, hash }
    }

    /// Parses and verifies one signed entry.
    pub fn open(bytes: &[u8], kid: &KeyId, key: &VerifyingKey) -> Result<Self, EntryError> {
        let envelope = Envelope::parse(bytes, LOG_ENTRY_BYTES_MAX)?;
        if envelope.kid() != kid {
            return Err(EntryError::WrongKey {
                expected: kid.clone(),
                found: envelope.kid().clone(),
            });
        }
        let entry: LogEntry = envelope.open(key)?;
        Ok(Self {
            entry,
            bytes: bytes.to_vec(),
            hash: EntryHash::of(bytes),
        })
    }

    /// Parses without verifying the signature (to read a sequence number
    /// before looking up a device's key, for instance).
    pub fn parse_unverified(bytes: &[u8]) -> Result<(KeyId, LogEntry), EntryError> {
        let envelope = Envelope::parse(bytes, LOG_ENTRY_BYTES_MAX)?;
        let entry = envelope.payload_unverified()?;
        Ok((envelope.kid().clone(), entry))
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log entry {index} (sequence {seq}): {kind}")]
pub struct ChainError {
    /// Position in the input.
    pub index: usize,
    /// Sequence number the entry claims, or 0 if unreadable.
    pub seq: u64,
    pub kind: ChainErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainErrorKind {
    #[error("unreadable or wrongly signed: {0}")]
    BadSignature(EntryError),
    #[error("gap: expected sequence {expected}")]
    Gap { expected: u64 },
    #[error("fork: a different entry with this sequence number exists")]
    Fork,
    #[error("broken link: the previous-entry hash does not match")]
    BadHash,
    #[error("entry names device {found}, not {expected}")]
    WrongDevice { expected: DeviceId, found: DeviceId },
}

/// The point a chain continues from: the last verified sequence and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: EntryHash,
}

impl ChainHead {
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: GENESIS_HASH,
    };
}

/// Verifies that `entries` (signed bytes, in order) continue the chain from
/// `head`: signed by the device key, consecutive sequence numbers, each
/// linking to the hash of the one before. Returns the new head, or the first
/// bad entry and why.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
    device: &DeviceId,
    kid: &KeyId,
    key: &VerifyingKey,
    head: ChainHead,
) -> Result<ChainHead, ChainError> {
    let mut head = head;
    for (index, bytes) in entries.into_iter().enumerate() {
        let fail = |seq, kind| ChainError { index, seq, kind };
        let signed = SignedEntry::open(bytes, kid, key)
            .map_err(|e| fail(0, ChainErrorKind::BadSignature(e)))?;
        let entry = &signed.entry;
        if &entry.device != device {
            return Err(fail(
                entry.seq,
                ChainErrorKind::WrongDevice {
                    expected: device.clone(),
                    found: entry.device.clone(),
                },
            ));
        }
        if entry.seq <= head.seq {
            return Err(fail(entry.seq, ChainErrorKind::Fork));
        }
        if entry.seq != head.seq + 1 {
            return Err(fail(
                entry.seq,
                ChainErrorKind::Gap {
                    expected: head.seq + 1,
                },
            ));
        }
        if entry.prev != head.hash {
            return Err(fail(entry.seq, ChainErrorKind::BadHash));
        }
        head = ChainHead {
            seq: entry.seq,
            hash: signed.hash,
        };
    }
    Ok(head)
}
