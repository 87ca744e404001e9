//! Importing a beneficiary file from the console: the officer uploads a
//! CSV (a plain `multipart/form-data` form, no script needed); the server
//! keeps it in a file of its own and shows its headers, the column mapping
//! (guessed, one choice per field, editable) and the check of every row.
//! The officer checks again with another mapping, imports, or imports only
//! the good rows when some have errors; the domain refuses a file with
//! errors otherwise.
//!
//! An upload is kept in `lastmile-console-imports/` under the system's
//! temporary directory (readable by the server's user only), named by a
//! random id, tied to the person who uploaded it and to the programme; it
//! is removed once imported, and any upload older than
//! [`UPLOAD_KEPT_SECONDS`] is removed at the next upload or page view. The
//! file lives on the instance that received it: behind a load balancer, an
//! import page needs the same instance (sticky sessions).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::i18n::t;
use super::{Failure, UploadParts, Visit, again, blocking, layout, see_other};
use crate::api::AppState;
use crate::people::Language;
use crate::registry::import::{self as domain, Field, ImportError, Mapping, Options, Report};
use crate::registry::programmes;
use crate::storage::registry::ProgrammeRow;

/// Largest file the console takes, in bytes (larger files go through the
/// HTTP API, which streams up to its own limit).
pub const UPLOAD_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Longest an upload may take to arrive.
const UPLOAD_SECONDS_MAX: u64 = 15 * 60;
/// How long an upload is kept, unimported.
pub const UPLOAD_KEPT_SECONDS: u64 = 3600;
/// Longest file name kept, in characters.
const FILE_NAME_CHARS_MAX: usize = 200;

/// Where uploads wait.
fn dir() -> PathBuf {
    std::env::temp_dir().join("lastmile-console-imports")
}

fn ensure_dir() -> std::io::Result<PathBuf> {
    let dir = dir();
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// What is kept beside an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    programme: String,
    file_name: String,
    /// Who uploaded it (no one else sees it).
    user: i64,
    bytes: u64,
    uploaded_at: i64,
    /// The mapping last checked; guessed from the headers until then.
    mapping: Option<Mapping>,
}

/// An upload's id: what `random_secret` makes (43 URL-safe characters),
/// so that it can only name a file in [`dir`].
fn valid_id(id: &str) -> bool {
    id.len() == 43
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn paths(id: &str) -> (PathBuf, PathBuf) {
    let dir = dir();
    (
        dir.join(format!("{id}.csv")),
        dir.join(format!("{id}.json")),
    )
}

fn too_old(path: &std::path::Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .is_none_or(|age| age > Duration::from_secs(UPLOAD_KEPT_SECONDS))
}

/// Removes the uploads kept longer than [`UPLOAD_KEPT_SECONDS`].
fn sweep() {
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if too_old(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn remove(id: &str) {
    let (csv, meta) = paths(id);
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_file(meta);
}

fn spool_failed(e: impl std::fmt::Display) -> Failure {
    tracing::error!("console upload could not be kept: {e}");
    Failure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the upload could not be kept",
    )
}

fn gone(lang: Language) -> Failure {
    Failure::new(StatusCode::NOT_FOUND, t(lang, "upload_gone"))
}

/// The upload's description, if it is this person's, for this programme,
/// and not expired.
fn open(lang: Language, id: &str, user: i64, programme: &str) -> Result<Meta, Failure> {
    if !valid_id(id) {
        return Err(gone(lang));
    }
    let (csv, meta_path) = paths(id);
    let meta: Meta = std::fs::read(&meta_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| gone(lang))?;
    if meta.user != user || meta.programme != programme {
        return Err(gone(lang));
    }
    if too_old(&csv) {
        remove(id);
        return Err(gone(lang));
    }
    Ok(meta)
}

fn save(id: &str, meta: &Meta) -> Result<(), Failure> {
    let (_, path) = paths(id);
    let bytes = serde_json::to_vec(meta).map_err(spool_failed)?;
    std::fs::write(path, bytes).map_err(spool_failed)
}

fn reader(id: &str) -> Result<std::io::BufReader<std::fs::File>, Failure> {
    let (csv, _) = paths(id);
    std::fs::File::open(csv)
        .map(std::io::BufReader::new)
        .map_err(spool_failed)
}

/// A field of the register in words.
fn field_words(lang: Language, field: Field) -> &'static str {
    match field {
        Field::BeneficiaryId => t(lang, "field_beneficiary_id"),
        Field::Name => t(lang, "field_name"),
        Field::NationalId => t(lang, "field_national_id"),
        Field::Phone => t(lang, "field_phone"),
        Field::Household => t(lang, "field_household"),
        Field::HouseholdRole => t(lang, "field_household_role"),
        Field::Site => t(lang, "field_site"),
        Field::Iban => t(lang, "field_iban"),
        Field::BankCode => t(lang, "field_bank_code"),
        Field::AccountNumber => t(lang, "field_account_number"),
        Field::MobileOperator => t(lang, "field_mobile_operator"),
        Field::Msisdn => t(lang, "field_msisdn"),
        Field::Channels => t(lang, "field_channels"),
        Field::Status => t(lang, "field_status"),
    }
}

fn back_links(lang: Language, p: &ProgrammeRow) -> Markup {
    html! {
        div.links {
            a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "programme")) " " (p.name) }
            a href=(format!("/console/programmes/{}/import", p.programme)) { (t(lang, "upload_another")) }
        }
    }
}

