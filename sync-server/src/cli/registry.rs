//! `lastmile-server sites …`, `programmes …`, `beneficiaries …` and
//! `cycles …`: the programme registry from the server's own shell, acting
//! as the operator running it (`operator:$USER` in the audit trail).
//!
//! Submitting a cycle for approval and approving it are not here: they are
//! the acts of two named people (maker–checker), done in the HQ console or
//! over the HQ API.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lastmile_server::audit::Actor;
use lastmile_server::keys::KeyDir;
use lastmile_server::registry::amounts::{self, AmountsError};
use lastmile_server::registry::cycles::{self, RuleRequest};
use lastmile_server::registry::import::{self, Field, ImportError, Mapping, Options, Report};
use lastmile_server::registry::programmes::{self, NewProgramme, Target, Transition};
use lastmile_server::registry::{RegistryError, release, signals, sites};
use lastmile_server::storage::Storage;
use lastmile_server::storage::registry as table;
use lastmile_server::storage::sql::{PAGE_ROWS_MAX, Page};
use lastmile_shared::id::IssuerId;
use lastmile_shared::money::{Currency, Money};

/// Said wherever a cycle's approval comes up.
pub const APPROVAL_NOTE: &str = "\
Submitting a cycle for approval and approving it are not done from this
shell: they are the acts of two named people (maker–checker). A programme
officer submits it in the HQ console (or POST /v1/hq/cycles/ID/submit), and
an approver who did not generate it approves the proposal there (or POST
/v1/hq/proposals/ID/decision). Then `cycles release ID` releases it.";

#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Register a distribution site (where cash is paid and terminals work).
    Add {
        /// The site id, e.g. site-kibera (as in `terminals code --site`).
        site: String,
        /// The name people know it by.
        #[arg(long)]
        name: String,
    },
    /// List the sites, one JSON object per line.
    List,
}

/// Who a programme pays, as typed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TargetArg {
    /// Each person on the list.
    Individual,
    /// The head of each household, for the whole household.
    Household,
}

