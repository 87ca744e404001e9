//! The ledger: the trial balance (per currency totals, then the accounts
//! by kind, filtered by programme, with the whole ledger's verification on
//! demand), one account's history, a programme's statement with recording a
//! funding (finance), and the trial balance and a history as CSV files.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, again, blocking, layout, see_other};
use crate::api::AppState;
use crate::api::ledger::{csv_file, history_file, trial_balance_file};
use crate::ledger::account::{Account, AccountId, AccountKind};
use crate::ledger::export;
use crate::ledger::funding::{self, FundingRequest};
use crate::ledger::report::{self, Line, Standing, Statement, Totals};
use crate::ledger::transfer::{Phase, Transfer, TransferCode};
use crate::ledger::verify::{self, Report};
use crate::people::{Language, Permission};
use crate::registry::RegistryError;
use crate::registry::programmes::{self, Programme};
use crate::storage::registry::{self as table, CycleRow};
use crate::storage::sql::Page;

/// Transfers one page of an account's history shows.
const HISTORY_SHOWN: u32 = 50;
/// Programmes offered in the trial balance's filter.
const PROGRAMMES_OFFERED: u32 = 200;
/// Cycles whose pages a statement links to.
const CYCLES_LINKED: u32 = 200;

/// An account kind in words.
fn kind_words(lang: Language, kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Funding => t(lang, "ledger_kind_funding"),
        AccountKind::Budget => t(lang, "ledger_kind_budget"),
        AccountKind::Obligations => t(lang, "ledger_kind_obligations"),
        AccountKind::Delivered => t(lang, "ledger_kind_delivered"),
        AccountKind::MerchantPayable => t(lang, "ledger_kind_merchant"),
        AccountKind::RailClearing => t(lang, "ledger_kind_rail"),
        AccountKind::CashVault => t(lang, "ledger_kind_vault"),
        AccountKind::AgentFloat => t(lang, "ledger_kind_float"),
        AccountKind::CashHandedOut => t(lang, "ledger_kind_handed"),
        AccountKind::CashVariance => t(lang, "ledger_kind_variance"),
        AccountKind::Exchange => t(lang, "ledger_kind_exchange"),
    }
}

/// A transfer code in words.
fn code_words(lang: Language, code: TransferCode) -> &'static str {
    match code {
        TransferCode::Fund => t(lang, "ledger_code_fund"),
        TransferCode::Commit => t(lang, "ledger_code_commit"),
        TransferCode::Release => t(lang, "ledger_code_release"),
        TransferCode::Redeem => t(lang, "ledger_code_redeem"),
        TransferCode::CashOut => t(lang, "ledger_code_cash_out"),
        TransferCode::FloatIssue => t(lang, "ledger_code_float_issue"),
        TransferCode::FloatReturn => t(lang, "ledger_code_float_return"),
        TransferCode::FloatVariance => t(lang, "ledger_code_float_variance"),
        TransferCode::Send => t(lang, "ledger_code_send"),
        TransferCode::Settle => t(lang, "ledger_code_settle"),
        TransferCode::Exchange => t(lang, "ledger_code_exchange"),
        TransferCode::Adjust => t(lang, "ledger_code_adjust"),
    }
}

/// Where a transfer stands in the two-phase protocol, in words.
fn phase_words(lang: Language, t_: &Transfer) -> Markup {
    use crate::ledger::transfer::PendingState::*;
    html! {
        @match &t_.phase {
            Phase::Single => { (t(lang, "ledger_phase_single")) }
            Phase::Pending { .. } => {
                (t(lang, "ledger_phase_pending")) ", "
                @match t_.state {
                    Some(Posted) => span.ok { (t(lang, "ledger_state_posted")) },
                    Some(Voided) => span.bad { (t(lang, "ledger_state_voided")) },
                    Some(Expired) => span.bad { (t(lang, "ledger_state_expired")) },
                    Some(Pending) | None => span.status-pending { (t(lang, "ledger_state_pending")) },
                }
            }
            Phase::Post { pending } => { (t(lang, "ledger_phase_post")) " " code { (pending) } }
            Phase::Void { pending } => { (t(lang, "ledger_phase_void")) " " code { (pending) } }
        }
    }
}

/// The console path of an account's page.
fn account_path(account: &AccountId) -> String {
    format!(
        "/console/ledger/accounts/{}",
        layout::query_value(account.as_str())
    )
}

