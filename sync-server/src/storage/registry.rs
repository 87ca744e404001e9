//! The programme registry's tables, written once for both backends
//! (`src/registry/` holds the rules; this file only reads and writes rows).
//!
//! Bulk statements (many rows in one `INSERT`, a fixed-size `IN (…)`) are
//! built once per call site and kept in a `OnceLock`, so that every query is
//! still one `&'static str` the backends prepare and cache.

use std::sync::OnceLock;

use super::StorageError;
use super::sql::{Page, Row, Sql, Value, placeholders, values_list};

type Res<T> = Result<T, StorageError>;

/// Rows written by one bulk `INSERT`, and ids looked up by one `IN (…)`.
pub const CHUNK_ROWS: usize = 256;

/// Before a long import in one transaction: on PostgreSQL, plan each
/// statement for its own parameters, and never by scanning a whole table.
/// The rows the transaction writes have no statistics until it commits (and
/// autovacuum analyses them), so the planner guesses: a generic plan made
/// while the table was small scanned it whole for every chunk's lookup, and
/// the grouped passes of the fraud signals, run before the commit, may join
/// back by scanning the table once per value. Every statement of an import
/// has an index to use (the chunk lookups are shaped so that it is the key:
/// see `Tx::beneficiaries_by_id` on PostgreSQL). SQLite has no plan cache
/// and plans by its indexes.
pub fn plan_for_growth(sql: &mut dyn Sql) -> Res<()> {
    super::sql::plan_for_parameters(sql)?;
    if sql.dialect() == super::sql::Dialect::Postgres {
        sql.execute("SET LOCAL enable_seqscan = off", &[])?;
    }
    Ok(())
}

/// A programme as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProgrammeRow {
    pub programme: String,
    pub name: String,
    pub currency: String,
    pub issuer: String,
    /// Channel kinds, comma-separated, in the programme's default order.
    pub channels: String,
    pub budget_minor: i64,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub target: String,
    pub household_max: i64,
    pub id_pattern: String,
    pub state: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const PROGRAMME_COLUMNS: &str = "programme, name, currency, issuer, channels, budget_minor, \
     starts_on, ends_on, target, household_max, id_pattern, state, created_by, created_at, updated_at";

fn programme_row(r: &Row) -> Res<ProgrammeRow> {
    Ok(ProgrammeRow {
        programme: r.text(0)?,
        name: r.text(1)?,
        currency: r.text(2)?,
        issuer: r.text(3)?,
        channels: r.text(4)?,
        budget_minor: r.int(5)?,
        starts_on: r.text(6)?,
        ends_on: r.opt_text(7)?,
        target: r.text(8)?,
        household_max: r.int(9)?,
        id_pattern: r.text(10)?,
        state: r.text(11)?,
        created_by: r.text(12)?,
        created_at: r.int(13)?,
        updated_at: r.int(14)?,
    })
}

/// Inserts a programme; `false` when its id is taken.
pub fn insert_programme(sql: &mut dyn Sql, p: &ProgrammeRow) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO programmes (programme, name, currency, issuer, channels, budget_minor,
             starts_on, ends_on, target, household_max, id_pattern, state, created_by,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT DO NOTHING",
        &[
            p.programme.as_str().into(),
            p.name.as_str().into(),
            p.currency.as_str().into(),
            p.issuer.as_str().into(),
            p.channels.as_str().into(),
            p.budget_minor.into(),
            p.starts_on.as_str().into(),
            p.ends_on.clone().into(),
            p.target.as_str().into(),
            p.household_max.into(),
            p.id_pattern.as_str().into(),
            p.state.as_str().into(),
            p.created_by.as_str().into(),
            p.created_at.into(),
            p.updated_at.into(),
        ],
    )? == 1)
}

pub fn programme(sql: &mut dyn Sql, programme: &str) -> Res<Option<ProgrammeRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL
        .get_or_init(|| format!("SELECT {PROGRAMME_COLUMNS} FROM programmes WHERE programme = $1"));
    sql.query_opt("programmes", query, &[programme.into()])?
        .map(|r| programme_row(&r))
        .transpose()
}

/// By id.
pub fn programmes(sql: &mut dyn Sql, page: Page) -> Res<Vec<ProgrammeRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!("SELECT {PROGRAMME_COLUMNS} FROM programmes ORDER BY programme LIMIT $1 OFFSET $2")
    });
    let [limit, offset] = page.params();
    sql.query("programmes", query, &[limit, offset])?
        .iter()
        .map(programme_row)
        .collect()
}

/// Moves a programme from `from` to `to`; `false` if it was not in `from`.
pub fn set_programme_state(
    sql: &mut dyn Sql,
    programme: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE programmes SET state = $3, updated_at = $4 WHERE programme = $1 AND state = $2",
        &[programme.into(), from.into(), to.into(), now.into()],
    )? == 1)
}

/// A distribution site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiteRow {
    pub site: String,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
}

/// Inserts a site; `false` when its id is taken.
pub fn insert_site(sql: &mut dyn Sql, s: &SiteRow) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO sites (site, name, created_by, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[
            s.site.as_str().into(),
            s.name.as_str().into(),
            s.created_by.as_str().into(),
            s.created_at.into(),
        ],
    )? == 1)
}

