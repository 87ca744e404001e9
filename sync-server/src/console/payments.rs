//! The payment pipeline for people: the overview (totals by state and
//! currency, the batches, the newest events, all live), a batch (its files,
//! its payments; finance prepares, submits and cancels drafts), a payment
//! and its timeline (finance proposes a remedy for one in the exception
//! queue), the exception queue, and the rails (an admin marks one down or
//! up; finance uploads a rail's answer file). Every action calls the same
//! domain functions as the HTTP API (`api/payments.rs`); approvals happen on
//! the approvals page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};

use super::i18n::t;
use super::{Failure, UploadParts, Visit, again, blocking, events, layout, see_other};
use crate::api::AppState;
use crate::payments::answers::{self, AnswerReport};
use crate::payments::batches::{self, BatchView};
use crate::payments::exceptions::{self, Remedy};
use crate::payments::{PaymentError, rails, tracking};
use crate::people::{Language, Permission};
use crate::rails::bank_file::BankFileConfig;
use crate::storage::payments::{
    BatchRow, EventRow, PaymentFilter, PaymentRow, RailFileRow, RailRow, StateTotal,
};
use crate::storage::registry as registry_rows;
use crate::storage::sql::Page;

/// Newest payment events the overview shows.
const EVENTS_SHOWN: i64 = 20;
/// Programmes offered in the overview's filter.
const PROGRAMMES_OFFERED: u32 = 200;
/// Largest answer file the console takes, in bytes (the upload limit of
/// every console form; larger files go through the HTTP API).
const ANSWER_UPLOAD_BYTES_MAX: u64 = super::import::UPLOAD_BYTES_MAX;
/// Longest an answer file may take to arrive, in seconds.
const ANSWER_UPLOAD_SECONDS_MAX: u64 = 15 * 60;

/// A rail's reason code in words, in `lang`; the code itself when it is
/// not one of these.
pub fn reason_words(code: &str, lang: Language) -> String {
    let key = match code {
        "no_answer" => "reason_no_answer",
        "unpaid_in_window" => "reason_unpaid_in_window",
        "reversed" => "reason_reversed",
        "RJCT" => "reason_rjct",
        // The bank's own: ISO 20022's external status reason codes.
        other => {
            return crate::rails::iso20022::reasons::describe(other, lang)
                .map_or_else(|| other.to_owned(), str::to_owned);
        }
    };
    t(lang, key).to_owned()
}

/// A payment's reason: in words, with its code.
fn reason_cell(lang: Language, reason: Option<&str>) -> Markup {
    html! {
        @match reason {
            Some(code) => {
                @let words = reason_words(code, lang);
                (words)
                @if words != code { " " small.mono { "(" (code) ")" } }
            }
            None => "-",
        }
    }
}

/// A payment's or a batch's state in words.
fn state_words(lang: Language, state: &str) -> &str {
    match state {
        "draft" => t(lang, "pay_state_draft"),
        "submitted" => t(lang, "pay_state_submitted"),
        "batched" => t(lang, "pay_state_batched"),
        "approved" => t(lang, "pay_state_approved"),
        "sent" => t(lang, "pay_state_sent"),
        "accepted" => t(lang, "pay_state_accepted"),
        "paid" => t(lang, "pay_state_paid"),
        "failed" => t(lang, "pay_state_failed"),
        "rerouted" => t(lang, "pay_state_rerouted"),
        "cancelled" => t(lang, "pay_state_cancelled"),
        "active" => t(lang, "pay_state_active"),
        "down" => t(lang, "pay_state_down"),
        other => other,
    }
}

fn state_badge(lang: Language, state: &str) -> Markup {
    html! { span class=(format!("status-{state}")) data-state=(state) { (state_words(lang, state)) } }
}

/// What happened to a payment, in words.
fn event_words(lang: Language, kind: &str) -> &str {
    match kind {
        "created" => t(lang, "pay_event_created"),
        "approved" => t(lang, "pay_event_approved"),
        "sent" => t(lang, "pay_event_sent"),
        "accepted" => t(lang, "pay_event_accepted"),
        "paid" => t(lang, "pay_event_paid"),
        "failed" => t(lang, "pay_event_failed"),
        "reversed" => t(lang, "pay_event_reversed"),
        "retried" => t(lang, "pay_event_retried"),
        "rerouted" => t(lang, "pay_event_rerouted"),
        "cancelled" => t(lang, "pay_event_cancelled"),
        "marked_paid" => t(lang, "pay_event_marked_paid"),
        "unanswered" => t(lang, "pay_event_unanswered"),
        "uncollected" => t(lang, "pay_event_uncollected"),
        other => other,
    }
}

/// A remedy in words (its button).
fn remedy_words(lang: Language, remedy: Remedy) -> &'static str {
    match remedy {
        Remedy::Retry => t(lang, "remedy_retry"),
        Remedy::Reroute => t(lang, "remedy_reroute"),
        Remedy::Cancel => t(lang, "remedy_cancel"),
        Remedy::MarkPaid => t(lang, "remedy_mark_paid"),
    }
}

/// A JSON object stored as text (an event's detail, a file's summary) as
/// `name: value` pairs; other text as it is.
fn detail_text(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => json.to_owned(),
    }
}

