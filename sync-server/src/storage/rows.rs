//! Rows as both backends read them, before their values are parsed into
//! typed ids and money, and the parsing shared by both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, IssuerId, KeyId, MerchantId, ProgrammeId, SiteId,
    VoucherId,
};
use lastmile_shared::money::Currency;
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::trust_list::IssuerKey;

use super::{
    AlarmRow, BalanceRow, CaseRow, Credential, DeviceRow, EntitlementRow, StorageError, VoucherRow,
    key_status_from_text, key32, mode_from_text, money, opt_id, seq_from,
};

type Res<T> = Result<T, StorageError>;

/// A device row as read, before its values are parsed.
pub(crate) struct DeviceRowRaw {
    pub device: String,
    pub kid: String,
    pub public_key: Vec<u8>,
    pub label: String,
    pub merchant: Option<String>,
    pub site: Option<String>,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    pub head_seq: i64,
    pub head_hash: Vec<u8>,
    pub last_seen_at: Option<i64>,
}

impl DeviceRowRaw {
    pub(crate) fn parse(self) -> Res<DeviceRow> {
        Ok(DeviceRow {
            device: DeviceId::parse(&self.device)?,
            kid: KeyId::parse(&self.kid)?,
            public_key: key32(self.public_key, "devices.public_key")?,
            label: self.label,
            merchant: opt_id(self.merchant, MerchantId::parse)?,
            site: opt_id(self.site, SiteId::parse)?,
            enrolled_at: self.enrolled_at,
            revoked_at: self.revoked_at,
            head_seq: seq_from(self.head_seq)?,
            head_hash: key32(self.head_hash, "devices.head_hash")?,
            last_seen_at: self.last_seen_at,
        })
    }
}
/// A voucher row as read, before its values are parsed.
pub(crate) struct VoucherRowRaw {
    pub voucher: String,
    pub issuer: String,
    pub programme: String,
    pub value_minor: i64,
    pub currency: String,
    pub mode: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub beneficiary: Option<String>,
    pub credential: String,
    pub issued_here: i64,
    pub revoked_at: Option<i64>,
    pub redeemed_minor: i64,
    pub winner_device: Option<String>,
    pub winner_seq: Option<i64>,
}

fn winner(device: Option<String>, seq: Option<i64>) -> Res<Option<(DeviceId, u64)>> {
    Ok(match (device, seq) {
        (Some(d), Some(s)) => Some((DeviceId::parse(&d)?, seq_from(s)?)),
        _ => None,
    })
}

impl VoucherRowRaw {
    pub(crate) fn parse(self) -> Res<VoucherRow> {
        let winner = winner(self.winner_device, self.winner_seq)?;
        Ok(VoucherRow {
            voucher: VoucherId::parse(&self.voucher)?,
            issuer: IssuerId::parse(&self.issuer)?,
            programme: ProgrammeId::parse(&self.programme)?,
            value: money(self.value_minor, &self.currency)?,
            mode: mode_from_text(&self.mode)?,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            beneficiary: self.beneficiary,
            credential: self.credential,
            issued_here: self.issued_here != 0,
            revoked_at: self.revoked_at,
            redeemed_minor: self.redeemed_minor,
            winner,
        })
    }
}
/// The columns of an entitlement row, in [`EntitlementRowRaw`] order.
pub(crate) const ENTITLEMENT_COLUMNS: &str = "entitlement, beneficiary, programme, value_minor, \
     currency, mode, redeemed_minor, winner_device, winner_seq";

/// An entitlement row as read, before its values are parsed.
pub(crate) struct EntitlementRowRaw {
    pub entitlement: String,
    pub beneficiary: String,
    pub programme: String,
    pub value_minor: i64,
    pub currency: String,
    pub mode: String,
    pub redeemed_minor: i64,
    pub winner_device: Option<String>,
    pub winner_seq: Option<i64>,
}

impl EntitlementRowRaw {
    pub(crate) fn parse(self) -> Res<EntitlementRow> {
        Ok(EntitlementRow {
            entitlement: EntitlementId::parse(&self.entitlement)?,
            beneficiary: BeneficiaryId::parse(&self.beneficiary)?,
            programme: ProgrammeId::parse(&self.programme)?,
            value: money(self.value_minor, &self.currency)?,
            mode: mode_from_text(&self.mode)?,
            redeemed_minor: self.redeemed_minor,
            winner: winner(self.winner_device, self.winner_seq)?,
        })
    }
}

/// The balance feed, for both backends (SQLite binds `$N` by position too):
/// every voucher's changes and those of the entitlements listed by one roster
/// scope (`$2`; none when NULL), after position `$1`, at most `$3` rows.
/// Columns: kind, id, redeemed minor units, currency, position.
pub(crate) const BALANCES_QUERY: &str = "SELECT 'voucher', voucher, redeemed_minor, currency, \
     feed_position FROM vouchers WHERE feed_position > $1 \
     UNION ALL \
     SELECT 'entitlement', e.entitlement, e.redeemed_minor, e.currency, e.feed_position \
     FROM entitlements e JOIN entitlement_scopes s \
     ON s.entitlement = e.entitlement AND s.scope = $2 \
     WHERE e.feed_position > $1 \
     ORDER BY 5, 1, 2 LIMIT $3";

