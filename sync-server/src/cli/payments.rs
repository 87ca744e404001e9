//! `lastmile-server payments …` and `lastmile-server rails …`: set up a
//! bank rail (as the operator running the shell), prepare and submit
//! payment batches, import a bank's answer files, follow payments, and
//! propose resolutions of the exception queue — each on behalf of a named
//! HQ person (`--as`). Batches and resolutions take effect only once a
//! different person with the approver role approves them.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lastmile_server::audit::Actor;
use lastmile_server::payments::exceptions::{self, Remedy};
use lastmile_server::payments::rails::{self, NewBankRail};
use lastmile_server::payments::transport::{self, ANSWER_BYTES_MAX};
use lastmile_server::payments::{answers, batches, tracking};
use lastmile_server::people;
use lastmile_server::rails::bank_file::{BankFileConfig, FileFormat};
use lastmile_server::storage::Storage;
use lastmile_server::storage::payments::PaymentFilter;

use super::registry::all_pages;

/// Said wherever batches and resolutions come up.
pub const APPROVAL_NOTE: &str = "\
A batch is submitted by the person named by --as (finance) as a
batch.approve proposal; an approver who neither prepared nor submitted it
approves it in the HQ console (Approvals) or with POST
/v1/hq/proposals/ID/decision. The approval reserves every payment in the
ledger and queues the send: the next worker writes the rail's file.
Retrying, rerouting, cancelling or marking paid a payment of the exception
queue is a proposal too.";

