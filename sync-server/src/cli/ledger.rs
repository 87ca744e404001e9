//! `lastmile-server ledger …`: verify the ledger, read the trial balance,
//! a statement, an account's history or the exchange rates, and record a
//! funding or a conversion (as the operator running the shell,
//! `operator:$USER` in the audit trail). Rates are entered and approved by
//! two named people, in the console or over the HQ API, not here.

use anyhow::{Result, bail};
use clap::Subcommand;
use lastmile_server::audit::Actor;
use lastmile_server::ledger::account::AccountId;
use lastmile_server::ledger::conversion::{self, ConversionRequest};
use lastmile_server::ledger::funding::{self, FundingRequest};
use lastmile_server::ledger::{report, verify};
use lastmile_server::storage::Storage;
use lastmile_server::storage::ledger as rows;
use lastmile_server::storage::sql::{PAGE_ROWS_MAX, Page};

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every invariant over the whole ledger; exit 1 if one is broken.
    Verify,
    /// The trial balance: every account (or one programme's), one JSON
    /// object per line.
    Accounts {
        /// Only this programme's accounts.
        #[arg(long)]
        programme: Option<String>,
    },
    /// An account's transfers, newest first, one JSON object per line.
    History {
        /// e.g. obligations/P-FOOD/2027-01/XOF
        account: String,
        /// How many transfers (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Where a programme's money stands, per currency and per cycle (JSON).
    Statement {
        /// The programme's id.
        programme: String,
    },
    /// Exchange rates, newest entered first, one JSON object per line
    /// (entered and approved in the HQ console or over the HQ API).
    Rates {
        /// How many rates.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Convert part of a programme's budget into another currency at the
    /// approved rate in force today.
    Convert {
        /// The programme whose budget is converted.
        #[arg(long)]
        programme: String,
        /// The currency sold (ISO 4217).
        #[arg(long)]
        from: String,
        /// The most to sell, in major units of `from`.
        #[arg(long)]
        amount: String,
        /// The currency bought (ISO 4217).
        #[arg(long)]
        to: String,
        /// The conversion's own reference: the same reference twice is one conversion.
        #[arg(long)]
        reference: String,
    },
    /// Record money a source paid into a programme's budget.
    Fund {
        /// The programme whose budget is funded.
        #[arg(long)]
        programme: String,
        /// Who paid, e.g. treasury or donor-eu.
        #[arg(long)]
        source: String,
        /// In major units, e.g. 250000.00.
        #[arg(long)]
        amount: String,
        /// ISO 4217 code; the programme's own currency when absent.
        #[arg(long)]
        currency: Option<String>,
        /// The funding's own reference: the same reference twice is one funding.
        #[arg(long)]
        reference: String,
    },
}

pub fn run(storage: &Storage, command: LedgerCommand, now: i64) -> Result<()> {
    match command {
        LedgerCommand::Verify => {
            let report = storage.transaction(|tx| verify::verify(tx.sql()))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.holds() {
                bail!("the ledger is broken: {} problems", report.problem_count);
            }
            eprintln!(
                "ledger holds: {} accounts, {} transfers",
                report.accounts, report.transfers
            );
        }
        LedgerCommand::Accounts { programme } => {
            let mut offset = 0;
            loop {
                let page = Page::new(Some(PAGE_ROWS_MAX), Some(offset));
                let lines = storage
                    .transaction(|tx| report::lines(tx.sql(), programme.as_deref(), page))?;
                for line in &lines {
                    println!("{}", serde_json::to_string(line)?);
                }
                if lines.len() < PAGE_ROWS_MAX as usize {
                    break;
                }
                offset += u64::from(PAGE_ROWS_MAX);
            }
        }
        LedgerCommand::History { account, limit } => {
            let account = AccountId::parse(&account)?;
            let transfers =
                storage.transaction(|tx| report::history(tx.sql(), &account, None, limit))?;
            for t in transfers {
                println!("{}", serde_json::to_string(&t)?);
            }
        }
        LedgerCommand::Statement { programme } => {
            let statement = storage.transaction(|tx| report::statement(tx.sql(), &programme))?;
            println!("{}", serde_json::to_string_pretty(&statement)?);
        }
        LedgerCommand::Rates { limit } => {
            let rates = storage.transaction(|tx| rows::rates(tx.sql(), Page::first(limit)))?;
            for rate in rates {
                println!("{}", serde_json::to_string(&rate)?);
            }
        }
        LedgerCommand::Convert {
            programme,
            from,
            amount,
            to,
            reference,
        } => {
            let request = ConversionRequest {
                from,
                amount,
                to,
                reference,
            };
            let converted =
                conversion::convert(storage, &Actor::operator(), &programme, &request, now)?;
            println!("{}", serde_json::to_string(&converted)?);
        }
        LedgerCommand::Fund {
            programme,
            source,
            amount,
            currency,
            reference,
        } => {
            let request = FundingRequest {
                source,
                amount,
                currency,
                reference,
            };
            let funded = funding::record(storage, &Actor::operator(), &programme, &request, now)?;
            println!("{}", serde_json::to_string(&funded)?);
        }
    }
    Ok(())
}
