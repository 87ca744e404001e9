//! The programme registry over HTTP: programmes, sites, beneficiary
//! imports and search, fraud signals, cycles and their entitlements.

use std::io::Write;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

use super::hq::{PageQuery, answer, bad_request, json, number, parse_json};
use super::{ApiProblem, AppState, Audience, blocking};
use crate::people::{Caller, Permission};
use crate::proposals;
use crate::registry::amounts::{self, AmountsError};
use crate::registry::cycles::{self, RuleRequest};
use crate::registry::import::{self, ImportError, Mapping, Options};
use crate::registry::programmes::{self, NewProgramme, Transition};
use crate::registry::release;
use crate::registry::{RegistryError, signals, sites};
use crate::storage::registry::{self as table, ProgrammeRow};
use crate::storage::sql::Page;

/// Largest beneficiary file, in bytes.
pub const IMPORT_BYTES_MAX: u64 = 512 * 1024 * 1024;
/// Longest a file upload may take.
pub const IMPORT_UPLOAD_SECONDS_MAX: u64 = 15 * 60;

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    use Audience::{Hq, HqFile};
    use Permission::*;
    vec![
        (
            Method::GET,
            "/v1/hq/programmes",
            Hq(ViewProgrammes),
            get(list_programmes),
        ),
        (
            Method::POST,
            "/v1/hq/programmes",
            Hq(ManageProgrammes),
            post(create_programme),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}",
            Hq(ViewProgrammes),
            get(show_programme),
        ),
        (
            Method::POST,
            "/v1/hq/programmes/{programme}/state",
            Hq(ManageProgrammes),
            post(change_programme),
        ),
        (
            Method::GET,
            "/v1/hq/sites",
            Hq(ViewProgrammes),
            get(list_sites),
        ),
        (
            Method::POST,
            "/v1/hq/sites",
            Hq(ManageSites),
            post(create_site),
        ),
        (
            Method::POST,
            "/v1/hq/programmes/{programme}/imports",
            HqFile(ImportBeneficiaries),
            post(import_file),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}/imports",
            Hq(ViewProgrammes),
            get(list_imports),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}/beneficiaries",
            Hq(ViewBeneficiaries),
            get(search_beneficiaries),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}/beneficiaries/{beneficiary}",
            Hq(ViewBeneficiaries),
            get(show_beneficiary),
        ),
        (
            Method::GET,
            "/v1/hq/signals",
            Hq(ViewBeneficiaries),
            get(list_signals),
        ),
        (
            Method::POST,
            "/v1/hq/signals/{signal}/review",
            Hq(ReviewSignals),
            post(review_signal),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}/cycles",
            Hq(ViewProgrammes),
            get(list_cycles),
        ),
        (
            Method::POST,
            "/v1/hq/programmes/{programme}/cycles",
            Hq(ManageCycles),
            post(generate_cycle),
        ),
        (
            Method::POST,
            "/v1/hq/programmes/{programme}/cycles/{period}/amounts",
            HqFile(ManageCycles),
            post(upload_amounts),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}/cycles/{period}/amounts",
            Hq(ViewProgrammes),
            get(show_amounts),
        ),
        (
            Method::GET,
            "/v1/hq/cycles/{cycle}",
            Hq(ViewProgrammes),
            get(show_cycle),
        ),
        (
            Method::GET,
            "/v1/hq/cycles/{cycle}/entitlements",
            Hq(ViewBeneficiaries),
            get(list_entitlements),
        ),
        (
            Method::POST,
            "/v1/hq/cycles/{cycle}/entitlements/{beneficiary}/exclusion",
            Hq(ManageCycles),
            post(exclude_entitlement),
        ),
        (
            Method::POST,
            "/v1/hq/cycles/{cycle}/submit",
            Hq(ManageCycles),
            post(submit_cycle),
        ),
        (
            Method::POST,
            "/v1/hq/cycles/{cycle}/release",
            Hq(ManageCycles),
            post(release_cycle),
        ),
    ]
}

async fn list_programmes(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(programmes::list(&state.storage, q.page())?)
    })
    .await
}

async fn create_programme(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::CREATED, move || {
        let new: NewProgramme = parse_json(&body)?;
        Ok(programmes::create(
            &state.storage,
            &caller.actor(),
            &new,
            state.now(),
        )?)
    })
    .await
}

