//! `lastmile-server bank-simulator`: a bank for tests and demos on two
//! folders (`lastmile_server::rails::sim`). It answers each `pain.001` the
//! server delivers into its outbox with a `pain.002` and a `camt.054` in
//! the server's inbox, and prints one JSON object per file answered.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use lastmile_server::clock::{Clock, SystemClock};
use lastmile_server::rails::sim::bank::BankSimConfig;
use lastmile_server::rails::sim::folder::{FolderBank, Folders};

#[derive(Debug, Args)]
pub struct BankSimulatorArgs {
    /// The server's outbox: the pain.001 files to answer (*.xml).
    #[arg(long, value_name = "DIR")]
    outbox: PathBuf,
    /// The server's inbox: where <name>.pain002.xml and <name>.camt054.xml go.
    #[arg(long, value_name = "DIR")]
    inbox: PathBuf,
    /// The bank's memory of payments settled and files answered
    /// (default: OUTBOX/.bank-simulator).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Payments rejected per thousand, drawn from the seed and each EndToEndId.
    #[arg(long, default_value_t = 30)]
    reject_per_mille: u16,
    /// The reason codes rejections are drawn from.
    #[arg(long, value_delimiter = ',', default_value = "AC01,AC04,AM04")]
    reasons: Vec<String>,
    /// The seed of the draws: the same seed answers a file the same way.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Wait this long before answering each file.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Deliver each report twice (<name>.again.pain002.xml, same MsgId).
    #[arg(long)]
    duplicates: bool,
    /// Accept without settling: no camt.054.
    #[arg(long)]
    no_settle: bool,
    /// Answer what is in the outbox now, then exit.
    #[arg(long)]
    once: bool,
    /// How often to look at the outbox.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
}

pub fn run(args: BankSimulatorArgs) -> Result<()> {
    let state = args
        .state
        .unwrap_or_else(|| args.outbox.join(".bank-simulator"));
    let config = BankSimConfig {
        reject_per_mille: args.reject_per_mille,
        reasons: args.reasons,
        duplicate_reports: args.duplicates,
        seed: args.seed,
        settle: !args.no_settle,
    };
    let mut bank = FolderBank::open(
        Folders {
            outbox: args.outbox,
            inbox: args.inbox,
            state,
        },
        config,
        Duration::from_millis(args.delay_ms),
    )?;
    loop {
        for delivered in bank.sweep(|| SystemClock.now())? {
            let answer = &delivered.answer;
            let line = serde_json::json!({
                "file": delivered.file,
                "original_message_id": answer.original_message_id,
                "file_rejected": answer.file_rejected,
                "accepted": answer.accepted,
                "rejected": answer.rejected,
                "repeated": answer.repeated,
                "settled": answer.newly_settled.len(),
                "pain002": delivered.pain002,
                "camt054": delivered.camt054,
            });
            println!("{line}");
        }
        if args.once {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(args.poll_ms));
    }
}
