//! The redemption decision: one pure function from what a voucher or
//! entitlement says and what the terminal knows to "accept this amount" or
//! "refuse, for this reason".
//!
//! Architecture invariant: every redemption on a terminal, by voucher or by
//! ID, goes through [`decide`]; nothing else decides whether money moves.

use serde::{Deserialize, Serialize};

use crate::id::{MerchantId, SiteId};
use crate::money::{Currency, Money};
use crate::voucher::{BeneficiaryBinding, RedemptionMode, VoucherClaims};

/// What the server allows a terminal to do between syncs, per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineLimits {
    pub currency: Currency,
    /// Most value redeemed offline against one voucher or entitlement.
    pub credential_value_max_minor: i64,
    /// Most value (in this currency) waiting for the server's confirmation.
    pub unsynced_value_max_minor: i64,
    /// Most log entries (of any currency) waiting for confirmation.
    pub unsynced_count_max: u32,
    /// Longest time since the last successful sync.
    pub offline_seconds_max: i64,
}

/// The terms of something redeemable: a voucher, or a roster entitlement.
#[derive(Debug, Clone, Copy)]
pub struct RedemptionTerms<'a> {
    pub value: Money,
    pub valid_from: i64,
    pub valid_until: i64,
    pub mode: RedemptionMode,
    pub beneficiary: Option<BeneficiaryBinding>,
    pub merchants: &'a [MerchantId],
    pub sites: &'a [SiteId],
}

impl VoucherClaims {
    pub fn terms(&self) -> RedemptionTerms<'_> {
        RedemptionTerms {
            value: self.value,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            mode: self.mode,
            beneficiary: self.beneficiary,
            merchants: &self.merchants,
            sites: &self.sites,
        }
    }
}

/// What the terminal knows about this one credential.
#[derive(Debug, Clone, Copy, Default)]
pub struct CredentialState {
    /// On the revocation list, or reported spent elsewhere by the server.
    pub revoked: bool,
    /// Minor units already redeemed, here or (as the server reported) elsewhere.
    pub redeemed_minor: i64,
    /// Of which still waiting for the server's confirmation.
    pub redeemed_unsynced_minor: i64,
}

/// What the terminal knows about itself.
#[derive(Debug, Clone, Copy)]
pub struct TerminalContext<'a> {
    pub now: i64,
    pub merchant: Option<&'a MerchantId>,
    pub site: Option<&'a SiteId>,
    /// This terminal's own device id is on the revocation list.
    pub device_revoked: bool,
    /// This terminal's merchant is on the revocation list.
    pub merchant_revoked: bool,
    /// Limits for the credential's currency, if the server set any.
    pub limits: Option<&'a OfflineLimits>,
    /// Unconfirmed value in the credential's currency, in minor units.
    pub unsynced_value_minor: i64,
    /// Unconfirmed log entries, all currencies.
    pub unsynced_count: u32,
    pub last_sync_at: i64,
    /// The binding computed from an ID the operator checked, if any.
    pub presented_beneficiary: Option<BeneficiaryBinding>,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept {
        amount: Money,
        remaining_after: Money,
    },
    Reject(RejectReason),
}

/// Why a redemption is refused. `code()` is stable for scripts and translations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("this terminal has been revoked and may not redeem or pay out; contact headquarters")]
    DeviceRevoked,
    #[error("this voucher has been revoked")]
    Revoked,
    #[error("this merchant has been suspended")]
    MerchantRevoked,
    #[error("this voucher cannot be used at this merchant")]
    WrongMerchant,
    #[error("this voucher cannot be used at this site")]
    WrongSite,
    #[error("this voucher is not valid yet")]
    NotYetValid,
    #[error("this voucher has expired")]
    Expired,
    #[error("this voucher belongs to a named person: check their ID card first")]
    IdentityCheckRequired,
    #[error("the ID card presented does not belong to this voucher's holder")]
    WrongBeneficiary,
    #[error("this voucher has already been fully redeemed")]
    AlreadyRedeemed,
    #[error("the amount is in {requested}, but the voucher is in {voucher}")]
    CurrencyMismatch {
        requested: Currency,
        voucher: Currency,
    },
    #[error("the amount must be more than zero")]
    AmountNotPositive,
    #[error("only {remaining} is left on this voucher")]
    AmountOverBalance { remaining: Money },
    #[error("this voucher must be redeemed in full ({value})")]
    PartialNotAllowed { value: Money },
    #[error("this terminal has no offline limit for {0}; sync first")]
    NoOfflineLimit(Currency),
    #[error("this terminal has been offline too long; sync before redeeming")]
    OfflineTooLong,
    #[error("at most {allowed} may be redeemed offline on one voucher")]
    OverCredentialLimit { allowed: Money },
    #[error("the offline limit of unconfirmed value is reached ({left} left); sync first")]
    OverUnsyncedValue { left: Money },
    #[error("the offline limit of unconfirmed redemptions is reached; sync first")]
    OverUnsyncedCount,
}

