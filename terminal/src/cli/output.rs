//! How results and failures reach a person (text) or a script (`--json`).

use std::io::Write;

use lastmile_terminal::i18n::{self, Language};
use lastmile_terminal::receipt::{RECEIPT_COLUMNS_58MM, Receipt};
use lastmile_terminal::{Error, ErrorCategory};
use serde::Serialize;

use super::{
    EXIT_NETWORK, EXIT_NOT_PROVISIONED, EXIT_OPERATOR, EXIT_OTHER, EXIT_REFUSED, EXIT_USAGE,
};

pub struct Output {
    pub json: bool,
    pub language: Language,
}

pub fn exit_code(category: ErrorCategory) -> u8 {
    match category {
        ErrorCategory::Refused => EXIT_REFUSED,
        ErrorCategory::Usage => EXIT_USAGE,
        ErrorCategory::NotProvisioned => EXIT_NOT_PROVISIONED,
        ErrorCategory::Network => EXIT_NETWORK,
        ErrorCategory::Operator => EXIT_OPERATOR,
        ErrorCategory::Internal => EXIT_OTHER,
    }
}

fn category_name(category: ErrorCategory) -> &'static str {
    match category {
        ErrorCategory::Refused => "refused",
        ErrorCategory::Usage => "usage",
        ErrorCategory::NotProvisioned => "not_provisioned",
        ErrorCategory::Network => "network",
        ErrorCategory::Operator => "operator",
        ErrorCategory::Internal => "internal",
    }
}

impl Output {
    pub fn new(json: bool, language: Language) -> Self {
        Self { json, language }
    }

    /// Prints one line (text) and flushes, so a reader sees it at once.
    pub fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (the reader went away) is not worth failing for:
        // everything printed here is already durable.
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    pub fn json_line(&self, value: &impl Serialize) {
        match serde_json::to_string(value) {
            Ok(text) => self.line(&text),
            Err(error) => self.line(&format!("{{\"ok\":false,\"message\":\"{error}\"}}")),
        }
    }

    /// Prints `value` as JSON, or `text()` for people.
    pub fn show(&self, value: &impl Serialize, text: impl FnOnce() -> String) {
        if self.json {
            self.json_line(value);
        } else {
            self.line(text().trim_end());
        }
    }

    pub fn receipt(&self, receipt: &Receipt) {
        self.show(
            &serde_json::json!({ "ok": true, "receipt": receipt }),
            || receipt.render_text(RECEIPT_COLUMNS_58MM),
        );
    }

    /// The JSON object for a refusal or failure, and its exit code.
    pub fn error_value(&self, error: &anyhow::Error) -> (serde_json::Value, u8, String) {
        match error.downcast_ref::<Error>() {
            Some(engine) => {
                let message = i18n::message(self.language, engine);
                let value = serde_json::json!({
                    "ok": false,
                    "code": engine.code(),
                    "category": category_name(engine.category()),
                    "message": message,
                });
                (value, exit_code(engine.category()), message)
            }
            None => {
                let message = format!("{error:#}");
                let value = serde_json::json!({
                    "ok": false, "code": "error", "category": "internal", "message": message,
                });
                (value, EXIT_OTHER, message)
            }
        }
    }

    /// Reports a failure and returns the exit code.
    pub fn failure(&self, error: &anyhow::Error) -> u8 {
        let (value, code, message) = self.error_value(error);
        if self.json {
            self.json_line(&value);
        }
        eprintln!("error: {message}");
        code
    }
}
