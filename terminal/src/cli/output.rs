//! How results and failures reach a person (text) or a script (`--json`).

use std::io::Write;

use lastmile_shared::money::Money;
use lastmile_terminal::i18n::{self, Language, Text};
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

/// An error and its causes, each said once: a message that already quotes
/// its cause (`…: No such file or directory (os error 2)`) does not get it
/// appended again.
fn chain_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
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

    /// A sentence of the catalogues in the operator's language, placeholders filled.
    pub fn say(&self, text: Text, values: &[(&str, &str)]) -> String {
        i18n::fill(i18n::text(self.language, text), values)
    }

    /// An amount as everywhere else in the CLI: written the language's way.
    pub fn money(&self, amount: Money) -> String {
        i18n::money(amount, self.language)
    }

    /// The receipt in the operator's language, as it prints.
    pub fn receipt_text(&self, receipt: &Receipt) -> String {
        receipt.render_text_in(self.language, RECEIPT_COLUMNS_58MM)
    }

    pub fn receipt(&self, receipt: &Receipt) {
        self.show(
            &serde_json::json!({ "ok": true, "receipt": receipt }),
            || self.receipt_text(receipt),
        );
    }

    /// The sentence for people for an engine error, in the operator's
    /// language with amounts written the language's way.
    pub fn sentence(&self, error: &Error) -> String {
        i18n::localized_message(self.language, error)
    }

    /// The JSON object for a refusal or failure, and its exit code.
    pub fn error_value(&self, error: &anyhow::Error) -> (serde_json::Value, u8, String) {
        match error.downcast_ref::<Error>() {
            Some(engine) => {
                let message = self.sentence(engine);
                let value = serde_json::json!({
                    "ok": false,
                    "code": engine.code(),
                    "category": category_name(engine.category()),
                    "message": message,
                });
                (value, exit_code(engine.category()), message)
            }
            None => {
                let message = chain_text(error);
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
