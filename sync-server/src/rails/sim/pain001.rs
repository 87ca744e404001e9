//! The bank's side of `pain.001`: a streaming reader of what it needs to
//! answer a file — the head (`MsgId`, `NbOfTxs`, `CtrlSum`, `PmtInfId`,
//! the debtor's account) and each transfer (`EndToEndId`, amount,
//! creditor account) — with the limits and errors of the status readers.
//! Versions `.001.03` and `.001.09` (and the others between and after:
//! these elements did not move).

use std::io::BufRead;

use lastmile_shared::money::Money;

use crate::rails::iso20022::AccountId;
use crate::rails::iso20022::status::{
    RawAmount, StatusFileError, StatusFileKind, Step, XmlCursor, XmlLimits, max35, set_once,
};

/// What a `pain.001` says about itself, before its transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain001Head {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/NbOfTxs`.
    pub count: u64,
    /// `GrpHdr/CtrlSum` as written (its currency is the transfers').
    pub control_sum: Option<String>,
    /// The first `PmtInf/PmtInfId`.
    pub payment_information_id: String,
    /// The first `PmtInf/DbtrAcct/Id`.
    pub debtor_account: AccountId,
}

/// One `CdtTrfTxInf`, as the bank needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `PmtId/EndToEndId`.
    pub end_to_end_id: String,
    /// `Amt/InstdAmt`.
    pub amount: Money,
    /// `CdtrAcct/Id`.
    pub creditor_account: Option<AccountId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum P1 {
    Document,
    Initiation,
    GrpHdr,
    MsgId,
    NbOfTxs,
    CtrlSum,
    PmtInf,
    PmtInfId,
    DbtrAcct,
    CdtTrfTxInf,
    PmtId,
    EndToEndId,
    Amt,
    InstdAmt,
    CdtrAcct,
    Id,
    Iban,
    Othr,
    Other,
}

fn pain001_tag(local: &[u8]) -> P1 {
    match local {
        b"Document" => P1::Document,
        b"CstmrCdtTrfInitn" => P1::Initiation,
        b"GrpHdr" => P1::GrpHdr,
        b"MsgId" => P1::MsgId,
        b"NbOfTxs" => P1::NbOfTxs,
        b"CtrlSum" => P1::CtrlSum,
        b"PmtInf" => P1::PmtInf,
        b"PmtInfId" => P1::PmtInfId,
        b"DbtrAcct" => P1::DbtrAcct,
        b"CdtTrfTxInf" => P1::CdtTrfTxInf,
        b"PmtId" => P1::PmtId,
        b"EndToEndId" => P1::EndToEndId,
        b"Amt" => P1::Amt,
        b"InstdAmt" => P1::InstdAmt,
        b"CdtrAcct" => P1::CdtrAcct,
        b"Id" => P1::Id,
        b"IBAN" => P1::Iban,
        b"Othr" => P1::Othr,
        _ => P1::Other,
    }
}

#[derive(Debug, Default)]
struct HeadFields {
    message_id: Option<String>,
    count: Option<String>,
    control_sum: Option<String>,
    payment_information_id: Option<String>,
    debtor_account: Option<AccountId>,
}

#[derive(Debug, Default)]
struct TransferFields {
    end_to_end_id: Option<String>,
    amount: Option<RawAmount>,
    creditor_account: Option<AccountId>,
}

/// A `pain.001` read one transfer at a time.
pub struct Pain001Reader<R> {
    cursor: XmlCursor<R, P1>,
    fields: HeadFields,
    head: Option<Pain001Head>,
    transfer: Option<TransferFields>,
    transfers: u64,
}

enum P1Event {
    HeadRead,
    Transfer(Transfer),
    End,
    Nothing,
}

impl<R: BufRead> Pain001Reader<R> {
    /// Reads up to the first transfer.
    pub fn new(input: R) -> Result<Self, StatusFileError> {
        let cursor = XmlCursor::open(
            input,
            StatusFileKind::Pain001,
            XmlLimits::default(),
            pain001_tag,
        )?;
        let mut reader = Self {
            cursor,
            fields: HeadFields::default(),
            head: None,
            transfer: None,
            transfers: 0,
        };
        loop {
            match reader.advance()? {
                P1Event::HeadRead => return Ok(reader),
                P1Event::End => {
                    reader.read_head()?;
                    return Ok(reader);
                }
                P1Event::Transfer(_) | P1Event::Nothing => {}
            }
        }
    }

    pub fn head(&self) -> &Pain001Head {
        self.head.as_ref().expect("new reads the head")
    }

    pub fn next_transfer(&mut self) -> Result<Option<Transfer>, StatusFileError> {
        loop {
            match self.advance()? {
                P1Event::Transfer(transfer) => return Ok(Some(transfer)),
                P1Event::End => return Ok(None),
                P1Event::HeadRead | P1Event::Nothing => {}
            }
        }
    }

