//! Payment files for banks that read no ISO 20022: a CSV line per
//! payment, in the columns, delimiter and decimal mark a bank's bulk
//! upload expects. A [`BankCsvTemplate`] names that layout; a few are built
//! in ([`BankCsvTemplate::built_in`]).
//!
//! The file carries the same batch as a `pain.001` ([`FileHeader`],
//! [`CreditTransfer`]) and the same checks apply: ids in the bank-safe
//! character set, names and remittance as safe plain text, one currency,
//! amounts more than zero, and a file refused at [`BankCsvWriter::finish`]
//! unless it adds up to the header's count and control sum. Text cells go
//! through [`crate::spreadsheet::cell`]: these files are opened in
//! spreadsheets before they are uploaded.

use std::io::Write;

use super::iso20022::pain001::{
    BatchError, BatchTally, FieldProblem, check_amount, check_id, check_name, shown,
};
use super::iso20022::{AccountId, Agent, CreditTransfer, FileHeader, MAX35_CHARS};
use crate::calendar;
use crate::spreadsheet;

/// `Othr/Id` of ISO 20022: the longest account number a bank carries.
const ACCOUNT_CHARS_MAX: usize = 34;

/// One column of a bank's CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The payment's `EndToEndId`, which the bank's report quotes back.
    EndToEndId,
    CreditorName,
    /// The IBAN or the other account number.
    Account,
    /// The creditor bank's BIC or national bank code; empty when not given.
    BankCode,
    /// In major units with the currency's exponent, e.g. `1250.50`.
    AmountDecimal,
    /// In minor units, e.g. `125050`.
    AmountMinor,
    /// ISO 4217 code.
    Currency,
    Remittance,
    /// The requested execution date, `YYYY-MM-DD`.
    ExecutionDate,
}

impl Column {
    /// The column's name in a header line.
    pub fn name(self) -> &'static str {
        match self {
            Self::EndToEndId => "end_to_end_id",
            Self::CreditorName => "creditor_name",
            Self::Account => "account",
            Self::BankCode => "bank_code",
            Self::AmountDecimal => "amount",
            Self::AmountMinor => "amount_minor",
            Self::Currency => "currency",
            Self::Remittance => "remittance",
            Self::ExecutionDate => "execution_date",
        }
    }
}

/// How a decimal amount separates its fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalMark {
    Point,
    /// As continental European and francophone African banks read it;
    /// goes with a delimiter other than the comma.
    Comma,
}

/// A bank's CSV layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankCsvTemplate {
    pub name: String,
    pub delimiter: u8,
    /// A first line with the columns' names.
    pub header: bool,
    pub decimal_mark: DecimalMark,
    pub columns: Vec<Column>,
}

/// Every column, in the order a person reads a payment.
const ALL_COLUMNS: [Column; 8] = [
    Column::EndToEndId,
    Column::CreditorName,
    Column::Account,
    Column::BankCode,
    Column::AmountDecimal,
    Column::Currency,
    Column::Remittance,
    Column::ExecutionDate,
];

