//! The ISO 20022 messages the bank-file rail speaks, as values and codecs
//! with no I/O beyond the `Write` / `BufRead` they are given:
//!
//! - `pain001`: the customer credit transfer initiation we send a bank
//!   (`pain.001.001.09`, and `.001.03` for older banks), written as a
//!   stream so a million payments take bounded memory;
//! - `status`: what a bank sends back — `pain.002` payment status reports
//!   and `camt.054` debit notifications — read as a stream into
//!   [`StatusLine`]s and [`Booking`]s (and written, for the simulator);
//! - `reasons`: the ISO external status reason codes in words.
//!
//! Matching is by `EndToEndId`: the payment's idempotency key, at most 35
//! characters, written once when the payment is made and never changed.

pub mod pain001;
pub mod reasons;
pub mod status;

use lastmile_shared::money::{Currency, Money};

/// ISO 20022 `Max35Text`: the length of every id we write.
pub const MAX35_CHARS: usize = 35;
/// ISO 20022 `Max140Text`: names and unstructured remittance lines.
pub const MAX140_CHARS: usize = 140;

/// Which `pain.001` a bank reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pain001Version {
    /// `pain.001.001.09` (ISO 20022 2019): `BICFI`, `ReqdExctnDt/Dt`.
    V09,
    /// `pain.001.001.03` (2009), what many banks still read: `BIC`,
    /// `ReqdExctnDt` as a date.
    V03,
}

impl Pain001Version {
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V09 => "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09",
            Self::V03 => "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03",
        }
    }
}

/// An account, as ISO 20022's `AccountIdentification4Choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountId {
    /// An IBAN, already validated (`payee::Iban`), without spaces.
    Iban(String),
    /// Any other account number (`Othr/Id`), at most 34 characters.
    Other(String),
}

/// A bank, as `FinInstnId`: a BIC, or a clearing member id (a national
/// bank code) when the bank has no BIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    Bic(String),
    /// `ClrSysMmbId/MmbId`.
    Member(String),
}

/// Who pays: the programme's account at its bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    pub name: String,
    pub account: AccountId,
    pub agent: Option<Agent>,
}

/// The part of a payment file that is the same for every payment in it.
/// One file holds one `PmtInf` of one currency: a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    /// `GrpHdr/MsgId`: unique per file, at most 35 characters.
    pub message_id: String,
    /// `GrpHdr/CreDtTm`, Unix seconds (written as UTC).
    pub created_at: i64,
    /// `InitgPty/Nm`.
    pub initiating_party: String,
    /// `PmtInf/PmtInfId`, at most 35 characters.
    pub payment_information_id: String,
    /// `ReqdExctnDt`, `YYYY-MM-DD`.
    pub execution_date: String,
    pub debtor: Debtor,
    pub currency: Currency,
    /// `NbOfTxs`: how many [`CreditTransfer`]s follow. Known before the
    /// first is written (the batch's count), so the header is written
    /// first and the file streams.
    pub count: u64,
    /// `CtrlSum`: the sum of the transfers' amounts.
    pub control_sum: Money,
}

/// One payment in a file (`CdtTrfTxInf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    /// `PmtId/EndToEndId`: the payment's idempotency key.
    pub end_to_end_id: String,
    pub amount: Money,
    pub creditor_name: String,
    pub creditor_account: AccountId,
    pub creditor_agent: Option<Agent>,
    /// `RmtInf/Ustrd`, at most 140 characters.
    pub remittance: String,
}

/// A payment's status in a `pain.002` (`TxSts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxStatus {
    /// `RCVD`, `ACTC`, `ACCP`, `ACWC`: the bank took it; not paid yet.
    Accepted,
    /// `ACSP`, `PDNG`: in process.
    Pending,
    /// `ACSC`, `ACCC`: settled: the money left our account.
    Settled,
    /// `RJCT`.
    Rejected,
}

/// One payment's line in a `pain.002` (`TxInfAndSts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `OrgnlEndToEndId`.
    pub end_to_end_id: String,
    pub status: TxStatus,
    /// `StsRsnInf/Rsn/Cd` (`AC01`, `AC04`, `AM04`, …) when given.
    pub reason: Option<String>,
    /// `StsRsnInf/AddtlInf` lines joined, when given (at most 140 chars).
    pub detail: Option<String>,
    /// `OrgnlTxRef/Amt/InstdAmt`, when given.
    pub amount: Option<Money>,
}

/// The head of a `pain.002`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub message_id: String,
    /// `OrgnlGrpInfAndSts/OrgnlMsgId`: the `pain.001` it answers.
    pub original_message_id: String,
    /// `OrgnlGrpInfAndSts/GrpSts`, when given; a group `RJCT` with no
    /// lines rejects every payment of the original file.
    pub group_status: Option<TxStatus>,
    pub group_reason: Option<String>,
    /// `OrgnlGrpInfAndSts/StsRsnInf/AddtlInf` lines joined, when given
    /// (at most 140 chars): why a whole file was rejected, in words.
    pub group_detail: Option<String>,
}

/// Credit or debit, as `CdtDbtInd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreditDebit {
    Credit,
    Debit,
}

/// One booked movement in a `camt.054` (`Ntry`, with its `TxDtls`): a
/// payment that left (or, reversed, came back to) our account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// `NtryDtls/TxDtls/Refs/EndToEndId`.
    pub end_to_end_id: String,
    /// `TxDtls/Amt` when given, else the entry's `Amt`.
    pub amount: Money,
    pub credit_debit: CreditDebit,
    /// `RvslInd` true: the bank reversed an earlier booking.
    pub reversal: bool,
    /// `Sts` was `BOOK` (else `PDNG` / `INFO`: not final).
    pub booked: bool,
    /// `BookgDt/Dt` or `BookgDt/DtTm`, as written.
    pub booking_date: Option<String>,
    /// `AcctSvcrRef`, the bank's own reference.
    pub bank_reference: Option<String>,
}

/// The head of a `camt.054`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `Ntfctn/Acct/Id`, of the first notification.
    pub account: Option<AccountId>,
    /// Movements without an `EndToEndId` (bank charges, incoming funds):
    /// not payments of ours, skipped and counted.
    pub unreferenced: u64,
}
