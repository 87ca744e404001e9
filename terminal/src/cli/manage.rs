//! `enroll`, `provision`, `operator`, `sync`, `status`, `log`, `receipt`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use lastmile_hardware::escpos::PaperWidth;
use lastmile_hardware::printer::{Printer, PrinterTarget};
use lastmile_shared::id::OperatorId;
use lastmile_terminal::enrolment::ProvisionBundle;
use lastmile_terminal::i18n::Language;
use lastmile_terminal::receipt::{Receipt, utc_text};
use lastmile_terminal::sync_client::{ServerCa, ServerTrust, SyncProgress};
use lastmile_terminal::{Error, Terminal};

use super::EXIT_OK;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The sync server's address, e.g. https://hq.example.org. Plain http://
    /// only to a loopback address (localhost, 127.0.0.1, ::1) unless
    /// --allow-plain-http.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The one-time enrolment code from HQ.
    #[arg(long, value_name = "CODE")]
    code: String,
    /// A name for this terminal that people recognise ("Shop 12 counter").
    #[arg(long, value_name = "TEXT", default_value = "lastmile terminal")]
    label: String,
    /// The programme's CA certificate(s), PEM (at most 64 KiB): pinned as the
    /// only roots this terminal trusts for its server, now and at every sync.
    /// Without it, the public (webpki) roots.
    #[arg(long, value_name = "FILE", value_parser = read_ca_cert)]
    ca_cert: Option<ServerCa>,
    /// Allow http:// to a server that is not on this machine (a lab network
    /// you control): requests are signed, but answers travel unprotected.
    #[arg(long, conflicts_with = "ca_cert")]
    allow_plain_http: bool,
}

