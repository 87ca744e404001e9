//! QR text → verified voucher: any text yields a voucher or a specific error.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::id::{IssuerId, KeyId};
use lastmile_shared::trust_list::{IssuerKey, KeyStatus, TrustList, TrustStore};
use lastmile_shared::voucher;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

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
            key("ke-2026a", 2, KeyStatus::Active),
            key(
                "ke-2025",
                3,
                KeyStatus::Retired {
                    since: 1_800_000_000,
                },
            ),
        ],
    })
    .unwrap()
});

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = voucher::verify(text, &STORE, 1_793_577_600);
        let _ = voucher::verify_batch(&[text, text], &STORE, 1_793_577_600);
    }
});