impl BankCsvTemplate {
    /// The names [`Self::built_in`] knows.
    pub const BUILT_IN: [&'static str; 3] = ["generic", "generic-semicolon", "minor-units"];

    /// A built-in template:
    /// - `generic`: comma-separated, a header line, decimal point, every
    ///   column but the minor-unit amount;
    /// - `generic-semicolon`: the same with `;` and a decimal comma;
    /// - `minor-units`: no header; id, account, bank code, amount in minor
    ///   units, currency, name, for uploads that read amounts as integers.
    pub fn built_in(name: &str) -> Option<Self> {
        let (delimiter, header, decimal_mark, columns) = match name {
            "generic" => (b',', true, DecimalMark::Point, ALL_COLUMNS.to_vec()),
            "generic-semicolon" => (b';', true, DecimalMark::Comma, ALL_COLUMNS.to_vec()),
            "minor-units" => (
                b',',
                false,
                DecimalMark::Point,
                vec![
                    Column::EndToEndId,
                    Column::Account,
                    Column::BankCode,
                    Column::AmountMinor,
                    Column::Currency,
                    Column::CreditorName,
                ],
            ),
            _ => return None,
        };
        Some(Self {
            name: name.to_owned(),
            delimiter,
            header,
            decimal_mark,
            columns,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BankCsvError {
    #[error("writing the payment file failed: {0}; discard the partial file")]
    Csv(#[from] csv::Error),
    #[error("writing the payment file failed: {0}; discard the partial file")]
    Io(#[from] std::io::Error),
    #[error("the payment file's {field} cannot be written: {problem}")]
    Header {
        field: &'static str,
        problem: FieldProblem,
    },
    #[error("payment {end_to_end_id}: {column} cannot be written: {problem}")]
    Transfer {
        /// The payment's `EndToEndId` as given (quoted, cut short).
        end_to_end_id: String,
        column: &'static str,
        problem: FieldProblem,
    },
    #[error(transparent)]
    Batch(#[from] BatchError),
}

/// A bank CSV being written, one payment a line.
pub struct BankCsvWriter<W: Write> {
    csv: csv::Writer<W>,
    template: BankCsvTemplate,
    header: FileHeader,
    tally: BatchTally,
}

impl<W: Write> BankCsvWriter<W> {
    /// Checks what `header` puts in every line and writes the header line
    /// when the template has one.
    pub fn new(
        out: W,
        template: &BankCsvTemplate,
        header: &FileHeader,
    ) -> Result<Self, BankCsvError> {
        let refuse = |field, problem| BankCsvError::Header { field, problem };
        if calendar::parse_date(&header.execution_date).is_none() {
            let text = header.execution_date.chars().take(40).collect();
            return Err(refuse(
                Column::ExecutionDate.name(),
                FieldProblem::Date(text),
            ));
        }
        if header.count == 0 {
            return Err(refuse("count", FieldProblem::Count(0)));
        }
        check_amount(header.currency, &header.control_sum)
            .map_err(|problem| refuse("control sum", problem))?;
        // CRLF, as RFC 4180 and the spreadsheets banks' staff use write it.
        let mut csv = csv::WriterBuilder::new()
            .delimiter(template.delimiter)
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        if template.header {
            csv.write_record(template.columns.iter().map(|c| c.name()))?;
        }
        Ok(Self {
            csv,
            template: template.clone(),
            header: header.clone(),
            tally: BatchTally::new(header),
        })
    }

    /// Checks `transfer` and writes its line. A refused payment writes
    /// nothing.
    pub fn write(&mut self, transfer: &CreditTransfer) -> Result<(), BankCsvError> {
        let refuse = |column: Column, problem| BankCsvError::Transfer {
            end_to_end_id: shown(&transfer.end_to_end_id),
            column: column.name(),
            problem,
        };
        check_id(&transfer.end_to_end_id, MAX35_CHARS)
            .map_err(|p| refuse(Column::EndToEndId, p))?;
        check_amount(self.header.currency, &transfer.amount)
            .map_err(|p| refuse(Column::AmountDecimal, p))?;
        let name =
            check_name(&transfer.creditor_name).map_err(|p| refuse(Column::CreditorName, p))?;
        let account = match &transfer.creditor_account {
            AccountId::Iban(number) | AccountId::Other(number) => number,
        };
        check_id(account, ACCOUNT_CHARS_MAX).map_err(|p| refuse(Column::Account, p))?;
        let bank_code = match &transfer.creditor_agent {
            Some(Agent::Bic(code) | Agent::Member(code)) => {
                check_id(code, MAX35_CHARS).map_err(|p| refuse(Column::BankCode, p))?;
                code.as_str()
            }
            None => "",
        };
        let remittance = if transfer.remittance.trim().is_empty() {
            None
        } else {
            Some(check_name(&transfer.remittance).map_err(|p| refuse(Column::Remittance, p))?)
        };
        self.tally.count(transfer)?;
        for column in &self.template.columns {
            match column {
                Column::EndToEndId => text_cell(&mut self.csv, &transfer.end_to_end_id)?,
                Column::CreditorName => text_cell(&mut self.csv, name.as_str())?,
                Column::Account => text_cell(&mut self.csv, account)?,
                Column::BankCode => text_cell(&mut self.csv, bank_code)?,
                Column::AmountDecimal => {
                    let decimal = transfer.amount.decimal();
                    match self.template.decimal_mark {
                        DecimalMark::Point => self.csv.write_field(decimal)?,
                        DecimalMark::Comma => self.csv.write_field(decimal.replace('.', ","))?,
                    }
                }
                Column::AmountMinor => self.csv.write_field(transfer.amount.minor.to_string())?,
                Column::Currency => self.csv.write_field(self.header.currency.code())?,
                Column::Remittance => {
                    text_cell(
                        &mut self.csv,
                        remittance.as_ref().map_or("", |r| r.as_str()),
                    )?;
                }
                Column::ExecutionDate => self.csv.write_field(&self.header.execution_date)?,
            }
        }
        Ok(self.csv.write_record(None::<&[u8]>)?)
    }

    /// Flushes and hands back the output; refuses when fewer payments were
    /// written than the header announces.
    pub fn finish(self) -> Result<W, BankCsvError> {
        self.tally.complete()?;
        self.csv
            .into_inner()
            .map_err(|error| BankCsvError::Io(error.into_error()))
    }
}

/// A cell of text people wrote: never a formula in a spreadsheet.
fn text_cell<W: Write>(csv: &mut csv::Writer<W>, text: &str) -> Result<(), csv::Error> {
    csv.write_field(spreadsheet::cell(text).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::iso20022::Debtor;
    use super::*;
    use lastmile_shared::money::{Currency, Money};

    fn xof() -> Currency {
        Currency::parse("XOF").unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn batch(currency: Currency) -> (FileHeader, Vec<CreditTransfer>) {
        let transfers = vec![
            CreditTransfer {
                end_to_end_id: "P2-2026-03-000001".to_owned(),
                amount: Money::new(2_500_050, currency),
                creditor_name: "=HYPERLINK(\"http://x\";\"Fatou\")".to_owned(),
                creditor_account: AccountId::Iban("SN08SN0100152000048500003035".to_owned()),
                creditor_agent: Some(Agent::Bic("SGSNSNDA".to_owned())),
                remittance: "Bourse familiale; mars 2026".to_owned(),
            },
            CreditTransfer {
                end_to_end_id: "P2-2026-03-000002".to_owned(),
                amount: Money::new(1_500_000, currency),
                creditor_name: "Aïssatou Diallo".to_owned(),
                creditor_account: AccountId::Other("771234567".to_owned()),
                creditor_agent: None,
                remittance: String::new(),
            },
        ];
        let header = FileHeader {
            message_id: "LM-2026-03-P2-0001".to_owned(),
            created_at: 1_772_323_200,
            initiating_party: "Programme national de bourses".to_owned(),
            payment_information_id: "LM-2026-03-P2-0001-B1".to_owned(),
            execution_date: "2026-03-02".to_owned(),
            debtor: Debtor {
                name: "Programme national de bourses".to_owned(),
                account: AccountId::Other("0000123456".to_owned()),
                agent: None,
            },
            currency,
            count: 2,
            control_sum: Money::new(4_000_050, currency),
        };
        (header, transfers)
    }

    fn written(template: &str, currency: Currency) -> String {
        let (header, transfers) = batch(currency);
        let template = BankCsvTemplate::built_in(template).unwrap();
        let mut writer = BankCsvWriter::new(Vec::new(), &template, &header).unwrap();
        for transfer in &transfers {
            writer.write(transfer).unwrap();
        }
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    #[test]
    fn the_built_in_templates_write_the_small_file_as_reviewed() {
        assert_eq!(
            written("generic-semicolon", eur()),
            "end_to_end_id;creditor_name;account;bank_code;amount;currency;remittance;execution_date\r\n\
             P2-2026-03-000001;\"'=HYPERLINK(\"\"http://x\"\";\"\"Fatou\"\")\";SN08SN0100152000048500003035;SGSNSNDA;25000,50;EUR;\"Bourse familiale; mars 2026\";2026-03-02\r\n\
             P2-2026-03-000002;Aïssatou Diallo;771234567;;15000,00;EUR;;2026-03-02\r\n"
        );
        assert_eq!(
            written("generic", xof()),
            "end_to_end_id,creditor_name,account,bank_code,amount,currency,remittance,execution_date\r\n\
             P2-2026-03-000001,\"'=HYPERLINK(\"\"http://x\"\";\"\"Fatou\"\")\",SN08SN0100152000048500003035,SGSNSNDA,2500050,XOF,Bourse familiale; mars 2026,2026-03-02\r\n\
             P2-2026-03-000002,Aïssatou Diallo,771234567,,1500000,XOF,,2026-03-02\r\n"
        );
        assert_eq!(
            written("minor-units", eur()),
            "P2-2026-03-000001,SN08SN0100152000048500003035,SGSNSNDA,2500050,EUR,\"'=HYPERLINK(\"\"http://x\"\";\"\"Fatou\"\")\"\r\n\
             P2-2026-03-000002,771234567,,1500000,EUR,Aïssatou Diallo\r\n"
        );
        for name in BankCsvTemplate::BUILT_IN {
            assert_eq!(BankCsvTemplate::built_in(name).unwrap().name, name);
        }
        assert_eq!(BankCsvTemplate::built_in("swift-mt101"), None);
    }

    #[test]
    fn bad_payments_and_files_that_do_not_add_up_are_refused() {
        let (header, mut transfers) = batch(eur());
        let template = BankCsvTemplate::built_in("generic").unwrap();
        let mut writer = BankCsvWriter::new(Vec::new(), &template, &header).unwrap();
        let mut bad = transfers[0].clone();
        bad.creditor_name = "Fatou\u{1b}[2J".to_owned();
        assert_eq!(
            writer.write(&bad).unwrap_err().to_string(),
            "payment \"P2-2026-03-000001\": creditor_name cannot be written: \
             character 6 is the control character U+001B; remove it"
        );
        bad = transfers[0].clone();
        bad.amount = Money::new(2_500_050, xof());
        assert!(matches!(
            writer.write(&bad),
            Err(BankCsvError::Transfer {
                column: "amount",
                problem: FieldProblem::Currency { .. },
                ..
            })
        ));
        bad = transfers[0].clone();
        bad.creditor_account = AccountId::Other("77 123".to_owned());
        assert!(matches!(
            writer.write(&bad),
            Err(BankCsvError::Transfer {
                column: "account",
                ..
            })
        ));
        writer.write(&transfers[0]).unwrap();
        assert!(matches!(
            writer.finish(),
            Err(BankCsvError::Batch(BatchError::CountMismatch {
                expected: 2,
                written: 1
            }))
        ));

        let mut writer = BankCsvWriter::new(Vec::new(), &template, &header).unwrap();
        transfers[1].amount = Money::new(1_600_000, eur());
        writer.write(&transfers[0]).unwrap();
        assert!(matches!(
            writer.write(&transfers[1]),
            Err(BankCsvError::Batch(BatchError::ControlSumExceeded { .. }))
        ));

        let mut header = header;
        header.execution_date = "02/03/2026".to_owned();
        assert!(matches!(
            BankCsvWriter::new(Vec::new(), &template, &header),
            Err(BankCsvError::Header {
                field: "execution_date",
                ..
            })
        ));
    }
}