/// A programme with its counts.
#[derive(Serialize)]
struct ProgrammeView {
    #[serde(flatten)]
    programme: ProgrammeRow,
    beneficiaries: i64,
    active_beneficiaries: i64,
    open_signals: u64,
}

async fn show_programme(State(state): State<AppState>, Path(programme): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(state.storage.transaction(|tx| {
            let found = programmes::get_in(tx, &programme)?;
            let (beneficiaries, active_beneficiaries) =
                table::beneficiary_counts(tx.sql(), &programme)?;
            let open_signals = signals::open_count_in(tx, &programme)?;
            Ok::<_, RegistryError>(ProgrammeView {
                programme: found.row,
                beneficiaries,
                active_beneficiaries,
                open_signals,
            })
        })?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionRequest {
    transition: Transition,
}

async fn change_programme(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(programme): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let request: TransitionRequest = parse_json(&body)?;
        Ok(programmes::transition(
            &state.storage,
            &caller.actor(),
            &programme,
            request.transition,
            state.now(),
        )?)
    })
    .await
}

async fn list_sites(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(sites::list(&state.storage, q.page())?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteRequest {
    site: String,
    name: String,
}

async fn create_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::CREATED, move || {
        let request: SiteRequest = parse_json(&body)?;
        Ok(sites::create(
            &state.storage,
            &caller.actor(),
            &request.site,
            &request.name,
            state.now(),
        )?)
    })
    .await
}

/// `?mapping=<JSON>&good_rows=&check_only=&file_name=` of an import.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// `{"beneficiary_id": "<header>", …}`; guessed from the headers when
    /// absent.
    mapping: Option<String>,
    #[serde(default)]
    good_rows: bool,
    #[serde(default)]
    check_only: bool,
    file_name: Option<String>,
}

/// What an import answers: the mapping it used, and its report.
#[derive(Serialize)]
struct ImportAnswer {
    headers: Vec<String>,
    mapping: Mapping,
    #[serde(flatten)]
    report: import::Report,
}

/// The spooled upload, removed however the import ends.
pub(super) struct Spool(pub(super) std::path::PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Streams the body to a file of its own, within [`IMPORT_BYTES_MAX`] and
/// [`IMPORT_UPLOAD_SECONDS_MAX`].
pub(super) async fn spool(body: Body) -> Result<Spool, ApiProblem> {
    let path = std::env::temp_dir().join(format!(
        "lastmile-upload-{}",
        crate::people::random_secret()
    ));
    let spool = Spool(path);
    let mut file = std::fs::File::create(&spool.0)
        .map_err(|e| ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "spool", e))?;
    let mut body = body;
    let mut written: u64 = 0;
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| bad_request("unreadable_body", e))?;
            if let Ok(data) = frame.into_data() {
                written += data.len() as u64;
                if written > IMPORT_BYTES_MAX {
                    return Err(ApiProblem::json(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "file_too_large",
                        format!("an uploaded file is at most {IMPORT_BYTES_MAX} bytes"),
                    ));
                }
                file.write_all(&data)
                    .map_err(|e| ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "spool", e))?;
            }
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(IMPORT_UPLOAD_SECONDS_MAX), read)
        .await
        .map_err(|_| {
            ApiProblem::json(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the file was not received within {IMPORT_UPLOAD_SECONDS_MAX} seconds"),
            )
        })??;
    file.sync_all()
        .map_err(|e| ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "spool", e))?;
    Ok(spool)
}

