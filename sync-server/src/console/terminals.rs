//! Terminals: the list with their last sync, enrolment codes with a QR code
//! to scan, revocation.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use lastmile_shared::id::{DeviceId, MerchantId, SiteId};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::merchants;
use crate::people::Permission;
use crate::storage::sql::Page;
use crate::terminals::{self, ENROLMENT_CODE_TTL_HOURS_DEFAULT, IssuedCode};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    offset: Option<u64>,
    done: Option<String>,
}

fn page(
    visit: &Visit,
    offset: u64,
    top: Markup,
    rows: &[crate::storage::DeviceRow],
    now: i64,
) -> Markup {
    let lang = visit.lang();
    let limit = Page::default().limit;
    html! {
        (top)
        @if visit.caller.may(Permission::ManageTerminals) {
            form.card method="post" action="/console/terminals/code" {
                h2 { (t(lang, "new_code")) }
                (layout::csrf_field(visit))
                div.filters {
                    div {
                        label for="merchant" { (t(lang, "merchant")) }
                        input #merchant name="merchant" required maxlength="64";
                    }
                    div {
                        label for="site" { (t(lang, "site")) }
                        input #site name="site" maxlength="64";
                    }
                    button type="submit" { (t(lang, "create")) }
                }
            }
        }
        @if visit.caller.may(Permission::ManageMerchants) {
            form.card method="post" action="/console/merchants/suspend" {
                h2 { (t(lang, "suspend")) }
                (layout::csrf_field(visit))
                div.filters {
                    div {
                        label for="suspend-merchant" { (t(lang, "merchant")) }
                        input #suspend-merchant name="merchant" required maxlength="64";
                    }
                    div {
                        label for="suspend-reason" { (t(lang, "suspend_reason")) }
                        input #suspend-reason name="reason" required maxlength="500";
                    }
                    button.danger type="submit" { (t(lang, "suspend")) }
                }
            }
        }
        @if rows.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (t(lang, "device")) }
                    th scope="col" { (t(lang, "label")) }
                    th scope="col" { (t(lang, "merchant")) " / " (t(lang, "site")) }
                    th scope="col" { (t(lang, "last_sync")) }
                    th.num scope="col" { (t(lang, "entries_held")) }
                    th scope="col" { (t(lang, "status")) }
                    @if visit.caller.may(Permission::ManageTerminals) { th scope="col" {} }
                } }
                tbody {
                    @for row in rows {
                        tr {
                            td.mono { (row.device) }
                            td { (row.label) }
                            td { (row.merchant.as_ref().map_or("-", |m| m.as_str())) " / " (row.site.as_ref().map_or("-", |s| s.as_str())) }
                            td {
                                @match row.last_seen_at {
                                    Some(at) => {
                                        (layout::time(at))
                                        @if now - at > super::dashboard::STALE_SECONDS { " " span.bad { "⚠" } }
                                    }
                                    None => (t(lang, "never")),
                                }
                            }
                            td.num { (row.head_seq) }
                            td {
                                @if row.revoked_at.is_some() {
                                    span.status-revoked { (t(lang, "revoked")) }
                                } @else {
                                    span.ok { (t(lang, "active")) }
                                }
                            }
                            @if visit.caller.may(Permission::ManageTerminals) {
                                td {
                                    @if row.revoked_at.is_none() {
                                        form.inline method="post" action=(format!("/console/terminals/{}/revoke", row.device)) {
                                            (layout::csrf_field(visit))
                                            button.danger type="submit" aria-label=(format!("{} {}", t(lang, "revoke"), row.device)) { (t(lang, "revoke")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (layout::pager(lang, "/console/terminals", offset, limit, rows.len()))
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let offset = q.offset.unwrap_or(0);
    let now = state.now();
    let found = blocking(move || Ok(terminals::list(&state.storage)?)).await;
    match found {
        Ok(all) => {
            let rows = Page::new(None, Some(offset)).slice(all);
            let lang = visit.lang();
            let top = match q.done.as_deref() {
                Some("revoked" | "suspended") => layout::notice(t(lang, "done")),
                _ => html! {},
            };
            html_page(layout::page(
                &visit,
                "terminals",
                t(lang, "terminals"),
                page(&visit, offset, top, &rows, now),
            ))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    merchant: String,
    site: String,
}

/// The code as a QR code (SVG), for the terminal's camera.
fn qr_svg(code: &str) -> Markup {
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => PreEscaped(
            qr.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(180, 180)
                .build(),
        ),
        Err(_) => html! {},
    }
}

fn code_markup(visit: &Visit, issued: &IssuedCode) -> Markup {
    let lang = visit.lang();
    html! {
        div.card role="status" {
            p { (t(lang, "code_created")) }
            p.code.mono { (issued.code) }
            div role="img" aria-label=(issued.code) { (qr_svg(&issued.code)) }
            p { (t(lang, "expires")) ": " (layout::time(issued.expires_at)) }
        }
    }
}

pub async fn create_code(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<CodeForm>,
) -> Response {
    let actor = visit.caller.actor();
    let now = state.now();
    let done = blocking(move || {
        let bad =
            |e: lastmile_shared::id::IdError| Failure::new(axum::http::StatusCode::BAD_REQUEST, e);
        let merchant = MerchantId::parse(form.merchant.trim()).map_err(bad)?;
        let site = match form.site.trim() {
            "" => None,
            site => Some(SiteId::parse(site).map_err(bad)?),
        };
        let issued = terminals::create_code(
            &state.storage,
            &actor,
            Some(merchant),
            site,
            ENROLMENT_CODE_TTL_HOURS_DEFAULT * 3600,
            now,
        )?;
        let rows = terminals::list(&state.storage)?;
        Ok((issued, rows))
    })
    .await;
    match done {
        Ok((issued, rows)) => {
            let lang = visit.lang();
            let rows: Vec<_> = rows
                .into_iter()
                .take(Page::default().limit as usize)
                .collect();
            let top = code_markup(&visit, &issued);
            html_page(layout::page(
                &visit,
                "terminals",
                t(lang, "terminals"),
                page(&visit, 0, top, &rows, now),
            ))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(device): Path<String>,
) -> Response {
    let actor = visit.caller.actor();
    let done = blocking(move || {
        let device = DeviceId::parse(&device)
            .map_err(|e| Failure::new(axum::http::StatusCode::BAD_REQUEST, e))?;
        terminals::revoke(&state.storage, &state.keys, &actor, &device, state.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/terminals?done=revoked"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct SuspendForm {
    merchant: String,
    reason: String,
}

pub async fn suspend_merchant(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<SuspendForm>,
) -> Response {
    let actor = visit.caller.actor();
    let done = blocking(move || {
        let merchant = MerchantId::parse(form.merchant.trim())
            .map_err(|e| Failure::new(axum::http::StatusCode::BAD_REQUEST, e))?;
        merchants::revoke(
            &state.storage,
            &state.keys,
            &actor,
            &merchant,
            &form.reason,
            state.now(),
        )?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/terminals?done=suspended"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}