pub(crate) fn parse_balance(
    kind: &str,
    id: &str,
    redeemed_minor: i64,
    currency: &str,
    position: i64,
) -> Res<BalanceRow> {
    let credential = match kind {
        "voucher" => Credential::Voucher(VoucherId::parse(id)?),
        "entitlement" => Credential::Entitlement(EntitlementId::parse(id)?),
        other => return Err(StorageError::corrupt("the balance feed", other)),
    };
    Ok(BalanceRow {
        credential,
        redeemed: money(redeemed_minor, currency)?,
        position: seq_from(position)?,
    })
}

/// A case row as read, before its values are parsed.
pub(crate) struct CaseRowRaw {
    pub id: i64,
    pub voucher: Option<String>,
    pub entitlement: Option<String>,
    pub reason: String,
    pub first_device: Option<String>,
    pub first_seq: Option<i64>,
    pub first_entry: Option<Vec<u8>>,
    pub second_device: String,
    pub second_seq: i64,
    pub second_entry: Option<Vec<u8>>,
    pub amount_minor: i64,
    pub currency: String,
    pub redeemed_before_minor: i64,
    pub value_minor: i64,
    pub opened_at: i64,
    pub status: String,
    pub resolution: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<i64>,
}

pub(crate) const CASE_QUERY: &str = "SELECT c.id, c.voucher, c.reason, c.first_device, \
     c.first_seq, f.bytes, c.second_device, c.second_seq, s.bytes, c.amount_minor, c.currency, \
     c.redeemed_before_minor, c.value_minor, c.opened_at, c.status, c.resolution, \
     c.resolution_note, c.resolved_at, c.entitlement \
     FROM double_spend_cases c \
     LEFT JOIN log_entries f ON f.device = c.first_device AND f.seq = c.first_seq \
     LEFT JOIN log_entries s ON s.device = c.second_device AND s.seq = c.second_seq \
     ORDER BY c.id";

impl CaseRowRaw {
    pub(crate) fn parse(self) -> Res<CaseRow> {
        Ok(CaseRow {
            id: seq_from(self.id)?,
            voucher: opt_id(self.voucher, VoucherId::parse)?,
            entitlement: opt_id(self.entitlement, EntitlementId::parse)?,
            reason: self.reason,
            first_device: opt_id(self.first_device, DeviceId::parse)?,
            first_seq: self.first_seq.map(seq_from).transpose()?,
            first_entry: self.first_entry.map(|b| B64.encode(b)),
            second_device: DeviceId::parse(&self.second_device)?,
            second_seq: seq_from(self.second_seq)?,
            second_entry: self
                .second_entry
                .map(|b| B64.encode(b))
                .ok_or_else(|| StorageError::corrupt("double_spend_cases", "evidence missing"))?,
            amount: money(self.amount_minor, &self.currency)?,
            redeemed_before_minor: self.redeemed_before_minor,
            value_minor: self.value_minor,
            opened_at: self.opened_at,
            status: self.status,
            resolution: self.resolution,
            resolution_note: self.resolution_note,
            resolved_at: self.resolved_at,
        })
    }
}

pub(crate) fn parse_alarm(
    id: i64,
    kind: String,
    device: Option<String>,
    seq: Option<i64>,
    detail: String,
    evidence: Option<Vec<u8>>,
    raised_at: i64,
) -> Res<AlarmRow> {
    Ok(AlarmRow {
        id: seq_from(id)?,
        kind,
        device: opt_id(device, DeviceId::parse)?,
        seq: seq.map(seq_from).transpose()?,
        detail,
        evidence: evidence.map(|b| B64.encode(b)),
        raised_at,
    })
}

pub(crate) fn parse_issuer_key(
    kid: String,
    issuer: String,
    public_key: Vec<u8>,
    valid_from: i64,
    valid_until: i64,
    status: String,
    since: Option<i64>,
) -> Res<IssuerKey> {
    Ok(IssuerKey {
        kid: KeyId::parse(&kid)?,
        issuer: IssuerId::parse(&issuer)?,
        public_key: key32(public_key, "issuer_keys.public_key")?,
        valid_from,
        valid_until,
        status: key_status_from_text(&status, since)?,
        programmes: Vec::new(),
    })
}

pub(crate) fn parse_limits(
    currency: String,
    credential: i64,
    unsynced_value: i64,
    unsynced_count: i64,
    offline_seconds: i64,
) -> Res<OfflineLimits> {
    Ok(OfflineLimits {
        currency: Currency::parse(&currency)?,
        credential_value_max_minor: credential,
        unsynced_value_max_minor: unsynced_value,
        unsynced_count_max: u32::try_from(unsynced_count).map_err(|_| {
            StorageError::corrupt("offline_limits.unsynced_count_max", unsynced_count)
        })?,
        offline_seconds_max: offline_seconds,
    })
}
