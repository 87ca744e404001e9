//! One cycle of a programme: its rule, totals against the budget, the
//! breakdown per state and channel, its entitlements (for those who may see
//! beneficiaries) with exclusions while it is a draft, and its submission
//! for approval (a `cycle.approve` proposal another person decides).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::programmes::{channel_word, state_word};
use super::{Failure, Visit, again, blocking, layout, see_other};
use crate::api::AppState;
use crate::people::{Language, Permission};
use crate::proposals;
use crate::registry::programmes::{self, Programme};
use crate::registry::{cycles, release};
use crate::storage::registry::{CycleEntitlementRow, CycleRow};
use crate::storage::sql::Page;

/// Entitlement states a person can filter by.
const STATES: [&str; 7] = [
    "draft",
    "excluded",
    "approved",
    "cancelled",
    "issued",
    "redeemed",
    "paid",
];

/// A cycle's stored rule (`flat:<minor>`, `per_member:<minor>:cap:<minor>`,
/// `file:<sha256>`) in words.
pub fn rule_words(lang: Language, rule: &str, currency: &str) -> String {
    let money = |minor: &str| {
        minor
            .parse::<i64>()
            .map(|m| layout::amount(lang, m, currency))
            .unwrap_or_else(|_| minor.to_owned())
    };
    let parts: Vec<&str> = rule.split(':').collect();
    match parts.as_slice() {
        ["flat", amount] => t(lang, "rule_flat_words").replace("{amount}", &money(amount)),
        ["per_member", amount, "cap", cap] => t(lang, "rule_per_member_words")
            .replace("{amount}", &money(amount))
            .replace("{cap}", &money(cap)),
        ["file", sha256] => {
            t(lang, "rule_file_words").replace("{file}", sha256.get(..12).unwrap_or(*sha256))
        }
        _ => rule.to_owned(),
    }
}