pub fn sites(sql: &mut dyn Sql, page: Page) -> Res<Vec<SiteRow>> {
    let [limit, offset] = page.params();
    sql.query(
        "sites",
        "SELECT site, name, created_by, created_at FROM sites ORDER BY site LIMIT $1 OFFSET $2",
        &[limit, offset],
    )?
    .iter()
    .map(|r| {
        Ok(SiteRow {
            site: r.text(0)?,
            name: r.text(1)?,
            created_by: r.text(2)?,
            created_at: r.int(3)?,
        })
    })
    .collect()
}

/// Every site id (an importer checks rows against them).
pub fn site_ids(sql: &mut dyn Sql, most: i64) -> Res<Vec<String>> {
    sql.query(
        "sites",
        "SELECT site FROM sites ORDER BY site LIMIT $1",
        &[most.into()],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// A beneficiary as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BeneficiaryRow {
    pub programme: String,
    pub beneficiary: String,
    pub name: String,
    pub national_id: String,
    pub phone: Option<String>,
    pub household: Option<String>,
    pub head: bool,
    pub site: Option<String>,
    /// Channel texts, space-separated, in order of preference.
    pub channels: String,
    /// The channel a cycle uses, and its kind.
    pub channel: String,
    pub channel_kind: String,
    pub account: Option<String>,
    pub wallet: Option<String>,
    pub active: bool,
    pub digest: String,
    pub import_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) const BENEFICIARY_COLUMNS: &str = "programme, beneficiary, name, national_id, phone, household, \
     head, site, channels, channel, channel_kind, account, wallet, active, digest, import_id, \
     created_at, updated_at";
const BENEFICIARY_COLUMN_COUNT: usize = 18;

pub(super) fn beneficiary_row(r: &Row) -> Res<BeneficiaryRow> {
    Ok(BeneficiaryRow {
        programme: r.text(0)?,
        beneficiary: r.text(1)?,
        name: r.text(2)?,
        national_id: r.text(3)?,
        phone: r.opt_text(4)?,
        household: r.opt_text(5)?,
        head: r.flag(6)?,
        site: r.opt_text(7)?,
        channels: r.text(8)?,
        channel: r.text(9)?,
        channel_kind: r.text(10)?,
        account: r.opt_text(11)?,
        wallet: r.opt_text(12)?,
        active: r.flag(13)?,
        digest: r.text(14)?,
        import_id: r.int(15)?,
        created_at: r.int(16)?,
        updated_at: r.int(17)?,
    })
}

fn beneficiary_values(b: &BeneficiaryRow, out: &mut Vec<Value>) {
    out.extend([
        b.programme.as_str().into(),
        b.beneficiary.as_str().into(),
        b.name.as_str().into(),
        b.national_id.as_str().into(),
        b.phone.clone().into(),
        b.household.clone().into(),
        b.head.into(),
        b.site.clone().into(),
        b.channels.as_str().into(),
        b.channel.as_str().into(),
        b.channel_kind.as_str().into(),
        b.account.clone().into(),
        b.wallet.clone().into(),
        b.active.into(),
        b.digest.as_str().into(),
        b.import_id.into(),
        b.created_at.into(),
        b.updated_at.into(),
    ]);
}

/// Inserts new beneficiaries, [`CHUNK_ROWS`] to a statement (through
/// [`Tx::insert_beneficiaries`](super::Tx::insert_beneficiaries), which
/// PostgreSQL runs over arrays instead).
pub fn insert_beneficiaries(sql: &mut dyn Sql, rows: &[BeneficiaryRow]) -> Res<()> {
    static FULL: OnceLock<String> = OnceLock::new();
    static ONE: OnceLock<String> = OnceLock::new();
    let head = format!("INSERT INTO beneficiaries ({BENEFICIARY_COLUMNS}) VALUES ");
    let full = FULL.get_or_init(|| values_list(&head, BENEFICIARY_COLUMN_COUNT, CHUNK_ROWS));
    let one = ONE.get_or_init(|| values_list(&head, BENEFICIARY_COLUMN_COUNT, 1));
    let mut chunks = rows.chunks_exact(CHUNK_ROWS);
    let mut values = Vec::with_capacity(CHUNK_ROWS * BENEFICIARY_COLUMN_COUNT);
    for chunk in chunks.by_ref() {
        values.clear();
        for row in chunk {
            beneficiary_values(row, &mut values);
        }
        sql.execute(full, &values)?;
    }
    for row in chunks.remainder() {
        values.clear();
        beneficiary_values(row, &mut values);
        sql.execute(one, &values)?;
    }
    Ok(())
}

/// Replaces a beneficiary's imported fields (the key and creation stay).
pub fn update_beneficiary(sql: &mut dyn Sql, b: &BeneficiaryRow) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE beneficiaries SET name = $3, national_id = $4, phone = $5, household = $6,
             head = $7, site = $8, channels = $9, channel = $10, channel_kind = $11,
             account = $12, wallet = $13, active = $14, digest = $15, import_id = $16,
             updated_at = $17
         WHERE programme = $1 AND beneficiary = $2",
        &[
            b.programme.as_str().into(),
            b.beneficiary.as_str().into(),
            b.name.as_str().into(),
            b.national_id.as_str().into(),
            b.phone.clone().into(),
            b.household.clone().into(),
            b.head.into(),
            b.site.clone().into(),
            b.channels.as_str().into(),
            b.channel.as_str().into(),
            b.channel_kind.as_str().into(),
            b.account.clone().into(),
            b.wallet.clone().into(),
            b.active.into(),
            b.digest.as_str().into(),
            b.import_id.into(),
            b.updated_at.into(),
        ],
    )? == 1)
}

