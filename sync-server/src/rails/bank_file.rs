//! The bank-file rail: a batch becomes one ISO 20022 `pain.001` file (or
//! a CSV file from a named template, for banks without ISO 20022), and the
//! bank's answers are `pain.002` status reports and `camt.054` debit
//! notifications, matched to payments by `EndToEndId` — the payment's key.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use lastmile_shared::money::Currency;
use lastmile_shared::payee::{BankAccount, Channel};
use serde::{Deserialize, Serialize};

use super::iso20022::pain001::Pain001Writer;
use super::iso20022::status::{self, StatusFileKind};
use super::iso20022::{
    AccountId, Agent, CreditDebit, CreditTransfer, Debtor, FileHeader, MAX140_CHARS,
    Pain001Version, TxStatus,
};
use super::{Answer, Capabilities, Effect, Instruction, Rail, RailError, Submission};

/// Most payments one bank file holds: a bank's own limit is often lower,
/// and a rail's configuration may lower it further.
pub const FILE_PAYMENTS_MAX: u64 = 1_000_000;

/// The file a bank reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    #[serde(rename = "pain.001.001.09")]
    Pain001V09,
    #[serde(rename = "pain.001.001.03")]
    Pain001V03,
}

impl FileFormat {
    pub fn code(self) -> &'static str {
        match self {
            Self::Pain001V09 => "pain.001.001.09",
            Self::Pain001V03 => "pain.001.001.03",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Self::Pain001V09, Self::Pain001V03]
            .into_iter()
            .find(|f| f.code() == code)
    }

    fn version(self) -> Pain001Version {
        match self {
            Self::Pain001V09 => Pain001Version::V09,
            Self::Pain001V03 => Pain001Version::V03,
        }
    }
}

/// A bank rail's settings, stored with the rail (`rails.config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankFileConfig {
    pub format: FileFormat,
    /// The programme's account holder, as the bank knows it.
    pub debtor_name: String,
    /// The account paid from: an IBAN, or another account number.
    pub debtor_account: String,
    /// The bank's BIC, when it has one.
    #[serde(default)]
    pub debtor_bic: Option<String>,
    /// Where files for the bank are delivered (its in-tray).
    pub outbox: PathBuf,
    /// Where the bank's answers arrive.
    pub inbox: PathBuf,
    /// Most payments in one file.
    pub batch_payments_max: u64,
    /// Hours after sending with no answer before a payment is listed as
    /// unanswered (an unknown outcome: asked about, never guessed).
    pub answer_deadline_hours: u64,
}

/// A bank that reads payment files.
#[derive(Debug, Clone)]
pub struct BankFile {
    pub config: BankFileConfig,
    pub currency: Currency,
}

fn account_id(text: &str) -> AccountId {
    match lastmile_shared::payee::Iban::parse(text) {
        Ok(iban) => AccountId::Iban(iban.as_str().to_owned()),
        Err(_) => AccountId::Other(text.to_owned()),
    }
}

/// The creditor's account and bank, from the beneficiary's channel.
fn creditor(instruction: &Instruction) -> Result<(AccountId, Option<Agent>), RailError> {
    match &instruction.channel {
        Channel::Bank(BankAccount::Iban(iban)) => {
            Ok((AccountId::Iban(iban.as_str().to_owned()), None))
        }
        Channel::Bank(BankAccount::Local { bank, account }) => Ok((
            AccountId::Other(account.as_str().to_owned()),
            Some(Agent::Member(bank.as_str().to_owned())),
        )),
        other => Err(RailError::Instruction {
            key: instruction.key.clone(),
            reason: format!("a bank pays bank accounts, not {other}"),
        }),
    }
}