fn upload_form(visit: &Visit, p: &ProgrammeRow) -> Markup {
    let lang = visit.lang();
    html! {
        form.card method="post" action=(format!("/console/programmes/{}/import", p.programme)) enctype="multipart/form-data" {
            // First: the server checks it before reading the file.
            (layout::csrf_field(visit))
            h2 { (t(lang, "upload_file")) }
            label for="file" { (t(lang, "csv_file")) }
            input #file type="file" name="file" accept=".csv,text/csv" required aria-describedby="file-hint";
            p.hint #file-hint { (t(lang, "upload_hint").replace("{mb}", &(UPLOAD_BYTES_MAX / 1024 / 1024).to_string())) }
            div.actions { button type="submit" { (t(lang, "upload_and_check")) } }
        }
        h2 { (t(lang, "fields")) }
        p.hint { (t(lang, "fields_hint")) }
        ul.grid {
            @for field in Field::ALL {
                li {
                    (field_words(lang, field)) " " code { (field.code()) }
                    @if field.required() { " " strong { (t(lang, "required")) } }
                }
            }
        }
    }
}

async fn render_form(
    state: AppState,
    visit: Visit,
    programme: String,
    top: Markup,
    status: StatusCode,
) -> Response {
    let found = blocking(move || {
        sweep();
        Ok(programmes::get(&state.storage, &programme)?.row)
    })
    .await;
    let lang = visit.lang();
    match found {
        Ok(p) => {
            let title = format!("{} · {}", t(lang, "import_file"), p.name);
            let body = html! {
                (top)
                div.links {
                    a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "programme")) " " (p.name) }
                }
                @if p.state == "closed" {
                    (layout::error(t(lang, "programme_is_closed")))
                } @else {
                    (upload_form(&visit, &p))
                }
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
    render_form(state, visit, programme, html! {}, StatusCode::OK).await
}

