//! The redemption decision, as a table of cases.

mod common;

use common::*;
use lastmile_shared::id::{BeneficiaryId, MerchantId, SiteId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::rules::{
    CredentialState, Decision, OfflineLimits, RejectReason, TerminalContext, decide,
};
use lastmile_shared::voucher::{BeneficiaryBinding, RedemptionMode, VoucherClaims};

fn kes_amount(minor: i64) -> Money {
    Money::new(minor, kes())
}

fn limits() -> OfflineLimits {
    OfflineLimits {
        currency: kes(),
        credential_value_max_minor: 300_000,
        unsynced_value_max_minor: 1_000_000,
        unsynced_count_max: 100,
        offline_seconds_max: 3 * DAY,
    }
}

struct Case {
    name: &'static str,
    claims: fn() -> VoucherClaims,
    state: CredentialState,
    /// Adjusts the default context.
    context: fn(&mut Ctx),
    requested: Option<i64>,
    expected: Result<(i64, i64), RejectReason>,
}

/// Owned pieces the context borrows from.
struct Ctx {
    now: i64,
    merchant: Option<MerchantId>,
    site: Option<SiteId>,
    device_revoked: bool,
    merchant_revoked: bool,
    limits: Option<OfflineLimits>,
    unsynced_value: i64,
    unsynced_count: u32,
    last_sync_at: i64,
    presented: Option<BeneficiaryBinding>,
}

fn default_ctx() -> Ctx {
    Ctx {
        now: T0 + DAY,
        merchant: Some(MerchantId::parse("shop-kisumu-012").unwrap()),
        site: Some(SiteId::parse("kisumu-east").unwrap()),
        device_revoked: false,
        merchant_revoked: false,
        limits: Some(limits()),
        unsynced_value: 0,
        unsynced_count: 0,
        last_sync_at: T0,
        presented: None,
    }
}

fn single_use() -> VoucherClaims {
    VoucherClaims {
        mode: RedemptionMode::SingleUse,
        ..claims()
    }
}

fn bound() -> VoucherClaims {
    restricted_claims()
}

fn for_other_site() -> VoucherClaims {
    VoucherClaims {
        sites: vec![SiteId::parse("siaya").unwrap()],
        ..claims()
    }
}

fn ben_binding(id: &str) -> Option<BeneficiaryBinding> {
    Some(BeneficiaryBinding::compute(
        &claims().id,
        &BeneficiaryId::parse(id).unwrap(),
    ))
}

const FRESH: CredentialState = CredentialState {
    revoked: false,
    redeemed_minor: 0,
    redeemed_unsynced_minor: 0,
};

#[test]
fn decision_table() {
    let cases = [
        Case {
            name: "full redemption by default",
            claims,
            state: FRESH,
            context: |_| {},
            requested: None,
            expected: Ok((250_000, 0)),
        },
        Case {
            name: "partial redemption",
            claims,
            state: FRESH,
            context: |_| {},
            requested: Some(100_000),
            expected: Ok((100_000, 150_000)),
        },
        Case {
            name: "rest of a partly redeemed voucher",
            claims,
            state: CredentialState {
                redeemed_minor: 100_000,
                ..FRESH
            },
            context: |_| {},
            requested: None,
            expected: Ok((150_000, 0)),
        },
        Case {
            name: "more than is left",
            claims,
            state: CredentialState {
                redeemed_minor: 200_000,
                ..FRESH
            },
            context: |_| {},
            requested: Some(60_000),
            expected: Err(RejectReason::AmountOverBalance {
                remaining: kes_amount(50_000),
            }),
        },
        Case {
            name: "nothing left",
            claims,
            state: CredentialState {
                redeemed_minor: 250_000,
                ..FRESH
            },
            context: |_| {},
            requested: None,
            expected: Err(RejectReason::AlreadyRedeemed),
        },
        Case {
            name: "single use, full",
            claims: single_use,
            state: FRESH,
            context: |_| {},
            requested: None,
            expected: Ok((250_000, 0)),
        },
        Case {
            name: "single use, part refused",
            claims: single_use,
            state: FRESH,
            context: |_| {},
            requested: Some(1_000),
            expected: Err(RejectReason::PartialNotAllowed {
                value: kes_amount(250_000),
            }),
        },
        Case {
            name: "single use, second time",
            claims: single_use,
            state: CredentialState {
                redeemed_minor: 250_000,
                ..FRESH
            },
            context: |_| {},
            requested: None,
            expected: Err(RejectReason::AlreadyRedeemed),
        },
        Case {
            name: "revoked",
            claims,
            state: CredentialState {
                revoked: true,
                ..FRESH
            },
            context: |_| {},
            requested: None,
            expected: Err(RejectReason::Revoked),
        },
        Case {
            name: "terminal revoked",
            claims,
            state: FRESH,
            context: |c| c.device_revoked = true,
            requested: None,
            expected: Err(RejectReason::DeviceRevoked),
        },
        Case {
            name: "terminal revoked comes before everything about the credential",
            claims: bound,
            state: CredentialState {
                revoked: true,
                redeemed_minor: 250_000,
                ..FRESH
            },
            context: |c| {
                c.device_revoked = true;
                c.merchant_revoked = true;
                c.now = T0 + 400 * DAY;
                c.limits = None;
            },
            requested: Some(0),
            expected: Err(RejectReason::DeviceRevoked),
        },
        Case {
            name: "terminal revoked refuses even a small partial redemption",
            claims,
            state: FRESH,
            context: |c| c.device_revoked = true,
            requested: Some(1),
            expected: Err(RejectReason::DeviceRevoked),
        },
        Case {
            name: "merchant suspended",
            claims,
            state: FRESH,
            context: |c| c.merchant_revoked = true,
            requested: None,
            expected: Err(RejectReason::MerchantRevoked),
        },
        Case {
            name: "wrong merchant",
            claims: bound,
            state: FRESH,
            context: |c| {
                c.merchant = Some(MerchantId::parse("shop-other").unwrap());
                c.presented = ben_binding("BEN-0001234");
            },
            requested: None,
            expected: Err(RejectReason::WrongMerchant),
        },
        Case {
            name: "wrong site",
            claims: for_other_site,
            state: FRESH,
            context: |_| {},
            requested: None,
            expected: Err(RejectReason::WrongSite),
        },
        Case {
            name: "not yet valid",
            claims,
            state: FRESH,
            context: |c| c.now = T0 - 301,
            requested: None,
            expected: Err(RejectReason::NotYetValid),
        },
        Case {
            name: "expired",
            claims,
            state: FRESH,
            context: |c| {
                c.now = T0 + 90 * DAY;
                c.last_sync_at = c.now;
            },
            requested: None,
            expected: Err(RejectReason::Expired),
        },
        Case {
            name: "bound voucher without an ID check",
            claims: bound,
            state: FRESH,
            context: |_| {},
            requested: None,
            expected: Err(RejectReason::IdentityCheckRequired),
        },
        Case {
            name: "bound voucher, someone else's ID",
            claims: bound,
            state: FRESH,
            context: |c| c.presented = ben_binding("BEN-9999999"),
            requested: None,
            expected: Err(RejectReason::WrongBeneficiary),
        },
        Case {
            name: "bound voucher, holder's ID",
            claims: bound,
            state: FRESH,
            context: |c| c.presented = ben_binding("BEN-0001234"),
            requested: Some(50_000),
            expected: Ok((50_000, 200_000)),
        },
        Case {
            name: "amount in another currency",
            claims,
            state: FRESH,
            context: |_| {},
            requested: Some(-1),
            expected: Err(RejectReason::CurrencyMismatch {
                requested: Currency::parse("USD").unwrap(),
                voucher: kes(),
            }),
        },
        Case {
            name: "zero amount",
            claims,
            state: FRESH,
            context: |_| {},
            requested: Some(0),
            expected: Err(RejectReason::AmountNotPositive),
        },
        Case {
            name: "no limits for the currency",
            claims,
            state: FRESH,
            context: |c| c.limits = None,
            requested: None,
            expected: Err(RejectReason::NoOfflineLimit(kes())),
        },
        Case {
            name: "offline too long",
            claims,
            state: FRESH,
            context: |c| c.last_sync_at = c.now - 3 * DAY - 1,
            requested: None,
            expected: Err(RejectReason::OfflineTooLong),
        },
        Case {
            name: "exactly at the offline window",
            claims,
            state: FRESH,
            context: |c| c.last_sync_at = c.now - 3 * DAY,
            requested: None,
            expected: Ok((250_000, 0)),
        },
        Case {
            name: "over the per-voucher offline cap",
            claims,
            state: CredentialState {
                redeemed_minor: 200_000,
                redeemed_unsynced_minor: 200_000,
                ..FRESH
            },
            context: |c| c.limits.as_mut().unwrap().credential_value_max_minor = 220_000,
            requested: Some(30_000),
            expected: Err(RejectReason::OverCredentialLimit {
                allowed: kes_amount(20_000),
            }),
        },
        Case {
            name: "over the unsynced value",
            claims,
            state: FRESH,
            context: |c| c.unsynced_value = 900_000,
            requested: None,
            expected: Err(RejectReason::OverUnsyncedValue {
                left: kes_amount(100_000),
            }),
        },
        Case {
            name: "exactly the unsynced value left",
            claims,
            state: FRESH,
            context: |c| c.unsynced_value = 750_000,
            requested: None,
            expected: Ok((250_000, 0)),
        },
        Case {
            name: "over the unsynced count",
            claims,
            state: FRESH,
            context: |c| c.unsynced_count = 100,
            requested: None,
            expected: Err(RejectReason::OverUnsyncedCount),
        },
    ];
    for case in cases {
        let mut ctx = default_ctx();
        (case.context)(&mut ctx);
        let claims = (case.claims)();
        let requested = case.requested.map(|m| {
            if m < 0 {
                Money::new(100, Currency::parse("USD").unwrap())
            } else {
                kes_amount(m)
            }
        });
        let context = TerminalContext {
            now: ctx.now,
            merchant: ctx.merchant.as_ref(),
            site: ctx.site.as_ref(),
            device_revoked: ctx.device_revoked,
            merchant_revoked: ctx.merchant_revoked,
            limits: ctx.limits.as_ref(),
            unsynced_value_minor: ctx.unsynced_value,
            unsynced_count: ctx.unsynced_count,
            last_sync_at: ctx.last_sync_at,
            presented_beneficiary: ctx.presented,
        };
        let decision = decide(&claims.terms(), &case.state, &context, requested);
        let expected = match case.expected {
            Ok((amount, remaining)) => Decision::Accept {
                amount: kes_amount(amount),
                remaining_after: kes_amount(remaining),
            },
            Err(reason) => Decision::Reject(reason),
        };
        assert_eq!(decision, expected, "{}", case.name);
    }
}

#[test]
fn reason_codes_are_distinct() {
    let reasons = [
        RejectReason::DeviceRevoked,
        RejectReason::Revoked,
        RejectReason::MerchantRevoked,
        RejectReason::WrongMerchant,
        RejectReason::WrongSite,
        RejectReason::NotYetValid,
        RejectReason::Expired,
        RejectReason::IdentityCheckRequired,
        RejectReason::WrongBeneficiary,
        RejectReason::AlreadyRedeemed,
        RejectReason::AmountNotPositive,
        RejectReason::OfflineTooLong,
        RejectReason::OverUnsyncedCount,
    ];
    let codes: std::collections::HashSet<_> = reasons.iter().map(RejectReason::code).collect();
    assert_eq!(codes.len(), reasons.len());
}
