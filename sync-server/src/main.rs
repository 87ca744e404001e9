//! The `lastmile-server` command line: serve the API, and every HQ job the
//! API does, from a shell.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use lastmile_server::audit::Actor;
use lastmile_server::clock::{Clock, SystemClock};
use lastmile_server::config::{Config, Overrides};
use lastmile_server::issuance::{self, IssueOptions};
use lastmile_server::keys::{self, KeyDir};
use lastmile_server::startup::Server;
use lastmile_server::storage::Storage;
use lastmile_server::terminals::{self, ENROLMENT_CODE_TTL_HOURS_DEFAULT};
use lastmile_server::{double_spend, limits, rosters, vouchers};
use lastmile_shared::id::{DeviceId, KeyId, MerchantId, SiteId, VoucherId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::rules::OfflineLimits;

mod cli;

/// Now, by the system clock, in Unix seconds.
fn now() -> i64 {
    SystemClock.now()
}

const AFTER_HELP: &str = "\
First steps on a new machine:
  lastmile-server keys init
  lastmile-server limits set --currency KES --credential-max 5000 \\
      --unsynced-value-max 50000 --unsynced-count-max 200 --offline-hours-max 72
  lastmile-server vouchers issue --csv beneficiaries.csv --out vouchers/
  lastmile-server rosters publish --csv roster.csv --site nairobi-3
  lastmile-server terminals code --merchant shop-12 --site nairobi-3
  lastmile-server users add amina --name Amina --role admin --password-file pw.txt
  lastmile-server serve
then, on the terminal: lastmile-terminal enroll --server URL --code CODE.
A programme in the registry:
  lastmile-server sites add nairobi-3 --name \"Nairobi 3\"
  lastmile-server programmes add --id cash-2027 --name \"Cash 2027\" --currency KES \\
      --channels mobile,cash --budget 250000.00 --starts-on 2027-01-01 --target individual
  lastmile-server beneficiaries import cash-2027 people.csv
  lastmile-server programmes activate cash-2027
  lastmile-server cycles generate cash-2027 2027-01 --flat 2000.00
A programme officer then submits the cycle and an approver approves it (HQ
console or API), and `lastmile-server cycles release ID --out vouchers/`
releases it.
`lastmile-terminal demo` does all of this on one machine.

Settings (file key / environment variable): data_dir / LASTMILE_DATA_DIR
(default ./lastmile-data), database / LASTMILE_DATABASE, listen /
LASTMILE_LISTEN (default 127.0.0.1:8470), tls_cert, tls_key /
LASTMILE_TLS_CERT, LASTMILE_TLS_KEY, allow_plain_http /
LASTMILE_ALLOW_PLAIN_HTTP, issuer / LASTMILE_ISSUER, log / LASTMILE_LOG,
header_read_timeout_seconds / LASTMILE_HEADER_READ_TIMEOUT_SECONDS (10),
body_read_timeout_seconds / LASTMILE_BODY_READ_TIMEOUT_SECONDS (120),
connections_per_peer_max / LASTMILE_CONNECTIONS_PER_PEER_MAX (32),
shutdown_grace_seconds / LASTMILE_SHUTDOWN_GRACE_SECONDS (10),
job_lease_ms / LASTMILE_JOB_LEASE_MS (60000, from 100 to 3600000).

Lists print one JSON object per line. Exit status: 0 done, 1 failed (the
message on stderr says why).";

/// Lastmile's sync server: enrols terminals, ingests their signed logs,
/// detects double spends across terminals, issues vouchers.
///
/// Every command reads the configuration in layers: built-in defaults, the
/// TOML file given with --config (or LASTMILE_CONFIG), LASTMILE_* environment
/// variables, then these flags. The database is an embedded SQLite file in
/// the data directory unless --database names a postgres:// URL.
#[derive(Debug, Parser)]
#[command(name = "lastmile-server", version, about, long_about, after_long_help = AFTER_HELP)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the key files and the default SQLite database.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database: a SQLite path (or sqlite:PATH) or a postgres:// URL.
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the terminal sync API, the HQ API and /openapi.yaml.
    ///
    /// Prints "listening on URL" once ready. Plain HTTP is only allowed on a
    /// loopback address unless allow_plain_http is set; give --tls-cert and
    /// --tls-key (PEM) for TLS.
    Serve(ServeArgs),
    /// Root and issuer keys (private halves in DATA_DIR/keys, mode 0600).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Publish the trust list again (keys commands do this themselves).
    #[command(subcommand, name = "trust-list")]
    TrustList(TrustListCommand),
    /// Enrolment codes, terminals, assignment, revocation.
    #[command(subcommand)]
    Terminals(TerminalsCommand),
    /// Issue vouchers from a CSV; revoke or inspect one.
    #[command(subcommand)]
    Vouchers(VouchersCommand),
    /// Double-spend cases, each with both terminals' signed entries.
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Alarms: sequence conflicts, unverifiable vouchers and the like.
    #[command(subcommand)]
    Alarms(ListCommand),
    /// Offline limits per currency, sent to terminals in their policy.
    #[command(subcommand)]
    Limits(LimitsCommand),
    /// Rosters and distribution lists for a site or merchant.
    #[command(subcommand)]
    Rosters(RostersCommand),
    /// Suspend a merchant: its terminals stop redeeming after their next sync.
    #[command(subcommand)]
    Merchants(MerchantsCommand),
    /// HQ people: each signs in to the console and makes their own API tokens.
    #[command(subcommand)]
    Users(cli::people::UsersCommand),
    /// API tokens for scripts, acting with their user's role.
    #[command(subcommand)]
    Tokens(cli::people::TokensCommand),
    /// The audit trail: verify its hash chain, list entries.
    #[command(subcommand)]
    Audit(cli::audit::AuditCommand),
    /// Distribution sites of the programme registry.
    #[command(subcommand)]
    Sites(cli::registry::SitesCommand),
    /// Programmes: what is paid, in which currency, by which channels, to whom.
    #[command(subcommand)]
    Programmes(cli::registry::ProgrammesCommand),
    /// Import a programme's beneficiaries from a CSV file.
    #[command(subcommand)]
    Beneficiaries(cli::registry::BeneficiariesCommand),
    /// A programme's cycles: generate, show, release once approved.
    #[command(subcommand, after_long_help = cli::registry::APPROVAL_NOTE)]
    Cycles(cli::registry::CyclesCommand),
    /// The ledger: verify it, the trial balance, statements, fundings.
    #[command(subcommand)]
    Ledger(cli::ledger::LedgerCommand),
    /// ID authorities whose Claim 169 ID cards terminals accept.
    #[command(
        subcommand,
        name = "id-authorities",
        after_long_help = cli::id_authorities::APPROVAL_NOTE
    )]
    IdAuthorities(cli::id_authorities::IdAuthoritiesCommand),
    /// The rails payments go through: bank rails and their folders.
    #[command(subcommand)]
    Rails(cli::payments::RailsCommand),
    /// The payment pipeline: batches, payments, answers, exceptions.
    #[command(subcommand, after_long_help = cli::payments::APPROVAL_NOTE)]
    Payments(cli::payments::PaymentsCommand),
    /// A bank for tests and demos: answers the pain.001 files in a folder
    /// with pain.002 and camt.054 files in another.
    #[command(name = "bank-simulator")]
    BankSimulator(cli::bank_simulator::BankSimulatorArgs),
}

