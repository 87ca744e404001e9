//! Voucher credential: round trips, tampering, test vectors, sizes, batches.

mod common;

use common::*;
use lastmile_shared::money::Money;
use lastmile_shared::voucher::{self, RedemptionMode, VoucherClaims, VoucherError};
use proptest::prelude::*;

const VECTORS: &str = include_str!("vectors/voucher-vectors.json");

#[test]
fn published_vectors_are_current() {
    let published: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    assert_eq!(
        published,
        common::vectors::build(),
        "regenerate with: cargo run -p lastmile-shared --example voucher_vectors > shared/tests/vectors/voucher-vectors.json"
    );
}

#[test]
fn every_vector_verifies_as_published() {
    use lastmile_shared::id::{IssuerId, KeyId, ProgrammeId};
    use lastmile_shared::trust_list::{IssuerKey, KeyStatus, TrustList, TrustStore};
    let published: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    // Build the trust store from the JSON alone, as a third party would.
    let keys = published["trust_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| IssuerKey {
            kid: KeyId::parse(k["kid"].as_str().unwrap()).unwrap(),
            issuer: IssuerId::parse(k["issuer"].as_str().unwrap()).unwrap(),
            public_key: hex::decode(k["public_key_hex"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            valid_from: k["valid_from"].as_i64().unwrap(),
            valid_until: k["valid_until"].as_i64().unwrap(),
            status: match k["status"].as_str().unwrap() {
                "active" => KeyStatus::Active,
                "retired" => KeyStatus::Retired {
                    since: k["since"].as_i64().unwrap(),
                },
                _ => KeyStatus::Revoked {
                    since: k["since"].as_i64().unwrap(),
                },
            },
            programmes: k["programmes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| ProgrammeId::parse(p.as_str().unwrap()).unwrap())
                .collect(),
        })
        .collect();
    let store = TrustStore::new(&TrustList {
        version: 1,
        issued_at: T0,
        keys,
    })
    .unwrap();
    let vectors = published["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 20);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let result = voucher::verify(
            v["qr"].as_str().unwrap(),
            &store,
            v["now"].as_i64().unwrap(),
        );
        match (&v["expected"]["valid"], &v["expected"]["error"], result) {
            (serde_json::Value::Object(expected), _, Ok(verified)) => {
                let c = &verified.claims;
                assert_eq!(expected["id"], c.id.as_str(), "{name}");
                assert_eq!(expected["amount_minor"], c.value.minor, "{name}");
                assert_eq!(expected["currency"], c.value.currency.code(), "{name}");
                assert_eq!(expected["valid_until"], c.valid_until, "{name}");
                assert_eq!(
                    expected["merchants"].as_array().unwrap().len(),
                    c.merchants.len(),
                    "{name}"
                );
            }
            (_, serde_json::Value::String(code), Err(error)) => {
                assert_eq!(code, error.code(), "{name}: {error}")
            }
            (_, _, other) => panic!("{name}: unexpected {other:?}"),
        }
    }
}

/// The smallest QR version (ECC level M) that holds `text` in alphanumeric mode.
fn qr_version(text: &str) -> i16 {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).unwrap();
    match code.version() {
        qrcode::Version::Normal(v) => v,
        qrcode::Version::Micro(v) => v,
    }
}

#[test]
fn vouchers_fit_a_version_10_qr_code_at_level_m() {
    let typical = voucher::encode(&claims(), &kid("ke-2026a"), &key(2));
    let restricted = voucher::encode(&restricted_claims(), &kid("ke-2026a"), &key(2));
    println!(
        "typical: {} chars, QR version {}",
        typical.len(),
        qr_version(&typical)
    );
    println!(
        "restricted: {} chars, QR version {}",
        restricted.len(),
        qr_version(&restricted)
    );
    assert!(
        typical
            .bytes()
            .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b))
    );
    assert!(qr_version(&typical) <= 10);
    assert!(qr_version(&restricted) <= 10);
}