/// Streams the form's `file` part to a new upload file; the name it had.
async fn receive(
    parts: &mut multer::Multipart<'static>,
    file: &mut std::fs::File,
) -> Result<Option<String>, Failure> {
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
    let mut name = None;
    let mut written: u64 = 0;
    while let Some(mut field) = parts.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            continue;
        }
        name = Some(
            field
                .file_name()
                .unwrap_or("upload.csv")
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
    Ok(name.filter(|_| written > 0))
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Extension(upload): Extension<UploadParts>,
    Path(programme): Path<String>,
) -> Response {
    let lang = visit.lang();
    let checked = {
        let state = state.clone();
        let programme = programme.clone();
        blocking(move || {
            sweep();
            let p = programmes::get(&state.storage, &programme)?.row;
            if p.state == "closed" {
                return Err(Failure::new(
                    StatusCode::CONFLICT,
                    t(lang, "programme_is_closed"),
                ));
            }
            let dir = ensure_dir().map_err(spool_failed)?;
            let id = crate::people::random_secret();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let file = options
                .open(dir.join(format!("{id}.csv")))
                .map_err(spool_failed)?;
            Ok((id, file))
        })
        .await
    };
    let (id, mut file) = match checked {
        Ok(opened) => opened,
        Err(failure) => {
            let top = layout::error(&failure.message);
            return render_form(state, visit, programme, top, failure.status).await;
        }
    };
    let received = match upload.take() {
        Some(mut parts) => tokio::time::timeout(
            Duration::from_secs(UPLOAD_SECONDS_MAX),
            receive(&mut parts, &mut file),
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
    let kept = received.and_then(|name| {
        let name = name.ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, t(lang, "no_file")))?;
        file.sync_all().map_err(spool_failed)?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        save(
            &id,
            &Meta {
                programme: programme.clone(),
                file_name: name,
                user: visit.caller.id,
                bytes,
                uploaded_at: state.now(),
                mapping: None,
            },
        )
    });
    drop(file);
    match kept {
        Ok(()) => see_other(&format!("/console/programmes/{programme}/import/{id}")),
        Err(failure) => {
            remove(&id);
            let top = layout::error(&failure.message);
            render_form(state, visit, programme, top, failure.status).await
        }
    }
}

/// What the review of an upload shows.
struct Reviewed {
    programme: ProgrammeRow,
    meta: Meta,
    headers: Vec<String>,
    mapping: Mapping,
    /// The check's report, or why the file could not be checked.
    check: Result<Report, String>,
}

fn check(state: &AppState, visit: &Visit, programme: &str, id: &str) -> Result<Reviewed, Failure> {
    let lang = visit.lang();
    let meta = open(lang, id, visit.caller.id, programme)?;
    let p = programmes::get(&state.storage, programme)?.row;
    let headers = match domain::headers(reader(id)?) {
        Ok(headers) => headers,
        Err(e) => {
            return Ok(Reviewed {
                programme: p,
                mapping: Mapping::default(),
                meta,
                headers: Vec::new(),
                check: Err(e.to_string()),
            });
        }
    };
    let mapping = meta
        .mapping
        .clone()
        .unwrap_or_else(|| Mapping::guess(&headers));
    let check = domain::import(
        &state.storage,
        &visit.caller.actor(),
        programme,
        &meta.file_name,
        reader(id)?,
        &mapping,
        Options {
            good_rows: false,
            check_only: true,
        },
        state.now(),
    )
    .map_err(|e| match e {
        ImportError::Storage(_) => t(lang, "failed").to_owned(),
        other => other.to_string(),
    });
    Ok(Reviewed {
        programme: p,
        meta,
        headers,
        mapping,
        check,
    })
}

fn counts(lang: Language, report: &Report, done: bool) -> Markup {
    let (created, updated) = if done {
        (t(lang, "created_rows"), t(lang, "updated_rows"))
    } else {
        (t(lang, "would_create"), t(lang, "would_update"))
    };
    html! {
        div.tiles #report {
            div.tile { b data-report="rows_read" { (report.rows_read) } (t(lang, "rows_read")) }
            div.tile { b data-report="created" { (report.created) } (created) }
            div.tile { b data-report="updated" { (report.updated) } (updated) }
            div.tile { b data-report="unchanged" { (report.unchanged) } (t(lang, "unchanged_rows")) }
            div.tile.alert[report.rejected > 0] { b data-report="rejected" { (report.rejected) } (t(lang, "rejected_rows")) }
            div.tile.alert[report.errors_total > 0] { b data-report="errors" { (report.errors_total) } (t(lang, "errors")) }
        }
    }
}

