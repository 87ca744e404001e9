//! `lastmile-server audit …`: check the audit trail's chain, list entries.

use anyhow::{Result, bail};
use clap::Subcommand;
use lastmile_server::audit::{self, Verification};
use lastmile_server::storage::Storage;
use lastmile_server::storage::audit::AuditFilter;
use lastmile_server::storage::sql::Page;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every entry's hash and link; exit 1 at the first broken one.
    Verify,
    /// The newest entries first, one JSON object per line.
    List {
        /// Only this actor, e.g. user:amina or terminal:T-….
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, e.g. voucher.revoked.
        #[arg(long)]
        action: Option<String>,
        /// Only this object, e.g. voucher:V-….
        #[arg(long)]
        object: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub fn run(storage: &Storage, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify => match audit::verify(storage)? {
            Verification::Intact { entries, head } => {
                println!("audit trail intact: {entries} entries, head {head}");
            }
            Verification::Broken { seq, reason } => {
                bail!("audit trail broken at entry {seq}: {reason}");
            }
        },
        AuditCommand::List {
            actor,
            action,
            object,
            limit,
        } => {
            let filter = AuditFilter {
                actor,
                action,
                object,
            };
            for entry in audit::list(storage, &filter, Page::first(limit))? {
                println!("{}", serde_json::to_string(&entry)?);
            }
        }
    }
    Ok(())
}
