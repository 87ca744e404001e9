//! Device log entry bytes (as uploaded by a terminal): parsed and
//! chain-checked totally, and accepted only in their one valid encoding:
//! an entry that opens is what the device's signing writes for it.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::device_log::{ChainHead, SignedEntry, verify_chain};
use lastmile_shared::envelope::Envelope;
use lastmile_shared::id::{DeviceId, KeyId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kid = KeyId::parse("term-0001").unwrap();
    let signing = SigningKey::from_bytes(&[5; 32]);
    let key = signing.verifying_key();
    if SignedEntry::parse_unverified(data).is_ok() {
        let envelope = Envelope::parse(data, lastmile_shared::device_log::LOG_ENTRY_BYTES_MAX)
            .expect("an entry that parses has a valid envelope");
        assert_eq!(
            envelope.to_bytes(),
            data,
            "parsed, but rebuilds differently"
        );
    }
    if let Ok(opened) = SignedEntry::open(data, &kid, &key) {
        let resigned = SignedEntry::sign(opened.entry, &kid, &signing);
        assert_eq!(
            resigned.bytes, data,
            "opened, but not the bytes the device signs"
        );
    }
    let device = DeviceId::parse("term-0001").unwrap();
    let _ = verify_chain([data, data], &device, &kid, &key, ChainHead::GENESIS);
});
