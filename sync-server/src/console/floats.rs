//! The field agents' floats, reconciled against the ledger
//! (`payments::floats`): per terminal, what the agent should hold now, cash
//! paid out but not delivered (a double-spend case, an unknown
//! entitlement), the closes' variance, the ledger's float account and
//! anything the synced sessions do not explain; with the latest sessions of
//! each terminal.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::payments::section_links;
use super::{Visit, again, blocking, layout};
use crate::api::AppState;
use crate::payments::floats::{self, FloatView};
use crate::people::Language;
use crate::storage::floats::CashSessionRow;
use crate::storage::sql::Page;

/// Terminals on one page.
const FLOATS_PER_PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct FloatsQuery {
    site: Option<String>,
    offset: Option<u64>,
}

fn cash(lang: Language, minor: i64, currency: &str) -> String {
    layout::amount(lang, minor, currency)
}

fn verdict(lang: Language, f: &FloatView) -> Markup {
    html! {
        @if f.reconciled {
            span.ok data-reconciled="true" { (t(lang, "float_reconciled")) }
        } @else {
            span.bad data-reconciled="false" { (t(lang, "float_not_reconciled")) }
        }
    }
}

fn floats_table(lang: Language, rows: &[FloatView]) -> Markup {
    html! {
        div.wide {
            table.money #floats {
                thead { tr {
                    th scope="col" { (t(lang, "device")) }
                    th scope="col" { (t(lang, "site")) }
                    th.num scope="col" { (t(lang, "float_sessions")) }
                    th.num scope="col" { (t(lang, "float_holds")) }
                    th.num scope="col" { (t(lang, "float_disputed")) }
                    th.num scope="col" { (t(lang, "float_variance")) }
                    th.num scope="col" { (t(lang, "float_ledger")) }
                    th.num scope="col" { (t(lang, "float_unexplained")) }
                    th scope="col" { (t(lang, "status")) }
                } }
                tbody {
                    @for f in rows {
                        tr data-device=(f.device) {
                            td.mono.nowrap { a href=(format!("#float-{}", f.device)) { (f.device) } }
                            td.mono.nowrap { (f.site.as_deref().unwrap_or("—")) }
                            td.num { (f.sessions) @if f.open_sessions > 0 { " (" (f.open_sessions) " " (t(lang, if f.open_sessions == 1 { "float_open_one" } else { "float_open_many" })) ")" } }
                            td.num { (cash(lang, f.holds.minor, &f.currency)) }
                            td.num { (cash(lang, f.disputed.minor, &f.currency)) }
                            td.num { span class=[(f.variance.minor < 0).then_some("bad")] { (cash(lang, f.variance.minor, &f.currency)) } }
                            td.num { (cash(lang, f.ledger.minor, &f.currency)) }
                            td.num { span class=[(f.unexplained.minor != 0).then_some("bad")] { (cash(lang, f.unexplained.minor, &f.currency)) } }
                            td { (verdict(lang, f)) }
                        }
                    }
                }
            }
        }
    }
}

fn sessions_table(lang: Language, rows: &[CashSessionRow]) -> Markup {
    html! {
        div.wide {
            table.money {
                thead { tr {
                    th.num scope="col" { "#" }
                    th scope="col" { (t(lang, "operator")) }
                    th scope="col" { (t(lang, "float_opened")) }
                    th.num scope="col" { (t(lang, "float_opening")) }
                    th.num scope="col" { (t(lang, "float_payouts")) }
                    th.num scope="col" { (t(lang, "float_disputed")) }
                    th.num scope="col" { (t(lang, "float_expected")) }
                    th.num scope="col" { (t(lang, "float_counted")) }
                    th scope="col" { (t(lang, "float_closed")) }
                } }
                tbody {
                    @for s in rows {
                        tr data-session=(s.session) {
                            td.num { (s.session) }
                            td { (s.operator) }
                            td { (layout::time(s.opened_at)) }
                            td.num { (cash(lang, s.float_minor, &s.currency)) }
                            td.num { (s.payouts) " · " (cash(lang, s.paid_minor, &s.currency)) }
                            td.num { @if s.disputed > 0 { span.bad { (s.disputed) " · " (cash(lang, s.disputed_minor, &s.currency)) } } @else { "0" } }
                            td.num { (s.expected_minor.map_or_else(|| "—".to_owned(), |m| cash(lang, m, &s.currency))) }
                            td.num { (s.counted_minor.map_or_else(|| "—".to_owned(), |m| cash(lang, m, &s.currency))) }
                            td { (s.closed_at.map_or_else(|| t(lang, "float_still_open").to_owned(), layout::time)) }
                        }
                    }
                }
            }
        }
    }
}

