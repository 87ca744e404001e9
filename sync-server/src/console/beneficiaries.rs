//! A programme's beneficiaries (personal data: only for roles that may see
//! it): found by an exact id, national ID, phone or household, or by the
//! start of a name; and one person with their payment channels in order.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use lastmile_shared::payee::{BankAccount, Channel};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::programmes::channel_word;
use super::{Visit, blocking, html_page, layout};
use crate::api::AppState;
use crate::people::Language;
use crate::registry::RegistryError;
use crate::registry::programmes;
use crate::storage::registry::{self as table, BeneficiaryRow, ProgrammeRow};
use crate::storage::sql::Page;

/// Longest search text kept, in characters.
const SEARCH_CHARS_MAX: usize = 120;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    name: Option<String>,
    offset: Option<u64>,
}

fn cleaned(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(SEARCH_CHARS_MAX).collect())
}

pub fn household_word(lang: Language, b: &BeneficiaryRow) -> Markup {
    html! {
        @if let Some(h) = &b.household {
            a href=(format!("/console/programmes/{}/beneficiaries?q={}", b.programme, layout::query_value(h))) { (h) }
            " · "
            @if b.head { (t(lang, "head")) } @else { (t(lang, "member")) }
        } @else { "-" }
    }
}

fn status_word(lang: Language, active: bool) -> Markup {
    html! {
        @if active { span.status-active { (t(lang, "state_active")) } }
        @else { span.status-inactive { (t(lang, "inactive")) } }
    }
}

pub async fn search(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(programme): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let exact = cleaned(q.q.as_deref());
    let name = cleaned(q.name.as_deref());
    let page = Page::new(None, q.offset);
    let (e, n) = (exact.clone(), name.clone());
    let found = blocking(move || {
        Ok(state.storage.transaction(|tx| {
            let p = programmes::get_in(tx, &programme)?;
            let rows = table::search_beneficiaries(
                tx.sql(),
                &programme,
                e.as_deref(),
                n.as_deref(),
                page,
            )?;
            Ok::<_, RegistryError>((p.row, rows))
        })?)
    })
    .await;
    let lang = visit.lang();
    let (p, rows) = match found {
        Ok(found) => found,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let base = format!("/console/programmes/{}/beneficiaries", p.programme);
    let mut paged = base.clone();
    let mut sep = '?';
    for (key, value) in [("q", &exact), ("name", &name)] {
        if let Some(value) = value {
            paged.push_str(&format!("{sep}{key}={}", layout::query_value(value)));
            sep = '&';
        }
    }
    let title = format!("{} · {}", t(lang, "beneficiaries"), p.name);
    html_page(layout::page(
        &visit,
        "programmes",
        &title,
        html! {
            div.links {
                a href=(format!("/console/programmes/{}", p.programme)) { (t(lang, "programme")) " " (p.name) }
            }
            form.card method="get" action=(base) role="search" {
                div.filters {
                    div {
                        label for="q" { (t(lang, "search_exact")) }
                        input #q name="q" value=(exact.clone().unwrap_or_default()) maxlength="120";
                    }
                    div {
                        label for="name" { (t(lang, "search_name")) }
                        input #name name="name" value=(name.clone().unwrap_or_default()) maxlength="120";
                    }
                    button type="submit" { (t(lang, "find")) }
                }
            }
            @if rows.is_empty() {
                p { (t(lang, "no_beneficiaries")) }
            } @else {
                div.wide {
                    table #beneficiaries {
                        thead { tr {
                            th scope="col" { (t(lang, "beneficiary")) }
                            th scope="col" { (t(lang, "name")) }
                            th scope="col" { (t(lang, "national_id")) }
                            th scope="col" { (t(lang, "phone")) }
                            th scope="col" { (t(lang, "household")) }
                            th scope="col" { (t(lang, "site")) }
                            th scope="col" { (t(lang, "channel")) }
                            th scope="col" { (t(lang, "status")) }
                        } }
                        tbody {
                            @for b in &rows {
                                tr {
                                    td.mono.keep { a href=(format!("{base}/{}", b.beneficiary)) { (b.beneficiary) } }
                                    td { (b.name) }
                                    td.mono.keep { (b.national_id) }
                                    td.mono.keep { (b.phone.as_deref().unwrap_or("-")) }
                                    td { (household_word(lang, b)) }
                                    td.mono.keep { (b.site.as_deref().unwrap_or("-")) }
                                    td { (channel_word(lang, &b.channel_kind)) }
                                    td { (status_word(lang, b.active)) }
                                }
                            }
                        }
                    }
                }
                (layout::pager(lang, &paged, page.offset, page.limit, rows.len()))
            }
        },
    ))
}