fn errors_table(lang: Language, report: &Report) -> Markup {
    row_errors(lang, &report.errors, report.errors_total)
}

/// The bad rows of a file (the first listed of `total`), by line: line,
/// column and reason.
pub(super) fn row_errors(lang: Language, errors: &[domain::RowError], total: u64) -> Markup {
    html! {
        @if !errors.is_empty() {
            h2 #errors-title { (t(lang, "row_errors")) }
            @if total > errors.len() as u64 {
                p.hint {
                    (t(lang, "errors_listed")
                        .replace("{listed}", &errors.len().to_string())
                        .replace("{total}", &total.to_string()))
                }
            }
            div.wide {
                table #row-errors {
                    thead { tr {
                        th.num scope="col" { (t(lang, "line")) }
                        th scope="col" { (t(lang, "column")) }
                        th scope="col" { (t(lang, "reason")) }
                    } }
                    tbody {
                        @for e in errors {
                            tr {
                                td.num { (e.line) }
                                td { @if let Some(c) = &e.column { code { (c) } } @else { "-" } }
                                td { (e.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn review_body(visit: &Visit, id: &str, r: &Reviewed, top: Markup) -> Markup {
    let lang = visit.lang();
    let p = &r.programme;
    let action = format!("/console/programmes/{}/import/{id}", p.programme);
    let errors = r.check.as_ref().map(|c| c.errors_total).unwrap_or(0);
    let good = r
        .check
        .as_ref()
        .map(|c| c.created + c.updated + c.unchanged)
        .unwrap_or(0);
    html! {
        (top)
        (back_links(lang, p))
        dl.facts {
            dt { (t(lang, "file")) } dd { (r.meta.file_name) " (" (r.meta.bytes) " " (t(lang, "bytes")) ")" }
            dt { (t(lang, "uploaded")) } dd { (layout::time(r.meta.uploaded_at)) }
            dt { (t(lang, "headers")) } dd #headers {
                @for (i, h) in r.headers.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (h) }
                }
            }
        }
        h2 { (t(lang, "check")) }
        @match &r.check {
            Ok(report) => {
                @if report.errors_total == 0 {
                    (layout::notice(t(lang, "check_clean")))
                } @else {
                    p.error role="alert" {
                        (t(lang, "check_errors").replace("{rows}", &report.rejected.to_string()))
                    }
                }
                (counts(lang, report, false))
            }
            Err(message) => { (layout::error(message)) }
        }
        @if !r.headers.is_empty() {
            form.card method="post" action=(action) {
                (layout::csrf_field(visit))
                h2 { (t(lang, "mapping")) }
                p.hint { (t(lang, "mapping_hint")) }
                div.grid {
                    @for field in Field::ALL {
                        @let chosen = r.mapping.0.get(&field);
                        div {
                            label for=(format!("map-{}", field.code())) {
                                (field_words(lang, field))
                                @if field.required() { " *" }
                            }
                            select id=(format!("map-{}", field.code())) name=(field.code()) {
                                option value="" selected[chosen.is_none()] { "— " (t(lang, "not_in_file")) " —" }
                                @for h in &r.headers {
                                    option value=(h) selected[chosen == Some(h)] { (h) }
                                }
                            }
                        }
                    }
                }
                p.hint { "* " (t(lang, "required")) }
                div.actions {
                    button.secondary type="submit" name="action" value="check" { (t(lang, "check_again")) }
                    button type="submit" name="action" value="import" { (t(lang, "import")) }
                    @if errors > 0 && good > 0 {
                        button.danger type="submit" name="action" value="good_rows" {
                            @if good == 1 { (t(lang, "import_good_row")) }
                            @else { (t(lang, "import_good_rows").replace("{rows}", &good.to_string())) }
                        }
                    }
                }
            }
        }
        @if let Ok(report) = &r.check { (errors_table(lang, report)) }
    }
}

async fn render_review(
    state: AppState,
    visit: Visit,
    programme: String,
    id: String,
    top: Markup,
    status: StatusCode,
) -> Response {
    let shown = {
        let visit = visit.clone();
        let id = id.clone();
        blocking(move || check(&state, &visit, &programme, &id)).await
    };
    let lang = visit.lang();
    match shown {
        Ok(reviewed) => {
            let title = format!("{} · {}", t(lang, "import_file"), reviewed.programme.name);
            let body = review_body(&visit, &id, &reviewed, top);
            again(status, layout::page(&visit, "programmes", &title, body))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn review(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path((programme, upload)): Path<(String, String)>,
) -> Response {
    render_review(state, visit, programme, upload, html! {}, StatusCode::OK).await
}

/// What an import did, shown once (the upload is gone after it).
fn result_body(lang: Language, p: &ProgrammeRow, report: &Report) -> Markup {
    html! {
        @if report.import.is_none() {
            p.notice role="status" #nothing-changed { (t(lang, "nothing_changed")) }
        } @else {
            p.notice role="status" #imported {
                (t(lang, "imported").replace("{import}", &report.import.unwrap_or_default().to_string()))
            }
        }
        (counts(lang, report, true))
        p {
            (t(lang, "open_signals")) ": " strong { (report.signals_open) } " · "
            a href=(format!("/console/signals?programme={}", p.programme)) { (t(lang, "signals")) }
        }
        div.links {
            a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "back_to_programme")) }
            a href=(format!("/console/programmes/{}/beneficiaries", p.programme)) { (t(lang, "beneficiaries")) }
            a href=(format!("/console/programmes/{}/import", p.programme)) { (t(lang, "upload_another")) }
        }
        (errors_table(lang, report))
    }
}

pub async fn act(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path((programme, id)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = visit.lang();
    let action = fields
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mapping = Mapping(
        fields
            .iter()
            .filter(|(_, header)| !header.is_empty())
            .filter_map(|(k, header)| Field::parse(k).map(|f| (f, header.clone())))
            .collect(),
    );
    let good_rows = match action.as_str() {
        "check" => None,
        "import" => Some(false),
        "good_rows" => Some(true),
        _ => {
            return Failure::new(
                StatusCode::BAD_REQUEST,
                "check, import or import the good rows",
            )
            .with_visit(visit)
            .into_response();
        }
    };
    let done = {
        let state = state.clone();
        let visit = visit.clone();
        let programme = programme.clone();
        let id = id.clone();
        blocking(move || {
            let mut meta = open(lang, &id, visit.caller.id, &programme)?;
            meta.mapping = Some(mapping.clone());
            save(&id, &meta)?;
            let Some(good_rows) = good_rows else {
                return Ok(None);
            };
            let p = programmes::get(&state.storage, &programme)?.row;
            let imported = domain::import(
                &state.storage,
                &visit.caller.actor(),
                &programme,
                &meta.file_name,
                reader(&id)?,
                &mapping,
                Options {
                    good_rows,
                    check_only: false,
                },
                state.now(),
            )?;
            remove(&id);
            Ok(Some((p, imported)))
        })
        .await
    };
    match done {
        Ok(None) => see_other(&format!("/console/programmes/{programme}/import/{id}")),
        Ok(Some((p, report))) => {
            let title = format!("{} · {}", t(lang, "import_done"), p.name);
            again(
                StatusCode::OK,
                layout::page(&visit, "programmes", &title, result_body(lang, &p, &report)),
            )
        }
        Err(failure) if failure.status == StatusCode::NOT_FOUND => {
            failure.with_visit(visit).into_response()
        }
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_review(state, visit, programme, id, top, failure.status).await
        }
    }
}