/// Reads and checks `--ca-cert` while parsing, so a bad file is a usage
/// error (exit 2) before anything is created.
fn read_ca_cert(path: &str) -> Result<ServerCa, String> {
    ServerCa::read(Path::new(path)).map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// A CBOR provisioning bundle of root-signed documents.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// Add an operator (the first one freely; later ones while logged in).
    Add {
        /// The operator's login id, e.g. amina (letters, digits, . _ - :).
        #[arg(long, value_name = "ID")]
        id: String,
        /// The operator's name as it prints on receipts.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The PIN (4 to 12 digits). Prefer $LASTMILE_PIN or stdin: command
        /// line arguments are visible to other users in the process list.
        #[arg(long, env = "LASTMILE_PIN", hide_env_values = true, value_name = "PIN")]
        pin: Option<String>,
    },
    /// Log in; the login lasts until `operator logout` or 12 hours.
    Login {
        /// The operator's login id.
        #[arg(long, value_name = "ID")]
        id: String,
        /// The PIN; if absent, read from $LASTMILE_PIN or one line of stdin.
        #[arg(long, env = "LASTMILE_PIN", hide_env_values = true, value_name = "PIN")]
        pin: Option<String>,
    },
    /// Log the current operator out.
    Logout,
    /// List operators.
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Check every signature and hash link of the device log.
    Verify,
    /// Write the log as JSON lines (one signed entry per line).
    Export {
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ReceiptCommand {
    /// Print the receipt of log entry SEQ (default: the newest) with its current status.
    Reprint {
        /// The receipt number (the log entry's sequence number).
        seq: Option<u64>,
        #[command(flatten)]
        printer: PrinterArgs,
    },
}

/// Where to print a receipt.
#[derive(Debug, clap::Args)]
pub struct PrinterArgs {
    /// Print on a thermal printer: tcp:HOST[:PORT], serial:PATH[@BAUD] or file:PATH.
    #[arg(long, value_name = "TARGET")]
    printer: Option<String>,
    /// Paper width in mm (58 or 80).
    #[arg(long, value_name = "MM", default_value_t = 58)]
    paper: u32,
}

impl PrinterArgs {
    /// Prints `receipt` in `language` when a printer was given.
    pub fn print(&self, receipt: &Receipt, language: Language) -> anyhow::Result<()> {
        let Some(target) = &self.printer else {
            return Ok(());
        };
        let paper = PaperWidth::from_dots_or_mm(self.paper)
            .ok_or_else(|| anyhow::anyhow!("--paper must be 58 or 80 (mm)"))?;
        let job = receipt.render_escpos_in(language, paper)?;
        let mut printer = Printer::new(PrinterTarget::parse(target)?.open()?);
        printer.print(&job)?;
        Ok(())
    }
}

fn read_pin(pin: Option<String>) -> anyhow::Result<String> {
    if let Some(pin) = pin {
        return Ok(pin);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

pub fn enroll(terminal: &mut Terminal, args: EnrollArgs, out: &Output) -> anyhow::Result<u8> {
    let trust = ServerTrust {
        ca: args.ca_cert,
        allow_plain_http: args.allow_plain_http,
    };
    let report = terminal.enroll_with(&args.server, &args.code, &args.label, &trust)?;
    let enrolment = terminal.enrolment().cloned();
    out.show(
        &serde_json::json!({
            "ok": true,
            "device": enrolment.as_ref().map(|e| e.device.to_string()),
            "sync": report,
        }),
        || {
            let mut text = match &enrolment {
                Some(e) => {
                    let mut text = format!("Enrolled as device {}", e.device);
                    match (&e.merchant, &e.site) {
                        (Some(m), Some(s)) => {
                            text.push_str(&format!(" for merchant {m} at site {s}"))
                        }
                        (Some(m), None) => text.push_str(&format!(" for merchant {m}")),
                        (None, Some(s)) => text.push_str(&format!(" at site {s}")),
                        (None, None) => {}
                    }
                    text + "."
                }
                None => "Enrolled.".to_owned(),
            };
            if report.updated.is_empty() {
                text.push_str("\nNo documents received yet; run `sync` later.");
            } else {
                text.push_str(&format!(
                    "\nReceived the {}.",
                    sentence_list(&report.updated)
                ));
            }
            text
        },
    );
    Ok(EXIT_OK)
}

/// `a`, `a and b`, `a, b and c`.
fn sentence_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub fn provision(terminal: &mut Terminal, args: ProvisionArgs, out: &Output) -> anyhow::Result<u8> {
    let bytes = std::fs::read(&args.bundle)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.bundle.display()))?;
    terminal.provision(&ProvisionBundle::from_cbor(&bytes)?)?;
    let device = terminal.enrolment().map(|e| e.device.to_string());
    out.show(&serde_json::json!({ "ok": true, "device": device }), || {
        format!("provisioned as device {}", device.unwrap_or_default())
    });
    Ok(EXIT_OK)
}

pub fn operator(
    terminal: &mut Terminal,
    command: OperatorCommand,
    out: &Output,
) -> anyhow::Result<u8> {
    match command {
        OperatorCommand::Add { id, name, pin } => {
            let id = OperatorId::parse(&id).map_err(Error::from)?;
            let pin = read_pin(pin)?;
            terminal.add_operator(&id, &name, &pin)?;
            out.show(&serde_json::json!({ "ok": true, "operator": id }), || {
                format!("operator {id} added")
            });
        }
        OperatorCommand::Login { id, pin } => {
            let id = OperatorId::parse(&id).map_err(Error::from)?;
            let pin = read_pin(pin)?;
            let login = terminal.login(&id, &pin)?;
            out.show(&serde_json::json!({ "ok": true, "login": login }), || {
                format!(
                    "logged in as {} until {}",
                    login.name,
                    utc_text(login.expires_at)
                )
            });
        }
        OperatorCommand::Logout => {
            terminal.logout()?;
            out.show(&serde_json::json!({ "ok": true }), || "logged out".into());
        }
        OperatorCommand::List => {
            let operators = terminal.operators()?;
            out.show(&operators, || {
                operators
                    .iter()
                    .map(|o| match o.locked_until {
                        Some(until) => {
                            format!("{}  {}  (locked until {})", o.id, o.name, utc_text(until))
                        }
                        None => format!("{}  {}", o.id, o.name),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(EXIT_OK)
}

pub fn sync(terminal: &mut Terminal, out: &Output) -> anyhow::Result<u8> {
    // Progress goes to stderr, one line per request, so a long sync over a
    // slow link shows that it moves (stdout keeps the one answer).
    let report = terminal.sync_with_progress(&mut |progress| match progress {
        SyncProgress::Upload {
            acknowledged_seq,
            head,
            bytes_sent,
        } => eprintln!(
            "upload: {acknowledged_seq} of {head} entries held by the server ({bytes_sent} bytes sent)"
        ),
        SyncProgress::Pull { balances, more } => eprintln!(
            "pull: {balances} balance updates{}",
            if *more { ", more to come" } else { "" }
        ),
    })?;
    out.show(&serde_json::json!({ "ok": true, "sync": report }), || {
        let mut text = format!(
            "uploaded {} entries; confirmed up to {} ({} newly); updated: {}",
            report.uploaded,
            report.acknowledged_seq,
            report.newly_confirmed,
            if report.updated.is_empty() {
                "nothing".into()
            } else {
                report.updated.join(", ")
            }
        );
        if let Some(from) = report.resent_from {
            text.push_str(&format!(
                "\nthe server held less than it had confirmed (restored from a backup?): \
                 re-sent the log from entry {from}"
            ));
        }
        for (seq, case) in &report.double_spends {
            text.push_str(&format!("\nentry {seq} was a double spend (case {case})"));
        }
        for (case, resolution) in &report.cases_closed {
            text.push_str(&format!(
                "\ncase {case} was closed at HQ: {}",
                resolution.code().replace('_', " ")
            ));
        }
        for refused in &report.refused {
            text.push_str(&format!("\nrefused: {refused}"));
        }
        text
    });
    Ok(EXIT_OK)
}

pub fn status(terminal: &Terminal, out: &Output) -> anyhow::Result<u8> {
    let status = terminal.status()?;
    out.show(&status, || {
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let mut lines = vec![
            format!(
                "Device: {}",
                or_none(status.device.as_ref().map(ToString::to_string))
            ),
            format!(
                "Merchant: {}",
                or_none(status.merchant.as_ref().map(ToString::to_string))
            ),
            format!(
                "Site: {}",
                or_none(status.site.as_ref().map(ToString::to_string))
            ),
            format!(
                "Operator: {}",
                or_none(
                    status
                        .operator
                        .as_ref()
                        .map(|l| format!("{} ({})", l.name, l.operator))
                )
            ),
            format!(
                "Pending: {} entries, {}",
                status.pending_count,
                if status.pending_value.is_empty() {
                    "no value".to_owned()
                } else {
                    status
                        .pending_value
                        .iter()
                        .map(|m| out.money(*m))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            format!(
                "Log: {} entries, confirmed up to {}",
                status.log_entries, status.acknowledged_seq
            ),
            format!("Last sync: {}", or_none(status.last_sync_at.map(utc_text))),
        ];
        if !status.under_review.is_empty() {
            lines.push(format!(
                "Under review at HQ (double spends, not counted): {}",
                status
                    .under_review
                    .iter()
                    .map(|r| format!("entry {} (case {})", r.seq, r.case))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(error) = &status.last_sync_error {
            lines.push(format!("Last sync attempt failed: {error}"));
        }
        for limit in &status.limits {
            lines.push(format!(
                "Limits left ({}): {} value, {} entries, {} h {} min offline; per voucher {}",
                limit.currency,
                out.money(limit.unsynced_value_left),
                limit.unsynced_count_left,
                limit.offline_seconds_left / 3600,
                limit.offline_seconds_left % 3600 / 60,
                out.money(limit.credential_value_max)
            ));
        }
        if let Some(session) = &status.cash_session {
            lines.push(format!(
                "Cash session {} open: float {}, paid {} ({}), expected in drawer {}",
                session.session,
                out.money(session.float),
                out.money(session.paid),
                session.payouts,
                out.money(session.expected)
            ));
        }
        lines.join("\n")
    });
    Ok(EXIT_OK)
}

pub fn log(terminal: &Terminal, command: LogCommand, out: &Output) -> anyhow::Result<u8> {
    match command {
        LogCommand::Verify => {
            let check = terminal.verify_log()?;
            out.show(&serde_json::json!({ "ok": true, "log": check }), || {
                format!(
                    "device log verified: {} entries, head {}",
                    check.entries,
                    check.head_hash.as_deref().unwrap_or("(empty)")
                )
            });
        }
        LogCommand::Export { output } => match output {
            Some(path) => {
                let file = std::fs::File::create(&path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let mut writer = std::io::BufWriter::new(file);
                let count = terminal.export_log(&mut writer)?;
                writer.flush()?;
                out.show(&serde_json::json!({ "ok": true, "entries": count }), || {
                    format!("exported {count} entries to {}", path.display())
                });
            }
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                terminal.export_log(&mut lock)?;
            }
        },
    }
    Ok(EXIT_OK)
}

pub fn receipt(terminal: &Terminal, command: ReceiptCommand, out: &Output) -> anyhow::Result<u8> {
    let ReceiptCommand::Reprint { seq, printer } = command;
    // A copy is marked as such, on paper and on screen.
    let receipt = terminal.receipt(seq)?.into_reprint();
    printer.print(&receipt, out.language)?;
    out.show(
        &serde_json::json!({ "ok": true, "receipt": receipt }),
        || out.receipt_text(&receipt),
    );
    Ok(EXIT_OK)
}
