//! The audit trail: every state change made by a person, a terminal or the
//! server itself, appended in the same transaction as the change, naming
//! who did what to which object and when.
//!
//! Append-only and hash-chained like a terminal's log: entry `n` holds the
//! SHA-256 of its own fields and of entry `n - 1`'s hash, so an entry
//! changed, removed or inserted afterwards breaks the chain at that point,
//! which [`verify`] finds. Sequence numbers come from a counter whose row
//! lock is held to the end of the transaction, so on PostgreSQL concurrent
//! instances append in commit order.

use sha2::{Digest, Sha256};

use crate::storage::audit::{self as table, AuditFilter, AuditRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError, Tx};

/// The previous hash of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Entries read per round by [`verify`].
const VERIFY_BATCH: u32 = 1000;
/// Longest detail kept, in bytes of JSON: above what the longest inputs
/// make (a reason and a note of 1 000 characters of 4 bytes each, escaped).
pub const DETAIL_BYTES_MAX: usize = 32 * 1024;

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person at HQ, signed in or with an API token.
    User { id: i64, username: String },
    /// An enrolled terminal, by its device id.
    Terminal(String),
    /// Someone at the server's own shell (`lastmile-server …`), by OS user.
    Operator(String),
    /// The server on its own (background work).
    Server,
    /// Someone not (yet) known: a failed login names the username tried.
    Anonymous,
}

impl Actor {
    /// The operator running this process, from `$USER` (or `$LOGNAME`).
    pub fn operator() -> Self {
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Self::Operator(name)
    }

    /// How the actor is written in the trail: `user:alice`, `terminal:T…`,
    /// `operator:root`, `server`, `anonymous`.
    pub fn label(&self) -> String {
        match self {
            Self::User { username, .. } => format!("user:{username}"),
            Self::Terminal(device) => format!("terminal:{device}"),
            Self::Operator(name) => format!("operator:{name}"),
            Self::Server => "server".to_owned(),
            Self::Anonymous => "anonymous".to_owned(),
        }
    }
}

/// The hash of an entry: over a length-prefixed encoding of every field, so
/// no two different entries encode alike.
pub fn entry_hash(
    seq: u64,
    at: i64,
    actor: &str,
    action: &str,
    object: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"lastmile-audit-v1");
    hasher.update(seq.to_be_bytes());
    hasher.update(at.to_be_bytes());
    for field in [actor, action, object, detail, prev_hash] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Appends an entry inside `tx` (the transaction of the change it records).
pub fn record(
    tx: &mut dyn Tx,
    actor: &Actor,
    action: &str,
    object: &str,
    detail: serde_json::Value,
    at: i64,
) -> Result<u64, StorageError> {
    let mut detail = detail.to_string();
    if detail.len() > DETAIL_BYTES_MAX {
        detail = serde_json::json!({ "truncated": true, "bytes": detail.len() }).to_string();
    }
    let seq = tx.next_counter("audit")?;
    let prev_hash = match seq {
        1 => GENESIS_HASH.to_owned(),
        _ => table::hash_of(tx.sql(), seq - 1)?.ok_or_else(|| {
            StorageError::corrupt("audit", format!("entry {} is missing", seq - 1))
        })?,
    };
    let actor = actor.label();
    let hash = entry_hash(seq, at, &actor, action, object, &detail, &prev_hash);
    table::insert(
        tx.sql(),
        &AuditRow {
            seq,
            at,
            actor,
            action: action.to_owned(),
            object: object.to_owned(),
            detail,
            prev_hash,
            hash,
        },
    )?;
    Ok(seq)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verification {
    /// Every entry's hash and link hold.
    Intact { entries: u64, head: String },
    /// The first entry that does not.
    Broken { seq: u64, reason: String },
}

/// Recomputes every entry's hash and checks every link, oldest first.
pub fn verify(storage: &Storage) -> Result<Verification, StorageError> {
    let mut expected_seq = 1u64;
    let mut prev = GENESIS_HASH.to_owned();
    loop {
        let batch =
            storage.transaction(|tx| table::from(tx.sql(), expected_seq - 1, VERIFY_BATCH))?;
        if batch.is_empty() {
            return Ok(Verification::Intact {
                entries: expected_seq - 1,
                head: prev,
            });
        }
        for entry in &batch {
            if entry.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!("entry {expected_seq} is missing (next is {})", entry.seq),
                });
            }
            if entry.prev_hash != prev {
                return Ok(Verification::Broken {
                    seq: entry.seq,
                    reason: "its link does not name the previous entry's hash".to_owned(),
                });
            }
            let hash = entry_hash(
                entry.seq,
                entry.at,
                &entry.actor,
                &entry.action,
                &entry.object,
                &entry.detail,
                &entry.prev_hash,
            );
            if hash != entry.hash {
                return Ok(Verification::Broken {
                    seq: entry.seq,
                    reason: "its fields do not match its hash: it was changed".to_owned(),
                });
            }
            prev = hash;
            expected_seq += 1;
        }
    }
}

/// The newest entries first, filtered, one page.
pub fn list(
    storage: &Storage,
    filter: &AuditFilter,
    page: Page,
) -> Result<Vec<AuditRow>, StorageError> {
    storage.transaction(|tx| table::list(tx.sql(), filter, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let a = entry_hash(1, 5, "user:ab", "c", "o", "{}", GENESIS_HASH);
        let b = entry_hash(1, 5, "user:a", "bc", "o", "{}", GENESIS_HASH);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn actors_are_labelled_by_kind() {
        let user = Actor::User {
            id: 3,
            username: "amina".into(),
        };
        assert_eq!(user.label(), "user:amina");
        assert_eq!(Actor::Server.label(), "server");
        assert_eq!(Actor::Terminal("T1".into()).label(), "terminal:T1");
    }
}