#[derive(Debug, Subcommand)]
enum MerchantsCommand {
    /// Suspend a merchant. Every terminal of theirs refuses to redeem or pay
    /// out once its next sync brings the revocation list naming them.
    Revoke {
        /// The merchant id, as in `terminals code --merchant`.
        merchant: MerchantId,
        /// Why, for the record (shown to nobody at the shop).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8470 (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create the root key and a first issuer key; publish the trust list.
    Init,
    /// Create a new issuer key and retire the active one (vouchers it signed
    /// stay valid).
    Rotate,
    /// Replace the root key. The old root signs a handover to the new one and
    /// every document is resealed; terminals follow at their next sync.
    RotateRoot,
    /// Retire an issuer key: it signs nothing new; its vouchers stay valid.
    Retire {
        /// The issuer key's id (`kid` in `keys show`), e.g. iss-1a2b3c4d.
        kid: KeyId,
    },
    /// Revoke an issuer key: everything it signed becomes invalid.
    Revoke {
        /// The issuer key's id (`kid` in `keys show`), e.g. iss-1a2b3c4d.
        kid: KeyId,
    },
    /// List the root and issuer keys (public halves only), one JSON per line.
    Show,
}

#[derive(Debug, Subcommand)]
enum TrustListCommand {
    /// Seal the current issuer keys as a new trust list version.
    Publish,
}

#[derive(Debug, Subcommand)]
enum TerminalsCommand {
    /// Create a one-time enrolment code (printed alone on stdout).
    Code {
        /// The merchant the terminal will redeem for (its vouchers' `merchants`).
        #[arg(long, value_name = "MERCHANT")]
        merchant: Option<MerchantId>,
        /// The site the terminal works at; it receives that site's roster.
        #[arg(long, value_name = "SITE")]
        site: Option<SiteId>,
        /// Hours until the code expires.
        #[arg(long, value_name = "HOURS", default_value_t = ENROLMENT_CODE_TTL_HOURS_DEFAULT)]
        ttl_hours: u32,
    },
    /// List enrolled terminals, one JSON per line.
    List,
    /// Revoke a terminal: its next request is refused.
    Revoke {
        /// The terminal's device id (`device` in `terminals list`).
        device: DeviceId,
    },
    /// Admit again a terminal this server no longer knows (its database was
    /// restored from before the enrolment, or rebuilt), under its own device
    /// id and key, as its `status` shows them. Whoever holds that key becomes
    /// the terminal: check both with the shop first. Its next sync re-sends
    /// its whole log, raised as a `log_recovered` alarm.
    Readmit {
        /// The terminal's device id (`device` in its `status`).
        device: DeviceId,
        /// Its device public key, 64 hex digits (`device_public_key` in its `status`).
        #[arg(long, value_name = "HEX")]
        public_key: String,
        /// The merchant it redeems for.
        #[arg(long, value_name = "MERCHANT")]
        merchant: Option<MerchantId>,
        /// The site it works at.
        #[arg(long, value_name = "SITE")]
        site: Option<SiteId>,
        /// A label for people ("Shop 12 counter").
        #[arg(long, value_name = "TEXT", default_value = "readmitted terminal")]
        label: String,
    },
    /// Move a terminal to another merchant and/or site.
    Assign {
        /// The terminal's device id (`device` in `terminals list`).
        device: DeviceId,
        /// The merchant it redeems for from now on.
        #[arg(long, value_name = "MERCHANT")]
        merchant: Option<MerchantId>,
        /// The site it works at from now on.
        #[arg(long, value_name = "SITE")]
        site: Option<SiteId>,
    },
}

#[derive(Debug, Subcommand)]
enum VouchersCommand {
    /// Issue signed vouchers from a CSV of beneficiaries.
    ///
    /// Columns: beneficiary_id, name, amount, currency, programme,
    /// valid_from, valid_until (YYYY-MM-DD), and optionally mode
    /// (single_use|partial), merchants and sites (;-separated). Writes
    /// OUT/qr/<voucher>.png, OUT/vouchers.pdf and OUT/vouchers.csv. Any bad
    /// row stops the whole file unless --allow-partial-errors. Rows issued
    /// before (the same file again) are skipped, not errors; print their
    /// sheet again with `vouchers sheet`.
    Issue {
        /// The beneficiaries, one voucher per row (see above).
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Directory for the QR PNGs, the PDF sheet and the CSV list (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Issue the good rows even if some rows are bad.
        #[arg(long)]
        allow_partial_errors: bool,
        /// Bind each voucher to its beneficiary: terminals then require an
        /// ID check before redeeming.
        #[arg(long)]
        bind_beneficiary: bool,
    },
    /// Print issued vouchers again: QR PNGs, PDF sheet and CSV list, from
    /// the stored credentials (the same QR codes as first issued).
    ///
    /// Give the issuance CSV (the names come from it) or voucher ids (the
    /// beneficiary id is printed in place of a name).
    #[command(group(clap::ArgGroup::new("which").required(true).args(["csv", "voucher"])))]
    Sheet {
        /// The CSV the vouchers were issued from; every row must be issued.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// A voucher id (repeat for more), e.g. --voucher V-1A2B --voucher V-3C4D.
        #[arg(long, value_name = "VOUCHER", num_args = 1..)]
        voucher: Vec<VoucherId>,
        /// Directory for the QR PNGs, the PDF sheet and the CSV list (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Revoke a voucher; terminals refuse it after their next sync.
    Revoke {
        /// The voucher id (`voucher_id` in vouchers.csv).
        voucher: VoucherId,
    },
    /// Show a voucher's state as JSON.
    Show {
        /// The voucher id (`voucher_id` in vouchers.csv).
        voucher: VoucherId,
    },
}

#[derive(Debug, Subcommand)]
enum CasesCommand {
    /// One JSON object per line, oldest first; `--open` for those not yet resolved.
    List {
        /// Only the cases not yet resolved.
        #[arg(long)]
        open: bool,
    },
    /// Close a case once the money was recovered, written off, or it was no double spend.
    Resolve {
        /// The case number (`id` in `cases list`).
        case: u64,
        /// What was done.
        #[arg(long, value_enum)]
        outcome: CaseOutcome,
        /// A note for the record: who decided what, and why.
        #[arg(long, value_name = "TEXT")]
        note: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CaseOutcome {
    /// The money paid by the later redemption was recovered.
    Recovered,
    /// The loss is accepted and booked.
    WrittenOff,
    /// Not a double spend after all.
    Dismissed,
}

#[derive(Debug, Subcommand)]
enum ListCommand {
    /// One JSON object per line.
    List,
}

#[derive(Debug, Subcommand)]
enum LimitsCommand {
    /// Set the offline limits for one currency (amounts in major units).
    Set {
        /// ISO 4217 currency code, e.g. KES.
        #[arg(long, value_name = "CODE")]
        currency: Currency,
        /// Most value redeemed offline on one voucher or entitlement.
        #[arg(long, value_name = "AMOUNT")]
        credential_max: String,
        /// Most unconfirmed value on one terminal.
        #[arg(long, value_name = "AMOUNT")]
        unsynced_value_max: String,
        /// Most unconfirmed log entries on one terminal.
        #[arg(long, value_name = "N")]
        unsynced_count_max: u32,
        /// Longest time a terminal may go without a sync.
        #[arg(long, value_name = "HOURS")]
        offline_hours_max: u32,
    },
    /// Show the limits, one JSON per line: `credential_max`,
    /// `unsynced_value_max` and `offline_hours_max` as `limits set` takes
    /// them, and the raw fields (minor units, seconds) the policy carries.
    Show,
}

#[derive(Debug, Subcommand)]
enum RostersCommand {
    /// Seal a roster from a CSV for a site or a merchant.
    ///
    /// Columns: beneficiary_id, name, id_numbers (;-separated),
    /// entitlement_id, programme, amount, currency, valid_from, valid_until,
    /// mode (single_use|partial), delivery (merchant|cash).
    Publish {
        /// The roster, one entitlement per row (see above).
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The site whose terminals receive it.
        #[arg(long, value_name = "SITE")]
        site: Option<SiteId>,
        /// The merchant whose terminals receive it.
        #[arg(long, value_name = "MERCHANT")]
        merchant: Option<MerchantId>,
    },
}

/// Prints one JSON object per line; an empty list prints nothing on stdout
/// (scripts) and says so on stderr (people).
fn json_list<T: serde::Serialize>(items: &[T], none: &str) -> Result<()> {
    if items.is_empty() {
        eprintln!("{none}");
    }
    json_lines(items)
}

fn json_lines<T: serde::Serialize>(items: &[T]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for item in items {
        serde_json::to_writer(&mut out, item)?;
        writeln!(out)?;
    }
    Ok(())
}

fn open(config: &Config) -> Result<Storage> {
    Storage::open(&config.database)
        .with_context(|| format!("opening {}", config.database.describe()))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve(args) => args.listen.clone(),
        _ => None,
    };
    let (tls_cert, tls_key) = match &cli.command {
        Command::Serve(args) => (args.tls_cert.clone(), args.tls_key.clone()),
        _ => (None, None),
    };
    let config = Config::load(&Overrides {
        config_file: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        database: cli.database.clone(),
        listen,
        tls_cert,
        tls_key,
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log)
                .context("the log setting is not a valid filter (try \"info\")")?,
        )
        .with_writer(std::io::stderr)
        .init();
    let keys = KeyDir::new(&config.data_dir);
    let actor = Actor::operator();
    match cli.command {
        Command::Users(command) => cli::people::users(&open(&config)?, command, now()),
        Command::Tokens(command) => cli::people::tokens(&open(&config)?, command, now()),
        Command::Audit(command) => cli::audit::run(&open(&config)?, command),
        Command::Sites(command) => cli::registry::sites_run(&open(&config)?, command, now()),
        Command::Programmes(command) => {
            cli::registry::programmes_run(&open(&config)?, &config.issuer, command, now())
        }
        Command::Beneficiaries(command) => {
            cli::registry::beneficiaries_run(&open(&config)?, command, now())
        }
        Command::Cycles(command) => {
            cli::registry::cycles_run(&open(&config)?, &keys, command, now())
        }
        Command::Ledger(command) => cli::ledger::run(&open(&config)?, command, now()),
        Command::Rails(command) => cli::payments::run_rails(&open(&config)?, command, now()),
        Command::Payments(command) => cli::payments::run(&open(&config)?, command, now()),
        Command::IdAuthorities(command) => {
            cli::id_authorities::run(&open(&config)?, command, now())
        }
        Command::BankSimulator(args) => cli::bank_simulator::run(args),
        Command::Serve(_) => serve(&config),
        Command::Keys(command) => {
            let storage = open(&config)?;
            match command {
                KeysCommand::Init => {
                    let done = keys::init(&storage, &keys, &actor, &config.issuer, now())?;
                    println!(
                        "root key {} and issuer key {} created; trust list version {}",
                        done.root_kid, done.issuer_kid, done.trust_list_version
                    );
                }
                KeysCommand::Rotate => {
                    let kid = keys::rotate(&storage, &keys, &actor, &config.issuer, now())?;
                    println!("issuer key {kid} is now active; the previous one is retired");
                }
                KeysCommand::RotateRoot => {
                    let done = keys::rotate_root(&storage, &keys, &actor, now())?;
                    println!(
                        "root key {} replaces {} (handover {}); terminals follow at their next sync",
                        done.new_kid, done.old_kid, done.handover_version
                    );
                }
                KeysCommand::Retire { kid } => {
                    keys::set_status(&storage, &keys, &actor, &kid, false, now())?;
                    println!("issuer key {kid} retired");
                }
                KeysCommand::Revoke { kid } => {
                    keys::set_status(&storage, &keys, &actor, &kid, true, now())?;
                    println!("issuer key {kid} revoked");
                }
                KeysCommand::Show => json_list(&keys::key_views(&storage)?, "no keys")?,
            }
            Ok(())
        }
        Command::TrustList(TrustListCommand::Publish) => {
            let storage = open(&config)?;
            let version = storage.transaction(|tx| {
                let root = keys::root_signer(tx, &keys)?;
                Ok::<_, keys::KeyError>(lastmile_server::documents::publish_trust_list(
                    tx,
                    &root,
                    now(),
                )?)
            })?;
            println!("trust list version {version} published");
            Ok(())
        }
        Command::Terminals(command) => {
            let storage = open(&config)?;
            match command {
                TerminalsCommand::Code {
                    merchant,
                    site,
                    ttl_hours,
                } => {
                    let ttl = ttl_hours
                        .checked_mul(3600)
                        .context("--ttl-hours is too large")?;
                    let code =
                        terminals::create_code(&storage, &actor, merchant, site, ttl, now())?;
                    println!("{}", code.code);
                    eprintln!(
                        "one-time enrolment code; expires {} (UTC date)",
                        lastmile_server::calendar::format_date(code.expires_at)
                    );
                }
                TerminalsCommand::List => json_list(&terminals::list(&storage)?, "no terminals")?,
                TerminalsCommand::Revoke { device } => {
                    terminals::revoke(&storage, &keys, &actor, &device, now())?;
                    println!("terminal {device} revoked");
                }
                TerminalsCommand::Readmit {
                    device,
                    public_key,
                    merchant,
                    site,
                    label,
                } => {
                    let public_key: [u8; 32] = hex::decode(public_key.trim())
                        .ok()
                        .and_then(|bytes| bytes.try_into().ok())
                        .context("--public-key is not 64 hex digits")?;
                    let readmission = terminals::Readmission {
                        device,
                        public_key,
                        merchant,
                        site,
                        label,
                    };
                    let row = terminals::readmit(&storage, &keys, &actor, &readmission, now())?;
                    json_lines(&[row])?;
                }
                TerminalsCommand::Assign {
                    device,
                    merchant,
                    site,
                } => {
                    let row =
                        terminals::assign(&storage, &keys, &actor, &device, merchant, site, now())?;
                    json_lines(&[row])?;
                }
            }
            Ok(())
        }
        Command::Vouchers(command) => {
            let storage = open(&config)?;
            match command {
                VouchersCommand::Issue {
                    csv,
                    out,
                    allow_partial_errors,
                    bind_beneficiary,
                } => {
                    let report = issuance::issue(
                        &storage,
                        &keys,
                        &IssueOptions {
                            csv,
                            out,
                            allow_partial_errors,
                            bind_beneficiary,
                        },
                        now(),
                    )?;
                    for skipped in &report.skipped {
                        eprintln!("skipped {skipped}");
                    }
                    for already in &report.already_issued {
                        eprintln!(
                            "line {}: voucher {} already issued (skipped)",
                            already.line, already.voucher
                        );
                    }
                    println!("{} voucher(s) issued", report.issued.len());
                    if !report.already_issued.is_empty() {
                        println!(
                            "{} already issued before; `vouchers sheet --csv FILE --out DIR` prints them again",
                            report.already_issued.len()
                        );
                    }
                    if let (Some(sheet), Some(list)) = (&report.sheet, &report.list) {
                        println!("sheet: {}\nlist: {}", sheet.display(), list.display());
                    }
                }
                VouchersCommand::Sheet { csv, voucher, out } => {
                    let source = match csv {
                        Some(csv) => issuance::SheetSource::Csv(csv),
                        None => issuance::SheetSource::Vouchers(voucher),
                    };
                    let report = issuance::sheet(&storage, &source, &out, &config.issuer, now())?;
                    println!(
                        "{} voucher(s) printed again\nsheet: {}\nlist: {}",
                        report.vouchers.len(),
                        report.sheet.display(),
                        report.list.display()
                    );
                }
                VouchersCommand::Revoke { voucher } => {
                    match vouchers::revocation(&storage, &keys, &actor, &voucher, now())? {
                        vouchers::Revocation::Revoked { version } => {
                            println!("voucher {voucher} revoked; revocation list version {version}")
                        }
                        vouchers::Revocation::AlreadyRevoked { at, .. } => anyhow::bail!(
                            "voucher {voucher} was already revoked on {} (UTC); nothing changed",
                            lastmile_server::calendar::format_date(at)
                        ),
                    }
                }
                VouchersCommand::Show { voucher } => {
                    json_lines(&[vouchers::show(&storage, &voucher, now())?])?;
                }
            }
            Ok(())
        }
        Command::Cases(CasesCommand::List { open: only_open }) => {
            let mut cases = double_spend::list(&open(&config)?)?;
            if only_open {
                cases.retain(|c| c.status == "open");
            }
            json_list(&cases, "no cases")
        }
        Command::Cases(CasesCommand::Resolve {
            case,
            outcome,
            note,
        }) => {
            let resolution = match outcome {
                CaseOutcome::Recovered => double_spend::Resolution::Recovered,
                CaseOutcome::WrittenOff => double_spend::Resolution::WrittenOff,
                CaseOutcome::Dismissed => double_spend::Resolution::Dismissed,
            };
            double_spend::resolve(&open(&config)?, &actor, case, resolution, &note, now())?;
            println!("case {case} resolved: {}", resolution.code());
            Ok(())
        }
        Command::Alarms(ListCommand::List) => {
            json_list(&open(&config)?.transaction(|tx| tx.alarms())?, "no alarms")
        }
        Command::Limits(command) => {
            let storage = open(&config)?;
            match command {
                LimitsCommand::Set {
                    currency,
                    credential_max,
                    unsynced_value_max,
                    unsynced_count_max,
                    offline_hours_max,
                } => {
                    let limits = OfflineLimits {
                        currency,
                        credential_value_max_minor: Money::parse(&credential_max, currency)?.minor,
                        unsynced_value_max_minor: Money::parse(&unsynced_value_max, currency)?
                            .minor,
                        unsynced_count_max,
                        offline_seconds_max: i64::from(offline_hours_max) * 3600,
                    };
                    let sealed = limits::set(&storage, &keys, &actor, &limits, now())?;
                    println!("limits for {currency} set; {sealed} terminal policies resealed");
                }
                LimitsCommand::Show => {
                    let views: Vec<limits::LimitsView> = limits::list(&storage)?
                        .into_iter()
                        .map(limits::LimitsView::from)
                        .collect();
                    json_list(&views, "no limits set (`limits set` sets them)")?;
                }
            }
            Ok(())
        }
        Command::Merchants(MerchantsCommand::Revoke { merchant, reason }) => {
            let version = lastmile_server::merchants::revoke(
                &open(&config)?,
                &keys,
                &actor,
                &merchant,
                &reason,
                now(),
            )?;
            println!("merchant {merchant} suspended; revocation list version {version}");
            Ok(())
        }
        Command::Rosters(RostersCommand::Publish {
            csv,
            site,
            merchant,
        }) => {
            let storage = open(&config)?;
            let (version, people) = rosters::publish(
                &storage,
                &keys,
                &csv,
                site.as_ref(),
                merchant.as_ref(),
                now(),
            )?;
            println!("roster version {version} published with {people} people");
            Ok(())
        }
    }
}

fn serve(config: &Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::build(config).await?;
        let addr = server.local_addr()?;
        tracing::info!(database = %config.database.describe(), %addr, "serving");
        println!("listening on {}://{addr}", server.scheme());
        std::io::stdout().flush()?;
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("installing the SIGTERM handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = terminate.recv() => {},
            }
        };
        server.run(shutdown).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_argument_has_a_help_line() {
        let found = lastmile_tests::arguments_without_help(&Cli::command());
        assert!(found.is_empty(), "no help text: {found:?}");
    }
}
