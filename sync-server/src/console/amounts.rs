//! The amounts file of a cycle from the console: the officer names the
//! period and uploads a CSV (beneficiary id or national ID, amount); the
//! server keeps it in a private temporary file while `registry::amounts`
//! checks every row and, without errors and unless only checking, applies
//! it. The page shows the counts and total, or every bad row with its line,
//! column and reason (nothing applied). Generating the period's cycle with
//! the rule "amounts from the file" then pays those amounts.

use std::io::Write;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::i18n::t;
use super::{Failure, UploadParts, Visit, again, blocking, layout};
use crate::api::AppState;
use crate::people::Language;
use crate::registry::amounts::{self, AmountsError, Report};
use crate::registry::programmes;
use crate::storage::registry::ProgrammeRow;

/// Largest file the console takes, in bytes (larger files go through the
/// HTTP API).
pub const UPLOAD_BYTES_MAX: u64 = super::import::UPLOAD_BYTES_MAX;
/// Longest an upload may take to arrive.
const UPLOAD_SECONDS_MAX: u64 = 15 * 60;
/// Longest text field of the form (the period, the check box), in bytes.
const FIELD_BYTES_MAX: usize = 64;
/// Longest file name kept, in characters.
const FILE_NAME_CHARS_MAX: usize = 200;

/// The spooled upload, removed however the page ends.
struct Spool(std::path::PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spool_failed(e: impl std::fmt::Display) -> Failure {
    tracing::error!("console amounts upload could not be kept: {e}");
    Failure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the upload could not be kept",
    )
}

fn upload_form(visit: &Visit, p: &ProgrammeRow, period: &str) -> Markup {
    let lang = visit.lang();
    html! {
        form.card method="post" action=(format!("/console/programmes/{}/amounts", p.programme)) enctype="multipart/form-data" {
            // First: the server checks it before reading the file.
            (layout::csrf_field(visit))
            h2 { (t(lang, "upload_amounts")) }
            label for="period" { (t(lang, "period")) }
            input #period name="period" required maxlength="32" placeholder="2027-01" value=(period);
            label for="file" { (t(lang, "csv_file")) }
            input #file type="file" name="file" accept=".csv,text/csv" required aria-describedby="file-hint";
            p.hint #file-hint {
                (t(lang, "amounts_hint").replace("{currency}", &p.currency))
            }
            label.check { input #check_only type="checkbox" name="check_only" value="1"; (t(lang, "check_only")) }
            div.actions { button type="submit" { (t(lang, "upload_and_check")) } }
        }
    }
}

fn report_body(lang: Language, p: &ProgrammeRow, report: &Report) -> Markup {
    html! {
        @if report.errors_total > 0 {
            p.error role="alert" { (t(lang, "amounts_refused").replace("{rows}", &report.errors_total.to_string())) }
        } @else if report.checked_only {
            (layout::notice(t(lang, "check_clean")))
        } @else if report.unchanged {
            p.notice role="status" #nothing-changed { (t(lang, "nothing_changed")) }
        } @else {
            p.notice role="status" #amounts-applied { (t(lang, "amounts_applied").replace("{period}", &report.period)) }
        }
        div.tiles #report {
            div.tile { b data-report="rows_read" { (report.rows_read) } (t(lang, "rows_read")) }
            div.tile { b data-report="accepted" { (report.accepted) } (t(lang, "accepted_rows")) }
            div.tile.money { b data-report="total" { (layout::amount(lang, report.total_minor, &p.currency)) } (t(lang, "total")) }
            div.tile.alert[report.errors_total > 0] { b data-report="errors" { (report.errors_total) } (t(lang, "errors")) }
        }
        (super::import::row_errors(lang, &report.errors, report.errors_total))
    }
}

async fn render(
    state: AppState,
    visit: Visit,
    programme: String,
    period: String,
    top: Markup,
    status: StatusCode,
) -> Response {
    let found = blocking(move || Ok(programmes::get(&state.storage, &programme)?.row)).await;
    let lang = visit.lang();
    match found {
        Ok(p) => {
            let title = format!("{} · {}", t(lang, "amounts_file"), p.name);
            let body = html! {
                (top)
                div.links {
                    a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "programme")) " " (p.name) }
                }
                (upload_form(&visit, &p, &period))
            };
            again(status, layout::page(&visit, "programmes", &title, body))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn form(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
) -> Response {
    render(
        state,
        visit,
        programme,
        String::new(),
        html! {},
        StatusCode::OK,
    )
    .await
}