fn cycle_id(text: &str) -> Result<i64, Failure> {
    text.parse::<i64>().map_err(|_| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{text:?} is not a cycle number"),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    state: Option<String>,
    offset: Option<u64>,
    done: Option<String>,
}

struct Loaded {
    cycle: CycleRow,
    programme: Programme,
    breakdown: Vec<(String, String, i64, i64)>,
    /// `None` for a person who may not see beneficiaries.
    entitlements: Option<Vec<CycleEntitlementRow>>,
    /// The proposal waiting for a decision on this cycle, if any.
    pending: Option<i64>,
}

fn load(
    state: &AppState,
    id: i64,
    filter: Option<&str>,
    page: Page,
    personal: bool,
) -> Result<Loaded, Failure> {
    let cycle = cycles::get(&state.storage, id)?;
    let programme = programmes::get(&state.storage, &cycle.programme)?;
    let breakdown = cycles::breakdown(&state.storage, id)?;
    let entitlements = if personal {
        Some(cycles::entitlements(&state.storage, id, filter, page)?)
    } else {
        None
    };
    let object = format!("cycle:{id}");
    let pending = state.storage.transaction(|tx| {
        crate::storage::proposals::pending_for(tx.sql(), "cycle.approve", &object)
    })?;
    Ok(Loaded {
        cycle,
        programme,
        breakdown,
        entitlements,
        pending,
    })
}

fn body(visit: &Visit, l: &Loaded, filter: Option<&str>, page: Page, top: Markup) -> Markup {
    let lang = visit.lang();
    let c = &l.cycle;
    let p = &l.programme.row;
    let currency = p.currency.as_str();
    let money = |minor: i64| layout::amount(lang, minor, currency);
    let draft = c.state == "draft";
    let manage = visit.caller.may(Permission::ManageCycles);
    let base = format!("/console/cycles/{}", c.id);
    html! {
        (top)
        div.links {
            a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "programme")) " " (p.name) }
            @if let Some(proposal) = l.pending {
                a href="/console/proposals?state=pending" { (t(lang, "approval_waiting")) " #" (proposal) }
            }
        }
        dl.facts {
            dt { (t(lang, "programme")) } dd { (p.name) " (" span.mono { (p.programme) } ")" }
            dt { (t(lang, "period")) } dd { (c.period) }
            dt { (t(lang, "rule")) } dd { (rule_words(lang, &c.rule, currency)) }
            dt { (t(lang, "status")) } dd { span class=(format!("status-{}", c.state)) { (state_word(lang, &c.state)) } }
            dt { (t(lang, "generated_by")) } dd { (c.generated_by) ", " (layout::time(c.generated_at)) }
            @if let (Some(by), Some(at)) = (&c.approved_by, c.approved_at) {
                dt { (t(lang, "approved_by")) } dd { (by) ", " (layout::time(at)) }
            }
        }
        div.tiles {
            div.tile { b #entitlements-count { (c.entitlements) } (t(lang, "entitlements")) }
            div.tile.money.alert[c.over_budget] { b #cycle-total { (money(c.total_minor)) } (t(lang, "total")) }
            div.tile.money { b { (money(p.budget_minor)) } (t(lang, "budget_per_cycle")) }
            div.tile { b #excluded-count { (c.excluded) } (t(lang, "excluded")) }
        }
        @if c.over_budget {
            p.warn role="alert" { (t(lang, "over_budget_warning")) }
        }
        h2 { (t(lang, "breakdown")) }
        @if l.breakdown.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (t(lang, "status")) }
                    th scope="col" { (t(lang, "channel")) }
                    th.num scope="col" { (t(lang, "count")) }
                    th.num scope="col" { (t(lang, "total")) }
                } }
                tbody {
                    @for (state, kind, count, total) in &l.breakdown {
                        tr {
                            td { span class=(format!("status-{state}")) { (state_word(lang, state)) } }
                            td { (channel_word(lang, kind)) }
                            td.num { (count) }
                            td.num { (money(*total)) }
                        }
                    }
                }
            }
        }
        @if draft && manage {
            form.card method="post" action=(format!("{base}/submit")) {
                h2 { (t(lang, "submit_cycle")) }
                (layout::csrf_field(visit))
                p.hint { (t(lang, "submit_hint")) }
                label for="reason" { (t(lang, "reason")) }
                textarea #reason name="reason" required maxlength="900" {}
                @if c.over_budget {
                    label.check { input #over_budget type="checkbox" name="over_budget_approval" value="1"; (t(lang, "over_budget_ask")) }
                }
                div.actions { button type="submit" { (t(lang, "submit_for_approval")) } }
            }
        }
        @if c.state == "approved" && manage {
            form.card method="post" action=(format!("{base}/release")) {
                h2 { (t(lang, "release_cycle")) }
                (layout::csrf_field(visit))
                p.hint { (t(lang, "release_hint")) }
                div.actions { button type="submit" { (t(lang, "release")) } }
            }
        }
        @if let Some(rows) = &l.entitlements {
            h2 { (t(lang, "entitlements")) }
            nav.filters aria-label=(t(lang, "filter")) {
                a href=(base) aria-current=[filter.is_none().then_some("true")] { (t(lang, "all")) }
                @for s in STATES {
                    a href=(format!("{base}?state={s}")) aria-current=[(filter == Some(s)).then_some("true")] { (state_word(lang, s)) }
                }
            }
            @if rows.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                div.wide {
                    table #entitlements {
                        thead { tr {
                            th scope="col" { (t(lang, "beneficiary")) }
                            th.num scope="col" { (t(lang, "members")) }
                            th scope="col" { (t(lang, "channel")) }
                            th.num scope="col" { (t(lang, "amount")) }
                            th scope="col" { (t(lang, "status")) }
                            @if draft && manage { th scope="col" { (t(lang, "exclusion")) } }
                        } }
                        tbody {
                            @for e in rows {
                                tr {
                                    td.mono { a href=(format!("/console/programmes/{}/beneficiaries/{}", e.programme, e.beneficiary)) { (e.beneficiary) } }
                                    td.num { (e.members) }
                                    td { (channel_word(lang, &e.channel_kind)) br; small.mono { (e.channel) } }
                                    td.num { (money(e.amount_minor)) }
                                    td {
                                        span class=(format!("status-{}", e.state)) { (state_word(lang, &e.state)) }
                                        @if let Some(note) = &e.note { br; small { (note) } }
                                    }
                                    @if draft && manage {
                                        td {
                                            @let excluded = e.state == "excluded";
                                            form method="post" action=(format!("{base}/entitlements/{}/exclusion", e.beneficiary)) {
                                                (layout::csrf_field(visit))
                                                input type="hidden" name="excluded" value=(if excluded { "0" } else { "1" });
                                                input type="hidden" name="offset" value=(page.offset);
                                                input name="note" maxlength="500" placeholder=(t(lang, "note")) aria-label=(format!("{} {}", t(lang, "note"), e.beneficiary));
                                                @if excluded {
                                                    button.secondary type="submit" aria-label=(format!("{} {}", t(lang, "include"), e.beneficiary)) { (t(lang, "include")) }
                                                } @else {
                                                    button.danger type="submit" aria-label=(format!("{} {}", t(lang, "exclude"), e.beneficiary)) { (t(lang, "exclude")) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @let paged = match filter { Some(s) => format!("{base}?state={s}"), None => base.clone() };
                (layout::pager(lang, &paged, page.offset, page.limit, rows.len()))
            }
        } @else {
            p.hint { (t(lang, "entitlements_private")) }
        }
    }
}

async fn render(
    state: AppState,
    visit: Visit,
    cycle: String,
    q: ShowQuery,
    top: Markup,
    status: StatusCode,
) -> Response {
    let filter = q.state.filter(|s| STATES.contains(&s.as_str()));
    let page = Page::new(None, q.offset);
    let personal = visit.caller.may(Permission::ViewBeneficiaries);
    let wanted = filter.clone();
    let found = blocking(move || {
        let id = cycle_id(&cycle)?;
        load(&state, id, wanted.as_deref(), page, personal)
    })
    .await;
    let lang = visit.lang();
    match found {
        Ok(loaded) => {
            let title = format!(
                "{} {} · {}",
                t(lang, "cycle"),
                loaded.cycle.period,
                loaded.programme.row.name
            );
            let markup = body(&visit, &loaded, filter.as_deref(), page, top);
            again(status, layout::page(&visit, "programmes", &title, markup))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(cycle): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("generated") => layout::notice(t(lang, "cycle_generated")),
        Some("excluded") => layout::notice(t(lang, "entitlement_excluded")),
        Some("included") => layout::notice(t(lang, "entitlement_included")),
        Some("released") => layout::notice(t(lang, "cycle_released")),
        Some("submitted") => html! {
            p.notice role="status" {
                (t(lang, "cycle_submitted")) " "
                a href="/console/proposals?state=pending" { (t(lang, "proposals")) }
            }
        },
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render(state, visit, cycle, q, top, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct ExclusionForm {
    excluded: String,
    #[serde(default)]
    note: String,
    offset: Option<u64>,
}

/// Runs one of the cycle page's actions on cycle `cycle`; then back to the
/// page with `done` (and the entitlements at `offset`), or the page again
/// with the refusal on top.
async fn act(
    state: AppState,
    visit: Visit,
    cycle: String,
    done: &str,
    offset: u64,
    work: impl FnOnce(&AppState, i64) -> Result<(), Failure> + Send + 'static,
) -> Response {
    let shared = state.clone();
    let id_text = cycle.clone();
    let result = blocking(move || work(&shared, cycle_id(&id_text)?)).await;
    match result {
        Ok(()) => see_other(&format!(
            "/console/cycles/{cycle}?done={done}&offset={offset}"
        )),
        Err(failure) => {
            let top = layout::error(&failure.message);
            let q = ShowQuery {
                offset: Some(offset),
                ..ShowQuery::default()
            };
            render(state, visit, cycle, q, top, failure.status).await
        }
    }
}

pub async fn exclude(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path((cycle, beneficiary)): Path<(String, String)>,
    Form(form): Form<ExclusionForm>,
) -> Response {
    let actor = visit.caller.actor();
    let excluded = form.excluded == "1";
    let offset = form.offset.unwrap_or(0);
    let done = if excluded { "excluded" } else { "included" };
    act(state, visit, cycle, done, offset, move |state, id| {
        cycles::exclude(
            &state.storage,
            &actor,
            id,
            &beneficiary,
            excluded,
            &form.note,
            state.now(),
        )?;
        Ok(())
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct SubmitForm {
    reason: String,
    #[serde(default)]
    over_budget_approval: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(cycle): Path<String>,
    Form(form): Form<SubmitForm>,
) -> Response {
    let caller = visit.caller.clone();
    act(state, visit, cycle, "submitted", 0, move |state, id| {
        proposals::submit_cycle(
            &state.storage,
            &caller,
            id,
            &form.reason,
            form.over_budget_approval.is_some(),
            state.now(),
        )?;
        Ok(())
    })
    .await
}

/// Releases an approved cycle: vouchers, site rosters (see `registry::release`).
pub async fn release(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(cycle): Path<String>,
) -> Response {
    let actor = visit.caller.actor();
    act(state, visit, cycle, "released", 0, move |state, id| {
        release::release(&state.storage, &state.keys, &actor, id, None, state.now())?;
        Ok(())
    })
    .await
}