    fn read_head(&mut self) -> Result<(), StatusFileError> {
        if self.head.is_some() {
            return Ok(());
        }
        let at = self.cursor.at();
        let missing = |element| StatusFileError::Missing {
            at,
            element,
            end_to_end_id: None,
        };
        let fields = std::mem::take(&mut self.fields);
        let message_id = fields.message_id.ok_or_else(|| missing("GrpHdr/MsgId"))?;
        let count = fields.count.ok_or_else(|| missing("GrpHdr/NbOfTxs"))?;
        let count = count.parse().map_err(|_| StatusFileError::BadId {
            at,
            element: "GrpHdr/NbOfTxs",
            value: count.chars().take(15).collect(),
            limit: 15,
        })?;
        let payment_information_id = fields
            .payment_information_id
            .ok_or_else(|| missing("PmtInf/PmtInfId"))?;
        self.head = Some(Pain001Head {
            message_id: max35(&message_id, "GrpHdr/MsgId", at)?,
            count,
            control_sum: fields.control_sum,
            payment_information_id: max35(&payment_information_id, "PmtInfId", at)?,
            debtor_account: fields
                .debtor_account
                .ok_or_else(|| missing("PmtInf/DbtrAcct/Id"))?,
        });
        Ok(())
    }

    fn advance(&mut self) -> Result<P1Event, StatusFileError> {
        use P1::*;
        let step = self.cursor.step()?;
        let at = self.cursor.at();
        let close = match step {
            Step::End => return Ok(P1Event::End),
            Step::Open(CdtTrfTxInf)
                if self.cursor.parents() == [Document, Initiation, PmtInf, CdtTrfTxInf] =>
            {
                self.transfer = Some(TransferFields::default());
                if self.head.is_none() {
                    self.read_head()?;
                    return Ok(P1Event::HeadRead);
                }
                return Ok(P1Event::Nothing);
            }
            Step::Open(_) => return Ok(P1Event::Nothing),
            Step::Close(tag) => tag,
        };
        let text = self.cursor.text();
        let head = &mut self.fields;
        let account = |tag| match tag {
            Iban => AccountId::Iban(text.to_owned()),
            _ => AccountId::Other(text.to_owned()),
        };
        match (self.cursor.parents(), close) {
            ([Document, Initiation, GrpHdr], MsgId) => {
                set_once(&mut head.message_id, text, "GrpHdr/MsgId", None, at)?;
            }
            ([Document, Initiation, GrpHdr], NbOfTxs) => {
                set_once(&mut head.count, text, "GrpHdr/NbOfTxs", None, at)?;
            }
            ([Document, Initiation, GrpHdr], CtrlSum) => {
                set_once(&mut head.control_sum, text, "GrpHdr/CtrlSum", None, at)?;
            }
            ([Document, Initiation, PmtInf], PmtInfId) => {
                head.payment_information_id
                    .get_or_insert_with(|| text.to_owned());
            }
            ([Document, Initiation, PmtInf, DbtrAcct, Id], Iban)
            | ([Document, Initiation, PmtInf, DbtrAcct, Id, Othr], Id) => {
                head.debtor_account.get_or_insert_with(|| account(close));
            }
            ([Document, Initiation, PmtInf, CdtTrfTxInf, PmtId], EndToEndId) => {
                if let Some(transfer) = &mut self.transfer {
                    set_once(
                        &mut transfer.end_to_end_id,
                        text,
                        "PmtId/EndToEndId",
                        None,
                        at,
                    )?;
                }
            }
            ([Document, Initiation, PmtInf, CdtTrfTxInf, Amt], InstdAmt) => {
                if let Some(transfer) = &mut self.transfer {
                    transfer.amount = Some(RawAmount::of(&self.cursor));
                }
            }
            ([Document, Initiation, PmtInf, CdtTrfTxInf, CdtrAcct, Id], Iban)
            | (
                [
                    Document,
                    Initiation,
                    PmtInf,
                    CdtTrfTxInf,
                    CdtrAcct,
                    Id,
                    Othr,
                ],
                Id,
            ) => {
                if let Some(transfer) = &mut self.transfer {
                    transfer
                        .creditor_account
                        .get_or_insert_with(|| account(close));
                }
            }
            ([Document, Initiation, PmtInf], CdtTrfTxInf) => {
                if let Some(fields) = self.transfer.take() {
                    self.transfers += 1;
                    let limit = self.cursor.limits().records_max;
                    if self.transfers > limit {
                        return Err(StatusFileError::TooMany {
                            what: "transfers",
                            limit,
                        });
                    }
                    let id = fields.end_to_end_id.ok_or(StatusFileError::Missing {
                        at,
                        element: "CdtTrfTxInf/PmtId/EndToEndId",
                        end_to_end_id: None,
                    })?;
                    let end_to_end_id = max35(&id, "EndToEndId", at)?;
                    let amount = fields
                        .amount
                        .ok_or_else(|| StatusFileError::Missing {
                            at,
                            element: "CdtTrfTxInf/Amt/InstdAmt",
                            end_to_end_id: Some(end_to_end_id.clone()),
                        })?
                        .money(&end_to_end_id, at)?;
                    return Ok(P1Event::Transfer(Transfer {
                        end_to_end_id,
                        amount,
                        creditor_account: fields.creditor_account,
                    }));
                }
            }
            _ => {}
        }
        Ok(P1Event::Nothing)
    }
}
