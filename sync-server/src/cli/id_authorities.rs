//! `lastmile-server id-authorities …`: the ID authorities whose Claim 169
//! cards terminals accept. Adding and retiring one is a proposal made on
//! behalf of a named HQ person (`--as`); it takes effect only when a
//! different person with the approver role approves it, in the HQ console
//! or over the HQ API, which reseals every terminal's policy.

use anyhow::{Result, bail};
use clap::Subcommand;
use lastmile_server::id_authorities::{self, NewKey};
use lastmile_server::people;
use lastmile_server::storage::Storage;

use super::registry::all_pages;

/// Said wherever adding or retiring comes up.
pub const APPROVAL_NOTE: &str = "\
Adding and retiring an ID authority are proposals: the person named by
--as proposes, and an approver who is someone else approves the proposal in
the HQ console (Approvals) or with POST /v1/hq/proposals/ID/decision. The
approval reseals every terminal's policy: terminals accept the key, or
refuse its cards as retired, from their next sync.";

/// The states a key is listed by.
const STATES: [&str; 4] = ["proposed", "active", "retired", "rejected"];

#[derive(Debug, Subcommand)]
pub enum IdAuthoritiesCommand {
    /// Propose an ID authority's public key (active once approved).
    Add {
        /// The HQ person proposing (an admin or programme officer); they
        /// may not approve it.
        #[arg(long = "as", value_name = "USERNAME")]
        proposer: String,
        /// The authority's name, as terminals show it.
        #[arg(long)]
        name: String,
        /// The key id its cards carry in their COSE header (`kid`).
        #[arg(long)]
        kid: String,
        /// Ed25519 or ES256.
        #[arg(long)]
        algorithm: String,
        /// The public key in hexadecimal: 32 bytes for Ed25519, a SEC1
        /// point (33 or 65 bytes) for ES256.
        #[arg(long, value_name = "HEX")]
        public_key: String,
        /// First day its cards are accepted (YYYY-MM-DD); default today.
        #[arg(long, value_name = "DATE")]
        valid_from: Option<String>,
        /// Last day its cards are accepted (YYYY-MM-DD); default no end.
        #[arg(long, value_name = "DATE")]
        valid_until: Option<String>,
        /// Why, for the approver.
        #[arg(long)]
        reason: String,
    },
    /// List the keys, one JSON object per line.
    List {
        /// Only keys in this state: proposed, active, retired or rejected.
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one key, as JSON.
    Show {
        /// The key id.
        kid: String,
    },
    /// Propose retiring an active key (retired once approved).
    Retire {
        /// The key id.
        kid: String,
        /// The HQ person proposing; they may not approve it.
        #[arg(long = "as", value_name = "USERNAME")]
        proposer: String,
        /// Why, for the approver.
        #[arg(long)]
        reason: String,
    },
}

pub fn run(storage: &Storage, command: IdAuthoritiesCommand, now: i64) -> Result<()> {
    match command {
        IdAuthoritiesCommand::Add {
            proposer,
            name,
            kid,
            algorithm,
            public_key,
            valid_from,
            valid_until,
            reason,
        } => {
            let caller = people::caller(storage, &proposer)?;
            let key = NewKey {
                name,
                kid,
                algorithm,
                public_key,
                valid_from,
                valid_until,
            };
            let proposed = id_authorities::propose_add(storage, &caller, &key, &reason, now)?;
            println!("{}", serde_json::to_string(&proposed)?);
            eprintln!(
                "proposal {} waits for an approver other than {proposer}",
                proposed.proposal.id
            );
        }
        IdAuthoritiesCommand::List { state } => {
            if let Some(wanted) = &state
                && !STATES.contains(&wanted.as_str())
            {
                bail!("--state is one of {}", STATES.join(", "));
            }
            all_pages(
                |page| Ok(id_authorities::list(storage, state.as_deref(), page)?),
                "no ID authorities",
            )?;
        }
        IdAuthoritiesCommand::Show { kid } => match id_authorities::get(storage, &kid)? {
            Some(row) => println!("{}", serde_json::to_string_pretty(&row)?),
            None => bail!("there is no ID authority with key id {kid}"),
        },
        IdAuthoritiesCommand::Retire {
            kid,
            proposer,
            reason,
        } => {
            let caller = people::caller(storage, &proposer)?;
            let proposal = id_authorities::propose_retire(storage, &caller, &kid, &reason, now)?;
            println!("{}", serde_json::to_string(&proposal)?);
            eprintln!(
                "proposal {} waits for an approver other than {proposer}",
                proposal.id
            );
        }
    }
    Ok(())
}
