//! `enroll`, `provision`, `operator`, `sync`, `status`, `log`, `receipt`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use lastmile_hardware::escpos::PaperWidth;
use lastmile_hardware::printer::{Printer, PrinterTarget};
use lastmile_shared::id::OperatorId;
use lastmile_terminal::enrolment::ProvisionBundle;
use lastmile_terminal::i18n::{Language, Text};
use lastmile_terminal::receipt::{Letterhead, Receipt, utc_text};
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
    /// Print the receipt of log entry SEQ (default: the newest) with its current status;
    /// marked as a copy if a paper of it already came out of a printer.
    Reprint {
        /// The receipt number (the log entry's sequence number).
        seq: Option<u64>,
        #[command(flatten)]
        printer: PrinterArgs,
    },
    /// Show or set the names printed on receipts and day reports (each at most 64
    /// characters; an empty name prints the id instead). Setting needs a logged-in operator.
    Letterhead {
        /// The shop's (or distribution point's) name, the receipt's heading.
        #[arg(long, value_name = "NAME")]
        shop: Option<String>,
        /// The site's name.
        #[arg(long, value_name = "NAME")]
        site: Option<String>,
        /// This terminal's name ("Counter 2"), printed beside its device id.
        #[arg(long, value_name = "NAME")]
        terminal: Option<String>,
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
    /// Whether a printer was given: the receipt will be paper.
    pub fn given(&self) -> bool {
        self.printer.is_some()
    }

    /// Prints `receipt` in `language` when a printer was given, and records
    /// that its paper came out (so the next one is a copy).
    pub fn print(
        &self,
        terminal: &mut Terminal,
        receipt: &Receipt,
        language: Language,
    ) -> anyhow::Result<()> {
        let Some(target) = &self.printer else {
            return Ok(());
        };
        let paper = PaperWidth::from_dots_or_mm(self.paper)
            .ok_or_else(|| anyhow::anyhow!("--paper must be 58 or 80 (mm)"))?;
        let job = receipt.render_escpos_in(language, paper)?;
        let mut printer = Printer::new(PrinterTarget::parse(target)?.open()?);
        printer.print(&job)?;
        terminal.receipt_printed(receipt.seq)?;
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
                out.say(Text::CliOperatorAdded, &[("id", id.as_str())])
            });
        }
        OperatorCommand::Login { id, pin } => {
            let id = OperatorId::parse(&id).map_err(Error::from)?;
            let pin = read_pin(pin)?;
            let login = terminal.login(&id, &pin)?;
            out.show(&serde_json::json!({ "ok": true, "login": login }), || {
                out.say(
                    Text::CliLoggedIn,
                    &[("name", &login.name), ("time", &utc_text(login.expires_at))],
                )
            });
        }
        OperatorCommand::Logout => {
            terminal.logout()?;
            out.show(&serde_json::json!({ "ok": true }), || {
                out.say(Text::CliLoggedOut, &[])
            });
        }
        OperatorCommand::List => {
            let operators = terminal.operators()?;
            out.show(&operators, || {
                operators
                    .iter()
                    .map(|o| match o.locked_until {
                        Some(until) => out.say(
                            Text::CliLockedUntil,
                            &[
                                ("id", o.id.as_str()),
                                ("name", &o.name),
                                ("time", &utc_text(until)),
                            ],
                        ),
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
    let report = terminal.sync_with_progress(None, &mut |progress| match progress {
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
        let updated = if report.updated.is_empty() {
            out.say(Text::CliNothing, &[])
        } else {
            report.updated.join(", ")
        };
        let mut text = out.say(
            Text::CliSynced,
            &[
                ("uploaded", &report.uploaded.to_string()),
                ("seq", &report.acknowledged_seq.to_string()),
                ("new", &report.newly_confirmed.to_string()),
                ("updated", &updated),
            ],
        );
        if let Some(from) = report.resent_from {
            text.push_str(&format!(
                "\nthe server held less than it had confirmed (restored from a backup?): \
                 re-sent the log from entry {from}"
            ));
        }
        for (seq, case) in &report.double_spends {
            text.push('\n');
            text.push_str(&out.say(
                Text::CliDoubleSpend,
                &[("seq", &seq.to_string()), ("case", &case.to_string())],
            ));
        }
        for (case, resolution) in &report.cases_closed {
            text.push_str(&format!(
                "\ncase {case} was closed at HQ: {}",
                resolution.code().replace('_', " ")
            ));
        }
        for refused in &report.refused {
            text.push('\n');
            text.push_str(&out.say(Text::CliDocumentRefused, &[("detail", refused)]));
        }
        text
    });
    Ok(EXIT_OK)
}

pub fn status(terminal: &Terminal, out: &Output) -> anyhow::Result<u8> {
    let status = terminal.status()?;
    out.show(&status, || {
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let value = |text: Text, v: Option<String>| out.say(text, &[("value", &or_none(v))]);
        let pending_value = if status.pending_value.is_empty() {
            out.say(Text::CliNoValue, &[])
        } else {
            status
                .pending_value
                .iter()
                .map(|m| out.money(*m))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = vec![
            value(
                Text::CliDevice,
                status.device.as_ref().map(ToString::to_string),
            ),
            value(
                Text::CliMerchant,
                status.merchant.as_ref().map(ToString::to_string),
            ),
            value(Text::CliSite, status.site.as_ref().map(ToString::to_string)),
            value(
                Text::CliOperator,
                status
                    .operator
                    .as_ref()
                    .map(|l| format!("{} ({})", l.name, l.operator)),
            ),
            out.say(
                Text::CliPending,
                &[
                    ("n", &status.pending_count.to_string()),
                    ("value", &pending_value),
                ],
            ),
            out.say(
                Text::CliLog,
                &[
                    ("n", &status.log_entries.to_string()),
                    ("seq", &status.acknowledged_seq.to_string()),
                ],
            ),
            value(Text::CliLastSync, status.last_sync_at.map(utc_text)),
        ];
        if !status.under_review.is_empty() {
            let list = status
                .under_review
                .iter()
                .map(|r| {
                    out.say(
                        Text::CliUnderReviewEntry,
                        &[("seq", &r.seq.to_string()), ("case", &r.case.to_string())],
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            lines.push(out.say(Text::CliUnderReview, &[("list", &list)]));
        }
        if let Some(error) = &status.last_sync_error {
            lines.push(out.say(Text::CliLastSyncFailed, &[("detail", error)]));
        }
        for limit in &status.limits {
            lines.push(out.say(
                Text::CliLimitsLeft,
                &[
                    ("currency", limit.currency.code()),
                    ("value", &out.money(limit.unsynced_value_left)),
                    ("n", &limit.unsynced_count_left.to_string()),
                    ("h", &(limit.offline_seconds_left / 3600).to_string()),
                    ("m", &(limit.offline_seconds_left % 3600 / 60).to_string()),
                    ("max", &out.money(limit.credential_value_max)),
                ],
            ));
        }
        if let Some(session) = &status.cash_session {
            // A blind count: what should be in the box shows only in the
            // report, after `cash close --counted`.
            lines.push(out.say(
                Text::CliCashSessionOpen,
                &[
                    ("n", &session.session.to_string()),
                    ("since", &utc_text(session.opened_at)),
                    ("float", &out.money(session.float)),
                    ("payouts", &session.payouts.to_string()),
                ],
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
                let empty = out.say(Text::CliLogEmpty, &[]);
                out.say(
                    Text::CliLogVerified,
                    &[
                        ("n", &check.entries.to_string()),
                        ("hash", check.head_hash.as_deref().unwrap_or(&empty)),
                    ],
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
                    out.say(
                        Text::CliExported,
                        &[
                            ("n", &count.to_string()),
                            ("path", &path.display().to_string()),
                        ],
                    )
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

pub fn receipt(
    terminal: &mut Terminal,
    command: ReceiptCommand,
    out: &Output,
) -> anyhow::Result<u8> {
    match command {
        ReceiptCommand::Reprint { seq, printer } => {
            // A copy is marked as such, on paper and on screen; the first
            // paper of a receipt that never printed is the original.
            let receipt = terminal.receipt(seq)?.for_paper();
            printer.print(terminal, &receipt, out.language)?;
            out.show(
                &serde_json::json!({ "ok": true, "receipt": receipt }),
                || out.receipt_text(&receipt),
            );
        }
        ReceiptCommand::Letterhead {
            shop,
            site,
            terminal: name,
        } => {
            let letterhead = if shop.is_none() && site.is_none() && name.is_none() {
                terminal.letterhead()?
            } else {
                let held = terminal.letterhead()?;
                terminal.set_letterhead(&Letterhead {
                    shop: shop.or(held.shop),
                    site: site.or(held.site),
                    terminal: name.or(held.terminal),
                })?
            };
            out.show(
                &serde_json::json!({ "ok": true, "letterhead": letterhead }),
                || {
                    let or_id = |name: &Option<String>| {
                        name.clone()
                            .unwrap_or_else(|| "(not set: the id prints)".into())
                    };
                    format!(
                        "Shop: {}\nSite: {}\nTerminal: {}",
                        or_id(&letterhead.shop),
                        or_id(&letterhead.site),
                        or_id(&letterhead.terminal)
                    )
                },
            );
        }
    }
    Ok(EXIT_OK)
}