/// Cuts a text to `max` characters (names and remittance lines longer than
/// ISO 20022 allows are shortened, never refused: the key identifies).
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl Rail for BankFile {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            batch: true,
            callbacks: false,
            status_query: false,
            status_files: true,
            cancellation: false,
            batch_payments_max: self.config.batch_payments_max.min(FILE_PAYMENTS_MAX),
        }
    }

    fn format(&self) -> String {
        self.config.format.code().to_owned()
    }

    fn file_name(&self, submission: &Submission) -> String {
        format!("{}.xml", submission.message_id)
    }

    fn write_batch(
        &self,
        submission: &Submission,
        instructions: &mut dyn Iterator<Item = Result<Instruction, RailError>>,
        out: &mut dyn Write,
    ) -> Result<(), RailError> {
        let header = FileHeader {
            message_id: submission.message_id.clone(),
            created_at: submission.created_at,
            initiating_party: clip(&self.config.debtor_name, MAX140_CHARS),
            payment_information_id: submission.message_id.clone(),
            execution_date: submission.execution_date.clone(),
            debtor: Debtor {
                name: clip(&self.config.debtor_name, MAX140_CHARS),
                account: account_id(&self.config.debtor_account),
                agent: self.config.debtor_bic.clone().map(Agent::Bic),
            },
            currency: self.currency,
            count: submission.payments,
            control_sum: submission.total,
        };
        let mut writer = Pain001Writer::new(out, self.config.format.version(), &header)
            .map_err(|e| RailError::Batch(e.to_string()))?;
        for instruction in instructions {
            let instruction = instruction?;
            let (account, agent) = creditor(&instruction)?;
            writer
                .write(&CreditTransfer {
                    end_to_end_id: instruction.key.clone(),
                    amount: instruction.amount,
                    creditor_name: clip(&instruction.payee_name, MAX140_CHARS),
                    creditor_account: account,
                    creditor_agent: agent,
                    remittance: clip(&format!("Benefit {}", instruction.key), MAX140_CHARS),
                })
                .map_err(|e| RailError::Instruction {
                    key: instruction.key.clone(),
                    reason: e.to_string(),
                })?;
        }
        writer
            .finish()
            .map_err(|e| RailError::Batch(e.to_string()))?;
        Ok(())
    }

    fn read_answer(
        &self,
        input: &mut dyn BufRead,
        on_effect: &mut dyn FnMut(Effect) -> Result<(), RailError>,
    ) -> Result<Answer, RailError> {
        let head = input.fill_buf()?.to_vec();
        match status::identify(&head) {
            Some(StatusFileKind::Pain002) => {
                let report = status::read_pain002(input, |line| {
                    let key = line.end_to_end_id;
                    on_effect(match line.status {
                        TxStatus::Accepted | TxStatus::Pending => Effect::Accepted { key },
                        TxStatus::Settled => Effect::Settled {
                            key,
                            amount: line.amount,
                            reference: None,
                        },
                        TxStatus::Rejected => Effect::Rejected {
                            key,
                            reason: line.reason,
                            detail: line.detail,
                        },
                    })
                })
                .map_err(|e| RailError::Answer(e.to_string()))?;
                Ok(Answer {
                    format: "pain.002",
                    message_id: report.message_id,
                    answers: Some(report.original_message_id),
                    rejects_all: (report.group_status == Some(TxStatus::Rejected))
                        .then(|| report.group_reason.unwrap_or_else(|| "RJCT".to_owned())),
                })
            }
            Some(StatusFileKind::Camt054) => {
                let notification = status::read_camt054(input, |booking| {
                    if booking.reversal {
                        return on_effect(Effect::Reversed {
                            key: booking.end_to_end_id,
                            amount: booking.amount,
                        });
                    }
                    // Only a final debit of the programme's account pays;
                    // a pending booking or a credit tells nothing yet.
                    if !booking.booked || booking.credit_debit != CreditDebit::Debit {
                        return Ok(());
                    }
                    on_effect(Effect::Settled {
                        key: booking.end_to_end_id,
                        amount: Some(booking.amount),
                        reference: booking.bank_reference,
                    })
                })
                .map_err(|e| RailError::Answer(e.to_string()))?;
                Ok(Answer {
                    format: "camt.054",
                    message_id: notification.message_id,
                    answers: None,
                    rejects_all: None,
                })
            }
            _ => Err(RailError::Answer(
                "neither a pain.002 status report nor a camt.054 notification".to_owned(),
            )),
        }
    }
}
