//! QR text → verified voucher: any text yields a voucher or a specific error,
//! and a voucher has one valid text: whatever is accepted re-encodes to the
//! same text, and re-issuing what verifies (Ed25519 signs deterministically)
//! gives that text again.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::id::{IssuerId, KeyId};
use lastmile_shared::trust_list::{IssuerKey, KeyStatus, TrustList, TrustStore};
use lastmile_shared::voucher;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// The issuer keys' seeds, as in the seed corpus (`shared/examples/fuzz_seeds.rs`).
const KEYS: [(&str, u8); 2] = [("ke-2026a", 2), ("ke-2025", 3)];
const NOW: i64 = 1_793_577_600;

fn signing_key(kid: &KeyId) -> SigningKey {
    let (_, seed) = KEYS
        .iter()
        .find(|(name, _)| *name == kid.as_str())
        .expect("only keys in the store verify");
    SigningKey::from_bytes(&[*seed; 32])
}

static STORE: LazyLock<TrustStore> = LazyLock::new(|| {
    let key = |kid: &str, seed: u8, status| IssuerKey {
        kid: KeyId::parse(kid).unwrap(),
        issuer: IssuerId::parse("hq-ke").unwrap(),
        public_key: SigningKey::from_bytes(&[seed; 32])
            .verifying_key()
            .to_bytes(),
        valid_from: 0,
        valid_until: i64::MAX,
        status,
        programmes: vec![],
    };
    TrustStore::new(&TrustList {
        version: 1,
        issued_at: 0,
        keys: vec![
            key(KEYS[0].0, KEYS[0].1, KeyStatus::Active),
            key(
                KEYS[1].0,
                KEYS[1].1,
                KeyStatus::Retired {
                    since: 1_800_000_000,
                },
            ),
        ],
    })
    .unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if let Ok(decoded) = voucher::decode(text) {
        assert_eq!(
            decoded.to_text(),
            trimmed,
            "accepted, but re-encodes differently"
        );
    }
    let verified = voucher::verify(text, &STORE, NOW);
    if let Ok(accepted) = &verified {
        let reissued = voucher::encode(&accepted.claims, &accepted.kid, &signing_key(&accepted.kid));
        assert_eq!(
            reissued, trimmed,
            "verified, but not the text its issuer writes"
        );
    }
    let batch = voucher::verify_batch(&[text, text], &STORE, NOW);
    assert!(batch.iter().all(|result| *result == verified));
});
