//! Programmes: the list and a new one, the distribution sites, one
//! programme with its counts, imports and cycles, activating or closing it,
//! and generating a cycle of it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, again, blocking, layout, see_other};
use crate::api::AppState;
use crate::people::{Language, Permission};
use crate::registry::cycles::{self, RuleRequest};
use crate::registry::programmes::{self, NewProgramme, Programme, Target, Transition};
use crate::registry::{RegistryError, signals, sites};
use crate::storage::registry::{self as table, CycleRow, ImportRow, ProgrammeRow, SiteRow};
use crate::storage::sql::Page;

/// Sites listed on the programmes page.
const SITES_SHOWN: u32 = 50;
/// Imports and cycles listed on a programme's page.
const IMPORTS_SHOWN: u32 = 20;
const CYCLES_SHOWN: u32 = 50;

/// A programme's state in words.
pub fn state_word(lang: Language, state: &str) -> String {
    match state {
        "draft" => t(lang, "state_draft"),
        "active" => t(lang, "state_active"),
        "closed" => t(lang, "state_closed"),
        "submitted" => t(lang, "state_submitted"),
        "approved" => t(lang, "approved"),
        "rejected" => t(lang, "rejected"),
        "excluded" => t(lang, "state_excluded"),
        "cancelled" => t(lang, "state_cancelled"),
        "issued" => t(lang, "state_issued"),
        "redeemed" => t(lang, "state_redeemed"),
        "paid" => t(lang, "state_paid"),
        "proposed" => t(lang, "state_proposed"),
        "retired" => t(lang, "state_retired"),
        other => return other.to_owned(),
    }
    .to_owned()
}

/// A channel kind in words.
pub fn channel_word(lang: Language, kind: &str) -> String {
    match kind {
        "bank" => t(lang, "channel_bank"),
        "mobile" => t(lang, "channel_mobile"),
        "cash" => t(lang, "channel_cash"),
        "voucher" => t(lang, "channel_voucher"),
        other => return other.to_owned(),
    }
    .to_owned()
}