#[derive(Debug, Subcommand)]
pub enum RailsCommand {
    /// Set up a bank rail that reads ISO 20022 pain.001 files from a folder
    /// and answers with pain.002 / camt.054 files in another.
    AddBank {
        /// The rail's name (lower case, digits, dashes).
        name: String,
        /// ISO 4217 code of what it pays.
        #[arg(long)]
        currency: String,
        /// pain.001.001.09, or pain.001.001.03 for older banks.
        #[arg(long, default_value = "pain.001.001.09")]
        format: String,
        /// The programme's account holder, as the bank knows it.
        #[arg(long)]
        debtor_name: String,
        /// The account paid from (IBAN or account number).
        #[arg(long)]
        debtor_account: String,
        /// The bank's BIC.
        #[arg(long)]
        debtor_bic: Option<String>,
        /// Where payment files are delivered.
        #[arg(long)]
        outbox: PathBuf,
        /// Where the bank's answers arrive.
        #[arg(long)]
        inbox: PathBuf,
        /// Most payments in one file.
        #[arg(long, default_value_t = 10_000)]
        batch_max: u64,
        /// Hours without an answer before a payment is listed as unanswered.
        #[arg(long, default_value_t = 48)]
        answer_deadline_hours: u64,
    },
    /// The rails, one JSON object per line.
    List,
    /// Mark a rail down (nothing new is batched for it) or up again.
    State {
        /// The rail's name.
        name: String,
        /// Down (without it: up again).
        #[arg(long)]
        down: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// Make batches of a cycle's approved bank entitlements for a rail.
    Prepare {
        /// The HQ person (finance) acting; they may not approve it.
        #[arg(long = "as", value_name = "USERNAME")]
        preparer: String,
        /// The cycle's id.
        #[arg(long)]
        cycle: i64,
        /// The rail's name.
        #[arg(long)]
        rail: String,
    },
    /// Submit a draft batch for approval.
    Submit {
        /// The batch's id.
        batch: i64,
        /// The HQ person (finance) acting; they may not approve it.
        #[arg(long = "as", value_name = "USERNAME")]
        preparer: String,
        /// Why, for the approver.
        #[arg(long)]
        reason: String,
    },
    /// Cancel a draft batch.
    Cancel {
        /// The batch's id.
        batch: i64,
        /// The HQ person (finance) acting; they may not approve it.
        #[arg(long = "as", value_name = "USERNAME")]
        preparer: String,
    },
    /// The batches, newest first, one JSON object per line.
    Batches {
        /// The cycle's id.
        #[arg(long)]
        cycle: Option<i64>,
    },
    /// One batch with its files and totals by state (JSON).
    Batch {
        /// The batch's id.
        batch: i64,
    },
    /// Payments, most recently changed first, one JSON object per line.
    List {
        /// The batch's id.
        #[arg(long)]
        batch: Option<i64>,
        /// The cycle's id.
        #[arg(long)]
        cycle: Option<i64>,
        /// Only payments in this state.
        #[arg(long)]
        state: Option<String>,
        /// Only the exception queue.
        #[arg(long)]
        exceptions: bool,
    },
    /// One payment with its timeline (JSON).
    Show {
        /// The payment's key (the EndToEndId its bank sees).
        payment: String,
    },
    /// Counts and amounts by state and currency (JSON).
    Totals {
        /// Only this programme's.
        #[arg(long)]
        programme: Option<String>,
        /// The cycle's id.
        #[arg(long)]
        cycle: Option<i64>,
        /// The batch's id.
        #[arg(long)]
        batch: Option<i64>,
    },
    /// Import a bank's answer file (pain.002 or camt.054) for a rail.
    Import {
        /// The HQ person (finance) importing it.
        #[arg(long = "as", value_name = "USERNAME")]
        importer: String,
        /// The rail's name.
        #[arg(long)]
        rail: String,
        /// The answer file.
        file: PathBuf,
    },
    /// Propose resolving a payment of the exception queue.
    Resolve {
        /// The payment's key (the EndToEndId its bank sees).
        payment: String,
        /// The HQ person (finance) proposing; they may not approve it.
        #[arg(long = "as", value_name = "USERNAME")]
        proposer: String,
        /// retry, reroute, cancel or mark_paid.
        #[arg(long)]
        action: String,
        /// Why (for mark_paid: the evidence).
        #[arg(long)]
        reason: String,
    },
}

pub fn run_rails(storage: &Storage, command: RailsCommand, now: i64) -> Result<()> {
    match command {
        RailsCommand::AddBank {
            name,
            currency,
            format,
            debtor_name,
            debtor_account,
            debtor_bic,
            outbox,
            inbox,
            batch_max,
            answer_deadline_hours,
        } => {
            let Some(format) = FileFormat::parse(&format) else {
                bail!("--format is pain.001.001.09 or pain.001.001.03");
            };
            let new = NewBankRail {
                rail: name,
                currency,
                config: BankFileConfig {
                    format,
                    debtor_name,
                    debtor_account,
                    debtor_bic,
                    outbox,
                    inbox,
                    batch_payments_max: batch_max,
                    answer_deadline_hours,
                },
            };
            let row = rails::add_bank(storage, &Actor::operator(), &new, now)?;
            println!("{}", serde_json::to_string(&row)?);
        }
        RailsCommand::List => {
            for row in rails::list(storage)? {
                println!("{}", serde_json::to_string(&row)?);
            }
        }
        RailsCommand::State { name, down } => {
            let row = rails::set_down(storage, &Actor::operator(), &name, down, now)?;
            println!("{}", serde_json::to_string(&row)?);
        }
    }
    Ok(())
}

pub fn run(storage: &Storage, command: PaymentsCommand, now: i64) -> Result<()> {
    match command {
        PaymentsCommand::Prepare {
            preparer,
            cycle,
            rail,
        } => {
            let caller = people::caller(storage, &preparer)?;
            for batch in batches::prepare(storage, &caller, cycle, &rail, now)? {
                println!("{}", serde_json::to_string(&batch)?);
            }
        }
        PaymentsCommand::Submit {
            batch,
            preparer,
            reason,
        } => {
            let caller = people::caller(storage, &preparer)?;
            let proposal = batches::submit(storage, &caller, batch, &reason, now)?;
            println!("{}", serde_json::to_string(&proposal)?);
            eprintln!(
                "proposal {} waits for an approver other than {preparer}",
                proposal.id
            );
        }
        PaymentsCommand::Cancel { batch, preparer } => {
            let caller = people::caller(storage, &preparer)?;
            let row = batches::cancel_draft(storage, &caller, batch, now)?;
            println!("{}", serde_json::to_string(&row)?);
        }
        PaymentsCommand::Batches { cycle } => {
            all_pages(
                |page| Ok(batches::list(storage, cycle, page)?),
                "no payment batches",
            )?;
        }
        PaymentsCommand::Batch { batch } => {
            let view = batches::get(storage, batch)?;
            let files = batches::files(storage, batch)?;
            let totals = tracking::totals(storage, None, None, Some(batch))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "batch": view, "files": files, "totals": totals,
                }))?
            );
        }
        PaymentsCommand::List {
            batch,
            cycle,
            state,
            exceptions,
        } => {
            let filter = PaymentFilter {
                batch,
                cycle,
                state,
                exceptions_only: exceptions,
            };
            all_pages(
                |page| Ok(tracking::list(storage, &filter, page)?),
                "no payments",
            )?;
        }
        PaymentsCommand::Show { payment } => {
            let view = tracking::get(storage, &payment)?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        PaymentsCommand::Totals {
            programme,
            cycle,
            batch,
        } => {
            let totals = tracking::totals(storage, programme.as_deref(), cycle, batch)?;
            println!("{}", serde_json::to_string_pretty(&totals)?);
        }
        PaymentsCommand::Import {
            importer,
            rail,
            file,
        } => {
            let caller = people::caller(storage, &importer)?;
            if !caller.may(people::Permission::HandleExceptions) {
                bail!("{importer}'s role may not import a rail's answers");
            }
            let bytes = transport::read(&file, ANSWER_BYTES_MAX)
                .with_context(|| format!("reading {}", file.display()))?
                .with_context(|| format!("{} is over {ANSWER_BYTES_MAX} bytes", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let report = answers::import(storage, &caller.actor(), &rail, &name, &bytes, now)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        PaymentsCommand::Resolve {
            payment,
            proposer,
            action,
            reason,
        } => {
            let Some(remedy) = Remedy::parse(&action) else {
                bail!("--action is retry, reroute, cancel or mark_paid");
            };
            let caller = people::caller(storage, &proposer)?;
            let proposal = exceptions::propose(storage, &caller, &payment, remedy, &reason, now)?;
            println!("{}", serde_json::to_string(&proposal)?);
            eprintln!(
                "proposal {} waits for an approver other than {proposer}",
                proposal.id
            );
        }
    }
    Ok(())
}