impl RejectReason {
    pub fn code(&self) -> &'static str {
        match self {
            Self::DeviceRevoked => "device_revoked",
            Self::Revoked => "revoked",
            Self::MerchantRevoked => "merchant_revoked",
            Self::WrongMerchant => "wrong_merchant",
            Self::WrongSite => "wrong_site",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::IdentityCheckRequired => "identity_check_required",
            Self::WrongBeneficiary => "wrong_beneficiary",
            Self::AlreadyRedeemed => "already_redeemed",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::AmountNotPositive => "amount_not_positive",
            Self::AmountOverBalance { .. } => "amount_over_balance",
            Self::PartialNotAllowed { .. } => "partial_not_allowed",
            Self::NoOfflineLimit(_) => "no_offline_limit",
            Self::OfflineTooLong => "offline_too_long",
            Self::OverCredentialLimit { .. } => "over_credential_limit",
            Self::OverUnsyncedValue { .. } => "over_unsynced_value",
            Self::OverUnsyncedCount => "over_unsynced_count",
        }
    }
}

/// Decides a redemption. `requested` is the amount the operator entered, or
/// `None` for "everything that is left".
pub fn decide(
    terms: &RedemptionTerms<'_>,
    state: &CredentialState,
    ctx: &TerminalContext<'_>,
    requested: Option<Money>,
) -> Decision {
    match check(terms, state, ctx, requested) {
        Ok((amount, remaining_after)) => Decision::Accept {
            amount,
            remaining_after,
        },
        Err(reason) => Decision::Reject(reason),
    }
}

fn check(
    terms: &RedemptionTerms<'_>,
    state: &CredentialState,
    ctx: &TerminalContext<'_>,
    requested: Option<Money>,
) -> Result<(Money, Money), RejectReason> {
    use RejectReason as R;
    let currency = terms.value.currency;
    // A revoked terminal may not move money at all, whatever the credential.
    if ctx.device_revoked {
        return Err(R::DeviceRevoked);
    }
    if state.revoked {
        return Err(R::Revoked);
    }
    if ctx.merchant_revoked {
        return Err(R::MerchantRevoked);
    }
    if !terms.merchants.is_empty() && !ctx.merchant.is_some_and(|m| terms.merchants.contains(m)) {
        return Err(R::WrongMerchant);
    }
    if !terms.sites.is_empty() && !ctx.site.is_some_and(|s| terms.sites.contains(s)) {
        return Err(R::WrongSite);
    }
    if ctx.now
        < terms
            .valid_from
            .saturating_sub(crate::voucher::CLOCK_SKEW_SECONDS_MAX)
    {
        return Err(R::NotYetValid);
    }
    if ctx.now >= terms.valid_until {
        return Err(R::Expired);
    }
    if let Some(binding) = terms.beneficiary {
        match ctx.presented_beneficiary {
            None => return Err(R::IdentityCheckRequired),
            Some(presented) if presented != binding => return Err(R::WrongBeneficiary),
            Some(_) => {}
        }
    }
    let remaining_minor = terms.value.minor.saturating_sub(state.redeemed_minor);
    if remaining_minor <= 0 {
        return Err(R::AlreadyRedeemed);
    }
    let remaining = Money::new(remaining_minor, currency);
    let amount = requested.unwrap_or(remaining);
    if amount.currency != currency {
        return Err(R::CurrencyMismatch {
            requested: amount.currency,
            voucher: currency,
        });
    }
    if amount.minor <= 0 {
        return Err(R::AmountNotPositive);
    }
    if amount.minor > remaining_minor {
        return Err(R::AmountOverBalance { remaining });
    }
    if terms.mode == RedemptionMode::SingleUse && amount.minor != terms.value.minor {
        return Err(R::PartialNotAllowed { value: terms.value });
    }
    let limits = ctx
        .limits
        .filter(|l| l.currency == currency)
        .ok_or(R::NoOfflineLimit(currency))?;
    if ctx.now.saturating_sub(ctx.last_sync_at) > limits.offline_seconds_max {
        return Err(R::OfflineTooLong);
    }
    if state.redeemed_unsynced_minor.saturating_add(amount.minor)
        > limits.credential_value_max_minor
    {
        let allowed = limits
            .credential_value_max_minor
            .saturating_sub(state.redeemed_unsynced_minor)
            .max(0);
        return Err(R::OverCredentialLimit {
            allowed: Money::new(allowed, currency),
        });
    }
    if ctx.unsynced_value_minor.saturating_add(amount.minor) > limits.unsynced_value_max_minor {
        let left = limits
            .unsynced_value_max_minor
            .saturating_sub(ctx.unsynced_value_minor)
            .max(0);
        return Err(R::OverUnsyncedValue {
            left: Money::new(left, currency),
        });
    }
    if ctx.unsynced_count >= limits.unsynced_count_max {
        return Err(R::OverUnsyncedCount);
    }
    Ok((amount, Money::new(remaining_minor - amount.minor, currency)))
}
