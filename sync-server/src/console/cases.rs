//! Double-spend cases: the list, one case with both terminals' signed
//! entries side by side (verified with each terminal's key), closing it
//! as recovered or dismissed, or proposing a write-off.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use base64::Engine;
use lastmile_shared::device_log::{LogEvent, SignedEntry};
use lastmile_shared::id::{DeviceId, KeyId};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, ReasonForm, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::double_spend::{self, Resolution};
use crate::people::Permission;
use crate::proposals::Action;
use crate::storage::sql::Page;
use crate::storage::{CaseRow, DeviceRow, Storage, StorageError};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    offset: Option<u64>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let offset = q.offset.unwrap_or(0);
    let limit = Page::default().limit;
    let found = blocking(move || {
        let mut all = double_spend::list(&state.storage)?;
        // Newest first: what a person waits for is at the top.
        all.reverse();
        Ok(Page::new(Some(limit), Some(offset)).slice(all))
    })
    .await;
    let lang = visit.lang();
    let cases = match found {
        Ok(cases) => cases,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    html_page(layout::page(
        &visit,
        "cases",
        t(lang, "cases"),
        html! {
            @if cases.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th.num scope="col" { (t(lang, "case")) }
                        th scope="col" { (t(lang, "voucher")) }
                        th scope="col" { (t(lang, "reason")) }
                        th.num scope="col" { (t(lang, "amount")) }
                        th scope="col" { (t(lang, "opened")) }
                        th scope="col" { (t(lang, "status")) }
                    } }
                    tbody {
                        @for case in &cases {
                            tr {
                                td.num { a href=(format!("/console/cases/{}", case.id)) { "#" (case.id) } }
                                td.mono {
                                    (case.voucher.as_ref().map(|v| v.to_string())
                                        .or_else(|| case.entitlement.as_ref().map(|e| e.to_string()))
                                        .unwrap_or_default())
                                }
                                td { (case.reason) }
                                td.num { (case.amount) }
                                td { (layout::time(case.opened_at)) }
                                td { span class=(format!("status-{}", case.status)) { (t(lang, &case.status)) } }
                            }
                        }
                    }
                }
                (layout::pager(lang, "/console/cases", offset, limit, cases.len()))
            }
        },
    ))
}

/// One side of the evidence: the entry's fields, checked against its
/// terminal's key.
fn evidence(
    visit: &Visit,
    title: &str,
    device: Option<&DeviceRow>,
    seq: Option<u64>,
    base64_entry: Option<&str>,
) -> Markup {
    let lang = visit.lang();
    let bytes = base64_entry.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let opened = match (device, &bytes) {
        (Some(device), Some(bytes)) => lastmile_shared::envelope::verifying_key(&device.public_key)
            .and_then(|key| SignedEntry::open(bytes, &device.kid, &key).ok()),
        _ => None,
    };
    html! {
        section.card aria-label=(title) {
            h2 { (title) }
            dl {
                dt { (t(lang, "device")) } dd.mono { (device.map(|d| d.device.to_string()).unwrap_or_else(|| "-".into())) }
                dt { (t(lang, "sequence")) } dd { (seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into())) }
                @if let Some(signed) = &opened {
                    dt { (t(lang, "at")) } dd { (layout::time(signed.entry.at)) }
                    dt { (t(lang, "operator")) } dd { (signed.entry.operator) }
                    dt { (t(lang, "merchant")) } dd { (signed.entry.merchant.as_ref().map_or("-", |m| m.as_str())) }
                    @match &signed.entry.event {
                        LogEvent::VoucherRedeemed { amount, remaining_after, .. } => {
                            dt { (t(lang, "amount")) } dd { (amount) " (" (t(lang, "left_after")) " " (remaining_after) ")" }
                        }
                        LogEvent::EntitlementRedeemed { amount, .. } | LogEvent::CashPaidOut { amount, .. } => {
                            dt { (t(lang, "amount")) } dd { (amount) }
                        }
                        _ => {}
                    }
                    dt { "" } dd.ok { "✔ " (t(lang, "signature_ok")) }
                } @else if bytes.is_some() {
                    dt { "" } dd.bad { "✘ " (t(lang, "signature_bad")) }
                }
                @if let Some(b) = base64_entry {
                    dt { "COSE_Sign1" } dd { code { (b.chars().take(120).collect::<String>()) @if b.len() > 120 { "…" } } }
                }
            }
        }
    }
}