/// `values` padded with NULLs to [`CHUNK_ROWS`] (after the programme).
fn chunk_params(programme: &str, values: &[&str]) -> Vec<Value> {
    let mut params = Vec::with_capacity(CHUNK_ROWS + 1);
    params.push(programme.into());
    params.extend(values.iter().map(|v| Value::from(*v)));
    params.resize(CHUNK_ROWS + 1, Value::Null);
    params
}

/// The stored rows of these beneficiaries (at most [`CHUNK_ROWS`] ids).
pub fn beneficiaries_by_id(
    sql: &mut dyn Sql,
    programme: &str,
    ids: &[&str],
) -> Res<Vec<BeneficiaryRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {BENEFICIARY_COLUMNS} FROM beneficiaries
             WHERE programme = $1 AND beneficiary IN ({})",
            placeholders(2, CHUNK_ROWS)
        )
    });
    debug_assert!(ids.len() <= CHUNK_ROWS);
    sql.query("beneficiaries", query, &chunk_params(programme, ids))?
        .iter()
        .map(beneficiary_row)
        .collect()
}

/// Who in the programme holds these national IDs (at most [`CHUNK_ROWS`]):
/// `(national_id, beneficiary)`.
pub fn national_id_holders(
    sql: &mut dyn Sql,
    programme: &str,
    national_ids: &[&str],
) -> Res<Vec<(String, String)>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT national_id, beneficiary FROM beneficiaries
             WHERE programme = $1 AND national_id IN ({})",
            placeholders(2, CHUNK_ROWS)
        )
    });
    debug_assert!(national_ids.len() <= CHUNK_ROWS);
    sql.query(
        "beneficiaries",
        query,
        &chunk_params(programme, national_ids),
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

pub fn beneficiary(
    sql: &mut dyn Sql,
    programme: &str,
    beneficiary: &str,
) -> Res<Option<BeneficiaryRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {BENEFICIARY_COLUMNS} FROM beneficiaries
             WHERE programme = $1 AND beneficiary = $2"
        )
    });
    sql.query_opt(
        "beneficiaries",
        query,
        &[programme.into(), beneficiary.into()],
    )?
    .map(|r| beneficiary_row(&r))
    .transpose()
}

/// A programme's beneficiaries by id, optionally only those whose id,
/// national ID or phone is `exact`, or whose name starts with `name`.
pub fn search_beneficiaries(
    sql: &mut dyn Sql,
    programme: &str,
    exact: Option<&str>,
    name: Option<&str>,
    page: Page,
) -> Res<Vec<BeneficiaryRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {BENEFICIARY_COLUMNS} FROM beneficiaries
             WHERE programme = $1
               AND (CAST($2 AS TEXT) IS NULL OR beneficiary = $2 OR national_id = $2
                    OR phone = $2 OR household = $2)
               AND (CAST($3 AS TEXT) IS NULL OR substr(name, 1, length($3)) = $3)
             ORDER BY beneficiary LIMIT $4 OFFSET $5"
        )
    });
    let [limit, offset] = page.params();
    sql.query(
        "beneficiaries",
        query,
        &[programme.into(), exact.into(), name.into(), limit, offset],
    )?
    .iter()
    .map(beneficiary_row)
    .collect()
}

/// How many beneficiaries a programme has, and how many are active.
pub fn beneficiary_counts(sql: &mut dyn Sql, programme: &str) -> Res<(i64, i64)> {
    let row = sql.query_one(
        "beneficiaries",
        "SELECT count(*), CAST(coalesce(sum(active), 0) AS BIGINT) FROM beneficiaries WHERE programme = $1",
        &[programme.into()],
    )?;
    Ok((row.int(0)?, row.int(1)?))
}

/// One import, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportRow {
    pub id: i64,
    pub programme: String,
    pub file_name: String,
    pub sha256: String,
    /// JSON.
    pub mapping: String,
    pub rows_read: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub good_rows: bool,
    pub imported_by: String,
    pub imported_at: i64,
}

pub fn insert_import(sql: &mut dyn Sql, i: &ImportRow) -> Res<()> {
    sql.execute(
        "INSERT INTO imports (id, programme, file_name, sha256, mapping, rows_read, created,
             updated, unchanged, rejected, good_rows, imported_by, imported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            i.id.into(),
            i.programme.as_str().into(),
            i.file_name.as_str().into(),
            i.sha256.as_str().into(),
            i.mapping.as_str().into(),
            i.rows_read.into(),
            i.created.into(),
            i.updated.into(),
            i.unchanged.into(),
            i.rejected.into(),
            i.good_rows.into(),
            i.imported_by.as_str().into(),
            i.imported_at.into(),
        ],
    )?;
    Ok(())
}