#[test]
fn batch_verification_equals_single_verification() {
    let store = trust_store();
    let now = T0 + DAY;
    let mut texts: Vec<String> = (0..40)
        .map(|i| {
            let mut c = claims();
            c.id = lastmile_shared::id::VoucherId::parse(&format!("V-{i}")).unwrap();
            voucher::encode(&c, &kid("ke-2026a"), &key(2))
        })
        .collect();
    texts[7] = voucher::encode(&claims(), &kid("ke-2026a"), &key(9)); // forged
    texts[21] = "LM1:garbage%%".into();
    texts[30] = voucher::encode(&claims(), &kid("ke-leaked"), &key(4));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = voucher::verify_batch(&refs, &store, now);
    for (text, result) in refs.iter().zip(&batch) {
        assert_eq!(result, &voucher::verify(text, &store, now));
    }
    assert_eq!(batch[7], Err(VoucherError::BadSignature));
    assert_eq!(batch.iter().filter(|r| r.is_ok()).count(), 37);
}

fn arb_claims() -> impl Strategy<Value = VoucherClaims> {
    (
        "[A-Z0-9-]{1,24}",
        1i64..=i64::MAX / 2,
        prop::sample::select(vec!["KES", "XOF", "USD", "BHD", "UGX"]),
        0i64..=4_000_000_000,
        1i64..=400 * DAY,
        any::<bool>(),
        prop::option::of(any::<[u8; 16]>()),
        prop::collection::vec("[a-z0-9-]{1,20}", 0..3),
    )
        .prop_map(
            |(id, minor, currency, start, span, partial, binding, merchants)| VoucherClaims {
                id: lastmile_shared::id::VoucherId::parse(&id).unwrap(),
                issuer: lastmile_shared::id::IssuerId::parse("hq-ke").unwrap(),
                programme: lastmile_shared::id::ProgrammeId::parse("p1").unwrap(),
                value: Money::new(
                    minor,
                    lastmile_shared::money::Currency::parse(currency).unwrap(),
                ),
                issued_at: start,
                valid_from: start,
                valid_until: start + span,
                mode: if partial {
                    RedemptionMode::Partial
                } else {
                    RedemptionMode::SingleUse
                },
                beneficiary: binding.map(lastmile_shared::voucher::BeneficiaryBinding),
                merchants: merchants
                    .iter()
                    .map(|m| lastmile_shared::id::MerchantId::parse(m).unwrap())
                    .collect(),
                sites: vec![],
            },
        )
}

#[test]
fn the_deterministic_cbor_check_refuses_each_non_deterministic_form() {
    assert_eq!(
        deterministic_cbor::check(&[0xa2, 0x01, 0x00, 0x02, 0x00]),
        Ok(())
    );
    for (bytes, why) in [
        (&[0x18, 0x05][..], "one-byte argument below 24"),
        (&[0x19, 0x00, 0xff], "two-byte argument below 256"),
        (
            &[0x3a, 0x00, 0x00, 0x00, 0x01],
            "four-byte negative below 2^16",
        ),
        (&[0x5f, 0x41, 0x00, 0xff], "indefinite byte string"),
        (&[0xa2, 0x02, 0x00, 0x01, 0x00], "unsorted keys"),
        (&[0xa2, 0x01, 0x00, 0x01, 0x00], "duplicate keys"),
        (&[0xf9, 0x3c, 0x00], "a float"),
        (&[0x01, 0x01], "trailing bytes"),
    ] {
        assert!(deterministic_cbor::check(bytes).is_err(), "{why} accepted");
    }
}

/// The COSE bytes inside a voucher text, and its protected header and
/// payload byte strings.
fn layers(text: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use coset::TaggedCborSerializable;
    let cose = base45::decode(&text[4..]).unwrap();
    let sign1 = coset::CoseSign1::from_tagged_slice(&cose).unwrap();
    let protected = sign1.protected.original_data.unwrap();
    (cose, protected, sign1.payload.unwrap())
}

#[test]
fn surrounding_white_space_is_trimmed_and_the_rest_is_the_one_text() {
    let text = voucher::encode(&claims(), &kid("ke-2026a"), &key(2));
    let scanned = format!(" {text}\r\n");
    let decoded = voucher::decode(&scanned).unwrap();
    assert_eq!(decoded.to_text(), text);
    assert!(voucher::verify(&scanned, &trust_store(), T0 + DAY).is_ok());
    // Inside the text nothing is tolerated, not even the lower case that
    // RFC 9285 never writes.
    let lower = format!("LM1:{}", text[4..].to_ascii_lowercase());
    assert_eq!(voucher::decode(&lower).unwrap_err().code(), "bad_base45");
}

