//! Maker-checker proposals, written once for both backends.

use super::StorageError;
use super::sql::{Page, Row, Sql};

/// A proposal with its people's usernames.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProposalRow {
    pub id: i64,
    pub kind: String,
    pub object: String,
    /// JSON text.
    pub payload: String,
    pub reason: String,
    pub proposed_by: i64,
    pub proposed_by_name: String,
    pub proposed_at: i64,
    pub state: String,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
}

fn row(r: &Row) -> Result<ProposalRow, StorageError> {
    Ok(ProposalRow {
        id: r.int(0)?,
        kind: r.text(1)?,
        object: r.text(2)?,
        payload: r.text(3)?,
        reason: r.text(4)?,
        proposed_by: r.int(5)?,
        proposed_by_name: r.text(6)?,
        proposed_at: r.int(7)?,
        state: r.text(8)?,
        decided_by_name: r.opt_text(9)?,
        decided_at: r.opt_int(10)?,
        decision_note: r.opt_text(11)?,
    })
}

/// A proposal to store.
pub struct NewProposal<'a> {
    pub id: i64,
    pub kind: &'a str,
    pub object: &'a str,
    pub payload: &'a str,
    pub reason: &'a str,
    pub proposed_by: i64,
    pub proposed_at: i64,
}

/// Inserts a pending proposal; `false` when one is already pending for the
/// same action on the same object.
pub fn insert(sql: &mut dyn Sql, p: &NewProposal<'_>) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "INSERT INTO proposals (id, kind, object, payload, reason, proposed_by, proposed_at, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')
         ON CONFLICT DO NOTHING",
        &[
            p.id.into(),
            p.kind.into(),
            p.object.into(),
            p.payload.into(),
            p.reason.into(),
            p.proposed_by.into(),
            p.proposed_at.into(),
        ],
    )? == 1)
}

pub fn get(sql: &mut dyn Sql, id: i64) -> Result<Option<ProposalRow>, StorageError> {
    sql.query_opt(
        "proposals",
        "SELECT p.id, p.kind, p.object, p.payload, p.reason, p.proposed_by, a.username,
                p.proposed_at, p.state, d.username, p.decided_at, p.decision_note
         FROM proposals p JOIN users a ON a.id = p.proposed_by
         LEFT JOIN users d ON d.id = p.decided_by WHERE p.id = $1",
        &[id.into()],
    )?
    .map(|r| row(&r))
    .transpose()
}

/// The pending proposal for an action on an object, if any.
pub fn pending_for(
    sql: &mut dyn Sql,
    kind: &str,
    object: &str,
) -> Result<Option<i64>, StorageError> {
    sql.query_opt(
        "proposals",
        "SELECT id FROM proposals WHERE kind = $1 AND object = $2 AND state = 'pending'",
        &[kind.into(), object.into()],
    )?
    .map(|r| r.int(0))
    .transpose()
}

/// Newest first, optionally only in one state.
pub fn list(
    sql: &mut dyn Sql,
    state: Option<&str>,
    page: Page,
) -> Result<Vec<ProposalRow>, StorageError> {
    let [limit, offset] = page.params();
    sql.query(
        "proposals",
        "SELECT p.id, p.kind, p.object, p.payload, p.reason, p.proposed_by, a.username,
                p.proposed_at, p.state, d.username, p.decided_at, p.decision_note
         FROM proposals p JOIN users a ON a.id = p.proposed_by
         LEFT JOIN users d ON d.id = p.decided_by
         WHERE CAST($1 AS TEXT) IS NULL OR p.state = $1
         ORDER BY p.id DESC LIMIT $2 OFFSET $3",
        &[state.into(), limit, offset],
    )?
    .iter()
    .map(row)
    .collect()
}

/// Decides a pending proposal; `false` if it was no longer pending.
pub fn decide(
    sql: &mut dyn Sql,
    id: i64,
    state: &str,
    decided_by: i64,
    at: i64,
    note: &str,
) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE proposals SET state = $2, decided_by = $3, decided_at = $4, decision_note = $5
         WHERE id = $1 AND state = 'pending'",
        &[
            id.into(),
            state.into(),
            decided_by.into(),
            at.into(),
            note.into(),
        ],
    )? == 1)
}

pub fn pending_count(sql: &mut dyn Sql) -> Result<i64, StorageError> {
    sql.query_one(
        "proposals",
        "SELECT count(*) FROM proposals WHERE state = 'pending'",
        &[],
    )?
    .int(0)
}

/// A double-spend case's resolution: `None` when there is no such case,
/// `Some(None)` while it is open.
pub fn case_resolution(
    sql: &mut dyn Sql,
    case: u64,
) -> Result<Option<Option<String>>, StorageError> {
    let id = i64::try_from(case).map_err(|e| StorageError::corrupt("double_spend_cases.id", e))?;
    sql.query_opt(
        "double_spend_cases",
        "SELECT resolution FROM double_spend_cases WHERE id = $1",
        &[id.into()],
    )?
    .map(|r| r.opt_text(0))
    .transpose()
}