/// A programme's imports, newest first.
pub fn imports(sql: &mut dyn Sql, programme: &str, page: Page) -> Res<Vec<ImportRow>> {
    let [limit, offset] = page.params();
    sql.query(
        "imports",
        "SELECT id, programme, file_name, sha256, mapping, rows_read, created, updated,
                unchanged, rejected, good_rows, imported_by, imported_at
         FROM imports WHERE programme = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        &[programme.into(), limit, offset],
    )?
    .iter()
    .map(|r| {
        Ok(ImportRow {
            id: r.int(0)?,
            programme: r.text(1)?,
            file_name: r.text(2)?,
            sha256: r.text(3)?,
            mapping: r.text(4)?,
            rows_read: r.int(5)?,
            created: r.int(6)?,
            updated: r.int(7)?,
            unchanged: r.int(8)?,
            rejected: r.int(9)?,
            good_rows: r.flag(10)?,
            imported_by: r.text(11)?,
            imported_at: r.int(12)?,
        })
    })
    .collect()
}

/// A value shared by several beneficiaries: `(value, "programme/beneficiary" list)`.
pub type Shared = (String, Vec<String>);

fn shared_rows(rows: Vec<Row>) -> Res<Vec<Shared>> {
    let mut out: Vec<Shared> = Vec::new();
    for r in &rows {
        let value = r.text(0)?;
        let who = format!("{}/{}", r.text(1)?, r.text(2)?);
        match out.last_mut() {
            Some((last, list)) if *last == value => list.push(who),
            _ => out.push((value, vec![who])),
        }
    }
    Ok(out)
}

/// Which column of `beneficiaries` a duplicate signal looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedColumn {
    NationalId,
    Phone,
    Account,
    Wallet,
}

/// Values of `column` that the programme's beneficiaries share with any
/// other beneficiary (of this programme or another), at most `most`
/// values, each with everyone holding it. One grouped pass over the
/// column's covering index (`beneficiaries_by_<column>`: the value, then
/// the programme), then the holders of the values found.
pub fn shared_values(
    sql: &mut dyn Sql,
    column: SharedColumn,
    programme: &str,
    most: i64,
) -> Res<Vec<Shared>> {
    // One query per column (a column name cannot be a parameter).
    macro_rules! shared {
        ($column:literal) => {
            concat!(
                "SELECT b.",
                $column,
                ", b.programme, b.beneficiary
                 FROM (SELECT ",
                $column,
                " AS v FROM beneficiaries
                       WHERE ",
                $column,
                " IS NOT NULL
                       GROUP BY ",
                $column,
                "
                       HAVING count(*) > 1
                          AND sum(CASE WHEN programme = $1 THEN 1 ELSE 0 END) > 0
                       ORDER BY ",
                $column,
                " LIMIT $2) d
                 JOIN beneficiaries b ON b.",
                $column,
                " = d.v
                 ORDER BY b.",
                $column,
                ", b.programme, b.beneficiary"
            )
        };
    }
    let query = match column {
        SharedColumn::NationalId => shared!("national_id"),
        SharedColumn::Phone => shared!("phone"),
        SharedColumn::Account => shared!("account"),
        SharedColumn::Wallet => shared!("wallet"),
    };
    shared_rows(sql.query("beneficiaries", query, &[programme.into(), most.into()])?)
}

/// Households of the programme with more than `max` members, or with no
/// head or several: `(household, members, heads)`.
pub fn odd_households(
    sql: &mut dyn Sql,
    programme: &str,
    max: i64,
    most: i64,
) -> Res<Vec<(String, i64, i64)>> {
    sql.query(
        "beneficiaries",
        "SELECT household, count(*), CAST(sum(head) AS BIGINT) FROM beneficiaries
         WHERE programme = $1 AND household IS NOT NULL AND active = 1
         GROUP BY household HAVING count(*) > $2 OR sum(head) <> 1
         ORDER BY household LIMIT $3",
        &[programme.into(), max.into(), most.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?, r.int(2)?)))
    .collect()
}

/// A fraud signal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignalRow {
    pub id: i64,
    pub signal: String,
    pub kind: String,
    pub programme: Option<String>,
    pub value: String,
    /// JSON list of `programme/beneficiary`.
    pub beneficiaries: String,
    pub detected_at: i64,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_note: Option<String>,
}

/// Records a signal, or refreshes who it names if it was seen before (a
/// reviewed signal whose list changed is open again).
pub fn upsert_signal(sql: &mut dyn Sql, s: &SignalRow) -> Res<()> {
    sql.execute(
        "INSERT INTO registry_signals (id, signal, kind, programme, value, beneficiaries,
             detected_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (signal) DO UPDATE SET
             beneficiaries = excluded.beneficiaries,
             detected_at = CASE WHEN registry_signals.beneficiaries = excluded.beneficiaries
                                THEN registry_signals.detected_at ELSE excluded.detected_at END,
             reviewed_by = CASE WHEN registry_signals.beneficiaries = excluded.beneficiaries
                                THEN registry_signals.reviewed_by END,
             reviewed_at = CASE WHEN registry_signals.beneficiaries = excluded.beneficiaries
                                THEN registry_signals.reviewed_at END,
             review_note = CASE WHEN registry_signals.beneficiaries = excluded.beneficiaries
                                THEN registry_signals.review_note END",
        &[
            s.id.into(),
            s.signal.as_str().into(),
            s.kind.as_str().into(),
            s.programme.clone().into(),
            s.value.as_str().into(),
            s.beneficiaries.as_str().into(),
            s.detected_at.into(),
        ],
    )?;
    Ok(())
}