fn payment_path(key: &str) -> String {
    format!("/console/payments/{}", layout::query_value(key))
}

fn batch_link(batch: Option<i64>) -> Markup {
    html! {
        @match batch {
            Some(id) => a href=(format!("/console/payments/batches/{id}")) { (id) },
            None => "-",
        }
    }
}

/// A page's live parts, by name: rendered once for the page, then again
/// by its stream whenever they change.
type Parts = BTreeMap<&'static str, String>;

/// A hidden marker naming the page's live stream (see `layout::SCRIPT`),
/// which starts from the parts the page shows.
fn live(q: &LiveQuery, parts: &Parts) -> Markup {
    let q = LiveQuery {
        since: serde_json::to_string(parts)
            .ok()
            .map(|data| events::digest(&data)),
        ..q.clone()
    };
    let url = format!(
        "/console/payments/live?{}",
        serde_urlencoded::to_string(&q).unwrap_or_default()
    );
    html! { div hidden data-live=(url) {} }
}

/// A live part, as the stream renders it.
fn part(parts: &Parts, name: &str) -> Markup {
    html! { div data-fragment=(name) { (PreEscaped(parts.get(name).map_or("", String::as_str))) } }
}

fn totals_table(lang: Language, totals: &[StateTotal]) -> Markup {
    html! {
        @if totals.is_empty() {
            p { (t(lang, "pay_no_payments")) }
        } @else {
            div.wide {
                table.money #totals {
                    thead { tr {
                        th scope="col" { (t(lang, "status")) }
                        th scope="col" { (t(lang, "currency")) }
                        th.num scope="col" { (t(lang, "payments")) }
                        th.num scope="col" { (t(lang, "amount")) }
                        th.num scope="col" { (t(lang, "pay_exceptions")) }
                    } }
                    tbody {
                        @for s in totals {
                            tr data-state=(s.state) data-currency=(s.currency) {
                                th scope="row" { (state_badge(lang, &s.state)) }
                                td { (s.currency) }
                                td.num data-field="payments" { (s.payments) }
                                td.num data-field="amount" { (layout::amount(lang, s.amount_minor, &s.currency)) }
                                td.num data-field="exceptions" {
                                    @if s.exceptions > 0 { span.bad { (s.exceptions) } } @else { "0" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn events_table(lang: Language, events: &[EventRow], with_payment: bool) -> Markup {
    html! {
        @if events.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            div.wide {
                table #events {
                    thead { tr {
                        @if with_payment { th scope="col" { (t(lang, "payment")) } }
                        @else { th.num scope="col" { "#" } }
                        th scope="col" { (t(lang, "pay_event")) }
                        th scope="col" { (t(lang, "actor")) }
                        th scope="col" { (t(lang, "at")) }
                        th scope="col" { (t(lang, "detail")) }
                    } }
                    tbody {
                        @for e in events {
                            tr data-kind=(e.kind) {
                                @if with_payment { td { a.mono.keep href=(payment_path(&e.payment)) { (e.payment) } } }
                                @else { td.num { (e.seq) } }
                                td { (event_words(lang, &e.kind)) }
                                td { (e.actor) }
                                td { (layout::time(e.at)) }
                                td { small.mono { (detail_text(&e.detail)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn payments_table(lang: Language, rows: &[PaymentRow], with_batch: bool) -> Markup {
    html! {
        div.wide {
            table.money #payments {
                thead { tr {
                    th scope="col" { (t(lang, "key")) }
                    th scope="col" { (t(lang, "beneficiary")) }
                    th.num scope="col" { (t(lang, "amount")) }
                    th scope="col" { (t(lang, "status")) }
                    th scope="col" { (t(lang, "reason")) }
                    th scope="col" { (t(lang, "pay_rail")) }
                    @if with_batch { th scope="col" { (t(lang, "pay_batch")) } }
                    th scope="col" { (t(lang, "updated")) }
                } }
                tbody {
                    @for p in rows {
                        tr data-payment=(p.payment) {
                            td { a.mono.keep href=(payment_path(&p.payment)) { (p.payment) } }
                            td.mono { (p.beneficiary) }
                            td.num { (layout::amount(lang, p.amount_minor, &p.currency)) }
                            td { (state_badge(lang, &p.state)) }
                            td data-field="reason" { (reason_cell(lang, p.reason.as_deref())) }
                            td { (p.rail) }
                            @if with_batch { td { (batch_link(p.batch)) } }
                            td { (layout::time(p.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn batches_table(lang: Language, rows: &[BatchRow]) -> Markup {
    html! {
        div.wide {
            table.money #batches {
                thead { tr {
                    th.num scope="col" { "#" }
                    th scope="col" { (t(lang, "programme")) }
                    th scope="col" { (t(lang, "cycle")) }
                    th scope="col" { (t(lang, "pay_rail")) }
                    th scope="col" { (t(lang, "status")) }
                    th.num scope="col" { (t(lang, "payments")) }
                    th.num scope="col" { (t(lang, "total")) }
                    th scope="col" { (t(lang, "pay_prepared_by")) }
                } }
                tbody {
                    @for b in rows {
                        tr data-batch=(b.id) {
                            td.num { a href=(format!("/console/payments/batches/{}", b.id)) { (b.id) } }
                            td { (b.programme) }
                            td { a href=(format!("/console/cycles/{}", b.cycle)) { (b.cycle) } }
                            td { (b.rail) }
                            td { (state_badge(lang, &b.state)) }
                            td.num { (b.payments) }
                            td.num { (layout::amount(lang, b.total_minor, &b.currency)) }
                            td { (b.prepared_by) br; small { (layout::time(b.prepared_at)) } }
                        }
                    }
                }
            }
        }
    }
}

/// A page of batches, with links to the pages beside it.
fn batches_list(lang: Language, rows: &[BatchRow], base: &str, page: Page) -> Markup {
    html! {
        @if rows.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            (batches_table(lang, rows))
            (layout::pager(lang, base, page.offset, page.limit, rows.len()))
        }
    }
}

/// The links every payments page starts with.
pub(super) fn section_links(lang: Language, parts: Option<&Parts>) -> Markup {
    html! {
        div.links {
            a href="/console/payments" { (t(lang, "pay_overview")) }
            a #exceptions-link href="/console/payments/exceptions" {
                (t(lang, "pay_exception_queue"))
                @if let Some(parts) = parts {
                    " (" span data-fragment="exceptions-total" { (parts.get("exceptions-total").map_or("", String::as_str)) } ")"
                }
            }
            a href="/console/payments/rails" { (t(lang, "pay_rails")) }
            a href="/console/payments/floats" { (t(lang, "pay_floats")) }
        }
    }
}

/// A filter: blank is none.
fn filled(text: Option<String>) -> Option<String> {
    text.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty())
}

/// A cycle number from a form or a query: blank is none.
fn cycle_number(lang: Language, text: Option<String>) -> Result<Option<i64>, Failure> {
    match filled(text) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| Failure::new(StatusCode::BAD_REQUEST, t(lang, "pay_bad_cycle"))),
    }
}

/// The overview's filters: a programme, a cycle.
struct Filters {
    programme: Option<String>,
    cycle: Option<i64>,
}

impl Filters {
    /// The filters as a query string.
    fn query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &self.programme {
            pairs.push(("programme", p.clone()));
        }
        if let Some(c) = self.cycle {
            pairs.push(("cycle", c.to_string()));
        }
        match serde_urlencoded::to_string(&pairs).unwrap_or_default() {
            q if q.is_empty() => q,
            q => format!("?{q}"),
        }
    }

    /// The overview's path with these filters (where its pager starts).
    fn base(&self) -> String {
        format!("/console/payments{}", self.query())
    }
}

/// `?programme=&cycle=` of the totals (and the overview's live stream).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OverviewQuery {
    programme: Option<String>,
    cycle: Option<String>,
    offset: Option<u64>,
    done: Option<String>,
}

/// What finance fills in to prepare batches.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PrepareForm {
    #[serde(default)]
    cycle: String,
    #[serde(default)]
    rail: String,
}

struct Overview {
    parts: Parts,
    rails: Vec<RailRow>,
    programmes: Vec<String>,
}

async fn render_overview(
    state: AppState,
    visit: Visit,
    q: OverviewQuery,
    form: PrepareForm,
    top: Markup,
    status: StatusCode,
) -> Response {
    let lang = visit.lang();
    let programme = filled(q.programme.clone());
    let cycle = match cycle_number(lang, q.cycle.clone()) {
        Ok(cycle) => cycle,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let live_query = LiveQuery {
        programme: programme.clone(),
        cycle: cycle.map(|c| c.to_string()),
        offset: q.offset.filter(|o| *o > 0),
        ..LiveQuery::default()
    };
    let wanted = live_query.clone();
    let found = blocking(move || {
        let storage = &state.storage;
        Ok(Overview {
            parts: fragments(&state, lang, &wanted)?,
            rails: rails::list(storage)?,
            programmes: storage
                .transaction(|tx| {
                    registry_rows::programmes(tx.sql(), Page::first(PROGRAMMES_OFFERED))
                })?
                .into_iter()
                .map(|p| p.programme)
                .collect(),
        })
    })
    .await;
    let o = match found {
        Ok(o) => o,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let markup = html! {
        (live(&live_query, &o.parts))
        (top)
        (section_links(lang, Some(&o.parts)))
        form.filters method="get" action="/console/payments" role="search" {
            div {
                label for="programme" { (t(lang, "programme")) }
                input #programme name="programme" list="programmes" value=[programme.as_deref()]
                    placeholder=(t(lang, "all")) maxlength="64";
                datalist #programmes { @for p in &o.programmes { option value=(p) {} } }
            }
            div {
                label for="cycle-filter" { (t(lang, "cycle")) }
                input #cycle-filter name="cycle" inputmode="numeric" value=[cycle] placeholder=(t(lang, "all")) maxlength="20";
            }
            button type="submit" { (t(lang, "filter")) }
        }
        h2 { (t(lang, "pay_totals")) }
        (part(&o.parts, "totals"))
        p.hint { (t(lang, "live")) }
        @if visit.caller.may(Permission::PreparePayments) {
            (prepare_form(&visit, &o.rails, &form))
        }
        h2 { (t(lang, "pay_batches")) }
        @if cycle.is_none() && programme.is_some() { p.hint { (t(lang, "pay_batches_by_cycle")) } }
        (part(&o.parts, "batches"))
        h2 { (t(lang, "pay_newest_events")) }
        (part(&o.parts, "events"))
    };
    again(
        status,
        layout::page(&visit, "payments", t(lang, "payments"), markup),
    )
}

fn prepare_form(visit: &Visit, rails: &[RailRow], form: &PrepareForm) -> Markup {
    let lang = visit.lang();
    let usable: Vec<&RailRow> = rails
        .iter()
        .filter(|r| r.kind == "bank_file" && r.state == "active")
        .collect();
    html! {
        form.card #prepare method="post" action="/console/payments/batches" {
            h2 { (t(lang, "pay_prepare")) }
            (layout::csrf_field(visit))
            p.hint { (t(lang, "pay_prepare_hint")) }
            div.grid {
                div { label for="cycle" { (t(lang, "cycle")) }
                    input #cycle name="cycle" required inputmode="numeric" maxlength="20" value=(form.cycle); }
                div { label for="rail" { (t(lang, "pay_rail")) }
                    select #rail name="rail" required {
                        @for r in &usable {
                            option value=(r.rail) selected[form.rail == r.rail] { (r.rail) " (" (r.currency) ")" }
                        }
                    } }
            }
            @if usable.is_empty() {
                p.warn { (t(lang, "pay_no_rail")) }
            } @else {
                div.actions { button type="submit" { (t(lang, "pay_prepare_button")) } }
            }
        }
    }
}

pub async fn overview(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("prepared") => layout::notice(t(lang, "pay_prepared_notice")),
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render_overview(state, visit, q, PrepareForm::default(), top, StatusCode::OK).await
}

pub async fn prepare(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<PrepareForm>,
) -> Response {
    let lang = visit.lang();
    let caller = visit.caller.clone();
    let shared = state.clone();
    let sent = form.clone();
    let made = blocking(move || {
        let cycle = cycle_number(lang, Some(sent.cycle))?
            .ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, t(lang, "pay_bad_cycle")))?;
        let made = batches::prepare(
            &shared.storage,
            &caller,
            cycle,
            sent.rail.trim(),
            shared.now(),
        )?;
        Ok((cycle, made))
    })
    .await;
    match made {
        Ok((_, made)) if made.len() == 1 => see_other(&format!(
            "/console/payments/batches/{}?done=prepared",
            made[0].row.id
        )),
        Ok((cycle, _)) => see_other(&format!("/console/payments?cycle={cycle}&done=prepared")),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_overview(
                state,
                visit,
                OverviewQuery::default(),
                form,
                top,
                failure.status,
            )
            .await
        }
    }
}

/// `?payment=` or `?batch=` or `?programme=&cycle=&offset=` of a live
/// stream, and `since=`, the digest of the parts the page shows.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LiveQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    programme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<String>,
}

/// The live parts of a page, rendered as on the page.
fn fragments(state: &AppState, lang: Language, q: &LiveQuery) -> Result<Parts, PaymentError> {
    let storage = &state.storage;
    let mut parts = Parts::new();
    if let Some(key) = &q.payment {
        let view = tracking::get(storage, key)?;
        parts.insert("facts", payment_facts(lang, &view.row).into_string());
        parts.insert(
            "timeline",
            events_table(lang, &view.timeline, false).into_string(),
        );
    } else if let Some(batch) = q.batch {
        let view = batches::get(storage, batch)?;
        parts.insert("batch", batch_facts(lang, &view).into_string());
        let files = batches::files(storage, batch)?;
        parts.insert("files", files_table(lang, &files).into_string());
        let totals = tracking::totals(storage, None, None, Some(batch))?;
        parts.insert("totals", totals_table(lang, &totals).into_string());
    } else {
        let filters = Filters {
            programme: filled(q.programme.clone()),
            cycle: filled(q.cycle.clone()).and_then(|c| c.parse().ok()),
        };
        let totals = tracking::totals(storage, filters.programme.as_deref(), filters.cycle, None)?;
        let exceptions: i64 = totals.iter().map(|s| s.exceptions).sum();
        parts.insert("totals", totals_table(lang, &totals).into_string());
        parts.insert("exceptions-total", exceptions.to_string());
        let page = Page::new(None, q.offset);
        let shown = batches::list(storage, filters.cycle, page)?;
        parts.insert(
            "batches",
            batches_list(lang, &shown, &filters.base(), page).into_string(),
        );
        let recent = tracking::recent(storage, EVENTS_SHOWN)?;
        parts.insert("events", events_table(lang, &recent, true).into_string());
    }
    Ok(parts)
}

/// The live parts of a payments page, as server-sent events.
pub async fn live_stream(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<LiveQuery>,
) -> Response {
    let lang = visit.lang();
    let since = q.since.clone();
    let read: events::Read = Arc::new(move |state: &AppState| {
        let parts = fragments(state, lang, &q).ok()?;
        serde_json::to_string(&parts).ok()
    });
    events::polled(state, "fragments", read, since)
}

/// A batch's page: the batch, its files, totals and a page of payments.
struct BatchPage {
    batch: BatchView,
    parts: Parts,
    payments: Vec<PaymentRow>,
}

fn files_table(lang: Language, files: &[RailFileRow]) -> Markup {
    if files.is_empty() {
        return html! { p { (t(lang, "pay_no_files")) } };
    }
    html! {
        div.wide {
            table #files {
                thead { tr {
                    th scope="col" { (t(lang, "file")) }
                    th scope="col" { (t(lang, "pay_direction")) }
                    th scope="col" { (t(lang, "pay_format")) }
                    th scope="col" { "SHA-256" }
                    th.num scope="col" { (t(lang, "pay_size")) }
                    th scope="col" { (t(lang, "pay_outcome")) }
                    th scope="col" { (t(lang, "pay_summary")) }
                    th scope="col" { (t(lang, "at")) }
                } }
                tbody {
                    @for f in files {
                        tr data-direction=(f.direction) {
                            td.mono { (f.name) }
                            td { @if f.direction == "out" { (t(lang, "pay_file_out")) } @else { (t(lang, "pay_file_in")) } }
                            td.mono { (f.format) }
                            td.mono data-field="sha256" { small { (f.sha256) } }
                            td.num { (f.bytes) " " (t(lang, "bytes")) }
                            td {
                                @match f.outcome.as_str() {
                                    "sent" => span.ok { (t(lang, "pay_outcome_sent")) },
                                    "applied" => span.ok { (t(lang, "pay_outcome_applied")) },
                                    "refused" => span.bad { (t(lang, "pay_outcome_refused")) },
                                    other => (other),
                                }
                            }
                            td { small { (detail_text(&f.summary)) } }
                            td { (f.actor) br; small { (layout::time(f.at)) } }
                        }
                    }
                }
            }
        }
    }
}

/// A batch's facts: its state, totals and who prepared and approved it.
fn batch_facts(lang: Language, v: &BatchView) -> Markup {
    let b = &v.row;
    html! {
        dl.facts #batch {
            dt { (t(lang, "status")) } dd data-field="state" { (state_badge(lang, &b.state)) }
            dt { (t(lang, "programme")) } dd { a href=(format!("/console/programmes/{}", b.programme)) { (b.programme) } }
            dt { (t(lang, "cycle")) } dd { a href=(format!("/console/cycles/{}", b.cycle)) { (b.cycle) } }
            dt { (t(lang, "pay_rail")) } dd { (b.rail) }
            dt { (t(lang, "payments")) } dd data-field="payments" { (b.payments) }
            dt { (t(lang, "total")) } dd data-field="total" { (layout::amount(lang, b.total_minor, &b.currency)) }
            dt { (t(lang, "pay_reservable")) } dd data-field="reservable" { (layout::amount(lang, v.reservable_minor, &b.currency)) }
            dt { (t(lang, "pay_message_id")) } dd.mono data-field="message_id" { (b.message_id) }
            dt { (t(lang, "pay_prepared_by")) } dd { (b.prepared_by) " · " (layout::time(b.prepared_at)) }
            dt { (t(lang, "approved_by")) } dd data-field="approved_by" {
                @match (&b.approved_by, b.approved_at) {
                    (Some(by), Some(at)) => { (by) " · " (layout::time(at)) }
                    _ => "-",
                }
            }
            dt { (t(lang, "pay_sent_at")) } dd { (b.sent_at.map(layout::time).unwrap_or_else(|| "-".to_owned())) }
        }
    }
}

fn batch_body(visit: &Visit, d: &BatchPage, offset: u64, page: Page, top: Markup) -> Markup {
    let lang = visit.lang();
    let b = &d.batch.row;
    let base = format!("/console/payments/batches/{}", b.id);
    let q = LiveQuery {
        batch: Some(b.id),
        ..LiveQuery::default()
    };
    html! {
        (live(&q, &d.parts))
        (top)
        (section_links(lang, None))
        (part(&d.parts, "batch"))
        @if b.state == "submitted" {
            p.warn { (t(lang, "pay_waiting_approval")) " " a href="/console/proposals?state=pending" { (t(lang, "proposals")) } }
        }
        @if b.state == "draft" && visit.caller.may(Permission::PreparePayments) {
            div.evidence {
                form.card #submit method="post" action=(format!("/console/payments/batches/{}/submit", b.id)) {
                    h2 { (t(lang, "pay_submit")) }
                    (layout::csrf_field(visit))
                    p.hint { (t(lang, "pay_submit_hint")) }
                    label for="reason" { (t(lang, "reason")) }
                    textarea #reason name="reason" required maxlength="600" {}
                    div.actions { button type="submit" { (t(lang, "pay_submit_button")) } }
                }
                form.card #cancel method="post" action=(format!("/console/payments/batches/{}/cancel", b.id)) {
                    h2 { (t(lang, "pay_cancel")) }
                    (layout::csrf_field(visit))
                    p.hint { (t(lang, "pay_cancel_hint")) }
                    div.actions { button.danger type="submit" { (t(lang, "pay_cancel_button")) } }
                }
            }
        }
        h2 { (t(lang, "pay_files")) }
        (part(&d.parts, "files"))
        h2 { (t(lang, "pay_totals")) }
        (part(&d.parts, "totals"))
        h2 { (t(lang, "payments")) }
        @if d.payments.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            (payments_table(lang, &d.payments, false))
            (layout::pager(lang, &base, offset, page.limit, d.payments.len()))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BatchQuery {
    offset: Option<u64>,
    done: Option<String>,
}

async fn render_batch(
    state: AppState,
    visit: Visit,
    batch: i64,
    offset: Option<u64>,
    top: Markup,
    status: StatusCode,
) -> Response {
    let page = Page::new(None, offset);
    let lang = visit.lang();
    let found = blocking(move || {
        let storage = &state.storage;
        let filter = PaymentFilter {
            batch: Some(batch),
            ..PaymentFilter::default()
        };
        let q = LiveQuery {
            batch: Some(batch),
            ..LiveQuery::default()
        };
        Ok(BatchPage {
            batch: batches::get(storage, batch)?,
            parts: fragments(&state, lang, &q)?,
            payments: tracking::list(storage, &filter, page)?,
        })
    })
    .await;
    match found {
        Ok(d) => {
            let title = format!("{} {}", t(lang, "pay_batch"), batch);
            let markup = batch_body(&visit, &d, page.offset, page, top);
            again(status, layout::page(&visit, "payments", &title, markup))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn batch(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(batch): Path<i64>,
    Query(q): Query<BatchQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("prepared") => layout::notice(t(lang, "pay_prepared_notice")),
        Some("submitted") => layout::notice(t(lang, "pay_submitted_notice")),
        Some("cancelled") => layout::notice(t(lang, "pay_cancelled_notice")),
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render_batch(state, visit, batch, q.offset, top, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(batch): Path<i64>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let caller = visit.caller.clone();
    let shared = state.clone();
    let done = blocking(move || {
        batches::submit(&shared.storage, &caller, batch, &form.reason, shared.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other(&format!("/console/payments/batches/{batch}?done=submitted")),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_batch(state, visit, batch, None, top, failure.status).await
        }
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(batch): Path<i64>,
) -> Response {
    let caller = visit.caller.clone();
    let shared = state.clone();
    let done = blocking(move || {
        batches::cancel_draft(&shared.storage, &caller, batch, shared.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other(&format!("/console/payments/batches/{batch}?done=cancelled")),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_batch(state, visit, batch, None, top, failure.status).await
        }
    }
}

fn payment_facts(lang: Language, p: &PaymentRow) -> Markup {
    html! {
        dl.facts #payment {
            dt { (t(lang, "status")) } dd data-field="state" { (state_badge(lang, &p.state)) }
            dt { (t(lang, "pay_in_queue")) } dd data-field="exception" {
                @if p.exception { span.bad { (t(lang, "pay_in_queue_yes")) } } @else { (t(lang, "pay_in_queue_no")) }
            }
            dt { (t(lang, "reason")) } dd data-field="reason" { (reason_cell(lang, p.reason.as_deref())) }
            @if let Some(detail) = &p.detail { dt { (t(lang, "detail")) } dd { (detail) } }
            dt { (t(lang, "amount")) } dd data-field="amount" { (layout::amount(lang, p.amount_minor, &p.currency)) }
            dt { (t(lang, "beneficiary")) } dd.mono { (p.beneficiary) }
            dt { (t(lang, "channel")) } dd.mono { (p.channel) }
            dt { (t(lang, "pay_rail")) } dd { (p.rail) }
            dt { (t(lang, "pay_batch")) } dd { (batch_link(p.batch)) }
            dt { (t(lang, "programme")) } dd { a href=(format!("/console/programmes/{}", p.programme)) { (p.programme) } }
            dt { (t(lang, "cycle")) } dd { a href=(format!("/console/cycles/{}", p.cycle)) { (p.cycle) } }
            dt { (t(lang, "attempts")) } dd { (p.attempts) }
            dt { (t(lang, "created")) } dd { (layout::time(p.created_at)) }
            dt { (t(lang, "updated")) } dd { (layout::time(p.updated_at)) }
        }
    }
}

fn remedy_form(visit: &Visit, p: &PaymentRow, reason: &str) -> Markup {
    let lang = visit.lang();
    html! {
        form.card #remedy method="post" action=(format!("{}/remedy", payment_path(&p.payment))) {
            h2 { (t(lang, "pay_remedy")) }
            (layout::csrf_field(visit))
            p.hint { (t(lang, "pay_remedy_hint")) }
            label for="reason" { (t(lang, "pay_remedy_reason")) }
            textarea #reason name="reason" required maxlength="1000" { (reason) }
            div.actions {
                @for remedy in Remedy::ALL {
                    button.secondary[!matches!(remedy, Remedy::Retry | Remedy::Cancel)].danger[remedy == Remedy::Cancel]
                        type="submit" name="action" value=(remedy.code()) { (remedy_words(lang, remedy)) }
                }
            }
        }
    }
}

async fn render_payment(
    state: AppState,
    visit: Visit,
    key: String,
    reason: String,
    top: Markup,
    status: StatusCode,
) -> Response {
    let lang = visit.lang();
    let q = LiveQuery {
        payment: Some(key),
        ..LiveQuery::default()
    };
    let wanted = q.clone();
    let found = blocking(move || {
        let payment = wanted.payment.as_deref().unwrap_or_default();
        let view = tracking::get(&state.storage, payment)?;
        Ok((view.row, fragments(&state, lang, &wanted)?))
    })
    .await;
    let (p, parts) = match found {
        Ok(found) => found,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let title = format!("{} {}", t(lang, "payment"), p.payment);
    let markup = html! {
        (live(&q, &parts))
        (top)
        (section_links(lang, None))
        (part(&parts, "facts"))
        @if p.exception && visit.caller.may(Permission::HandleExceptions) {
            (remedy_form(&visit, &p, &reason))
        }
        h2 { (t(lang, "pay_timeline")) }
        (part(&parts, "timeline"))
    };
    again(status, layout::page(&visit, "payments", &title, markup))
}

#[derive(Debug, Default, Deserialize)]
pub struct PaymentQuery {
    done: Option<String>,
}

pub async fn payment(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(key): Path<String>,
    Query(q): Query<PaymentQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("proposed") => html! {
            p.notice role="status" {
                (t(lang, "pay_proposed_notice")) " "
                a href="/console/proposals?state=pending" { (t(lang, "proposals")) }
            }
        },
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render_payment(state, visit, key, String::new(), top, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct RemedyForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

pub async fn remedy(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(key): Path<String>,
    Form(form): Form<RemedyForm>,
) -> Response {
    let lang = visit.lang();
    let caller = visit.caller.clone();
    let shared = state.clone();
    let wanted = key.clone();
    let reason = form.reason.clone();
    let done = blocking(move || {
        let remedy = Remedy::parse(&form.action)
            .ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, t(lang, "pay_bad_remedy")))?;
        exceptions::propose(
            &shared.storage,
            &caller,
            &wanted,
            remedy,
            &form.reason,
            shared.now(),
        )?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other(&format!("{}?done=proposed", payment_path(&key))),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_payment(state, visit, key, reason, top, failure.status).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    offset: Option<u64>,
}

pub async fn exception_queue(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<QueueQuery>,
) -> Response {
    let page = Page::new(None, q.offset);
    let found = blocking(move || {
        let filter = PaymentFilter {
            exceptions_only: true,
            ..PaymentFilter::default()
        };
        Ok(tracking::list(&state.storage, &filter, page)?)
    })
    .await;
    let lang = visit.lang();
    let rows = match found {
        Ok(rows) => rows,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let markup = html! {
        (section_links(lang, None))
        p.hint { (t(lang, "pay_queue_hint")) }
        @if rows.is_empty() {
            p #queue-empty { (t(lang, "pay_queue_empty")) }
        } @else {
            (payments_table(lang, &rows, true))
            (layout::pager(lang, "/console/payments/exceptions", page.offset, page.limit, rows.len()))
        }
    };
    again(
        StatusCode::OK,
        layout::page(&visit, "payments", t(lang, "pay_exception_queue"), markup),
    )
}

fn report_card(lang: Language, r: &AnswerReport) -> Markup {
    html! {
        section.card #report {
            h2 { (t(lang, "pay_report")) }
            p.notice role="status" { (t(lang, "pay_report_applied")) }
            dl.facts {
                dt { (t(lang, "file")) } dd.mono { (r.file) }
                dt { (t(lang, "pay_format")) } dd.mono { (r.format) }
                dt { (t(lang, "pay_message_id")) } dd.mono { (r.message_id) }
                dt { (t(lang, "pay_batch")) } dd { (batch_link(r.batch)) }
                dt { "SHA-256" } dd.mono { small { (r.sha256) } }
            }
            div.tiles {
                @for (field, key, n) in [
                    ("accepted", "pay_state_accepted", r.accepted),
                    ("paid", "pay_state_paid", r.paid),
                    ("rejected", "pay_rejected", r.rejected),
                    ("reversed", "pay_reversed", r.reversed),
                    ("unchanged", "pay_unchanged", r.unchanged),
                ] {
                    div.tile { b data-report=(field) { (n) } (t(lang, key)) }
                }
            }
        }
    }
}

fn rail_settings(lang: Language, r: &RailRow) -> Markup {
    html! {
        @match serde_json::from_str::<BankFileConfig>(&r.config) {
            Ok(c) => {
                dl.facts {
                    dt { (t(lang, "pay_format")) } dd.mono { (c.format.code()) }
                    dt { (t(lang, "pay_debtor")) } dd { (c.debtor_name) }
                    dt { (t(lang, "pay_debtor_account")) } dd.mono { (c.debtor_account) }
                    @if let Some(bic) = &c.debtor_bic { dt { "BIC" } dd.mono { (bic) } }
                    dt { (t(lang, "pay_outbox")) } dd.mono { (c.outbox.display()) }
                    dt { (t(lang, "pay_inbox")) } dd.mono { (c.inbox.display()) }
                    dt { (t(lang, "pay_file_max")) } dd { (c.batch_payments_max) }
                    dt { (t(lang, "pay_deadline")) } dd { (c.answer_deadline_hours) " h" }
                }
            }
            Err(_) => { p.error { (t(lang, "pay_bad_settings")) } }
        }
    }
}

fn rails_body(visit: &Visit, rails: &[RailRow], top: Markup) -> Markup {
    let lang = visit.lang();
    html! {
        (top)
        (section_links(lang, None))
        p.hint { (t(lang, "pay_rails_hint")) }
        @if rails.is_empty() {
            p { (t(lang, "pay_no_rails")) }
        }
        @for r in rails {
            section.card data-rail=(r.rail) {
                h2 { (r.rail) " " (state_badge(lang, &r.state)) }
                p { (r.kind) " · " (r.currency) " · " (t(lang, "created")) " " (layout::time(r.created_at)) " " (r.created_by) }
                (rail_settings(lang, r))
                @if visit.caller.may(Permission::ManageRails) {
                    form.inline method="post" action=(format!("/console/payments/rails/{}/state", r.rail)) {
                        (layout::csrf_field(visit))
                        div.actions {
                            @if r.state == "active" {
                                input type="hidden" name="down" value="1";
                                button.danger type="submit" { (t(lang, "pay_mark_down")) }
                            } @else {
                                input type="hidden" name="down" value="0";
                                button type="submit" { (t(lang, "pay_mark_up")) }
                            }
                        }
                    }
                }
                @if r.kind == "bank_file" && visit.caller.may(Permission::HandleExceptions) {
                    form.answer method="post" action=(format!("/console/payments/rails/{}/answers", r.rail)) enctype="multipart/form-data" {
                        // First: the server checks it before reading the file.
                        (layout::csrf_field(visit))
                        h3 { (t(lang, "pay_upload_answer")) }
                        label for=(format!("file-{}", r.rail)) { (t(lang, "pay_answer_file")) }
                        input id=(format!("file-{}", r.rail)) type="file" name="file" accept=".xml,application/xml,text/xml" required
                            aria-describedby=(format!("file-hint-{}", r.rail));
                        p.hint id=(format!("file-hint-{}", r.rail)) {
                            (t(lang, "pay_answer_hint").replace("{mb}", &(ANSWER_UPLOAD_BYTES_MAX / 1024 / 1024).to_string()))
                        }
                        div.actions { button type="submit" { (t(lang, "pay_upload_button")) } }
                    }
                }
            }
        }
    }
}

async fn render_rails(state: AppState, visit: Visit, top: Markup, status: StatusCode) -> Response {
    let found = blocking(move || Ok(rails::list(&state.storage)?)).await;
    let lang = visit.lang();
    match found {
        Ok(rails) => {
            let markup = rails_body(&visit, &rails, top);
            again(
                status,
                layout::page(&visit, "payments", t(lang, "pay_rails"), markup),
            )
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RailsQuery {
    done: Option<String>,
}

pub async fn rails_page(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<RailsQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("down") => layout::notice(t(lang, "pay_rail_down_notice")),
        Some("active") => layout::notice(t(lang, "pay_rail_up_notice")),
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render_rails(state, visit, top, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct RailStateForm {
    down: String,
}

pub async fn rail_state(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(rail): Path<String>,
    Form(form): Form<RailStateForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let down = form.down == "1";
    let done = blocking(move || {
        Ok(rails::set_down(
            &shared.storage,
            &actor,
            &rail,
            down,
            shared.now(),
        )?)
    })
    .await;
    match done {
        Ok(row) => see_other(&format!("/console/payments/rails?done={}", row.state)),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_rails(state, visit, top, failure.status).await
        }
    }
}

/// Reads the form's `file` part into memory (the domain reads a file
/// whole); its name and bytes, if one with any bytes was sent.
async fn receive(
    parts: &mut multer::Multipart<'static>,
) -> Result<Option<(String, Vec<u8>)>, Failure> {
    let too_large = || {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a file uploaded here is at most {} MB; use the HTTP API for larger ones",
                ANSWER_UPLOAD_BYTES_MAX / 1024 / 1024
            ),
        )
    };
    let unreadable = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large()
        }
        other => Failure::new(StatusCode::BAD_REQUEST, other),
    };
    let mut found = None;
    while let Some(mut field) = parts.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("answer.xml").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            if (bytes.len() + chunk.len()) as u64 > ANSWER_UPLOAD_BYTES_MAX {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        found = Some((name, bytes));
    }
    Ok(found.filter(|(_, bytes)| !bytes.is_empty()))
}

pub async fn upload_answer(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Extension(upload): Extension<UploadParts>,
    Path(rail): Path<String>,
) -> Response {
    let lang = visit.lang();
    let received = match upload.take() {
        Some(mut parts) => tokio::time::timeout(
            Duration::from_secs(ANSWER_UPLOAD_SECONDS_MAX),
            receive(&mut parts),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Failure::new(
                StatusCode::REQUEST_TIMEOUT,
                "the file did not arrive in time",
            ))
        }),
        None => Err(Failure::new(StatusCode::BAD_REQUEST, t(lang, "no_file"))),
    };
    let actor = visit.caller.actor();
    let shared = state.clone();
    let applied = match received {
        Ok(Some((name, bytes))) => {
            blocking(move || {
                Ok(answers::import(
                    &shared.storage,
                    &actor,
                    &rail,
                    &name,
                    &bytes,
                    shared.now(),
                )?)
            })
            .await
        }
        Ok(None) => Err(Failure::new(StatusCode::BAD_REQUEST, t(lang, "no_file"))),
        Err(failure) => Err(failure),
    };
    match applied {
        Ok(report) => render_rails(state, visit, report_card(lang, &report), StatusCode::OK).await,
        Err(failure) => {
            let top = html! {
                section.card #refused {
                    h2 { (t(lang, "pay_answer_refused")) }
                    (layout::error(&failure.message))
                    p.hint { (t(lang, "pay_answer_refused_hint")) }
                }
            };
            render_rails(state, visit, top, failure.status).await
        }
    }
}