/// One channel of a person, in words, with its details.
fn channel_item(lang: Language, text: &str) -> Markup {
    match Channel::parse_text(text) {
        Ok(Channel::Bank(BankAccount::Iban(iban))) => html! {
            (t(lang, "channel_iban")) ": " span.mono { (iban.to_string()) }
        },
        Ok(Channel::Bank(BankAccount::Local { bank, account })) => html! {
            (t(lang, "channel_account")) ": " (t(lang, "bank_code")) " " span.mono { (bank.as_str()) }
            ", " (t(lang, "account_number")) " " span.mono { (account.as_str()) }
        },
        Ok(Channel::Mobile { operator, msisdn }) => html! {
            (t(lang, "channel_mobile")) ": " (operator.as_str()) " " span.mono { (msisdn.as_str()) }
        },
        Ok(Channel::Cash { site }) => html! {
            (t(lang, "channel_cash")) ": " span.mono { (site.as_str()) }
        },
        Ok(Channel::Voucher) => html! { (t(lang, "channel_voucher")) },
        Err(_) => html! { span.mono { (text) } },
    }
}

fn detail(lang: Language, p: &ProgrammeRow, b: &BeneficiaryRow) -> Markup {
    html! {
        div.links {
            a href=(format!("/console/programmes/{}/beneficiaries", p.programme)) { (t(lang, "beneficiaries")) " · " (p.name) }
        }
        dl.facts {
            dt { (t(lang, "beneficiary")) } dd.mono { (b.beneficiary) }
            dt { (t(lang, "name")) } dd { (b.name) }
            dt { (t(lang, "national_id")) } dd.mono { (b.national_id) }
            dt { (t(lang, "phone")) } dd.mono { (b.phone.as_deref().unwrap_or("-")) }
            dt { (t(lang, "household")) } dd { (household_word(lang, b)) }
            dt { (t(lang, "site")) } dd.mono { (b.site.as_deref().unwrap_or("-")) }
            dt { (t(lang, "status")) } dd { (status_word(lang, b.active)) }
            dt { (t(lang, "import")) } dd { "#" (b.import_id) }
            dt { (t(lang, "created")) } dd { (layout::time(b.created_at)) }
            dt { (t(lang, "updated")) } dd { (layout::time(b.updated_at)) }
        }
        h2 { (t(lang, "payment_channels")) }
        p.hint { (t(lang, "channels_in_order")) }
        ol.channels #channels {
            @for text in b.channels.split(' ').filter(|c| !c.is_empty()) {
                li {
                    (channel_item(lang, text))
                    @if text == b.channel { " " strong.ok { "← " (t(lang, "channel_chosen")) } }
                }
            }
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path((programme, beneficiary)): Path<(String, String)>,
) -> Response {
    let found = blocking(move || {
        Ok(state.storage.transaction(|tx| {
            let p = programmes::get_in(tx, &programme)?;
            let b = table::beneficiary(tx.sql(), &programme, &beneficiary)?.ok_or(
                RegistryError::UnknownBeneficiary {
                    programme: programme.clone(),
                    beneficiary: beneficiary.clone(),
                },
            )?;
            Ok::<_, RegistryError>((p.row, b))
        })?)
    })
    .await;
    let lang = visit.lang();
    match found {
        Ok((p, b)) => {
            let title = format!("{} · {}", b.name, b.beneficiary);
            html_page(layout::page(
                &visit,
                "programmes",
                &title,
                detail(lang, &p, &b),
            ))
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}