impl From<TargetArg> for Target {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Individual => Target::Individual,
            TargetArg::Household => Target::Household,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ProgrammesCommand {
    /// Create a programme, as a draft (activate it once its people are in).
    Add {
        /// The programme id, e.g. cash-2027 (letters, digits, '-', '_', '.').
        #[arg(long)]
        id: String,
        /// The name people know it by.
        #[arg(long)]
        name: String,
        /// ISO 4217 currency code, e.g. KES.
        #[arg(long, value_name = "CODE")]
        currency: Currency,
        /// The issuer whose key signs its vouchers; default: this server's
        /// `issuer` setting.
        #[arg(long, value_name = "ISSUER")]
        issuer: Option<IssuerId>,
        /// Payment channels in the programme's default order: bank, mobile,
        /// cash, voucher (comma-separated, e.g. mobile,cash).
        #[arg(long, value_name = "KINDS", value_delimiter = ',', required = true)]
        channels: Vec<String>,
        /// The budget of one cycle, in major units (e.g. 250000.00).
        #[arg(long, value_name = "AMOUNT")]
        budget: String,
        /// First day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        starts_on: String,
        /// Last day (YYYY-MM-DD); what is released stays redeemable until its end.
        #[arg(long, value_name = "DATE")]
        ends_on: Option<String>,
        /// Who is paid: each person, or each household through its head.
        #[arg(long, value_enum)]
        target: TargetArg,
        /// The largest household allowed (default 1 for individual, 20 for household).
        #[arg(long, value_name = "N")]
        household_max: Option<i64>,
        /// The national ID's shape: 9 a digit, A a letter, * either (e.g. 99999999).
        #[arg(long, value_name = "MASK")]
        id_pattern: Option<String>,
    },
    /// List the programmes, one JSON object per line.
    List,
    /// Show a programme with its counts and its cycles, as JSON.
    Show {
        /// The programme id.
        id: String,
    },
    /// Activate a draft programme: from then on it generates cycles.
    Activate {
        /// The programme id.
        id: String,
    },
    /// Close an active programme: nothing more is imported or generated.
    Close {
        /// The programme id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BeneficiariesCommand {
    /// Import a beneficiary file (CSV, header row first) into a programme.
    ///
    /// Columns are matched to fields by their headers (`ID`, `Full name`,
    /// `National ID`, `Phone`, `Site`, `IBAN`, `Operator`, `Channels`, …);
    /// --map names the header of a field the guess misses. Every bad row is
    /// printed as `line N, column "X": reason`; a file with errors imports
    /// nothing (exit 1) unless --good-rows. The same file again changes
    /// nothing; an updated file changes only the rows that differ.
    Import {
        /// The programme id.
        programme: String,
        /// The CSV file.
        file: PathBuf,
        /// FIELD=HEADER: the file's column for a field, e.g. --map
        /// national_id="ID number" (repeat for more). Fields: beneficiary_id,
        /// name, national_id, phone, household, household_role, site, iban,
        /// bank_code, account_number, mobile_operator, msisdn, channels, status.
        #[arg(long = "map", value_name = "FIELD=HEADER")]
        map: Vec<String>,
        /// Import the good rows of a file that has errors (the bad ones are listed).
        #[arg(long)]
        good_rows: bool,
        /// Only check: say what would happen, change nothing.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CyclesCommand {
    /// Generate (or complete) the cycle of a period: an entitlement for
    /// every eligible beneficiary (or household head), as a draft.
    ///
    /// Then a programme officer submits it and another person approves it,
    /// in the HQ console or over the HQ API (see `cycles --help`).
    #[command(group(clap::ArgGroup::new("rule").required(true).args(["flat", "per_member", "from_file"])))]
    Generate {
        /// The programme id.
        programme: String,
        /// The period, e.g. 2027-01.
        period: String,
        /// The same amount for each one paid, in major units (e.g. 20.00).
        #[arg(long, value_name = "AMOUNT")]
        flat: Option<String>,
        /// So much per household member, in major units; needs --cap.
        #[arg(long, value_name = "AMOUNT", requires = "cap")]
        per_member: Option<String>,
        /// With --per-member: the most per household.
        #[arg(long, value_name = "AMOUNT", requires = "per_member")]
        cap: Option<String>,
        /// Pay what the period's amounts file gives each one listed (upload
        /// it first with `cycles amounts`).
        #[arg(long)]
        from_file: bool,
    },
    /// Upload the amounts file of a period: a CSV with a beneficiary_id (or
    /// national_id) column and an amount column (major units of the
    /// programme's currency, e.g. 1250.50; an optional currency column must
    /// say the programme's). Every bad row is printed as `line N, column
    /// "X": reason` and nothing is applied (exit 1). The same file again
    /// changes nothing; another file replaces the period's amounts until its
    /// cycle is generated (`cycles generate … --from-file`).
    /// See docs/amounts-file.md.
    Amounts {
        /// The programme id.
        programme: String,
        /// The period, e.g. 2027-01.
        period: String,
        /// The CSV file.
        file: PathBuf,
        /// Only check: say what would happen, change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Show a cycle with its counts per state and channel, as JSON.
    Show {
        /// The cycle number.
        id: i64,
    },
    /// Release an approved cycle: vouchers signed, cash entitlements put on
    /// their sites' rosters, bank and mobile left for the payment pipeline.
    /// Releasing again releases only what was approved since.
    Release {
        /// The cycle number.
        id: i64,
        /// Print the vouchers released here: OUT/qr/<voucher>.png,
        /// OUT/vouchers.pdf and OUT/vouchers.csv.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Prints every page of a list, one JSON object per line.
pub(crate) fn all_pages<T: serde::Serialize>(
    mut fetch: impl FnMut(Page) -> Result<Vec<T>>,
    none: &str,
) -> Result<()> {
    let mut page = Page::first(PAGE_ROWS_MAX);
    let mut any = false;
    loop {
        let rows = fetch(page)?;
        for row in &rows {
            println!("{}", serde_json::to_string(row)?);
        }
        any |= !rows.is_empty();
        if rows.len() < page.limit as usize {
            break;
        }
        page.offset += u64::from(page.limit);
    }
    if !any {
        eprintln!("{none}");
    }
    Ok(())
}

pub fn sites_run(storage: &Storage, command: SitesCommand, now: i64) -> Result<()> {
    match command {
        SitesCommand::Add { site, name } => {
            let row = sites::create(storage, &Actor::operator(), &site, &name, now)?;
            println!("{}", serde_json::to_string(&row)?);
        }
        SitesCommand::List => all_pages(|page| Ok(sites::list(storage, page)?), "no sites")?,
    }
    Ok(())
}

pub fn programmes_run(
    storage: &Storage,
    issuer: &IssuerId,
    command: ProgrammesCommand,
    now: i64,
) -> Result<()> {
    let actor = Actor::operator();
    match command {
        ProgrammesCommand::Add {
            id,
            name,
            currency,
            issuer: chosen,
            channels,
            budget,
            starts_on,
            ends_on,
            target,
            household_max,
            id_pattern,
        } => {
            let new = NewProgramme {
                programme: id,
                name,
                currency: currency.code().to_owned(),
                issuer: chosen.as_ref().unwrap_or(issuer).to_string(),
                channels,
                budget,
                starts_on,
                ends_on,
                target: target.into(),
                household_max,
                id_pattern,
            };
            let row = programmes::create(storage, &actor, &new, now)?;
            println!("{}", serde_json::to_string(&row)?);
            eprintln!(
                "programme {} created as a draft: import its beneficiaries, then `programmes activate {}`",
                row.programme, row.programme
            );
        }
        ProgrammesCommand::List => {
            all_pages(|page| Ok(programmes::list(storage, page)?), "no programmes")?
        }
        ProgrammesCommand::Show { id } => {
            let shown = storage.transaction(|tx| {
                let found = programmes::get_in(tx, &id)?;
                let (beneficiaries, active) = table::beneficiary_counts(tx.sql(), &id)?;
                let open_signals = signals::open_count_in(tx, &id)?;
                let cycles = table::cycles(tx.sql(), &id, Page::first(PAGE_ROWS_MAX))?;
                Ok::<_, RegistryError>((found.row, beneficiaries, active, open_signals, cycles))
            })?;
            let (row, beneficiaries, active, open_signals, cycles) = shown;
            let mut value = serde_json::to_value(&row)?;
            value["beneficiaries"] = beneficiaries.into();
            value["active_beneficiaries"] = active.into();
            value["open_signals"] = open_signals.into();
            value["cycles"] = serde_json::to_value(&cycles)?;
            println!("{value}");
        }
        ProgrammesCommand::Activate { id } => {
            programmes::transition(storage, &actor, &id, Transition::Activate, now)?;
            println!("programme {id} is active");
        }
        ProgrammesCommand::Close { id } => {
            programmes::transition(storage, &actor, &id, Transition::Close, now)?;
            println!("programme {id} is closed");
        }
    }
    Ok(())
}

/// The guessed mapping with each `FIELD=HEADER` of `--map` laid over it.
fn mapping(file: &Path, overrides: &[String]) -> Result<(Vec<String>, Mapping)> {
    let opened = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let headers = import::headers(BufReader::new(opened))?;
    let mut mapping = Mapping::guess(&headers);
    for text in overrides {
        let (field, header) = text
            .split_once('=')
            .with_context(|| format!("--map {text:?} is not FIELD=HEADER"))?;
        let field = Field::parse(field.trim()).with_context(|| {
            format!(
                "--map {text:?}: {:?} is not a field; the fields are {}",
                field.trim(),
                Field::ALL.map(Field::code).join(", ")
            )
        })?;
        // Whatever the guess gave another field from this header is undone.
        mapping.0.retain(|_, h| h.as_str() != header);
        mapping.0.insert(field, header.to_owned());
    }
    Ok((headers, mapping))
}

fn print_report(report: &Report) {
    for error in &report.errors {
        eprintln!("{error}");
    }
    let listed = report.errors.len() as u64;
    if report.errors_total > listed {
        eprintln!(
            "… and {} more error(s) not listed",
            report.errors_total - listed
        );
    }
    println!(
        "{} row(s) read: {} created, {} updated, {} unchanged, {} rejected ({} error(s)); {} fraud signal(s) open",
        report.rows_read,
        report.created,
        report.updated,
        report.unchanged,
        report.rejected,
        report.errors_total,
        report.signals_open
    );
}

pub fn beneficiaries_run(storage: &Storage, command: BeneficiariesCommand, now: i64) -> Result<()> {
    let BeneficiariesCommand::Import {
        programme,
        file,
        map,
        good_rows,
        check,
    } = command;
    let (_, mapping) = mapping(&file, &map)?;
    let columns: Vec<String> = mapping
        .0
        .iter()
        .map(|(field, header)| format!("{}={header:?}", field.code()))
        .collect();
    eprintln!("columns: {}", columns.join(", "));
    let opened = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let file_name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let result = import::import(
        storage,
        &Actor::operator(),
        &programme,
        &file_name,
        BufReader::new(opened),
        &mapping,
        Options {
            good_rows,
            check_only: check,
        },
        now,
    );
    match result {
        Ok(report) => {
            print_report(&report);
            if report.checked_only {
                println!("checked only: nothing changed");
                if report.errors_total > 0 && !good_rows {
                    bail!(
                        "{} row(s) have errors: importing this file would import nothing \
                         (fix them, or add --good-rows)",
                        report.errors_total
                    );
                }
            } else {
                match report.import {
                    Some(id) => println!("import {id} recorded"),
                    None => println!("nothing changed"),
                }
            }
            Ok(())
        }
        Err(ImportError::Rows(report)) => {
            print_report(&report);
            bail!(
                "{} row(s) have errors; nothing was imported (fix them, or add --good-rows \
                 to import the good rows)",
                report.errors_total
            )
        }
        Err(error) => Err(error.into()),
    }
}

fn money_text(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(currency) => Money { minor, currency }.display_grouped(',', '.'),
        Err(_) => format!("{minor} (minor units of {currency})"),
    }
}

pub fn cycles_run(
    storage: &Storage,
    keys: &KeyDir,
    command: CyclesCommand,
    now: i64,
) -> Result<()> {
    let actor = Actor::operator();
    match command {
        CyclesCommand::Generate {
            programme,
            period,
            flat,
            per_member,
            cap,
            from_file,
        } => {
            let request = match (flat, per_member) {
                _ if from_file => RuleRequest {
                    rule: "file".to_owned(),
                    amount: String::new(),
                    cap: None,
                },
                (Some(amount), _) => RuleRequest {
                    rule: "flat".to_owned(),
                    amount,
                    cap: None,
                },
                (None, Some(amount)) => RuleRequest {
                    rule: "per_member".to_owned(),
                    amount,
                    cap,
                },
                (None, None) => {
                    bail!("give --flat AMOUNT, --per-member AMOUNT --cap AMOUNT or --from-file")
                }
            };
            let cycle = cycles::generate(storage, &actor, &programme, &period, &request, now)?;
            println!("{}", serde_json::to_string(&cycle)?);
            let currency = programmes::get(storage, &cycle.programme)?.row.currency;
            eprintln!(
                "cycle {} of {} ({}): {} entitlement(s), {} in all{}; a draft until submitted \
                 and approved by two people (the HQ console, or POST /v1/hq/cycles/{}/submit)",
                cycle.id,
                cycle.programme,
                cycle.period,
                cycle.entitlements,
                money_text(cycle.total_minor, &currency),
                if cycle.over_budget {
                    ", OVER the programme's budget"
                } else {
                    ""
                },
                cycle.id
            );
        }
        CyclesCommand::Amounts {
            programme,
            period,
            file,
            check,
        } => {
            let opened =
                File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let file_name = file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let result = amounts::upload(
                storage,
                &actor,
                &programme,
                &period,
                &file_name,
                BufReader::new(opened),
                amounts::Options { check_only: check },
                now,
            );
            let summary = |r: &amounts::Report| {
                format!(
                    "{} row(s) read: {} accepted, {} in all; {} error(s)",
                    r.rows_read,
                    r.accepted,
                    money_text(r.total_minor, &r.currency),
                    r.errors_total
                )
            };
            match result {
                Ok(report) => {
                    println!("{}", summary(&report));
                    if report.checked_only {
                        for error in &report.errors {
                            eprintln!("{error}");
                        }
                        println!("checked only: nothing changed");
                        if report.errors_total > 0 {
                            bail!("{} row(s) have errors", report.errors_total);
                        }
                    } else if report.unchanged {
                        println!("the same file as the period's current one: nothing changed");
                    } else {
                        println!(
                            "amounts of {} {} recorded: generate the cycle with `cycles generate {} {} --from-file`",
                            report.programme, report.period, report.programme, report.period
                        );
                    }
                }
                Err(AmountsError::Rows(report)) => {
                    for error in &report.errors {
                        eprintln!("{error}");
                    }
                    let listed = report.errors.len() as u64;
                    if report.errors_total > listed {
                        eprintln!(
                            "… and {} more error(s) not listed",
                            report.errors_total - listed
                        );
                    }
                    println!("{}", summary(&report));
                    bail!(
                        "{} row(s) have errors; no amount was applied (fix them and upload the file again)",
                        report.errors_total
                    )
                }
                Err(error) => return Err(error.into()),
            }
        }
        CyclesCommand::Show { id } => {
            let cycle = cycles::get(storage, id)?;
            let breakdown: Vec<serde_json::Value> = cycles::breakdown(storage, id)?
                .into_iter()
                .map(|(state, channel, count, total_minor)| {
                    serde_json::json!({
                        "state": state, "channel": channel,
                        "count": count, "total_minor": total_minor,
                    })
                })
                .collect();
            let mut value = serde_json::to_value(&cycle)?;
            value["breakdown"] = breakdown.into();
            println!("{value}");
        }
        CyclesCommand::Release { id, out } => {
            let released = release::release(storage, keys, &actor, id, out.as_deref(), now)?;
            let rosters: Vec<String> = released
                .rosters
                .iter()
                .map(|(site, version)| format!("{site} version {version}"))
                .collect();
            println!(
                "cycle {id} released: {} voucher(s), {} cash entitlement(s){}; {} left for the payment pipeline",
                released.vouchers.len(),
                released.cash,
                if rosters.is_empty() {
                    String::new()
                } else {
                    format!(" on the roster of {}", rosters.join(", "))
                },
                released.awaiting_payment
            );
            for voucher in &released.vouchers {
                println!("voucher {voucher}");
            }
            match (&released.sheet, &out) {
                (Some(sheet), _) => println!(
                    "sheet: {}\nlist: {}",
                    sheet.sheet.display(),
                    sheet.list.display()
                ),
                (None, Some(_)) => eprintln!("no new vouchers, so nothing printed"),
                (None, None) if !released.vouchers.is_empty() => eprintln!(
                    "print them with `vouchers sheet --voucher ID … --out DIR` (or release with --out)"
                ),
                (None, None) => {}
            }
        }
    }
    Ok(())
}