/// A stored channel list (`mobile,bank`) in words.
pub fn channels_words(lang: Language, channels: &str) -> String {
    channels
        .split(',')
        .map(|c| channel_word(lang, c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A national-ID mask (`AA999999`) in words, in the page's language:
/// "8 characters: 2 letters, 6 digits" (the domain's `meaning` is English).
pub fn pattern_words(lang: Language, pattern: &str) -> String {
    // Runs of one class: a digit, a letter, either, or literal text.
    let mut runs: Vec<(char, String)> = Vec::new();
    for c in pattern.chars() {
        let class = if matches!(c, '9' | 'A' | '*') { c } else { 'L' };
        match runs.last_mut() {
            Some((last, text)) if *last == class => text.push(c),
            _ => runs.push((class, c.to_string())),
        }
    }
    let words: Vec<String> = runs
        .into_iter()
        .map(|(class, text)| {
            let n = text.chars().count();
            let (one, many) = match class {
                '9' => (t(lang, "mask_digit"), t(lang, "mask_digits")),
                'A' => (t(lang, "mask_letter"), t(lang, "mask_letters")),
                '*' => (t(lang, "mask_either"), t(lang, "mask_eithers")),
                _ => return format!("\u{201c}{text}\u{201d}"),
            };
            format!("{n} {}", if n == 1 { one } else { many })
        })
        .collect();
    t(lang, "mask_words")
        .replace("{n}", &pattern.chars().count().to_string())
        .replace("{parts}", &words.join(", "))
}

fn state_badge(lang: Language, state: &str) -> Markup {
    html! { span class=(format!("status-{state}")) { (state_word(lang, state)) } }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    offset: Option<u64>,
    done: Option<String>,
}

/// The new-programme form as typed (kept when it is refused).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProgrammeForm {
    programme: String,
    name: String,
    currency: String,
    issuer: String,
    channels: String,
    budget: String,
    starts_on: String,
    ends_on: String,
    target: String,
    household_max: String,
    id_pattern: String,
}

impl ProgrammeForm {
    fn to_new(&self) -> Result<NewProgramme, Failure> {
        let bad = |e: RegistryError| Failure::new(StatusCode::BAD_REQUEST, e);
        let household_max = match self.household_max.trim() {
            "" => None,
            text => Some(
                text.parse::<i64>()
                    .map_err(|_| bad(RegistryError::BadHouseholdMax))?,
            ),
        };
        Ok(NewProgramme {
            programme: self.programme.clone(),
            name: self.name.clone(),
            currency: self.currency.trim().to_ascii_uppercase(),
            issuer: self.issuer.clone(),
            channels: self
                .channels
                .split([',', ';', ' '])
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty())
                .collect(),
            budget: self.budget.clone(),
            starts_on: self.starts_on.clone(),
            ends_on: Some(self.ends_on.clone()).filter(|e| !e.trim().is_empty()),
            target: Target::parse(self.target.trim()).map_err(bad)?,
            household_max,
            id_pattern: Some(self.id_pattern.clone()).filter(|p| !p.trim().is_empty()),
        })
    }
}

struct Listed {
    programmes: Vec<ProgrammeRow>,
    sites: Vec<SiteRow>,
    page: Page,
}

fn list_body(
    visit: &Visit,
    issuer: &str,
    listed: &Listed,
    prior: Option<&ProgrammeForm>,
    top: Markup,
) -> Markup {
    let lang = visit.lang();
    let blank = ProgrammeForm {
        issuer: issuer.to_owned(),
        channels: "mobile, bank, cash".to_owned(),
        target: "individual".to_owned(),
        ..ProgrammeForm::default()
    };
    let form = prior.unwrap_or(&blank);
    html! {
        (top)
        @if listed.programmes.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            div.wide {
                table {
                    thead { tr {
                        th scope="col" { (t(lang, "programme")) }
                        th scope="col" { (t(lang, "name")) }
                        th scope="col" { (t(lang, "currency")) }
                        th scope="col" { (t(lang, "channels")) }
                        th.num scope="col" { (t(lang, "budget")) }
                        th scope="col" { (t(lang, "target")) }
                        th scope="col" { (t(lang, "status")) }
                    } }
                    tbody {
                        @for p in &listed.programmes {
                            tr {
                                td.mono { a href=(format!("/console/programmes/{}", p.programme)) { (p.programme) } }
                                td { (p.name) }
                                td { (p.currency) }
                                td { (channels_words(lang, &p.channels)) }
                                td.num { (layout::amount(lang, p.budget_minor, &p.currency)) }
                                td { (target_word(lang, &p.target)) }
                                td { (state_badge(lang, &p.state)) }
                            }
                        }
                    }
                }
            }
            (layout::pager(lang, "/console/programmes", listed.page.offset, listed.page.limit, listed.programmes.len()))
        }
        @if visit.caller.may(Permission::ManageProgrammes) {
            form.card method="post" action="/console/programmes" {
                h2 { (t(lang, "new_programme")) }
                (layout::csrf_field(visit))
                div.grid {
                    div { label for="programme" { (t(lang, "programme_id")) }
                        input #programme name="programme" value=(form.programme) required maxlength="64" placeholder="cash-2027"; }
                    div { label for="name" { (t(lang, "name")) }
                        input #name name="name" value=(form.name) required maxlength="120"; }
                    div { label for="currency" { (t(lang, "currency")) }
                        input #currency name="currency" value=(form.currency) required maxlength="3" placeholder="KES"; }
                    div { label for="issuer" { (t(lang, "issuer")) }
                        input #issuer name="issuer" value=(form.issuer) required maxlength="64"; }
                    div { label for="channels" { (t(lang, "channels_order")) }
                        input #channels name="channels" value=(form.channels) required maxlength="64" aria-describedby="channels-hint";
                        p.hint #channels-hint { (t(lang, "channels_hint")) } }
                    div { label for="budget" { (t(lang, "budget_per_cycle")) }
                        input #budget name="budget" value=(form.budget) required inputmode="decimal" placeholder="250000.00"; }
                    div { label for="starts_on" { (t(lang, "starts_on_input")) }
                        input #starts_on name="starts_on" value=(form.starts_on) required pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}" placeholder="2027-01-01"; }
                    div { label for="ends_on" { (t(lang, "ends_on_input")) }
                        input #ends_on name="ends_on" value=(form.ends_on) pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}" placeholder="2027-12-31"; }
                    div { label for="target" { (t(lang, "target")) }
                        select #target name="target" {
                            option value="individual" selected[form.target == "individual"] { (t(lang, "target_individual")) }
                            option value="household" selected[form.target == "household"] { (t(lang, "target_household")) }
                        } }
                    div { label for="household_max" { (t(lang, "household_max")) }
                        input #household_max name="household_max" value=(form.household_max) inputmode="numeric" maxlength="3"; }
                    div { label for="id_pattern" { (t(lang, "id_pattern")) }
                        input #id_pattern name="id_pattern" value=(form.id_pattern) maxlength="32" placeholder="99999999" aria-describedby="id-pattern-hint";
                        p.hint #id-pattern-hint { (t(lang, "id_pattern_hint")) } }
                }
                div.actions { button type="submit" { (t(lang, "create_programme")) } }
            }
        }
        h2 { (t(lang, "sites")) }
        @if listed.sites.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (t(lang, "site")) }
                    th scope="col" { (t(lang, "name")) }
                    th scope="col" { (t(lang, "created")) }
                } }
                tbody {
                    @for s in &listed.sites {
                        tr { td.mono { (s.site) } td { (s.name) } td { (layout::time(s.created_at)) } }
                    }
                }
            }
            @if listed.sites.len() == SITES_SHOWN as usize { p.hint { (t(lang, "first_sites")) } }
        }
        @if visit.caller.may(Permission::ManageSites) {
            form.card method="post" action="/console/sites" {
                h2 { (t(lang, "new_site")) }
                (layout::csrf_field(visit))
                div.filters {
                    div { label for="site" { (t(lang, "site_id")) } input #site name="site" required maxlength="64" placeholder="site-1"; }
                    div { label for="site-name" { (t(lang, "name")) } input #site-name name="name" required maxlength="120"; }
                    button type="submit" { (t(lang, "create")) }
                }
            }
        }
    }
}

fn target_word(lang: Language, target: &str) -> &'static str {
    match target {
        "household" => t(lang, "target_household"),
        _ => t(lang, "target_individual"),
    }
}

async fn render_list(
    state: AppState,
    visit: Visit,
    offset: Option<u64>,
    prior: Option<ProgrammeForm>,
    top: Markup,
    status: StatusCode,
) -> Response {
    let page = Page::new(None, offset);
    let issuer = state.issuer.to_string();
    let found = blocking(move || {
        Ok(Listed {
            programmes: programmes::list(&state.storage, page)?,
            sites: sites::list(&state.storage, Page::first(SITES_SHOWN))?,
            page,
        })
    })
    .await;
    let lang = visit.lang();
    match found {
        Ok(listed) => again(
            status,
            layout::page(
                &visit,
                "programmes",
                t(lang, "programmes"),
                list_body(&visit, &issuer, &listed, prior.as_ref(), top),
            ),
        ),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let top = match q.done.as_deref() {
        Some("site") => layout::notice(t(visit.lang(), "site_created")),
        Some(_) => layout::notice(t(visit.lang(), "done")),
        None => html! {},
    };
    render_list(state, visit, q.offset, None, top, StatusCode::OK).await
}

pub async fn create(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<ProgrammeForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let typed = form.clone();
    let done = blocking(move || {
        let new = typed.to_new()?;
        Ok(programmes::create(
            &shared.storage,
            &actor,
            &new,
            shared.now(),
        )?)
    })
    .await;
    match done {
        Ok(row) => see_other(&format!(
            "/console/programmes/{}?done=created",
            row.programme
        )),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_list(state, visit, None, Some(form), top, failure.status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SiteForm {
    site: String,
    name: String,
}

pub async fn create_site(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<SiteForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let done = blocking(move || {
        sites::create(
            &shared.storage,
            &actor,
            &form.site,
            &form.name,
            shared.now(),
        )?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/programmes?done=site"),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_list(state, visit, None, None, top, failure.status).await
        }
    }
}

/// One programme as its page shows it.
struct Detail {
    programme: Programme,
    beneficiaries: i64,
    active: i64,
    open_signals: u64,
    imports: Vec<ImportRow>,
    cycles: Vec<CycleRow>,
}

fn load(state: &AppState, programme: &str) -> Result<Detail, Failure> {
    Ok(state.storage.transaction(|tx| {
        let found = programmes::get_in(tx, programme)?;
        let (beneficiaries, active) = table::beneficiary_counts(tx.sql(), programme)?;
        let open_signals = signals::open_count_in(tx, programme)?;
        let imports = table::imports(tx.sql(), programme, Page::first(IMPORTS_SHOWN))?;
        let cycles = table::cycles(tx.sql(), programme, Page::first(CYCLES_SHOWN))?;
        Ok::<_, RegistryError>(Detail {
            programme: found,
            beneficiaries,
            active,
            open_signals,
            imports,
            cycles,
        })
    })?)
}

fn detail_body(visit: &Visit, d: &Detail, top: Markup) -> Markup {
    let lang = visit.lang();
    let p = &d.programme.row;
    let base = format!("/console/programmes/{}", p.programme);
    let personal = visit.caller.may(Permission::ViewBeneficiaries);
    html! {
        (top)
        div.links {
            @if visit.caller.may(Permission::ImportBeneficiaries) && p.state != "closed" {
                a href=(format!("{base}/import")) { (t(lang, "import_file")) }
            }
            @if personal {
                a href=(format!("{base}/beneficiaries")) { (t(lang, "beneficiaries")) }
                a href=(format!("/console/signals?programme={}", p.programme)) { (t(lang, "signals")) }
            }
            @if visit.caller.may(Permission::ViewLedger) {
                a href=(format!("{base}/statement")) { (t(lang, "ledger_statement")) }
            }
            a href="/console/programmes" { (t(lang, "all_programmes")) }
        }
        div.tiles {
            div.tile { b { (d.beneficiaries) } (t(lang, "beneficiaries")) }
            div.tile { b { (d.active) } (t(lang, "active_beneficiaries")) }
            div.tile.alert[d.open_signals > 0] {
                b { (d.open_signals) }
                @if personal {
                    a href=(format!("/console/signals?programme={}", p.programme)) { (t(lang, "open_signals")) }
                } @else { (t(lang, "open_signals")) }
            }
        }
        h2 { (t(lang, "programme_facts")) }
        dl.facts {
            dt { (t(lang, "programme_id")) } dd.mono { (p.programme) }
            dt { (t(lang, "name")) } dd { (p.name) }
            dt { (t(lang, "status")) } dd { (state_badge(lang, &p.state)) }
            dt { (t(lang, "currency")) } dd { (p.currency) }
            dt { (t(lang, "issuer")) } dd.mono { (p.issuer) }
            dt { (t(lang, "channels")) } dd { (channels_words(lang, &p.channels)) }
            dt { (t(lang, "budget_per_cycle")) } dd { (layout::amount(lang, p.budget_minor, &p.currency)) }
            dt { (t(lang, "starts_on")) } dd { (p.starts_on) }
            dt { (t(lang, "ends_on")) } dd { (p.ends_on.as_deref().unwrap_or("-")) }
            dt { (t(lang, "target")) } dd { (target_word(lang, &p.target)) }
            dt { (t(lang, "household_max")) } dd { (p.household_max) }
            dt { (t(lang, "id_pattern")) } dd {
                @if p.id_pattern.is_empty() { (t(lang, "any_id")) }
                @else { code { (p.id_pattern) } " (" (pattern_words(lang, &p.id_pattern)) ")" }
            }
            dt { (t(lang, "created")) } dd { (p.created_by) ", " (layout::time(p.created_at)) }
        }
        @if visit.caller.may(Permission::ManageProgrammes) && p.state != "closed" {
            form.card method="post" action=(format!("{base}/state")) {
                (layout::csrf_field(visit))
                @if p.state == "draft" {
                    p.hint { (t(lang, "activate_hint")) }
                    button type="submit" name="transition" value="activate" { (t(lang, "activate")) }
                } @else {
                    p.hint { (t(lang, "close_hint")) }
                    button.danger type="submit" name="transition" value="close" { (t(lang, "close_programme")) }
                }
            }
        }
        h2 { (t(lang, "cycles")) }
        @if d.cycles.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            div.wide {
                table {
                    thead { tr {
                        th scope="col" { (t(lang, "period")) }
                        th scope="col" { (t(lang, "rule")) }
                        th scope="col" { (t(lang, "status")) }
                        th.num scope="col" { (t(lang, "entitlements")) }
                        th.num scope="col" { (t(lang, "total")) }
                        th.num scope="col" { (t(lang, "excluded")) }
                    } }
                    tbody {
                        @for c in &d.cycles {
                            tr {
                                td { a href=(format!("/console/cycles/{}", c.id)) { (c.period) } }
                                td { (super::cycles::rule_words(lang, &c.rule, &p.currency)) }
                                td { (state_badge(lang, &c.state)) }
                                td.num { (c.entitlements) }
                                td.num {
                                    (layout::amount(lang, c.total_minor, &p.currency))
                                    @if c.over_budget { br; span.bad { (t(lang, "over_budget")) } }
                                }
                                td.num { (c.excluded) }
                            }
                        }
                    }
                }
            }
        }
        @if visit.caller.may(Permission::ManageCycles) {
            @if p.state == "active" {
                form.card method="post" action=(format!("{base}/cycles")) {
                    h2 { (t(lang, "generate_cycle")) }
                    (layout::csrf_field(visit))
                    div.grid {
                        div { label for="period" { (t(lang, "period")) }
                            input #period name="period" required maxlength="32" placeholder="2027-01"; }
                        div { label for="rule" { (t(lang, "rule")) }
                            select #rule name="rule" {
                                option value="flat" { (t(lang, "rule_flat")) }
                                option value="per_member" { (t(lang, "rule_per_member")) }
                                option value="file" { (t(lang, "rule_file")) }
                            } }
                        div { label for="amount" { (t(lang, "amount")) " (" (p.currency) ")" }
                            input #amount name="amount" inputmode="decimal" placeholder="1000.00"; }
                        div { label for="cap" { (t(lang, "cap")) " (" (p.currency) ")" }
                            input #cap name="cap" inputmode="decimal" aria-describedby="cap-hint";
                            p.hint #cap-hint { (t(lang, "cap_hint")) } }
                    }
                    p.hint { (t(lang, "generate_hint")) }
                    p.hint { a href=(format!("{base}/amounts")) { (t(lang, "upload_amounts")) } " — " (t(lang, "rule_file_hint")) }
                    div.actions { button type="submit" { (t(lang, "generate")) } }
                }
            } @else if p.state == "draft" {
                p.hint { (t(lang, "activate_first")) }
            }
        }
        h2 { (t(lang, "imports")) }
        @if d.imports.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            div.wide {
                table {
                    thead { tr {
                        th.num scope="col" { "#" }
                        th scope="col" { (t(lang, "file")) }
                        th.num scope="col" { (t(lang, "rows_read")) }
                        th.num scope="col" { (t(lang, "created_rows")) }
                        th.num scope="col" { (t(lang, "updated_rows")) }
                        th.num scope="col" { (t(lang, "unchanged_rows")) }
                        th.num scope="col" { (t(lang, "rejected_rows")) }
                        th scope="col" { (t(lang, "imported_by")) }
                    } }
                    tbody {
                        @for i in &d.imports {
                            tr {
                                td.num { (i.id) }
                                td { (i.file_name) br; small.mono title=(i.sha256) { (i.sha256.chars().take(12).collect::<String>()) "…" } }
                                td.num { (i.rows_read) }
                                td.num { (i.created) }
                                td.num { (i.updated) }
                                td.num { (i.unchanged) }
                                td.num { (i.rejected) @if i.good_rows { br; small { (t(lang, "good_rows_only")) } } }
                                td { (i.imported_by) br; small { (layout::time(i.imported_at)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn render_detail(
    state: AppState,
    visit: Visit,
    programme: String,
    top: Markup,
    status: StatusCode,
) -> Response {
    let found = blocking(move || load(&state, &programme)).await;
    let lang = visit.lang();
    match found {
        Ok(detail) => {
            let title = format!(
                "{} {}",
                t(lang, "programme"),
                detail.programme.row.name.clone()
            );
            again(
                status,
                layout::page(
                    &visit,
                    "programmes",
                    &title,
                    detail_body(&visit, &detail, top),
                ),
            )
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let lang = visit.lang();
    let top = match q.done.as_deref() {
        Some("created") => layout::notice(t(lang, "programme_created")),
        Some("activate") => layout::notice(t(lang, "programme_activated")),
        Some("close") => layout::notice(t(lang, "programme_closed")),
        Some(_) => layout::notice(t(lang, "done")),
        None => html! {},
    };
    render_detail(state, visit, programme, top, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct TransitionForm {
    transition: String,
}

pub async fn transition(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
    Form(form): Form<TransitionForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let id = programme.clone();
    let done = blocking(move || {
        let transition = match form.transition.as_str() {
            "activate" => Transition::Activate,
            "close" => Transition::Close,
            _ => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    "a programme is activated or closed",
                ));
            }
        };
        programmes::transition(&shared.storage, &actor, &id, transition, shared.now())?;
        Ok(form.transition)
    })
    .await;
    match done {
        Ok(what) => see_other(&format!("/console/programmes/{programme}?done={what}")),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_detail(state, visit, programme, top, failure.status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CycleForm {
    period: String,
    rule: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    cap: String,
}

pub async fn generate_cycle(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
    Form(form): Form<CycleForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let id = programme.clone();
    let done = blocking(move || {
        let request = RuleRequest {
            rule: form.rule,
            amount: form.amount,
            cap: Some(form.cap).filter(|c| !c.trim().is_empty()),
        };
        Ok(cycles::generate(
            &shared.storage,
            &actor,
            &id,
            &form.period,
            &request,
            shared.now(),
        )?)
    })
    .await;
    match done {
        Ok(cycle) => see_other(&format!("/console/cycles/{}?done=generated", cycle.id)),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render_detail(state, visit, programme, top, failure.status).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_mask_reads_in_both_languages() {
        assert_eq!(
            pattern_words(Language::En, "AA999999"),
            "8 characters: 2 letters, 6 digits"
        );
        assert_eq!(
            pattern_words(Language::Fr, "KE9*"),
            "4 caractères : \u{201c}KE\u{201d}, 1 chiffre, 1 lettre ou chiffre"
        );
    }
}