fn case_id(text: &str) -> Result<u64, Failure> {
    text.parse::<u64>().map_err(|_| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{text:?} is not a case number"),
        )
    })
}

/// A case with the terminals of its two entries.
type CaseWithTerminals = (CaseRow, Option<DeviceRow>, Option<DeviceRow>);

fn load(storage: &Storage, id: u64) -> Result<Option<CaseWithTerminals>, StorageError> {
    let Some(case) = double_spend::list(storage)?
        .into_iter()
        .find(|c| c.id == id)
    else {
        return Ok(None);
    };
    let device = |d: Option<&DeviceId>| -> Result<Option<DeviceRow>, StorageError> {
        match d {
            // Read by key id (a device's is its id): no row lock on a page view.
            Some(d) => storage.transaction(|tx| tx.device_by_kid(&KeyId::parse(d.as_str())?)),
            None => Ok(None),
        }
    };
    let first = device(case.first_device.as_ref())?;
    let second = device(Some(&case.second_device))?;
    Ok(Some((case, first, second)))
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(case): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let found = blocking(move || {
        let id = case_id(&case)?;
        load(&state.storage, id)?
            .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, format!("there is no case {id}")))
    })
    .await;
    let lang = visit.lang();
    let (case, first, second) = match found {
        Ok(found) => found,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let open = case.status == "open";
    let title = format!("{} #{}", t(lang, "case"), case.id);
    html_page(layout::page(
        &visit,
        "cases",
        &title,
        html! {
            @match q.done.as_deref() {
                Some("proposed") => (layout::notice(t(lang, "proposed"))),
                Some("resolved") => (layout::notice(t(lang, "done"))),
                _ => {}
            }
            p {
                (t(lang, "reason")) ": " strong { (case.reason) } " · "
                (t(lang, "amount")) ": " (case.amount) " · "
                (t(lang, "status")) ": " span class=(format!("status-{}", case.status)) { (t(lang, &case.status)) }
                @if let Some(resolution) = &case.resolution { " (" (t(lang, resolution)) ")" }
            }
            @if let Some(note) = &case.resolution_note { p { (t(lang, "note")) ": " (note) } }
            div.evidence {
                (evidence(&visit, t(lang, "first"), first.as_ref(), case.first_seq, case.first_entry.as_deref()))
                (evidence(&visit, t(lang, "second"), second.as_ref(), Some(case.second_seq), Some(&case.second_entry)))
            }
            @if open && visit.caller.may(Permission::ResolveCases) {
                form.card method="post" action=(format!("/console/cases/{}/resolve", case.id)) {
                    h2 { (t(lang, "resolve")) }
                    (layout::csrf_field(&visit))
                    fieldset {
                        legend { (t(lang, "status")) }
                        label { input type="radio" name="resolution" value="recovered" required; " " (t(lang, "recovered")) }
                        label { input type="radio" name="resolution" value="dismissed"; " " (t(lang, "dismissed")) }
                    }
                    label for="note" { (t(lang, "note")) }
                    textarea #note name="note" required maxlength="1000" {}
                    button type="submit" { (t(lang, "resolve")) }
                }
            }
            @if open && visit.caller.may(Permission::ProposeWriteOff) {
                form.card method="post" action=(format!("/console/cases/{}/write-off", case.id)) {
                    h2 { (t(lang, "propose_write_off")) }
                    (layout::csrf_field(&visit))
                    label for="reason" { (t(lang, "reason")) }
                    textarea #reason name="reason" required maxlength="1000" {}
                    button.danger type="submit" { (t(lang, "propose")) }
                }
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    resolution: String,
    note: String,
}

pub async fn resolve(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(case): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Response {
    let actor = visit.caller.actor();
    let done = blocking(move || {
        let id = case_id(&case)?;
        let resolution = match form.resolution.as_str() {
            "recovered" => Resolution::Recovered,
            "dismissed" => Resolution::Dismissed,
            _ => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    "a case closes as recovered or dismissed here; a write-off is proposed",
                ));
            }
        };
        double_spend::resolve(
            &state.storage,
            &actor,
            id,
            resolution,
            &form.note,
            state.now(),
        )?;
        Ok(id)
    })
    .await;
    match done {
        Ok(id) => see_other(&format!("/console/cases/{id}?done=resolved")),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn propose_write_off(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(case): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let next = format!("/console/cases/{case}?done=proposed");
    super::propose(
        state,
        visit,
        case_id(&case).map(Action::WriteOffCase),
        form,
        next,
    )
    .await
}