/// Signals, open ones first, newest first; only a programme's (and those
/// across programmes that name it) when `programme` is given.
pub fn signals(
    sql: &mut dyn Sql,
    programme: Option<&str>,
    open_only: bool,
    page: Page,
) -> Res<Vec<SignalRow>> {
    let [limit, offset] = page.params();
    sql.query(
        "registry_signals",
        "SELECT id, signal, kind, programme, value, beneficiaries, detected_at, reviewed_by,
                reviewed_at, review_note
         FROM registry_signals
         WHERE (CAST($1 AS TEXT) IS NULL OR programme = $1
                OR (programme IS NULL AND beneficiaries LIKE '%\"' || $1 || '/%'))
           AND ($2 = 0 OR reviewed_at IS NULL)
         ORDER BY (reviewed_at IS NULL) DESC, id DESC LIMIT $3 OFFSET $4",
        &[programme.into(), open_only.into(), limit, offset],
    )?
    .iter()
    .map(|r| {
        Ok(SignalRow {
            id: r.int(0)?,
            signal: r.text(1)?,
            kind: r.text(2)?,
            programme: r.opt_text(3)?,
            value: r.text(4)?,
            beneficiaries: r.text(5)?,
            detected_at: r.int(6)?,
            reviewed_by: r.opt_text(7)?,
            reviewed_at: r.opt_int(8)?,
            review_note: r.opt_text(9)?,
        })
    })
    .collect()
}

/// Marks a signal reviewed; `false` if there is none or it was already.
pub fn review_signal(sql: &mut dyn Sql, id: i64, by: &str, note: &str, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE registry_signals SET reviewed_by = $2, reviewed_at = $3, review_note = $4
         WHERE id = $1 AND reviewed_at IS NULL",
        &[id.into(), by.into(), now.into(), note.into()],
    )? == 1)
}

/// A cycle as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CycleRow {
    pub id: i64,
    pub programme: String,
    pub period: String,
    pub rule: String,
    pub state: String,
    pub entitlements: i64,
    pub total_minor: i64,
    pub excluded: i64,
    pub over_budget: bool,
    pub generated_by: String,
    pub generated_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
}

const CYCLE_COLUMNS: &str = "id, programme, period, rule, state, entitlements, total_minor, \
     excluded, over_budget, generated_by, generated_at, approved_by, approved_at";

fn cycle_row(r: &Row) -> Res<CycleRow> {
    Ok(CycleRow {
        id: r.int(0)?,
        programme: r.text(1)?,
        period: r.text(2)?,
        rule: r.text(3)?,
        state: r.text(4)?,
        entitlements: r.int(5)?,
        total_minor: r.int(6)?,
        excluded: r.int(7)?,
        over_budget: r.flag(8)?,
        generated_by: r.text(9)?,
        generated_at: r.int(10)?,
        approved_by: r.opt_text(11)?,
        approved_at: r.opt_int(12)?,
    })
}

/// Inserts a draft cycle; `false` when the programme has one for the period.
pub fn insert_cycle(sql: &mut dyn Sql, c: &CycleRow) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO cycles (id, programme, period, rule, state, entitlements, total_minor,
             excluded, over_budget, generated_by, generated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING",
        &[
            c.id.into(),
            c.programme.as_str().into(),
            c.period.as_str().into(),
            c.rule.as_str().into(),
            c.state.as_str().into(),
            c.entitlements.into(),
            c.total_minor.into(),
            c.excluded.into(),
            c.over_budget.into(),
            c.generated_by.as_str().into(),
            c.generated_at.into(),
        ],
    )? == 1)
}

pub fn cycle(sql: &mut dyn Sql, id: i64) -> Res<Option<CycleRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| format!("SELECT {CYCLE_COLUMNS} FROM cycles WHERE id = $1"));
    sql.query_opt("cycles", query, &[id.into()])?
        .map(|r| cycle_row(&r))
        .transpose()
}

pub fn cycle_for_period(sql: &mut dyn Sql, programme: &str, period: &str) -> Res<Option<CycleRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!("SELECT {CYCLE_COLUMNS} FROM cycles WHERE programme = $1 AND period = $2")
    });
    sql.query_opt("cycles", query, &[programme.into(), period.into()])?
        .map(|r| cycle_row(&r))
        .transpose()
}

/// A programme's cycles, newest first.
pub fn cycles(sql: &mut dyn Sql, programme: &str, page: Page) -> Res<Vec<CycleRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {CYCLE_COLUMNS} FROM cycles WHERE programme = $1
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        )
    });
    let [limit, offset] = page.params();
    sql.query("cycles", query, &[programme.into(), limit, offset])?
        .iter()
        .map(cycle_row)
        .collect()
}

/// Moves a cycle from `from` to `to`; `false` if it was not in `from`.
pub fn set_cycle_state(sql: &mut dyn Sql, id: i64, from: &str, to: &str) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE cycles SET state = $3 WHERE id = $1 AND state = $2",
        &[id.into(), from.into(), to.into()],
    )? == 1)
}

/// Records who approved a cycle.
pub fn approve_cycle(sql: &mut dyn Sql, id: i64, by: &str, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE cycles SET state = 'approved', approved_by = $2, approved_at = $3
         WHERE id = $1 AND state = 'submitted'",
        &[id.into(), by.into(), now.into()],
    )? == 1)
}

