//! Builds the voucher test vectors published in
//! `shared/tests/vectors/voucher-vectors.json`.

use ciborium::value::Value;
use coset::CborSerializable;
use coset::cwt::{ClaimsSetBuilder, Timestamp};
use lastmile_shared::envelope;
use lastmile_shared::id::{IssuerId, VoucherId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::trust_list::KeyStatus;
use lastmile_shared::voucher::{self, RedemptionMode};
use serde_json::{Value as Json, json};

use super::*;

fn hex_key(seed: u8) -> String {
    hex::encode(key(seed).verifying_key().to_bytes())
}

fn status_json(status: KeyStatus) -> Json {
    match status {
        KeyStatus::Active => json!({"status": "active"}),
        KeyStatus::Retired { since } => json!({"status": "retired", "since": since}),
        KeyStatus::Revoked { since } => json!({"status": "revoked", "since": since}),
    }
}

/// Flips the lowest bit of the first byte of `needle` in the COSE bytes (or
/// of the byte at `fallback` when the needle is empty).
fn tamper(text: &str, needle: &[u8], fallback: usize) -> String {
    let mut cose = base45::decode(&text[4..]).unwrap();
    let i = cose
        .windows(needle.len().max(1))
        .position(|w| !needle.is_empty() && w == needle)
        .unwrap_or(fallback);
    cose[i] ^= 0x01;
    format!("LM1:{}", base45::encode(&cose))
}

fn claims_json(claims: &voucher::VoucherClaims) -> Json {
    json!({
        "id": claims.id.as_str(),
        "issuer": claims.issuer.as_str(),
        "programme": claims.programme.as_str(),
        "amount_minor": claims.value.minor,
        "currency": claims.value.currency.code(),
        "issued_at": claims.issued_at,
        "valid_from": claims.valid_from,
        "valid_until": claims.valid_until,
        "mode": match claims.mode { RedemptionMode::SingleUse => "single_use", RedemptionMode::Partial => "partial" },
        "beneficiary_binding": claims.beneficiary.map(|b| hex::encode(b.0)),
        "merchants": claims.merchants.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "sites": claims.sites.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
}

/// Signs an arbitrary CWT claims set, for vectors with invalid contents.
fn sign_raw_claims(claims: coset::cwt::ClaimsSet) -> String {
    let cose = envelope::seal_bytes(claims.to_vec().unwrap(), &kid("ke-2026a"), &key(2));
    format!("LM1:{}", base45::encode(&cose))
}

pub fn build() -> Json {
    let now = T0 + DAY;
    let active = kid("ke-2026a");
    let mut vectors: Vec<Json> = Vec::new();
    let mut push = |name: &str, qr: String, now: i64, expected: Json| {
        vectors.push(json!({"name": name, "qr": qr, "now": now, "expected": expected}));
    };
    let valid = |c: &voucher::VoucherClaims| json!({"valid": claims_json(c)});
    let error = |code: &str| json!({"error": code});

    let typical = claims();
    let typical_qr = voucher::encode(&typical, &active, &key(2));
    push(
        "typical partial voucher",
        typical_qr.clone(),
        now,
        valid(&typical),
    );

    let restricted = restricted_claims();
    push(
        "bound to a beneficiary, restricted to one merchant",
        voucher::encode(&restricted, &active, &key(2)),
        now,
        valid(&restricted),
    );

    let mut single = claims();
    single.id = VoucherId::parse("V-2026-000124").unwrap();
    single.value = Money::new(15_000, Currency::parse("XOF").unwrap());
    single.mode = RedemptionMode::SingleUse;
    push(
        "single-use voucher in a currency without minor units",
        voucher::encode(&single, &active, &key(2)),
        now,
        valid(&single),
    );

    let mut before_retirement = claims();
    before_retirement.issued_at = T0 - 10 * DAY;
    push(
        "retired key, voucher issued before retirement",
        voucher::encode(&before_retirement, &kid("ke-2025"), &key(3)),
        now,
        valid(&before_retirement),
    );
    let mut after_retirement = claims();
    after_retirement.issued_at = T0 + 1;
    push(
        "retired key, voucher issued after retirement",
        voucher::encode(&after_retirement, &kid("ke-2025"), &key(3)),
        now,
        error("key_retired"),
    );
    push(
        "revoked key",
        voucher::encode(&typical, &kid("ke-leaked"), &key(4)),
        now,
        error("key_revoked"),
    );
    push(
        "unknown key",
        voucher::encode(&typical, &kid("ke-unknown"), &key(9)),
        now,
        error("unknown_key"),
    );
    push(
        "forged: signed by another key under an active key id",
        voucher::encode(&typical, &active, &key(9)),
        now,
        error("bad_signature"),
    );
    push(
        "altered: one character of the programme changed",
        tamper(&typical_qr, b"cash-plus", 0),
        now,
        error("bad_signature"),
    );
    push(
        "altered: one signature byte flipped",
        tamper(&typical_qr, b"", 150),
        now,
        error("bad_signature"),
    );
    push(
        "expired",
        typical_qr.clone(),
        typical.valid_until,
        error("expired"),
    );
    push(
        "not yet valid",
        typical_qr.clone(),
        typical.valid_from - 301,
        error("not_yet_valid"),
    );
    push(
        "within clock skew before valid_from",
        typical_qr.clone(),
        typical.valid_from - 300,
        valid(&typical),
    );
    let mut foreign = claims();
    foreign.issuer = IssuerId::parse("hq-ug").unwrap();
    push(
        "issuer does not own the key",
        voucher::encode(&foreign, &active, &key(2)),
        now,
        error("wrong_issuer"),
    );
    push(
        "another scheme's prefix",
        format!("HC1:{}", &typical_qr[4..]),
        now,
        error("not_a_voucher"),
    );
    push(
        "a future format version",
        format!("LM2:{}", &typical_qr[4..]),
        now,
        error("unsupported_version"),
    );
    push(
        "damaged base45",
        "LM1:6BF%%+ZZ".to_owned(),
        now,
        error("bad_base45"),
    );
    push(
        "base45 of something that is not COSE",
        format!("LM1:{}", base45::encode(b"hello, world")),
        now,
        error("bad_cose"),
    );
    push(
        "oversize input",
        format!("LM1:{}", "A".repeat(1100)),
        now,
        error("oversize"),
    );
    let missing_amount = ClaimsSetBuilder::new()
        .issuer("hq-ke".into())
        .expiration_time(Timestamp::WholeSeconds(T0 + 90 * DAY))
        .not_before(Timestamp::WholeSeconds(T0))
        .issued_at(Timestamp::WholeSeconds(T0 - DAY))
        .cwt_id(b"V-2026-000125".to_vec())
        .private_claim(
            voucher::CLAIM_LASTMILE_VOUCHER,
            Value::Map(vec![
                (Value::from(1u8), Value::Text("cash-plus-2026".into())),
                (Value::from(3u8), Value::Text("KES".into())),
                (Value::from(4u8), Value::from(1u8)),
            ]),
        )
        .build();
    push(
        "signed, but the amount claim is missing",
        sign_raw_claims(missing_amount),
        now,
        error("bad_claims"),
    );
    let unknown_claim = ClaimsSetBuilder::new()
        .issuer("hq-ke".into())
        .expiration_time(Timestamp::WholeSeconds(T0 + 90 * DAY))
        .not_before(Timestamp::WholeSeconds(T0))
        .issued_at(Timestamp::WholeSeconds(T0 - DAY))
        .cwt_id(b"V-2026-000126".to_vec())
        .private_claim(
            voucher::CLAIM_LASTMILE_VOUCHER,
            Value::Map(vec![
                (Value::from(1u8), Value::Text("cash-plus-2026".into())),
                (Value::from(2u8), Value::from(100u8)),
                (Value::from(3u8), Value::Text("KES".into())),
                (Value::from(4u8), Value::from(1u8)),
                (
                    Value::from(8u8),
                    Value::Text("a restriction this verifier does not know".into()),
                ),
            ]),
        )
        .build();
    push(
        "signed, with an unknown voucher claim",
        sign_raw_claims(unknown_claim),
        now,
        error("bad_claims"),
    );

    let list = trust_list();
    json!({
        "description": "Lastmile voucher credential test vectors (docs/voucher-format.md). Verify each `qr` at time `now` (Unix seconds) against `trust_list`; expect `valid` with the decoded claims, or `error` with the code.",
        "trust_list": list.keys.iter().map(|k| {
            let mut entry = json!({
                "kid": k.kid.as_str(),
                "issuer": k.issuer.as_str(),
                "public_key_hex": hex_key(match k.kid.as_str() { "ke-2026a" => 2, "ke-2025" => 3, _ => 4 }),
                "valid_from": k.valid_from,
                "valid_until": k.valid_until,
                "programmes": k.programmes.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            });
            entry.as_object_mut().unwrap().extend(status_json(k.status).as_object().unwrap().clone());
            entry
        }).collect::<Vec<_>>(),
        "vectors": vectors,
    })
}
