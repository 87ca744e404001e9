//! Deterministic keys and documents for the shared crate's tests, test
//! vectors and benchmarks. Keys come from fixed seeds: never use them for
//! anything real.
#![allow(dead_code)] // each test binary uses a different part

use ed25519_dalek::SigningKey;
use lastmile_shared::id::{IssuerId, KeyId, MerchantId, ProgrammeId, VoucherId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::trust_list::{IssuerKey, KeyStatus, RootKey, TrustList, TrustStore};
use lastmile_shared::voucher::{RedemptionMode, VoucherClaims};

/// 2026-11-01T00:00:00Z
pub const T0: i64 = 1_793_491_200;
pub const DAY: i64 = 86_400;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn kid(text: &str) -> KeyId {
    KeyId::parse(text).unwrap()
}

pub fn kes() -> Currency {
    Currency::parse("KES").unwrap()
}

pub fn root() -> (KeyId, SigningKey) {
    (kid("root-1"), key(1))
}

pub fn root_public() -> RootKey {
    let (kid, key) = root();
    RootKey {
        kid,
        key: key.verifying_key(),
    }
}

pub fn issuer_key(kid_text: &str, seed: u8, status: KeyStatus) -> IssuerKey {
    IssuerKey {
        kid: kid(kid_text),
        issuer: IssuerId::parse("hq-ke").unwrap(),
        public_key: key(seed).verifying_key().to_bytes(),
        valid_from: T0 - 365 * DAY,
        valid_until: T0 + 365 * DAY,
        status,
        programmes: vec![],
    }
}

/// Trust list: `ke-2026a` active (seed 2), `ke-2025` retired at T0 (seed 3),
/// `ke-leaked` revoked (seed 4), `ke-food` active for programme `food-2026`
/// only (seed 7).
pub fn trust_list() -> TrustList {
    let mut food = issuer_key("ke-food", 7, KeyStatus::Active);
    food.programmes = vec![ProgrammeId::parse("food-2026").unwrap()];
    TrustList {
        version: 1,
        issued_at: T0,
        keys: vec![
            issuer_key("ke-2026a", 2, KeyStatus::Active),
            issuer_key("ke-2025", 3, KeyStatus::Retired { since: T0 }),
            issuer_key("ke-leaked", 4, KeyStatus::Revoked { since: T0 }),
            food,
        ],
    }
}

pub fn trust_store() -> TrustStore {
    TrustStore::new(&trust_list()).unwrap()
}

/// A typical voucher: KES 2,500.00, partial, valid for 90 days from T0.
pub fn claims() -> VoucherClaims {
    VoucherClaims {
        id: VoucherId::parse("V-2026-000123").unwrap(),
        issuer: IssuerId::parse("hq-ke").unwrap(),
        programme: ProgrammeId::parse("cash-plus-2026").unwrap(),
        value: Money::new(250_000, kes()),
        issued_at: T0 - DAY,
        valid_from: T0,
        valid_until: T0 + 90 * DAY,
        mode: RedemptionMode::Partial,
        beneficiary: None,
        merchants: vec![],
        sites: vec![],
    }
}

/// A voucher bound to a beneficiary and restricted to one merchant.
pub fn restricted_claims() -> VoucherClaims {
    let mut claims = claims();
    claims.beneficiary = Some(lastmile_shared::voucher::BeneficiaryBinding::compute(
        &claims.id,
        &lastmile_shared::id::BeneficiaryId::parse("BEN-0001234").unwrap(),
    ));
    claims.merchants = vec![MerchantId::parse("shop-kisumu-012").unwrap()];
    claims
}
pub mod deterministic_cbor;
pub mod vectors;