/// A link to an account's page, breaking a long id only after a slash.
fn account_link(account: &AccountId) -> Markup {
    html! {
        a.mono.keep href=(account_path(account)) {
            @for (i, part) in account.as_str().split('/').enumerate() {
                @if i > 0 { "/" wbr; }
                (part)
            }
        }
    }
}

/// What caused a transfer, linked to its page where the console has one.
fn cause(kind: &str, id: &str) -> Markup {
    let page = match kind {
        "cycle" => Some(format!("/console/cycles/{id}")),
        "programme" => Some(format!("/console/programmes/{id}")),
        _ => None,
    };
    html! {
        (kind) " "
        @if let Some(page) = page { a.mono href=(page) { (id) } } @else { span.mono { (id) } }
    }
}

/// A programme filter: blank means every account.
fn programme_filter(programme: Option<String>) -> Option<String> {
    programme
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
}

#[derive(Debug, Default, Deserialize)]
pub struct BalanceQuery {
    programme: Option<String>,
    offset: Option<u64>,
    /// Present: run the whole-ledger verification and show its report.
    verify: Option<String>,
}

struct Balance {
    totals: Vec<Totals>,
    lines: Vec<Line>,
    programmes: Vec<String>,
    report: Option<Report>,
}

fn totals_table(lang: Language, totals: &[Totals], whole: bool) -> Markup {
    html! {
        div.wide {
            table.money #totals {
                thead { tr {
                    th scope="col" { (t(lang, "currency")) }
                    th.num scope="col" { (t(lang, "ledger_accounts")) }
                    th.num scope="col" { (t(lang, "ledger_debits_posted")) }
                    th.num scope="col" { (t(lang, "ledger_credits_posted")) }
                    th.num scope="col" { (t(lang, "ledger_debits_pending")) }
                    th.num scope="col" { (t(lang, "ledger_credits_pending")) }
                    @if whole { th scope="col" { (t(lang, "ledger_balanced")) } }
                } }
                tbody {
                    @for c in totals {
                        tr data-currency=(c.currency) {
                            th scope="row" { (c.currency) }
                            td.num { (c.accounts) }
                            td.num { (layout::amount(lang, c.debits_posted, &c.currency)) }
                            td.num { (layout::amount(lang, c.credits_posted, &c.currency)) }
                            td.num { (layout::amount(lang, c.debits_pending, &c.currency)) }
                            td.num { (layout::amount(lang, c.credits_pending, &c.currency)) }
                            @if whole {
                                td {
                                    @if c.balanced() { span.ok { (t(lang, "ledger_debits_equal_credits")) } }
                                    @else { span.bad { (t(lang, "ledger_debits_differ")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn lines_table(lang: Language, lines: &[Line]) -> Markup {
    let mut groups: Vec<(AccountKind, Vec<&Line>)> = Vec::new();
    for line in lines {
        match groups.last_mut() {
            Some((kind, group)) if *kind == line.kind => group.push(line),
            _ => groups.push((line.kind, vec![line])),
        }
    }
    html! {
        div.wide {
            table.money #accounts {
                thead { tr {
                    th scope="col" { (t(lang, "ledger_account")) }
                    th scope="col" { (t(lang, "programme")) }
                    th.num scope="col" { (t(lang, "ledger_debits_posted")) }
                    th.num scope="col" { (t(lang, "ledger_credits_posted")) }
                    th.num scope="col" { (t(lang, "ledger_debits_pending")) }
                    th.num scope="col" { (t(lang, "ledger_credits_pending")) }
                    th.num scope="col" { (t(lang, "ledger_balance")) }
                } }
                @for (kind, group) in &groups {
                    tbody data-kind=(kind.as_str()) {
                        tr.group { th colspan="7" scope="colgroup" { (kind_words(lang, *kind)) } }
                        @for l in group {
                            tr {
                                td { (account_link(&l.account)) }
                                td { (l.programme.as_deref().unwrap_or("-")) }
                                td.num { (layout::amount(lang, l.debits_posted, &l.currency)) }
                                td.num { (layout::amount(lang, l.credits_posted, &l.currency)) }
                                td.num { (layout::amount(lang, l.debits_pending, &l.currency)) }
                                td.num { (layout::amount(lang, l.credits_pending, &l.currency)) }
                                td.num data-balance=(l.account) { (layout::amount(lang, l.balance, &l.currency)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn verification(lang: Language, report: &Report) -> Markup {
    let counts = t(lang, "ledger_verified_counts")
        .replace("{accounts}", &report.accounts.to_string())
        .replace("{transfers}", &report.transfers.to_string());
    html! {
        section #verification.card {
            h2 { (t(lang, "ledger_verification")) }
            @if report.holds() {
                p.notice role="status" { (t(lang, "ledger_holds")) " " (counts) }
            } @else {
                p.error role="alert" {
                    (t(lang, "ledger_problems").replace("{count}", &report.problem_count.to_string()))
                    " " (counts)
                }
                ol #problems {
                    @for p in &report.problems { li.mono { (p) } }
                }
                @if report.problem_count > report.problems.len() as u64 {
                    p.hint { (t(lang, "ledger_problems_more")) }
                }
            }
        }
    }
}

pub async fn trial_balance(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<BalanceQuery>,
) -> Response {
    let programme = programme_filter(q.programme);
    let page = Page::new(None, q.offset);
    let wanted = programme.clone();
    let verify_now = q.verify.is_some();
    let found = blocking(move || {
        Ok(state.storage.transaction(|tx| {
            let sql = tx.sql();
            Ok::<_, crate::storage::StorageError>(Balance {
                totals: report::totals(sql, wanted.as_deref())?,
                lines: report::lines(sql, wanted.as_deref(), page)?,
                programmes: table::programmes(sql, Page::first(PROGRAMMES_OFFERED))?
                    .into_iter()
                    .map(|p| p.programme)
                    .collect(),
                report: if verify_now {
                    Some(verify::verify(sql)?)
                } else {
                    None
                },
            })
        })?)
    })
    .await;
    let lang = visit.lang();
    let b = match found {
        Ok(b) => b,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let (base, csv) = match &programme {
        Some(p) => (
            format!("/console/ledger?programme={}", layout::query_value(p)),
            format!(
                "/console/ledger/trial-balance.csv?programme={}",
                layout::query_value(p)
            ),
        ),
        None => (
            "/console/ledger".to_owned(),
            "/console/ledger/trial-balance.csv".to_owned(),
        ),
    };
    let title = match &programme {
        Some(p) => format!("{} · {p}", t(lang, "ledger_trial_balance")),
        None => t(lang, "ledger_trial_balance").to_owned(),
    };
    let markup = html! {
        @if let Some(report) = &b.report { (verification(lang, report)) }
        form.filters method="get" action="/console/ledger" role="search" {
            div {
                label for="programme" { (t(lang, "programme")) }
                input #programme name="programme" list="programmes" value=[programme.as_deref()]
                    placeholder=(t(lang, "all")) maxlength="64";
                datalist #programmes { @for p in &b.programmes { option value=(p) {} } }
            }
            button type="submit" { (t(lang, "filter")) }
            button.secondary type="submit" name="verify" value="1" { (t(lang, "ledger_verify")) }
        }
        div.links {
            a #trial-balance-csv href=(csv) download { (t(lang, "ledger_download_csv")) }
            @if let Some(p) = &programme {
                a href=(format!("/console/programmes/{p}/statement")) { (t(lang, "ledger_statement")) }
                a href="/console/ledger" { (t(lang, "ledger_all_accounts")) }
            }
        }
        h2 { (t(lang, "ledger_totals")) }
        @if b.totals.is_empty() {
            p { (t(lang, "ledger_empty")) }
        } @else {
            (totals_table(lang, &b.totals, programme.is_none()))
            @if programme.is_some() { p.hint { (t(lang, "ledger_programme_totals_hint")) } }
        }
        h2 { (t(lang, "ledger_accounts")) }
        @if b.lines.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            p.hint { (t(lang, "ledger_balance_hint")) }
            (lines_table(lang, &b.lines))
            (layout::pager(lang, &base, page.offset, page.limit, b.lines.len()))
        }
    };
    again(
        StatusCode::OK,
        layout::page(&visit, "ledger", &title, markup),
    )
}

pub async fn trial_balance_csv(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<BalanceQuery>,
) -> Response {
    let programme = programme_filter(q.programme);
    let name = trial_balance_file(programme.as_deref());
    let offset = q.offset.unwrap_or(0);
    let made = blocking(move || {
        Ok(state
            .storage
            .transaction(|tx| export::trial_balance(tx.sql(), programme.as_deref(), offset))?)
    })
    .await;
    match made {
        Ok(export) => csv_file(&name, export, "offset"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

fn parse_account(text: &str) -> Result<AccountId, Failure> {
    AccountId::parse(text).map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e))
}

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    before: Option<u64>,
}

pub async fn account(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(account): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let lang = visit.lang();
    let found = blocking(move || {
        let id = parse_account(&account)?;
        let (found, history) = state.storage.transaction(|tx| {
            let found = crate::storage::ledger::accounts_by_id(tx.sql(), &[id.as_str()], false)?;
            let history = report::history(tx.sql(), &id, q.before, HISTORY_SHOWN)?;
            Ok::<_, crate::storage::StorageError>((found, history))
        })?;
        match found.into_iter().next() {
            Some(found) => Ok((found, history)),
            None => Err(Failure::new(
                StatusCode::NOT_FOUND,
                t(lang, "ledger_no_account"),
            )),
        }
    })
    .await;
    let (found, history) = match found {
        Ok(found) => found,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let title = format!("{} {}", t(lang, "ledger_account"), found.id);
    let markup = account_body(lang, &found, &history, q.before);
    again(
        StatusCode::OK,
        layout::page(&visit, "ledger", &title, markup),
    )
}

fn account_body(lang: Language, a: &Account, history: &[Transfer], before: Option<u64>) -> Markup {
    let cur = a.currency.code();
    let b = a.balances;
    let path = account_path(&a.id);
    let csv = match before {
        Some(before) => format!("{path}/transfers.csv?before={before}"),
        None => format!("{path}/transfers.csv"),
    };
    // A full page may have older transfers behind it.
    let older = history
        .last()
        .filter(|_| history.len() == HISTORY_SHOWN as usize);
    html! {
        div.links {
            a href="/console/ledger" { (t(lang, "ledger_trial_balance")) }
            @if let Some(p) = &a.programme {
                a href=(format!("/console/programmes/{p}/statement")) { (t(lang, "ledger_statement")) " " (p) }
            }
            a #history-csv href=(csv) download { (t(lang, "ledger_download_csv")) }
        }
        dl.facts {
            dt { (t(lang, "ledger_kind")) } dd { (kind_words(lang, a.kind)) }
            dt { (t(lang, "currency")) } dd { (cur) }
            dt { (t(lang, "programme")) } dd { (a.programme.as_deref().unwrap_or("-")) }
            dt { (t(lang, "ledger_debits_posted")) } dd { (layout::amount(lang, b.debits_posted, cur)) }
            dt { (t(lang, "ledger_credits_posted")) } dd { (layout::amount(lang, b.credits_posted, cur)) }
            dt { (t(lang, "ledger_debits_pending")) } dd { (layout::amount(lang, b.debits_pending, cur)) }
            dt { (t(lang, "ledger_credits_pending")) } dd { (layout::amount(lang, b.credits_pending, cur)) }
            dt { (t(lang, "ledger_balance")) } dd #balance { (layout::amount(lang, a.credit_balance().minor, cur)) }
            @if a.flags.debits_must_not_exceed_credits {
                dt { (t(lang, "ledger_rule")) } dd { (t(lang, "ledger_rule_no_overdraft")) }
            }
        }
        h2 { (t(lang, "ledger_history")) }
        @if history.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            div.wide {
                table.money #history {
                    thead { tr {
                        th.num scope="col" { "#" }
                        th scope="col" { (t(lang, "ledger_transfer")) }
                        th scope="col" { (t(lang, "ledger_counter_account")) }
                        th.num scope="col" { (t(lang, "ledger_debit")) }
                        th.num scope="col" { (t(lang, "ledger_credit")) }
                        th scope="col" { (t(lang, "ledger_phase")) }
                        th scope="col" { (t(lang, "ledger_cause")) }
                        th scope="col" { (t(lang, "actor")) }
                        th scope="col" { (t(lang, "at")) }
                    } }
                    tbody {
                        @for tr_ in history {
                            @let debit = tr_.debit == a.id;
                            @let amount = layout::amount(lang, tr_.amount, tr_.currency.code());
                            tr data-seq=(tr_.seq) {
                                td.num { (tr_.seq) }
                                td { (code_words(lang, tr_.code)) br; small.mono { (tr_.id) } }
                                td { (account_link(if debit { &tr_.credit } else { &tr_.debit })) }
                                td.num { @if debit { (amount) } }
                                td.num { @if !debit { (amount) } }
                                td { (phase_words(lang, tr_)) }
                                td {
                                    @if let (Some(kind), Some(id)) = (&tr_.cause_kind, &tr_.cause_id) {
                                        (cause(kind, id))
                                    } @else { "-" }
                                }
                                td { (tr_.actor.as_deref().unwrap_or("-")) }
                                td { (layout::time(tr_.at)) }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="pages" {
                @if before.is_some() {
                    a href=(path) { "← " (t(lang, "ledger_newest")) }
                }
                @if let Some(last) = older {
                    a href=(format!("{path}?before={}", last.seq)) { (t(lang, "older")) " →" }
                }
            }
        }
    }
}

pub async fn account_csv(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(account): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let made = blocking(move || {
        let id = parse_account(&account)?;
        let name = history_file(&id);
        let export = state
            .storage
            .transaction(|tx| export::history(tx.sql(), &id, q.before))?;
        Ok((name, export))
    })
    .await;
    match made {
        Ok((name, export)) => csv_file(&name, export, "before"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

/// A programme's statement and the cycles its periods link to.
struct Loaded {
    programme: Programme,
    statement: Statement,
    cycles: Vec<CycleRow>,
}

fn standing_cells(lang: Language, s: &Standing, with_funding: bool) -> Markup {
    let m = |minor| layout::amount(lang, minor, &s.currency);
    html! {
        @if with_funding {
            td.num data-field="funded" { (m(s.funded)) }
            td.num data-field="converted_in" { (m(s.converted_in)) }
            td.num data-field="converted_out" { (m(s.converted_out)) }
        }
        td.num data-field="committed" { (m(s.committed)) }
        td.num data-field="delivered" { (m(s.delivered)) }
        td.num data-field="in_flight" { (m(s.in_flight)) }
        td.num data-field="outstanding" { (m(s.outstanding)) }
        @if with_funding {
            td.num data-field="available" {
                @if s.available < 0 { span.bad { (m(s.available)) } } @else { (m(s.available)) }
            }
        }
    }
}

fn standing_heads(lang: Language, with_funding: bool) -> Markup {
    html! {
        @if with_funding {
            th.num scope="col" { (t(lang, "ledger_funded")) }
            th.num scope="col" { (t(lang, "ledger_converted_in")) }
            th.num scope="col" { (t(lang, "ledger_converted_out")) }
        }
        th.num scope="col" { (t(lang, "ledger_committed")) }
        th.num scope="col" { (t(lang, "ledger_delivered")) }
        th.num scope="col" { (t(lang, "ledger_in_flight")) }
        th.num scope="col" { (t(lang, "ledger_outstanding")) }
        @if with_funding { th.num scope="col" { (t(lang, "ledger_available")) } }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FundingForm {
    #[serde(default)]
    source: String,
    #[serde(default)]
    amount: String,
    /// Blank: the programme's own currency.
    #[serde(default)]
    currency: String,
    #[serde(default)]
    reference: String,
}

fn statement_body(visit: &Visit, d: &Loaded, form: &FundingForm, top: Markup) -> Markup {
    let lang = visit.lang();
    let p = &d.programme.row;
    let cycle_of = |period: &str| d.cycles.iter().find(|c| c.period == period).map(|c| c.id);
    html! {
        (top)
        div.links {
            a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "programme")) " " (p.programme) }
            a href=(format!("/console/ledger?programme={}", layout::query_value(&p.programme))) { (t(lang, "ledger_its_accounts")) }
        }
        p.hint { (t(lang, "ledger_statement_hint")) }
        h2 { (t(lang, "ledger_per_currency")) }
        @if d.statement.currencies.is_empty() {
            p { (t(lang, "ledger_nothing_yet")) }
        } @else {
            div.wide {
                table.money #statement {
                    thead { tr { th scope="col" { (t(lang, "currency")) } (standing_heads(lang, true)) } }
                    tbody {
                        @for s in &d.statement.currencies {
                            tr data-currency=(s.currency) { th scope="row" { (s.currency) } (standing_cells(lang, s, true)) }
                        }
                    }
                }
            }
        }
        h2 { (t(lang, "ledger_per_cycle")) }
        @if d.statement.cycles.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            div.wide {
                table.money #cycle-statement {
                    thead { tr {
                        th scope="col" { (t(lang, "period")) }
                        th scope="col" { (t(lang, "currency")) }
                        (standing_heads(lang, false))
                    } }
                    tbody {
                        @for (period, standings) in &d.statement.cycles {
                            @for s in standings {
                                tr data-period=(period) {
                                    th scope="row" {
                                        @if period == "direct" { (t(lang, "ledger_direct")) }
                                        @else if let Some(id) = cycle_of(period) { a href=(format!("/console/cycles/{id}")) { (period) } }
                                        @else { (period) }
                                    }
                                    td { (s.currency) }
                                    (standing_cells(lang, s, false))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if visit.caller.may(Permission::RecordFunding) {
            form.card #funding method="post" action=(format!("/console/programmes/{}/funding", p.programme)) {
                h2 { (t(lang, "ledger_record_funding")) }
                (layout::csrf_field(visit))
                div.grid {
                    div { label for="source" { (t(lang, "ledger_source")) }
                        input #source name="source" required maxlength="64" value=(form.source) placeholder="treasury" aria-describedby="source-hint";
                        p.hint #source-hint { (t(lang, "ledger_source_hint")) } }
                    div { label for="amount" { (t(lang, "amount")) }
                        input #amount name="amount" required inputmode="decimal" value=(form.amount) placeholder="250000.00"; }
                    div { label for="currency" { (t(lang, "currency")) }
                        input #currency name="currency" required maxlength="3" autocapitalize="characters"
                            value=(if form.currency.is_empty() { p.currency.as_str() } else { form.currency.as_str() })
                            aria-describedby="currency-hint";
                        p.hint #currency-hint { (t(lang, "ledger_currency_hint")) } }
                    div { label for="reference" { (t(lang, "ledger_reference")) }
                        input #reference name="reference" required maxlength="64" value=(form.reference) aria-describedby="reference-hint";
                        p.hint #reference-hint { (t(lang, "ledger_reference_hint")) } }
                }
                div.actions { button type="submit" { (t(lang, "ledger_record")) } }
            }
        }
    }
}

async fn render_statement(
    state: AppState,
    visit: Visit,
    programme: String,
    form: FundingForm,
    top: Markup,
    status: StatusCode,
) -> Response {
    let found = blocking(move || {
        Ok(state.storage.transaction(|tx| {
            let found = programmes::get_in(tx, &programme)?;
            let statement = report::statement(tx.sql(), &programme)?;
            let cycles = table::cycles(tx.sql(), &programme, Page::first(CYCLES_LINKED))?;
            Ok::<_, RegistryError>(Loaded {
                programme: found,
                statement,
                cycles,
            })
        })?)
    })
    .await;
    let lang = visit.lang();
    match found {
        Ok(d) => {
            let title = format!("{} · {}", t(lang, "ledger_statement"), d.programme.row.name);
            let markup = statement_body(&visit, &d, &form, top);
            again(status, layout::page(&visit, "ledger", &title, markup))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StatementQuery {
    done: Option<String>,
}

pub async fn statement(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
    Query(q): Query<StatementQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("funded") => layout::notice(t(lang, "ledger_funded_notice")),
        Some("known") => layout::notice(t(lang, "ledger_known_notice")),
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render_statement(
        state,
        visit,
        programme,
        FundingForm::default(),
        top,
        StatusCode::OK,
    )
    .await
}

pub async fn fund(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
    Form(form): Form<FundingForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let id = programme.clone();
    let request = FundingRequest {
        source: form.source.trim().to_owned(),
        amount: form.amount.trim().to_owned(),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        reference: form.reference.trim().to_owned(),
    };
    let done = blocking(move || {
        Ok(funding::record(
            &shared.storage,
            &actor,
            &id,
            &request,
            shared.now(),
        )?)
    })
    .await;
    match done {
        Ok(funded) => see_other(&format!(
            "/console/programmes/{programme}/statement?done={}",
            if funded.new { "funded" } else { "known" }
        )),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_statement(state, visit, programme, form, top, failure.status).await
        }
    }
}