/// Stores the totals of a cycle's entitlements (counted again from them).
pub fn recount_cycle(sql: &mut dyn Sql, id: i64, budget_minor: i64) -> Res<CycleRow> {
    sql.execute(
        "UPDATE cycles SET
             entitlements = (SELECT count(*) FROM cycle_entitlements e
                             WHERE e.cycle = $1 AND e.state <> 'excluded'),
             total_minor = (SELECT CAST(coalesce(sum(e.amount_minor), 0) AS BIGINT) FROM cycle_entitlements e
                            WHERE e.cycle = $1 AND e.state <> 'excluded'),
             excluded = (SELECT count(*) FROM cycle_entitlements e
                         WHERE e.cycle = $1 AND e.state = 'excluded')
         WHERE id = $1",
        &[id.into()],
    )?;
    sql.execute(
        "UPDATE cycles SET over_budget = CASE WHEN total_minor > $2 THEN 1 ELSE 0 END
         WHERE id = $1",
        &[id.into(), budget_minor.into()],
    )?;
    cycle(sql, id)?.ok_or_else(|| StorageError::corrupt("cycles", id))
}

/// Creates the entitlements of a draft cycle from its programme's active
/// beneficiaries, in one statement: a flat amount each, or an amount per
/// member of the household with a cap (only heads are paid when the
/// programme pays households), by each one's chosen channel. A beneficiary
/// already entitled in the cycle is left alone, so generating twice adds
/// nothing.
#[allow(clippy::too_many_arguments)]
pub fn generate_entitlements(
    sql: &mut dyn Sql,
    cycle: i64,
    programme: &str,
    currency: &str,
    households: bool,
    per_member_minor: i64,
    flat_minor: i64,
    cap_minor: i64,
    now: i64,
) -> Res<u64> {
    // The household's size comes from a grouped subquery joined once (not
    // a count per row).
    sql.execute(
        "INSERT INTO cycle_entitlements (cycle, beneficiary, programme, amount_minor, currency,
             members, channel, channel_kind, state, updated_at)
         SELECT $1, b.beneficiary, b.programme,
                CASE WHEN $5 > 0
                     THEN CASE WHEN $5 * coalesce(h.members, 1) > $7 THEN $7
                               ELSE $5 * coalesce(h.members, 1) END
                     ELSE $6 END,
                $3, coalesce(h.members, 1), b.channel, b.channel_kind, 'draft', $8
         FROM beneficiaries b
         LEFT JOIN (SELECT household, count(*) AS members FROM beneficiaries
                    WHERE programme = $2 AND household IS NOT NULL AND active = 1
                    GROUP BY household) h
                ON $4 = 1 AND h.household = b.household
         WHERE b.programme = $2 AND b.active = 1 AND ($4 = 0 OR b.head = 1)
         ON CONFLICT DO NOTHING",
        &[
            cycle.into(),
            programme.into(),
            currency.into(),
            households.into(),
            per_member_minor.into(),
            flat_minor.into(),
            cap_minor.into(),
            now.into(),
        ],
    )
}

/// An entitlement of a cycle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CycleEntitlementRow {
    pub cycle: i64,
    pub beneficiary: String,
    pub programme: String,
    pub amount_minor: i64,
    pub currency: String,
    pub members: i64,
    pub channel: String,
    pub channel_kind: String,
    pub state: String,
    pub note: Option<String>,
    pub reference: Option<String>,
    pub valid_until: Option<i64>,
    pub updated_at: i64,
}

const ENTITLEMENT_COLUMNS: &str = "e.cycle, e.beneficiary, e.programme, e.amount_minor, \
     e.currency, e.members, e.channel, e.channel_kind, e.state, e.note, e.reference, \
     e.valid_until, e.updated_at";

fn entitlement_row(r: &Row) -> Res<CycleEntitlementRow> {
    Ok(CycleEntitlementRow {
        cycle: r.int(0)?,
        beneficiary: r.text(1)?,
        programme: r.text(2)?,
        amount_minor: r.int(3)?,
        currency: r.text(4)?,
        members: r.int(5)?,
        channel: r.text(6)?,
        channel_kind: r.text(7)?,
        state: r.text(8)?,
        note: r.opt_text(9)?,
        reference: r.opt_text(10)?,
        valid_until: r.opt_int(11)?,
        updated_at: r.int(12)?,
    })
}

/// A cycle's entitlements by beneficiary, optionally in one state.
pub fn cycle_entitlements(
    sql: &mut dyn Sql,
    cycle: i64,
    state: Option<&str>,
    page: Page,
) -> Res<Vec<CycleEntitlementRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {ENTITLEMENT_COLUMNS} FROM cycle_entitlements e
             WHERE e.cycle = $1 AND (CAST($2 AS TEXT) IS NULL OR e.state = $2)
             ORDER BY e.beneficiary LIMIT $3 OFFSET $4"
        )
    });
    let [limit, offset] = page.params();
    sql.query(
        "cycle_entitlements",
        query,
        &[cycle.into(), state.into(), limit, offset],
    )?
    .iter()
    .map(entitlement_row)
    .collect()
}

/// Counts and totals of a cycle's entitlements per state and channel kind:
/// `(state, kind, count, total)`.
pub fn cycle_breakdown(sql: &mut dyn Sql, cycle: i64) -> Res<Vec<(String, String, i64, i64)>> {
    sql.query(
        "cycle_entitlements",
        "SELECT state, channel_kind, count(*), CAST(sum(amount_minor) AS BIGINT)
         FROM cycle_entitlements WHERE cycle = $1
         GROUP BY state, channel_kind ORDER BY state, channel_kind",
        &[cycle.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?, r.int(3)?)))
    .collect()
}

