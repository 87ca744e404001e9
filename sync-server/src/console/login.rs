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

/// Whether the session cookie is marked `Secure`: when this server speaks
/// TLS, when a proxy in front of it says the browser did, and on loopback
/// (which browsers treat as secure). Only plain HTTP to another host (which
/// the server refuses unless `allow_plain_http` is set) goes without.
fn secure_cookie(headers: &HeaderMap, tls: bool) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let proxied_https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    tls || proxied_https || ["127.0.0.1", "localhost", "[::1]"].contains(&name)
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
    let secure = secure_cookie(&headers, state.tls);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, proto: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(proto) = proto {
            headers.insert("x-forwarded-proto", proto.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_cookie_is_secure_unless_plain_http_off_loopback() {
        assert!(secure_cookie(&headers("hq.example.org:8443", None), true));
        assert!(secure_cookie(
            &headers("hq.example.org", Some("https")),
            false
        ));
        assert!(secure_cookie(&headers("127.0.0.1:8470", None), false));
        assert!(!secure_cookie(
            &headers("hq.example.org", Some("http")),
            false
        ));
        assert!(!secure_cookie(&headers("hq.example.org", None), false));
    }
}