/// The refusal of a file whose rows have errors: the problem, with the
/// report that lists them.
pub(super) fn rows_refused(detail: &str, answer: impl Serialize) -> Response {
    let body = serde_json::json!({
        "code": "rows_have_errors",
        "title": "Unprocessable Entity",
        "detail": detail,
        "report": answer,
    });
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn import_file(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(programme): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Response {
    let mapping = match q.mapping.as_deref().map(serde_json::from_str::<Mapping>) {
        Some(Err(e)) => return bad_request("bad_mapping", e).into_response(),
        Some(Ok(mapping)) => Some(mapping),
        None => None,
    };
    let spooled = match spool(body).await {
        Ok(spooled) => spooled,
        Err(problem) => return problem.into_response(),
    };
    let done = blocking(false, move || {
        let open = || {
            std::fs::File::open(&spooled.0)
                .map(std::io::BufReader::new)
                .map_err(|e| ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "spool", e))
        };
        let headers = import::headers(open()?).map_err(ApiProblem::from)?;
        let mapping = mapping.unwrap_or_else(|| Mapping::guess(&headers));
        let result = import::import(
            &state.storage,
            &caller.actor(),
            &programme,
            q.file_name.as_deref().unwrap_or("upload.csv"),
            open()?,
            &mapping,
            Options {
                good_rows: q.good_rows,
                check_only: q.check_only,
            },
            state.now(),
        );
        Ok::<_, ApiProblem>((headers, mapping, result))
    })
    .await;
    match done {
        Ok(Ok((headers, mapping, Ok(report)))) => {
            let status = if report.import.is_some() {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            json(
                status,
                &ImportAnswer {
                    headers,
                    mapping,
                    report,
                },
            )
        }
        Ok(Ok((headers, mapping, Err(error)))) => {
            let detail = error.to_string();
            match error {
                ImportError::Rows(report) => rows_refused(
                    &detail,
                    ImportAnswer {
                        headers,
                        mapping,
                        report: *report,
                    },
                ),
                other => ApiProblem::from(other).into_response(),
            }
        }
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

async fn list_imports(
    State(state): State<AppState>,
    Path(programme): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    answer(StatusCode::OK, move || {
        Ok(state.storage.transaction(|tx| {
            programmes::get_in(tx, &programme)?;
            Ok::<_, RegistryError>(table::imports(tx.sql(), &programme, q.page())?)
        })?)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// An exact beneficiary id, national ID, phone or household.
    q: Option<String>,
    /// The start of a name.
    name: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn search_beneficiaries(
    State(state): State<AppState>,
    Path(programme): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Response {
    answer(StatusCode::OK, move || {
        let exact = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let name = q.name.as_deref().map(str::trim).filter(|s| !s.is_empty());
        Ok(state.storage.transaction(|tx| {
            programmes::get_in(tx, &programme)?;
            Ok::<_, RegistryError>(table::search_beneficiaries(
                tx.sql(),
                &programme,
                exact,
                name,
                Page::new(q.limit, q.offset),
            )?)
        })?)
    })
    .await
}

async fn show_beneficiary(
    State(state): State<AppState>,
    Path((programme, beneficiary)): Path<(String, String)>,
) -> Response {
    answer(StatusCode::OK, move || {
        Ok(state.storage.transaction(|tx| {
            table::beneficiary(tx.sql(), &programme, &beneficiary)?.ok_or(
                RegistryError::UnknownBeneficiary {
                    programme: programme.clone(),
                    beneficiary: beneficiary.clone(),
                },
            )
        })?)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalQuery {
    programme: Option<String>,
    #[serde(default)]
    open: bool,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_signals(State(state): State<AppState>, Query(q): Query<SignalQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(signals::list(
            &state.storage,
            q.programme.as_deref(),
            q.open,
            Page::new(q.limit, q.offset),
        )?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteRequest {
    note: String,
}

async fn review_signal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(signal): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&signal, "signal")?;
        let request: NoteRequest = parse_json(&body)?;
        signals::review(
            &state.storage,
            &caller.actor(),
            id,
            &request.note,
            state.now(),
        )?;
        Ok(serde_json::json!({ "reviewed": id }))
    })
    .await
}

async fn list_cycles(
    State(state): State<AppState>,
    Path(programme): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    answer(StatusCode::OK, move || {
        programmes::get(&state.storage, &programme)?;
        Ok(cycles::list(&state.storage, &programme, q.page())?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CycleRequest {
    period: String,
    #[serde(flatten)]
    rule: RuleRequest,
}

async fn generate_cycle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(programme): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let request: CycleRequest = parse_json(&body)?;
        Ok(cycles::generate(
            &state.storage,
            &caller.actor(),
            &programme,
            &request.period,
            &request.rule,
            state.now(),
        )?)
    })
    .await
}

#[derive(Deserialize)]
struct AmountsQuery {
    #[serde(default)]
    check_only: bool,
    file_name: Option<String>,
}

/// Uploads the amounts file of a period (`registry::amounts`): 201 when it
/// was applied, 200 when checked or the same as the current one, 422 with
/// the report when rows have errors.
async fn upload_amounts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((programme, period)): Path<(String, String)>,
    Query(q): Query<AmountsQuery>,
    body: Body,
) -> Response {
    let spooled = match spool(body).await {
        Ok(spooled) => spooled,
        Err(problem) => return problem.into_response(),
    };
    let done = blocking(false, move || {
        let file = std::fs::File::open(&spooled.0)
            .map(std::io::BufReader::new)
            .map_err(|e| ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "spool", e))?;
        Ok::<_, ApiProblem>(amounts::upload(
            &state.storage,
            &caller.actor(),
            &programme,
            &period,
            q.file_name.as_deref().unwrap_or("amounts.csv"),
            file,
            amounts::Options {
                check_only: q.check_only,
            },
            state.now(),
        ))
    })
    .await;
    match done {
        Ok(Ok(Ok(report))) => {
            let status = if report.checked_only || report.unchanged {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            json(status, &report)
        }
        Ok(Ok(Err(error))) => {
            let detail = error.to_string();
            match error {
                AmountsError::Rows(report) => {
                    let body = serde_json::json!({
                        "code": "rows_have_errors",
                        "title": "Unprocessable Entity",
                        "detail": detail,
                        "report": report,
                    });
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
                        body.to_string(),
                    )
                        .into_response()
                }
                other => ApiProblem::from(other).into_response(),
            }
        }
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

async fn show_amounts(
    State(state): State<AppState>,
    Path((programme, period)): Path<(String, String)>,
) -> Response {
    answer(StatusCode::OK, move || {
        let current = amounts::current(&state.storage, &programme, &period)?;
        current.ok_or_else(|| {
            ApiProblem::json(
                StatusCode::NOT_FOUND,
                "no_amounts_file",
                format!("no amounts file was uploaded for period {period} of {programme}"),
            )
        })
    })
    .await
}

/// A cycle with its counts per state and channel.
#[derive(Serialize)]
struct CycleView {
    #[serde(flatten)]
    cycle: table::CycleRow,
    breakdown: Vec<Breakdown>,
}

#[derive(Serialize)]
struct Breakdown {
    state: String,
    channel: String,
    count: i64,
    total_minor: i64,
}

async fn show_cycle(State(state): State<AppState>, Path(cycle): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&cycle, "cycle")?;
        let cycle = cycles::get(&state.storage, id)?;
        let breakdown = cycles::breakdown(&state.storage, id)?
            .into_iter()
            .map(|(state, channel, count, total_minor)| Breakdown {
                state,
                channel,
                count,
                total_minor,
            })
            .collect();
        Ok(CycleView { cycle, breakdown })
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntitlementQuery {
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_entitlements(
    State(state): State<AppState>,
    Path(cycle): Path<String>,
    Query(q): Query<EntitlementQuery>,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&cycle, "cycle")?;
        cycles::get(&state.storage, id)?;
        Ok(cycles::entitlements(
            &state.storage,
            id,
            q.state.as_deref(),
            Page::new(q.limit, q.offset),
        )?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExclusionRequest {
    excluded: bool,
    #[serde(default)]
    note: String,
}

async fn exclude_entitlement(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((cycle, beneficiary)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&cycle, "cycle")?;
        let request: ExclusionRequest = parse_json(&body)?;
        Ok(cycles::exclude(
            &state.storage,
            &caller.actor(),
            id,
            &beneficiary,
            request.excluded,
            &request.note,
            state.now(),
        )?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    reason: String,
    #[serde(default)]
    over_budget_approval: bool,
}

async fn submit_cycle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(cycle): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let id = number(&cycle, "cycle")?;
        let request: SubmitRequest = parse_json(&body)?;
        Ok(proposals::submit_cycle(
            &state.storage,
            &caller,
            id,
            &request.reason,
            request.over_budget_approval,
            state.now(),
        )?)
    })
    .await
}

async fn release_cycle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(cycle): Path<String>,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&cycle, "cycle")?;
        Ok(release::release(
            &state.storage,
            &state.keys,
            &caller.actor(),
            id,
            None,
            state.now(),
        )?)
    })
    .await
}