/// Excludes (or includes again) one draft entitlement; `false` if it is not
/// a draft or excluded one of the cycle.
pub fn set_excluded(
    sql: &mut dyn Sql,
    cycle: i64,
    beneficiary: &str,
    excluded: bool,
    note: Option<&str>,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE cycle_entitlements SET state = CASE WHEN $3 = 1 THEN 'excluded' ELSE 'draft' END,
             note = $4, updated_at = $5
         WHERE cycle = $1 AND beneficiary = $2 AND state IN ('draft', 'excluded')",
        &[
            cycle.into(),
            beneficiary.into(),
            excluded.into(),
            note.into(),
            now.into(),
        ],
    )? == 1)
}

/// On approval: drafts become approved, exclusions cancelled.
pub fn approve_entitlements(sql: &mut dyn Sql, cycle: i64, now: i64) -> Res<(u64, u64)> {
    let approved = sql.execute(
        "UPDATE cycle_entitlements SET state = 'approved', updated_at = $2
         WHERE cycle = $1 AND state = 'draft'",
        &[cycle.into(), now.into()],
    )?;
    let cancelled = sql.execute(
        "UPDATE cycle_entitlements SET state = 'cancelled', updated_at = $2
         WHERE cycle = $1 AND state = 'excluded'",
        &[cycle.into(), now.into()],
    )?;
    Ok((approved, cancelled))
}

/// Signals waiting for review that concern a programme.
pub fn open_signals(sql: &mut dyn Sql, programme: &str) -> Res<i64> {
    sql.query_one(
        "registry_signals",
        "SELECT count(*) FROM registry_signals
         WHERE reviewed_at IS NULL
           AND (programme = $1 OR (programme IS NULL AND beneficiaries LIKE '%\"' || $1 || '/%'))",
        &[programme.into()],
    )?
    .int(0)
}

/// An entitlement with who it is for, as a release needs it.
#[derive(Debug, Clone)]
pub struct Deliverable {
    pub entitlement: CycleEntitlementRow,
    pub name: String,
    pub national_id: String,
}

fn deliverable(r: &Row) -> Res<Deliverable> {
    Ok(Deliverable {
        entitlement: entitlement_row(r)?,
        name: r.text(13)?,
        national_id: r.text(14)?,
    })
}

/// A cycle's approved entitlements of one channel kind (at most `most`).
pub fn approved_of_kind(
    sql: &mut dyn Sql,
    cycle: i64,
    kind: &str,
    most: i64,
) -> Res<Vec<Deliverable>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {ENTITLEMENT_COLUMNS}, b.name, b.national_id
             FROM cycle_entitlements e
             JOIN beneficiaries b ON b.programme = e.programme AND b.beneficiary = e.beneficiary
             WHERE e.cycle = $1 AND e.state = 'approved' AND e.channel_kind = $2
             ORDER BY e.beneficiary LIMIT $3"
        )
    });
    sql.query(
        "cycle_entitlements",
        query,
        &[cycle.into(), kind.into(), most.into()],
    )?
    .iter()
    .map(deliverable)
    .collect()
}

/// Marks an approved entitlement issued as `reference`.
pub fn mark_issued(
    sql: &mut dyn Sql,
    cycle: i64,
    beneficiary: &str,
    reference: &str,
    valid_until: i64,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE cycle_entitlements SET state = 'issued', reference = $3, valid_until = $4,
             updated_at = $5
         WHERE cycle = $1 AND beneficiary = $2 AND state = 'approved'",
        &[
            cycle.into(),
            beneficiary.into(),
            reference.into(),
            valid_until.into(),
            now.into(),
        ],
    )? == 1)
}

/// Every issued, still redeemable cash entitlement paid at a site (by the
/// chosen channel `cash:<site>`), across cycles and programmes, with who
/// it is for: the site's roster.
pub fn open_at_site(sql: &mut dyn Sql, site: &str, now: i64, most: i64) -> Res<Vec<Deliverable>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {ENTITLEMENT_COLUMNS}, b.name, b.national_id
             FROM cycle_entitlements e
             JOIN beneficiaries b ON b.programme = e.programme AND b.beneficiary = e.beneficiary
             WHERE e.channel_kind = 'cash' AND e.channel = $1 AND e.state = 'issued'
               AND e.valid_until > $2
             ORDER BY e.beneficiary, e.cycle LIMIT $3"
        )
    });
    sql.query(
        "cycle_entitlements",
        query,
        &[format!("cash:{site}").into(), now.into(), most.into()],
    )?
    .iter()
    .map(deliverable)
    .collect()
}

/// Closes the issued entitlement released as `reference` once the
/// redemptions synced for it cover its amount: `redeemed` (a voucher or an
/// ID redemption at a shop) or `paid` (cash at a site).
pub fn close_delivered(
    sql: &mut dyn Sql,
    reference: &str,
    redeemed_minor: i64,
    now: i64,
) -> Res<u64> {
    sql.execute(
        "UPDATE cycle_entitlements
         SET state = CASE WHEN channel_kind = 'cash' THEN 'paid' ELSE 'redeemed' END,
             updated_at = $3
         WHERE reference = $1 AND state = 'issued' AND amount_minor <= $2",
        &[reference.into(), redeemed_minor.into(), now.into()],
    )
}

