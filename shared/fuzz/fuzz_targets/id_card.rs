//! Scanned ID text (Claim 169 QR or an ID number) → ID card or a specific error.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::id_card::{self, IdAuthorities, IdIssuerKey, IdKeyAlgorithm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let authority = IdIssuerKey::new(
            "registry",
            "registry-1",
            IdKeyAlgorithm::Ed25519,
            SigningKey::from_bytes(&[11; 32]).verifying_key().to_bytes().to_vec(),
            0,
            None,
        )
        .unwrap();
        let authorities = IdAuthorities {
            active: &[authority],
            retired: &[],
        };
        let _ = id_card::read(text, authorities, 1_793_577_600);
    }
});
