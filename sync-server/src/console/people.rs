//! People and tokens: everyone sees and manages their own API tokens; an
//! admin also lists people, creates them and disables them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::people::{self, Language, NewUser, Permission, Role, UserView, tokens};
use crate::proposals;
use crate::storage::people::TokenRow;
use crate::storage::sql::{PAGE_ROWS_MAX, Page};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    done: Option<String>,
}

/// What the page shows: people (for an admin, with the accounts still
/// waiting for approval), and one's own tokens.
struct Loaded {
    users: Vec<UserView>,
    held: std::collections::HashSet<String>,
    tokens: Vec<TokenRow>,
}

fn body(visit: &Visit, loaded: &Loaded, top: Markup) -> Markup {
    let Loaded {
        users,
        held,
        tokens,
    } = loaded;
    let lang = visit.lang();
    let admin = visit.caller.may(Permission::ManageUsers);
    html! {
        (top)
        h2 { (t(lang, "my_tokens")) }
        @if tokens.is_empty() {
            p { (t(lang, "none")) }
        } @else {
            table {
                thead { tr {
                    th.num scope="col" { "#" }
                    th scope="col" { (t(lang, "label")) }
                    th scope="col" { (t(lang, "enrolled")) }
                    th scope="col" { (t(lang, "last_used")) }
                    th scope="col" { (t(lang, "status")) }
                } }
                tbody {
                    @for token in tokens {
                        tr {
                            td.num { (token.id) }
                            td { (token.label) }
                            td { (layout::time(token.created_at)) }
                            td { (token.last_used_at.map(layout::time).unwrap_or_else(|| t(lang, "never").to_owned())) }
                            td {
                                @if token.revoked_at.is_some() {
                                    span.status-revoked { (t(lang, "revoked")) }
                                } @else {
                                    form.inline method="post" action=(format!("/console/tokens/{}/revoke", token.id)) {
                                        (layout::csrf_field(visit))
                                        button.danger type="submit" { (t(lang, "revoke")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.card method="post" action="/console/tokens" {
            h3 { (t(lang, "new_token")) }
            (layout::csrf_field(visit))
            label for="token-label" { (t(lang, "label")) }
            div.filters {
                input #token-label name="label" required maxlength="80";
                button type="submit" { (t(lang, "create")) }
            }
        }
        @if admin {
            h2 { (t(lang, "users")) }
            table {
                thead { tr {
                    th scope="col" { (t(lang, "username")) }
                    th scope="col" { (t(lang, "name")) }
                    th scope="col" { (t(lang, "role")) }
                    th scope="col" { (t(lang, "language")) }
                    th scope="col" { (t(lang, "status")) }
                } }
                tbody {
                    @for user in users {
                        tr {
                            td { (user.username) }
                            td { (user.display_name) }
                            td { (user.role) }
                            td { (user.language) }
                            td {
                                @if user.disabled_at.is_some() && held.contains(&user.username) {
                                    a.status-pending href="/console/approvals" { (t(lang, "awaiting_approval")) }
                                } @else if user.disabled_at.is_some() {
                                    span.status-revoked { (t(lang, "disabled")) }
                                } @else if user.username != visit.caller.username {
                                    form.inline method="post" action=(format!("/console/users/{}/disable", user.username)) {
                                        (layout::csrf_field(visit))
                                        button.danger type="submit" aria-label=(format!("{} {}", t(lang, "disable"), user.username)) { (t(lang, "disable")) }
                                    }
                                } @else {
                                    span.ok { (t(lang, "active")) }
                                }
                            }
                        }
                    }
                }
            }
            form.card method="post" action="/console/users" {
                h3 { (t(lang, "new_user")) }
                (layout::csrf_field(visit))
                div.filters {
                    div { label for="new-username" { (t(lang, "username")) } input #new-username name="username" required maxlength="32" pattern="[a-z][a-z0-9._\\-]{2,31}"; }
                    div { label for="new-name" { (t(lang, "name")) } input #new-name name="display_name" required maxlength="80"; }
                    div {
                        label for="new-role" { (t(lang, "role")) }
                        select #new-role name="role" {
                            @for role in Role::ALL { option value=(role.code()) { (role.code()) } }
                        }
                    }
                    div {
                        label for="new-language" { (t(lang, "language")) }
                        select #new-language name="language" { option value="en" { "English" } option value="fr" { "Français" } }
                    }
                    div { label for="new-password" { (t(lang, "password")) } input #new-password name="password" type="password" required minlength="12" maxlength="256" autocomplete="new-password"; }
                    button type="submit" { (t(lang, "create")) }
                }
            }
        }
    }
}

fn load(state: &AppState, visit: &Visit) -> Result<Loaded, Failure> {
    let (users, held) = if visit.caller.may(Permission::ManageUsers) {
        let held = proposals::list(&state.storage, Some("pending"), Page::first(PAGE_ROWS_MAX))?
            .into_iter()
            .filter(|p| p.kind == "user.activate")
            .filter_map(|p| p.object.strip_prefix("user:").map(str::to_owned))
            .collect();
        (
            people::list_users(&state.storage, Page::first(PAGE_ROWS_MAX))?,
            held,
        )
    } else {
        Default::default()
    };
    let tokens = tokens::list(&state.storage, visit.caller.id, Page::first(PAGE_ROWS_MAX))?;
    Ok(Loaded {
        users,
        held,
        tokens,
    })
}

async fn render(state: AppState, visit: Visit, top: Markup) -> Response {
    let loaded = {
        let visit = visit.clone();
        blocking(move || load(&state, &visit)).await
    };
    let lang = visit.lang();
    match loaded {
        Ok(loaded) => html_page(layout::page(
            &visit,
            "users",
            t(lang, "users"),
            body(&visit, &loaded, top),
        )),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let top = match q.done.as_deref() {
        Some("held") => layout::notice(t(visit.lang(), "held")),
        Some(_) => layout::notice(t(visit.lang(), "done")),
        None => html! {},
    };
    render(state, visit, top).await
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    username: String,
    display_name: String,
    role: String,
    language: String,
    password: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<UserForm>,
) -> Response {
    let caller = visit.caller.clone();
    let shared = state.clone();
    let done = blocking(move || {
        let role = Role::parse(&form.role)
            .ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, "no such role"))?;
        let language = Language::parse(&form.language).unwrap_or(Language::En);
        let admitted = proposals::admit(
            &shared.storage,
            &caller,
            &NewUser {
                username: form.username.trim(),
                display_name: &form.display_name,
                role,
                language,
                password: &form.password,
            },
            shared.now(),
        )?;
        Ok(admitted.proposal.is_some())
    })
    .await;
    match done {
        Ok(false) => see_other("/console/users?done=created"),
        Ok(true) => see_other("/console/users?done=held"),
        Err(failure) => {
            let top = layout::error(&failure.message);
            render(state, visit, top).await
        }
    }
}

pub async fn disable(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(username): Path<String>,
) -> Response {
    let actor = visit.caller.actor();
    let own = username == visit.caller.username;
    let done = blocking(move || {
        if own {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "you cannot disable your own account",
            ));
        }
        people::disable_user(&state.storage, &actor, &username, state.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/users?done=disabled"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    label: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<TokenForm>,
) -> Response {
    let actor = visit.caller.actor();
    let username = visit.caller.username.clone();
    let shared = state.clone();
    let created = blocking(move || {
        Ok(tokens::create(
            &shared.storage,
            &actor,
            &username,
            &form.label,
            shared.now(),
        )?)
    })
    .await;
    let lang = visit.lang();
    match created {
        Ok(created) => {
            let top = html! {
                div.notice role="status" {
                    p { (t(lang, "token_created")) }
                    p { code #new-token { (created.token) } }
                }
            };
            render(state, visit, top).await
        }
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(token): Path<String>,
) -> Response {
    let actor = visit.caller.actor();
    let only_of = (!visit.caller.may(Permission::ManageUsers)).then_some(visit.caller.id);
    let done = blocking(move || {
        let id: i64 = token
            .parse()
            .map_err(|_| Failure::new(StatusCode::BAD_REQUEST, "not a token number"))?;
        tokens::revoke(&state.storage, &actor, id, only_of, state.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/users?done=revoked"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}
