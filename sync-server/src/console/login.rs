//! Signing in and out.

use axum::Extension;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, blocking, html_page, layout, same_origin};
use crate::api::AppState;
use crate::people::sessions::{self, ABSOLUTE_SECONDS, COOKIE};
use crate::people::{self, Language, PeopleError};

fn login_page(lang: Language, error: Option<&str>, username: &str) -> Markup {
    layout::bare(
        lang,
        t(lang, "sign_in"),
        html! {
            @if let Some(error) = error { (layout::error(error)) }
            form method="post" action="/console/login" {
                label for="username" { (t(lang, "username")) }
                input #username name="username" type="text" autocomplete="username" required
                    autofocus value=(username) maxlength="32";
                label for="password" { (t(lang, "password")) }
                input #password name="password" type="password" autocomplete="current-password"
                    required maxlength="256";
                button type="submit" { (t(lang, "sign_in")) }
            }
        },
    )
}

/// The language a browser asks for first, among the console's.
fn browser_language(headers: &HeaderMap) -> Language {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|first| first.trim().to_ascii_lowercase())
        .filter(|first| first.starts_with("fr"))
        .map_or(Language::En, |_| Language::Fr)
}

pub async fn form(headers: HeaderMap) -> Response {
    html_page(login_page(browser_language(&headers), None, ""))
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Whether cookies may be marked `Secure`: always, except over plain HTTP
/// to a host that is not loopback (where a browser would drop them).
fn secure_cookie(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    headers.get("x-forwarded-proto").is_some()
        || ["127.0.0.1", "localhost", "[::1]"].contains(&name)
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Response {
    let lang = browser_language(&headers);
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            html_page(login_page(lang, Some(t(lang, "csrf")), "")),
        )
            .into_response();
    }
    let username = credentials.username.trim().to_owned();
    let secure = secure_cookie(&headers);
    let shown = username.clone();
    let outcome = blocking(move || {
        let now = state.now();
        match people::authenticate(&state.storage, &username, &credentials.password, now) {
            Ok(caller) => Ok(Ok(sessions::open(&state.storage, &caller, now)?)),
            Err(
                e @ (PeopleError::WrongCredentials
                | PeopleError::Locked { .. }
                | PeopleError::Disabled),
            ) => Ok(Err(e)),
            Err(e) => Err(Failure::from(e)),
        }
    })
    .await;
    match outcome {
        Ok(Ok(opened)) => {
            let cookie = format!(
                "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={ABSOLUTE_SECONDS}{}",
                opened.secret,
                if secure { "; Secure" } else { "" }
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response()
        }
        Ok(Err(refusal)) => {
            let status = match refusal {
                PeopleError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let message = t(lang, refusal.code());
            (status, html_page(login_page(lang, Some(message), &shown))).into_response()
        }
        Err(failure) => failure.into_response(),
    }
}

pub async fn logout(State(state): State<AppState>, Extension(visit): Extension<Visit>) -> Response {
    let result = blocking(move || {
        sessions::close(&state.storage, &visit.caller, &visit.secret, state.now())?;
        Ok(())
    })
    .await;
    match result {
        Ok(()) => (
            [(
                header::SET_COOKIE,
                format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
            )],
            Redirect::to("/console/login"),
        )
            .into_response(),
        Err(failure) => failure.into_response(),
    }
}
