//! Vouchers: find one by number, see where it stands and every redemption
//! terminals reported, propose its revocation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use lastmile_shared::id::VoucherId;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, ReasonForm, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::people::Permission;
use crate::proposals::Action;
use crate::storage::overview::{self, Redemption};
use crate::vouchers::{self, VoucherState};

/// Most redemptions shown for one voucher.
const REDEMPTIONS_MAX: u32 = 200;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

fn search_form(visit: &Visit, value: &str) -> Markup {
    let lang = visit.lang();
    html! {
        form.card method="get" action="/console/vouchers" role="search" {
            label for="q" { (t(lang, "find_voucher")) }
            div.filters {
                input #q name="q" value=(value) maxlength="64" required;
                button type="submit" { (t(lang, "find")) }
            }
        }
    }
}

pub async fn search(Extension(visit): Extension<Visit>, Query(q): Query<SearchQuery>) -> Response {
    let lang = visit.lang();
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        return match VoucherId::parse(text) {
            Ok(id) => see_other(&format!("/console/vouchers/{id}")),
            Err(e) => html_page(layout::page(
                &visit,
                "vouchers",
                t(lang, "vouchers"),
                html! {
                    (layout::error(&e.to_string()))
                    (search_form(&visit, text))
                },
            )),
        };
    }
    html_page(layout::page(
        &visit,
        "vouchers",
        t(lang, "vouchers"),
        search_form(&visit, ""),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

fn detail(visit: &Visit, state: &VoucherState, redemptions: &[Redemption], top: Markup) -> Markup {
    let lang = visit.lang();
    let row = &state.row;
    let currency = row.value.currency.to_string();
    let status = serde_json::to_value(state.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    html! {
        (top)
        table {
            tbody {
                tr { th scope="row" { (t(lang, "voucher")) } td.mono { (row.voucher) } }
                tr { th scope="row" { (t(lang, "status")) } td { span class=(format!("status-{status}")) { (status) } } }
                tr { th scope="row" { (t(lang, "programme")) } td { (row.programme) } }
                tr { th scope="row" { (t(lang, "value")) } td { (row.value) } }
                tr { th scope="row" { (t(lang, "redeemed")) } td { (layout::money(row.redeemed_minor, &currency)) } }
                tr { th scope="row" { (t(lang, "valid_from")) } td { (layout::time(row.valid_from)) } }
                tr { th scope="row" { (t(lang, "valid_until")) } td { (layout::time(row.valid_until)) } }
                tr { th scope="row" { (t(lang, "issuer")) } td { (row.issuer) } }
            }
        }
        h2 { (t(lang, "redemptions")) }
        @if redemptions.is_empty() {
            p { (t(lang, "no_redemptions")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (t(lang, "device")) }
                    th.num scope="col" { (t(lang, "sequence")) }
                    th.num scope="col" { (t(lang, "amount")) }
                    th scope="col" { (t(lang, "at")) }
                    th scope="col" { (t(lang, "received")) }
                } }
                tbody {
                    @for r in redemptions {
                        tr {
                            td.mono { (r.device) }
                            td.num { (r.seq) }
                            td.num { (r.amount_minor.map(|m| layout::money(m, r.currency.as_deref().unwrap_or(""))).unwrap_or_default()) }
                            td { (layout::time(r.at)) }
                            td { (layout::time(r.received_at)) }
                        }
                    }
                }
            }
        }
        @if visit.caller.may(Permission::ProposeRevocation) && row.revoked_at.is_none() {
            form.card method="post" action=(format!("/console/vouchers/{}/revoke", row.voucher)) {
                h2 { (t(lang, "propose_revocation")) }
                (layout::csrf_field(visit))
                label for="reason" { (t(lang, "reason")) }
                textarea #reason name="reason" required maxlength="1000" {}
                button.danger type="submit" { (t(lang, "propose")) }
            }
        }
    }
}

fn voucher_id(text: &str) -> Result<VoucherId, Failure> {
    VoucherId::parse(text).map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e))
}

pub async fn show(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(voucher): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let found = blocking(move || {
        let id = voucher_id(&voucher)?;
        let shown = vouchers::show(&state.storage, &id, state.now())?;
        let redemptions = state
            .storage
            .transaction(|tx| overview::redemptions(tx.sql(), id.as_str(), REDEMPTIONS_MAX))?;
        Ok((shown, redemptions))
    })
    .await;
    let lang = visit.lang();
    match found {
        Ok((shown, redemptions)) => {
            let top = match q.done.as_deref() {
                Some("proposed") => layout::notice(t(lang, "proposed")),
                _ => html! {},
            };
            let title = format!("{} {}", t(lang, "voucher"), shown.row.voucher);
            html_page(layout::page(
                &visit,
                "vouchers",
                &title,
                detail(&visit, &shown, &redemptions, top),
            ))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn propose_revocation(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(voucher): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let next = format!("/console/vouchers/{voucher}?done=proposed");
    super::propose(
        state,
        visit,
        voucher_id(&voucher).map(Action::RevokeVoucher),
        form,
        next,
    )
    .await
}