/// What the form sent: the period, whether only to check, the file's name.
#[derive(Default)]
struct Sent {
    period: String,
    check_only: bool,
    file_name: Option<String>,
}

/// Streams the form's parts: its text fields into `sent`, its `file` part
/// into `file`.
async fn receive(
    parts: &mut multer::Multipart<'static>,
    file: &mut std::fs::File,
    sent: &mut Sent,
) -> Result<(), Failure> {
    let too_large = || {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a file uploaded here is at most {} MB; use the HTTP API for larger ones",
                UPLOAD_BYTES_MAX / 1024 / 1024
            ),
        )
    };
    let unreadable = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large()
        }
        other => Failure::new(StatusCode::BAD_REQUEST, other),
    };
    let mut written: u64 = 0;
    while let Some(mut field) = parts.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("file") => {
                sent.file_name = Some(
                    field
                        .file_name()
                        .unwrap_or("amounts.csv")
                        .chars()
                        .take(FILE_NAME_CHARS_MAX)
                        .collect(),
                );
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    written += chunk.len() as u64;
                    if written > UPLOAD_BYTES_MAX {
                        return Err(too_large());
                    }
                    file.write_all(&chunk).map_err(spool_failed)?;
                }
            }
            Some(name @ ("period" | "check_only")) => {
                let name = name.to_owned();
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if text.len() + chunk.len() > FIELD_BYTES_MAX {
                        return Err(Failure::new(
                            StatusCode::BAD_REQUEST,
                            format!("the field {name} is longer than {FIELD_BYTES_MAX} bytes"),
                        ));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8_lossy(&text).trim().to_owned();
                if name == "period" {
                    sent.period = text;
                } else {
                    sent.check_only = text == "1";
                }
            }
            _ => {}
        }
    }
    if written == 0 {
        sent.file_name = None;
    }
    Ok(())
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Extension(upload): Extension<UploadParts>,
    Path(programme): Path<String>,
) -> Response {
    let lang = visit.lang();
    let opened = blocking(|| {
        let dir = std::env::temp_dir();
        let path = dir.join(format!(
            "lastmile-console-amounts-{}.csv",
            crate::people::random_secret()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(spool_failed)?;
        Ok((Spool(path), file))
    })
    .await;
    let (spool, mut file) = match opened {
        Ok(opened) => opened,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let mut sent = Sent::default();
    let received = match upload.take() {
        Some(mut parts) => tokio::time::timeout(
            Duration::from_secs(UPLOAD_SECONDS_MAX),
            receive(&mut parts, &mut file, &mut sent),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Failure::new(
                StatusCode::REQUEST_TIMEOUT,
                "the file did not arrive in time",
            ))
        }),
        None => Err(Failure::new(StatusCode::BAD_REQUEST, "no file was sent")),
    };
    drop(file);
    let period = sent.period.clone();
    let done = match received {
        Err(failure) => Err(failure),
        Ok(()) => {
            let state = state.clone();
            let programme = programme.clone();
            let actor = visit.caller.actor();
            blocking(move || {
                let Some(file_name) = sent.file_name else {
                    return Err(Failure::new(StatusCode::BAD_REQUEST, t(lang, "no_file")));
                };
                let reader = std::fs::File::open(&spool.0)
                    .map(std::io::BufReader::new)
                    .map_err(spool_failed)?;
                let p = programmes::get(&state.storage, &programme)?.row;
                let result = amounts::upload(
                    &state.storage,
                    &actor,
                    &programme,
                    &sent.period,
                    &file_name,
                    reader,
                    amounts::Options {
                        check_only: sent.check_only,
                    },
                    state.now(),
                );
                drop(spool);
                match result {
                    Ok(report) => Ok((p, report)),
                    Err(AmountsError::Rows(report)) => Ok((p, *report)),
                    Err(other) => Err(other.into()),
                }
            })
            .await
        }
    };
    match done {
        Ok((p, report)) => {
            let status = if report.errors_total > 0 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            let top = report_body(lang, &p, &report);
            render(state, visit, programme, period, top, status).await
        }
        Err(failure) => {
            let top = layout::error(&failure.message);
            render(state, visit, programme, period, top, failure.status).await
        }
    }
}
