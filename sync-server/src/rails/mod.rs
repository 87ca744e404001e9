//! Payment rails: each speaks one provider's protocol as pure functions —
//! build what is sent from payment instructions, read what comes back into
//! [`Effect`]s — while every byte of I/O (the folder a file goes to, the
//! file read back, its hash kept) is done by the pipeline's transport
//! (`payments::transport`), the way Hyperswitch's connectors build a
//! request and parse a response and its router does the sending.
//!
//! Architecture invariant: a rail never touches storage, the clock or the
//! network; it sees instructions, bytes and the time it is given.

pub mod bank_csv;
pub mod bank_file;
pub mod iso20022;
pub mod sim;

use std::io::{BufRead, Write};

use lastmile_shared::money::Money;
use lastmile_shared::payee::Channel;

/// What a rail can do, declared once, so the pipeline never finds a
/// missing flow at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Takes many payments in one submission (a file), not one request each.
    pub batch: bool,
    /// Calls us back with outcomes.
    pub callbacks: bool,
    /// Answers "what happened to payment K?" when asked.
    pub status_query: bool,
    /// Sends outcomes back as files (status reports, notifications).
    pub status_files: bool,
    /// Can cancel a payment it took and has not paid.
    pub cancellation: bool,
    /// Most payments one submission holds.
    pub batch_payments_max: u64,
}

/// One payment as a rail is asked to make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The idempotency key: what the rail de-duplicates on.
    pub key: String,
    pub amount: Money,
    pub payee_name: String,
    pub channel: Channel,
}

/// A batch as a rail sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Fixed when the batch was made: the same batch sent again is the same
    /// message (`GrpHdr/MsgId`).
    pub message_id: String,
    /// When the batch was approved (Unix seconds): the file's creation time,
    /// so a file written again is byte for byte the same.
    pub created_at: i64,
    /// `YYYY-MM-DD`.
    pub execution_date: String,
    pub payments: u64,
    pub total: Money,
}

/// What a rail says happened to one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Taken; not paid yet.
    Accepted { key: String },
    /// Paid: the money left the programme's account (`amount` when the
    /// rail said how much, checked against the instruction).
    Settled {
        key: String,
        amount: Option<Money>,
        reference: Option<String>,
    },
    /// Refused by the provider, with its reason code (`AC04`, …).
    Rejected {
        key: String,
        reason: Option<String>,
        detail: Option<String>,
    },
    /// A payment the provider paid came back.
    Reversed { key: String, amount: Money },
}

impl Effect {
    pub fn key(&self) -> &str {
        match self {
            Self::Accepted { key }
            | Self::Settled { key, .. }
            | Self::Rejected { key, .. }
            | Self::Reversed { key, .. } => key,
        }
    }
}

/// The head of an answer a rail sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `pain.002`, `camt.054`, …
    pub format: &'static str,
    /// The answer's own message id.
    pub message_id: String,
    /// The submission it answers, when it names one (a `pain.002` does; a
    /// `camt.054` lists bookings of any batch).
    pub answers: Option<String>,
    /// Every payment of the submission rejected at once (a group `RJCT`).
    pub rejects_all: Option<String>,
}

/// Why a rail could not build or read something: the input, not a bug.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    #[error("payment {key}: {reason}")]
    Instruction { key: String, reason: String },
    #[error("the batch cannot be written: {0}")]
    Batch(String),
    #[error("the file is not an answer this rail reads: {0}")]
    Answer(String),
    #[error("writing failed: {0}")]
    Io(#[from] std::io::Error),
}

/// One rail's protocol.
pub trait Rail {
    fn capabilities(&self) -> Capabilities;
    /// The format of what [`Rail::write_batch`] writes (`pain.001.001.09`, …).
    fn format(&self) -> String;
    /// The name the batch's file is delivered under.
    fn file_name(&self, submission: &Submission) -> String;
    /// Writes the submission with its instructions (streamed: any count
    /// in bounded memory).
    fn write_batch(
        &self,
        submission: &Submission,
        instructions: &mut dyn Iterator<Item = Result<Instruction, RailError>>,
        out: &mut dyn Write,
    ) -> Result<(), RailError>;
    /// Reads an answer the provider sent back into one effect per payment.
    fn read_answer(
        &self,
        input: &mut dyn BufRead,
        on_effect: &mut dyn FnMut(Effect) -> Result<(), RailError>,
    ) -> Result<Answer, RailError>;
}