fn device_section(lang: Language, f: &FloatView) -> Markup {
    html! {
        section.card id=(format!("float-{}", f.device)) data-device=(f.device) {
            h2 { span.mono { (f.device) } " " (verdict(lang, f)) }
            p {
                (t(lang, "float_ledger_says")
                    .replace("{ledger}", &cash(lang, f.ledger.minor, &f.currency))
                    .replace("{holds}", &cash(lang, f.holds.minor, &f.currency))
                    .replace("{disputed}", &cash(lang, f.disputed.minor, &f.currency)))
            }
            @if f.disputed.minor != 0 {
                p.warn { (t(lang, "float_disputed_hint")) " " a href="/console/cases" { (t(lang, "cases")) } " · " a href="/console/alarms" { (t(lang, "alarms")) } }
            }
            @if f.unexplained.minor != 0 {
                p.error { (t(lang, "float_unexplained_hint").replace("{amount}", &cash(lang, f.unexplained.minor, &f.currency))) }
            }
            @for s in &f.mismatched_closes {
                p.error data-mismatch=(s.session) {
                    (t(lang, "float_mismatch")
                        .replace("{session}", &s.session.to_string())
                        .replace("{expected}", &s.expected_minor.map_or_else(String::new, |m| cash(lang, m, &s.currency)))
                        .replace("{left}", &cash(lang, s.float_minor - s.paid_minor - s.disputed_minor, &s.currency)))
                }
            }
            (sessions_table(lang, &f.latest))
        }
    }
}

fn body(visit: &Visit, rows: &[FloatView], site: Option<&str>, page: Page) -> Markup {
    let lang = visit.lang();
    let base = match site {
        Some(site) => format!(
            "/console/payments/floats?site={}",
            layout::query_value(site)
        ),
        None => "/console/payments/floats".to_owned(),
    };
    html! {
        (section_links(lang, None))
        p.hint { (t(lang, "float_hint")) }
        form.filters method="get" action="/console/payments/floats" role="search" {
            label for="site" { (t(lang, "site")) }
            input #site name="site" type="text" maxlength="64" value=(site.unwrap_or(""));
            button type="submit" { (t(lang, "filter")) }
        }
        @if rows.is_empty() {
            p { (t(lang, "float_none")) }
        } @else {
            (floats_table(lang, rows))
            (layout::pager(lang, &base, page.offset, page.limit, rows.len()))
            @for f in rows { (device_section(lang, f)) }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<FloatsQuery>,
) -> Response {
    let site = q
        .site
        .map(|s| s.trim().chars().take(64).collect::<String>())
        .filter(|s| !s.is_empty());
    let page = Page::new(Some(FLOATS_PER_PAGE), q.offset);
    let wanted = site.clone();
    let found = blocking(move || Ok(floats::list(&state.storage, wanted.as_deref(), page)?)).await;
    let lang = visit.lang();
    match found {
        Ok(rows) => {
            let markup = body(&visit, &rows, site.as_deref(), page);
            again(
                StatusCode::OK,
                layout::page(&visit, "payments", t(lang, "float_title"), markup),
            )
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}
