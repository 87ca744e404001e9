//! Device log entry bytes (as uploaded by a terminal): parsed and chain-checked totally.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::device_log::{ChainHead, SignedEntry, verify_chain};
use lastmile_shared::id::{DeviceId, KeyId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kid = KeyId::parse("term-0001").unwrap();
    let key = SigningKey::from_bytes(&[5; 32]).verifying_key();
    let _ = SignedEntry::parse_unverified(data);
    let _ = SignedEntry::open(data, &kid, &key);
    let device = DeviceId::parse("term-0001").unwrap();
    let _ = verify_chain([data, data], &device, &kid, &key, ChainHead::GENESIS);
});
