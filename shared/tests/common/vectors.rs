//! Builds the voucher test vectors published in
//! `shared/tests/vectors/voucher-vectors.json`.

use ciborium::value::Value;
use coset::cwt::{ClaimsSetBuilder, Timestamp};
use coset::{CborSerializable, TaggedCborSerializable};
use ed25519_dalek::Signer;
use lastmile_shared::envelope;
use lastmile_shared::id::{IssuerId, VoucherId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::trust_list::KeyStatus;
use lastmile_shared::voucher::{self, RedemptionMode};
use serde_json::{Value as Json, json};

use super::*;

/// A CBOR head (RFC 8949 §3.1) in its shortest form, for arguments below 2^16.
fn cbor_head(major: u8, argument: usize) -> Vec<u8> {
    let major = major << 5;
    match u8::try_from(argument) {
        Ok(small) if small < 24 => vec![major | small],
        Ok(byte) => vec![major | 24, byte],
        Err(_) => {
            let [high, low] = u16::try_from(argument).unwrap().to_be_bytes();
            vec![major | 25, high, low]
        }
    }
}

fn bstr(bytes: &[u8]) -> Vec<u8> {
    [cbor_head(2, bytes.len()), bytes.to_vec()].concat()
}

/// `bytes` with the one occurrence of `needle` replaced by `with`.
fn replace(bytes: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let at: Vec<usize> = (0..=bytes.len() - needle.len())
        .filter(|&i| &bytes[i..i + needle.len()] == needle)
        .collect();
    assert_eq!(
        at.len(),
        1,
        "needle {} must occur once",
        hex::encode(needle)
    );
    [&bytes[..at[0]], with, &bytes[at[0] + needle.len()..]].concat()
}

/// The `ke-2026a` signature over exactly these protected-header and payload
/// bytes (the RFC 9052 `Sig_structure`, in shortest form), so that vectors
/// can hold valid signatures over CBOR that is not its one valid encoding.
fn signature(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let to_be_signed = [
        &[0x84, 0x6a][..],
        b"Signature1",
        &bstr(protected),
        &[0x40],
        &bstr(payload),
    ]
    .concat();
    bstr(&key(2).sign(&to_be_signed).to_bytes())
}

/// A tagged COSE_Sign1 put together from its parts as given.
fn cose(protected: &[u8], unprotected: &[u8], payload: &[u8]) -> Vec<u8> {
    [
        &[0xd2, 0x84][..],
        &bstr(protected),
        unprotected,
        &bstr(payload),
        &signature(protected, payload),
    ]
    .concat()
}

fn text_of(cose: &[u8]) -> String {
    format!("LM1:{}", base45::encode(cose))
}

const BASE45_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn base45_digit(c: u8) -> usize {
    BASE45_ALPHABET.iter().position(|&a| a == c).unwrap()
}

/// `digits` base45 characters (least significant first) for `value`.
fn base45_chars(mut value: usize, digits: usize) -> Vec<u8> {
    (0..digits)
        .map(|_| {
            let c = BASE45_ALPHABET[value % 45];
            value /= 45;
            c
        })
        .collect()
}

/// The typical voucher's text with its final pair (one byte, odd-length
/// COSE) rewritten as that byte plus 256: a lenient decoder that keeps the
/// low eight bits reads the same bytes, signature included.
fn final_pair_above_255(text: &str) -> String {
    let (head, pair) = text.split_at(text.len() - 2);
    let pair = pair.as_bytes();
    let value = base45_digit(pair[0]) + 45 * base45_digit(pair[1]);
    let raised = base45_chars(value + 256, 2);
    format!("{head}{}", String::from_utf8(raised).unwrap())
}

/// The first base45 triple that can be raised by 65536 within three
/// characters, raised.
fn triple_above_65535(text: &str) -> String {
    let body = &text.as_bytes()[4..];
    let (i, value) = body
        .chunks_exact(3)
        .map(|t| base45_digit(t[0]) + 45 * base45_digit(t[1]) + 2025 * base45_digit(t[2]))
        .enumerate()
        .find(|(_, v)| v + 65536 < 45 * 45 * 45)
        .unwrap();
    let mut out = body.to_vec();
    out[i * 3..i * 3 + 3].copy_from_slice(&base45_chars(value + 65536, 3));
    format!("LM1:{}", String::from_utf8(out).unwrap())
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

    let mut unknown_programme = claims();
    unknown_programme.id = VoucherId::parse("V-2026-000127").unwrap();
    push(
        "the key may sign only for another programme",
        voucher::encode(&unknown_programme, &kid("ke-food"), &key(7)),
        now,
        error("programme_not_allowed"),
    );
    let mut before_key = claims();
    before_key.issued_at = T0 - 400 * DAY;
    push(
        "issued before its key's validity began",
        voucher::encode(&before_key, &active, &key(2)),
        now,
        error("key_not_valid"),
    );

    // One valid encoding per voucher (docs/voucher-format.md §1.5). The
    // parts outside the signature can be rewritten by anyone holding a
    // voucher; the signed parts only by an issuer. Either way: refused.
    let typical_cose = base45::decode(&typical_qr[4..]).unwrap();
    let protected = [&[0xa2, 0x01, 0x27, 0x04, 0x48][..], b"ke-2026a"].concat();
    let payload = coset::CoseSign1::from_tagged_slice(&typical_cose)
        .unwrap()
        .payload
        .unwrap();
    assert_eq!(
        cose(&protected, &[0xa0], &payload),
        typical_cose,
        "the hand-built COSE_Sign1 must equal the encoder's"
    );
    let signed = signature(&protected, &payload);
    let kid_in_unprotected = [&[0xa1, 0x04, 0x48][..], b"ke-2026a"].concat();
    for (name, cose) in [
        (
            "not canonical: the unprotected header is not empty",
            cose(&protected, &kid_in_unprotected, &payload),
        ),
        (
            "not canonical: tag 55799 (self-described CBOR) before tag 18",
            [&[0xd9, 0xd9, 0xf7][..], &typical_cose].concat(),
        ),
        (
            "not canonical: COSE_Sign1 without tag 18",
            typical_cose[1..].to_vec(),
        ),
        (
            "not canonical: array head in two bytes",
            [&[0xd2, 0x98, 0x04][..], &typical_cose[2..]].concat(),
        ),
        (
            "not canonical: payload length in three bytes",
            [
                &[0xd2, 0x84][..],
                &bstr(&protected),
                &[0xa0, 0x59, 0x00, u8::try_from(payload.len()).unwrap()],
                &payload,
                &signed,
            ]
            .concat(),
        ),
        (
            "not canonical: indefinite-length array",
            [&[0xd2, 0x9f][..], &typical_cose[2..], &[0xff]].concat(),
        ),
        (
            "not canonical: payload as an indefinite-length byte string",
            [
                &[0xd2, 0x84][..],
                &bstr(&protected),
                &[0xa0, 0x5f],
                &bstr(&payload),
                &[0xff],
                &signed,
            ]
            .concat(),
        ),
        (
            "not canonical: a byte after the COSE_Sign1",
            [&typical_cose[..], &[0x00]].concat(),
        ),
        (
            "not canonical: signed protected header with unsorted keys",
            cose(
                &[&[0xa2, 0x04, 0x48][..], b"ke-2026a", &[0x01, 0x27]].concat(),
                &[0xa0],
                &payload,
            ),
        ),
        (
            "not canonical: signed protected header with a content type",
            cose(
                &[&[0xa3, 0x01, 0x27, 0x03, 0x00, 0x04, 0x48][..], b"ke-2026a"].concat(),
                &[0xa0],
                &payload,
            ),
        ),
        (
            "not canonical: signed protected header with the kid length in two bytes",
            cose(
                &[&[0xa2, 0x01, 0x27, 0x04, 0x58, 0x08][..], b"ke-2026a"].concat(),
                &[0xa0],
                &payload,
            ),
        ),
    ] {
        push(name, text_of(&cose), now, error("bad_cose"));
    }
    push(
        "not canonical: the final base45 pair above 255",
        final_pair_above_255(&typical_qr),
        now,
        error("bad_base45"),
    );
    push(
        "not canonical: a base45 triple above 65535",
        triple_above_65535(&typical_qr),
        now,
        error("bad_base45"),
    );
    let amount = [0x02, 0x1a, 0x00, 0x03, 0xd0, 0x90];
    let currency = [0x03, 0x63, b'K', b'E', b'S'];
    let exp = [0x04, 0x1a, 0x6b, 0x5d, 0x28, 0x00];
    let nbf = [0x05, 0x1a, 0x6a, 0xe6, 0x81, 0x00];
    let iss = [&[0x01, 0x65][..], b"hq-ke"].concat();
    let programme = [&[0x01, 0x6e][..], b"cash-plus-2026"].concat();
    for (name, claims) in [
        (
            "not canonical: signed amount as a bignum (tag 2)",
            replace(&payload, &amount, &[0x02, 0xc2, 0x43, 0x03, 0xd0, 0x90]),
        ),
        (
            "not canonical: signed nbf as a negative bignum (tag 3)",
            replace(&payload, &nbf, &[0x05, 0xc3, 0x41, 0x00]),
        ),
        (
            "not canonical: signed amount in eight bytes",
            replace(
                &payload,
                &amount,
                &[0x02, 0x1b, 0, 0, 0, 0, 0x00, 0x03, 0xd0, 0x90],
            ),
        ),
        (
            "not canonical: signed currency with its length in two bytes",
            replace(&payload, &currency, &[0x03, 0x78, 0x03, b'K', b'E', b'S']),
        ),
        (
            "not canonical: signed programme as an indefinite-length text",
            replace(
                &payload,
                &programme,
                &[&[0x01, 0x7f][..], &programme[1..], &[0xff]].concat(),
            ),
        ),
        (
            "not canonical: signed claims map of indefinite length",
            [&[0xbf][..], &payload[1..], &[0xff]].concat(),
        ),
        (
            "not canonical: signed claims with nbf before exp",
            replace(&payload, &[exp, nbf].concat(), &[nbf, exp].concat()),
        ),
        (
            "not canonical: signed claims with iss twice",
            [&[0xa7][..], &iss, &payload[1..]].concat(),
        ),
        (
            "not canonical: signed voucher terms with currency before amount",
            replace(
                &payload,
                &[&amount[..], &currency].concat(),
                &[&currency[..], &amount].concat(),
            ),
        ),
    ] {
        push(
            name,
            text_of(&cose(&protected, &[0xa0], &claims)),
            now,
            error("bad_claims"),
        );
    }

    let list = trust_list();
    json!({
        "description": "Lastmile voucher credential test vectors (docs/voucher-format.md). Verify each `qr` at time `now` (Unix seconds) against `trust_list`; expect `valid` with the decoded claims, or `error` with the code.",
        "trust_list": list.keys.iter().map(|k| {
            let mut entry = json!({
                "kid": k.kid.as_str(),
                "issuer": k.issuer.as_str(),
                "public_key_hex": hex::encode(k.public_key),
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
