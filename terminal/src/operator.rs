//! Operators: the people who use the terminal. Each has a PIN, stored only
//! as an Argon2id hash; repeated wrong PINs lock the operator for a while.
//! One operator is logged in at a time (the login survives restarts until it
//! expires), and every log entry names that operator.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use lastmile_shared::id::OperatorId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::error::Error;
use crate::terminal::Terminal;

/// Shortest PIN, in digits.
pub const PIN_DIGITS_MIN: usize = 4;
/// Longest PIN, in digits.
pub const PIN_DIGITS_MAX: usize = 12;
/// Wrong PINs in a row that lock an operator.
pub const PIN_FAILURES_MAX: u32 = 5;
/// How long a locked operator stays locked.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// How long a login lasts before the PIN is asked again.
pub const LOGIN_SECONDS_MAX: i64 = 12 * 60 * 60;
/// Longest operator display name, in characters.
pub const OPERATOR_NAME_CHARS_MAX: usize = 64;

/// The logged-in operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Login {
    pub operator: OperatorId,
    pub name: String,
    pub expires_at: i64,
}

/// An operator as listed (never with the PIN hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorInfo {
    pub id: OperatorId,
    pub name: String,
    /// Unix seconds until which the operator is locked, if locked now.
    pub locked_until: Option<i64>,
}

fn check_pin(pin: &str) -> Result<(), Error> {
    if (PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&pin.len())
        && pin.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(Error::BadPin)
    }
}

fn hash_pin(pin: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::PinHash(e.to_string()))
}

fn pin_matches(pin: &str, stored: &str) -> Result<bool, Error> {
    let parsed = PasswordHash::new(stored).map_err(|e| Error::PinHash(e.to_string()))?;
    Ok(Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_ok())
}

/// The operator logged in at `now`, if any.
pub(crate) fn current(conn: &Connection, now: i64) -> Result<Option<Login>, Error> {
    let row = conn
        .query_row(
            "SELECT login.operator, operators.name, login.expires_at
             FROM login JOIN operators ON operators.id = login.operator
             WHERE login.id = 1 AND login.expires_at > ?1",
            [now],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(id, name, expires_at)| {
        Ok(Login {
            operator: OperatorId::parse(&id)?,
            name,
            expires_at,
        })
    })
    .transpose()
}

/// The logged-in operator, or [`Error::NotLoggedIn`].
/// The name operator `id` was registered with, if there is such an operator.
pub(crate) fn name(conn: &Connection, id: &OperatorId) -> Result<Option<String>, Error> {
    Ok(conn
        .query_row(
            "SELECT name FROM operators WHERE id = ?1",
            [id.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}

pub(crate) fn require(conn: &Connection, now: i64) -> Result<OperatorId, Error> {
    current(conn, now)?
        .map(|login| login.operator)
        .ok_or(Error::NotLoggedIn)
}

impl Terminal {
    /// Adds an operator. The first operator can be added by anyone (it is
    /// how a new terminal is set up); after that, only while an operator is
    /// logged in.
    pub fn add_operator(&mut self, id: &OperatorId, name: &str, pin: &str) -> Result<(), Error> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > OPERATOR_NAME_CHARS_MAX {
            return Err(Error::BadOperatorName {
                max: OPERATOR_NAME_CHARS_MAX,
            });
        }
        check_pin(pin)?;
        let hash = hash_pin(pin)?;
        let now = self.now()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: i64 = tx.query_row("SELECT count(*) FROM operators", [], |r| r.get(0))?;
        if existing > 0 {
            require(&tx, now)?;
        }
        let inserted = tx.execute(
            "INSERT INTO operators (id, name, pin_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
            params![id.as_str(), name, hash, now],
        )?;
        if inserted == 0 {
            return Err(Error::OperatorExists(id.clone()));
        }
        tx.commit()?;
        Ok(())
    }

    /// Logs an operator in with their PIN. A wrong PIN is counted (and the
    /// count committed) before the error is returned; after
    /// [`PIN_FAILURES_MAX`] in a row the operator is locked for
    /// [`LOCKOUT_SECONDS`], during which even the right PIN is refused.
    pub fn login(&mut self, id: &OperatorId, pin: &str) -> Result<Login, Error> {
        let now = self.now()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                "SELECT name, pin_hash, failed_attempts, locked_until FROM operators WHERE id = ?1",
                [id.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u32>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((name, hash, failed, locked_until)) = row else {
            return Err(Error::UnknownOperator(id.clone()));
        };
        let locked_out = |until: i64| Error::LockedOut {
            operator: id.clone(),
            minutes_left: (until - now + 59) / 60,
        };
        if locked_until > now {
            return Err(locked_out(locked_until));
        }
        if check_pin(pin).is_ok() && pin_matches(pin, &hash)? {
            tx.execute(
                "UPDATE operators SET failed_attempts = 0, locked_until = 0 WHERE id = ?1",
                [id.as_str()],
            )?;
            let expires_at = now.saturating_add(LOGIN_SECONDS_MAX);
            tx.execute(
                "INSERT OR REPLACE INTO login (id, operator, logged_in_at, expires_at)
                 VALUES (1, ?1, ?2, ?3)",
                params![id.as_str(), now, expires_at],
            )?;
            tx.commit()?;
            return Ok(Login {
                operator: id.clone(),
                name,
                expires_at,
            });
        }
        let failed = failed.saturating_add(1);
        let error = if failed >= PIN_FAILURES_MAX {
            let until = now.saturating_add(LOCKOUT_SECONDS);
            tx.execute(
                "UPDATE operators SET failed_attempts = 0, locked_until = ?2 WHERE id = ?1",
                params![id.as_str(), until],
            )?;
            tx.execute("DELETE FROM login WHERE operator = ?1", [id.as_str()])?;
            locked_out(until)
        } else {
            tx.execute(
                "UPDATE operators SET failed_attempts = ?2 WHERE id = ?1",
                params![id.as_str(), failed],
            )?;
            Error::WrongPin {
                attempts_left: PIN_FAILURES_MAX - failed,
            }
        };
        tx.commit()?;
        Err(error)
    }

    /// Ends the current login, if any.
    pub fn logout(&mut self) -> Result<(), Error> {
        self.conn.execute("DELETE FROM login", [])?;
        Ok(())
    }

    /// The operator logged in now, if any.
    pub fn current_login(&self) -> Result<Option<Login>, Error> {
        current(&self.conn, self.now()?)
    }

    pub fn operators(&self) -> Result<Vec<OperatorInfo>, Error> {
        let now = self.now()?;
        let mut statement = self
            .conn
            .prepare("SELECT id, name, locked_until FROM operators ORDER BY id")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (id, name, locked_until) = row?;
            Ok(OperatorInfo {
                id: OperatorId::parse(&id)?,
                name,
                locked_until: (locked_until > now).then_some(locked_until),
            })
        })
        .collect()
    }
}