/// The amounts file of one period of a programme, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AmountFileRow {
    pub programme: String,
    pub period: String,
    pub file_name: String,
    pub sha256: String,
    pub rows: i64,
    pub total_minor: i64,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

pub fn amount_file(sql: &mut dyn Sql, programme: &str, period: &str) -> Res<Option<AmountFileRow>> {
    sql.query_opt(
        "cycle_amount_files",
        "SELECT programme, period, file_name, sha256, rows_read, total_minor, uploaded_by,
                uploaded_at
         FROM cycle_amount_files WHERE programme = $1 AND period = $2",
        &[programme.into(), period.into()],
    )?
    .map(|r| {
        Ok(AmountFileRow {
            programme: r.text(0)?,
            period: r.text(1)?,
            file_name: r.text(2)?,
            sha256: r.text(3)?,
            rows: r.int(4)?,
            total_minor: r.int(5)?,
            uploaded_by: r.text(6)?,
            uploaded_at: r.int(7)?,
        })
    })
    .transpose()
}

/// Records (or replaces) the period's amounts file.
pub fn upsert_amount_file(sql: &mut dyn Sql, f: &AmountFileRow) -> Res<()> {
    sql.execute(
        "INSERT INTO cycle_amount_files (programme, period, file_name, sha256, rows_read,
             total_minor, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (programme, period) DO UPDATE SET file_name = excluded.file_name,
             sha256 = excluded.sha256, rows_read = excluded.rows_read,
             total_minor = excluded.total_minor, uploaded_by = excluded.uploaded_by,
             uploaded_at = excluded.uploaded_at",
        &[
            f.programme.as_str().into(),
            f.period.as_str().into(),
            f.file_name.as_str().into(),
            f.sha256.as_str().into(),
            f.rows.into(),
            f.total_minor.into(),
            f.uploaded_by.as_str().into(),
            f.uploaded_at.into(),
        ],
    )?;
    Ok(())
}

/// Removes every amount of the period (before a new file's are written).
pub fn delete_amounts(sql: &mut dyn Sql, programme: &str, period: &str) -> Res<u64> {
    sql.execute(
        "DELETE FROM cycle_amounts WHERE programme = $1 AND period = $2",
        &[programme.into(), period.into()],
    )
}

/// Writes amounts of the period, `(beneficiary, minor)`, [`CHUNK_ROWS`] to
/// a statement.
pub fn insert_amounts(
    sql: &mut dyn Sql,
    programme: &str,
    period: &str,
    rows: &[(String, i64)],
) -> Res<()> {
    static FULL: OnceLock<String> = OnceLock::new();
    static ONE: OnceLock<String> = OnceLock::new();
    const HEAD: &str =
        "INSERT INTO cycle_amounts (programme, period, beneficiary, amount_minor) VALUES ";
    let full = FULL.get_or_init(|| values_list(HEAD, 4, CHUNK_ROWS));
    let one = ONE.get_or_init(|| values_list(HEAD, 4, 1));
    let mut values = Vec::with_capacity(CHUNK_ROWS * 4);
    let push = |values: &mut Vec<Value>, (beneficiary, minor): &(String, i64)| {
        values.extend([
            programme.into(),
            period.into(),
            beneficiary.as_str().into(),
            (*minor).into(),
        ]);
    };
    let mut chunks = rows.chunks_exact(CHUNK_ROWS);
    for chunk in chunks.by_ref() {
        values.clear();
        for row in chunk {
            push(&mut values, row);
        }
        sql.execute(full, &values)?;
    }
    for row in chunks.remainder() {
        values.clear();
        push(&mut values, row);
        sql.execute(one, &values)?;
    }
    Ok(())
}

/// Creates the entitlements of a draft cycle from the period's amounts
/// file, in one statement: each active beneficiary listed (only heads when
/// the programme pays households) gets the amount listed, by their chosen
/// channel. A beneficiary already entitled in the cycle is left alone.
pub fn generate_entitlements_from_file(
    sql: &mut dyn Sql,
    cycle: i64,
    programme: &str,
    period: &str,
    currency: &str,
    households: bool,
    now: i64,
) -> Res<u64> {
    sql.execute(
        "INSERT INTO cycle_entitlements (cycle, beneficiary, programme, amount_minor, currency,
             members, channel, channel_kind, state, updated_at)
         SELECT $1, b.beneficiary, b.programme, a.amount_minor, $3, coalesce(h.members, 1),
                b.channel, b.channel_kind, 'draft', $6
         FROM cycle_amounts a
         JOIN beneficiaries b ON b.programme = a.programme AND b.beneficiary = a.beneficiary
         LEFT JOIN (SELECT household, count(*) AS members FROM beneficiaries
                    WHERE programme = $2 AND household IS NOT NULL AND active = 1
                    GROUP BY household) h
                ON $4 = 1 AND h.household = b.household
         WHERE a.programme = $2 AND a.period = $5 AND b.active = 1 AND ($4 = 0 OR b.head = 1)
         ON CONFLICT DO NOTHING",
        &[
            cycle.into(),
            programme.into(),
            currency.into(),
            households.into(),
            period.into(),
            now.into(),
        ],
    )
}