/// `ke-2026a` valid at every issue date, so that any generated voucher verifies.
fn timeless_store() -> lastmile_shared::trust_list::TrustStore {
    use lastmile_shared::trust_list::{KeyStatus, TrustList, TrustStore};
    let mut key = issuer_key("ke-2026a", 2, KeyStatus::Active);
    key.valid_from = i64::MIN;
    key.valid_until = i64::MAX;
    TrustStore::new(&TrustList {
        version: 1,
        issued_at: T0,
        keys: vec![key],
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn encode_decode_round_trips(claims in arb_claims()) {
        let text = voucher::encode(&claims, &kid("ke-2026a"), &key(2));
        let decoded = voucher::decode(&text).unwrap();
        prop_assert_eq!(decoded.claims(), &claims);
        prop_assert_eq!(decoded.kid().as_str(), "ke-2026a");
        prop_assert_eq!(decoded.to_text(), text);
    }

    /// Issue and verify agree on the bytes: what the issuer writes is RFC 8949
    /// deterministic CBOR at every layer, checked by a reader written from
    /// the RFC rather than from the encoder.
    #[test]
    fn issued_vouchers_are_deterministic_cbor(claims in arb_claims()) {
        let text = voucher::encode(&claims, &kid("ke-2026a"), &key(2));
        let (cose, protected, payload) = layers(&text);
        prop_assert_eq!(deterministic_cbor::check(&cose), Ok(()));
        prop_assert_eq!(deterministic_cbor::check(&protected), Ok(()));
        prop_assert_eq!(deterministic_cbor::check(&payload), Ok(()));
    }

    /// Every accepted text re-encodes to itself: a damaged or rewritten
    /// text that still decodes is exactly the text its parts encode to, and
    /// one that still verifies is the voucher as issued.
    #[test]
    fn every_accepted_text_re_encodes_to_itself(
        claims in arb_claims(),
        edits in prop::collection::vec((0usize..1024, any::<u8>(), 0u8..3), 1..4),
    ) {
        let text = voucher::encode(&claims, &kid("ke-2026a"), &key(2));
        prop_assert!(voucher::verify(&text, &timeless_store(), claims.valid_from).is_ok());
        let (mut cose, _, _) = layers(&text);
        for (position, byte, kind) in edits {
            let i = position % (cose.len() + 1);
            match kind {
                0 if i < cose.len() => cose[i] = byte,
                1 => cose.insert(i, byte),
                _ if i < cose.len() => { cose.remove(i); }
                _ => cose.push(byte),
            }
        }
        let altered = format!("LM1:{}", base45::encode(&cose));
        if let Ok(decoded) = voucher::decode(&altered) {
            prop_assert_eq!(decoded.to_text(), altered.clone());
        }
        if voucher::verify(&altered, &timeless_store(), claims.valid_from).is_ok() {
            prop_assert_eq!(altered, text);
        }
    }

    #[test]
    fn flipping_any_byte_is_rejected(position in 0usize..400, bit in 0u8..8) {
        let text = voucher::encode(&claims(), &kid("ke-2026a"), &key(2));
        let mut cose = base45::decode(&text[4..]).unwrap();
        let i = position % cose.len();
        cose[i] ^= 1 << bit;
        let altered = format!("LM1:{}", base45::encode(&cose));
        prop_assert!(voucher::verify(&altered, &trust_store(), T0 + DAY).is_err());
    }

    #[test]
    fn changing_any_character_is_rejected(position in 4usize..400, replacement in prop::sample::select(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".to_vec())) {
        let text = voucher::encode(&claims(), &kid("ke-2026a"), &key(2));
        let i = 4 + (position - 4) % (text.len() - 4);
        prop_assume!(text.as_bytes()[i] != replacement);
        let mut bytes = text.into_bytes();
        bytes[i] = replacement;
        let altered = String::from_utf8(bytes).unwrap();
        prop_assert!(voucher::verify(&altered, &trust_store(), T0 + DAY).is_err());
        if let Ok(decoded) = voucher::decode(&altered) {
            prop_assert_eq!(decoded.to_text(), altered);
        }
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in "\\PC{0,600}") {
        let _ = voucher::decode(&text);
        let _ = voucher::decode(&format!("LM1:{text}"));
    }
}
