//! Signed trust list, revocation list, roster and policy bytes: parsed
//! totally, accepted only with the root's signature.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::id::KeyId;
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::Roster;
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::{RootKey, RootSigned, TrustList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = RootKey {
        kid: KeyId::parse("root-1").unwrap(),
        key: SigningKey::from_bytes(&[1; 32]).verifying_key(),
    };
    let _ = TrustList::open_with_store(data, &root, None);
    let _ = RevocationList::open(data, &root, Some(1));
    let _ = Roster::open(data, &root, None);
    let _ = TerminalPolicy::open(data, &root, None);
    // The payload decoders on their own, as if the signature had passed.
    let _ = lastmile_shared::envelope::decode_cbor::<TrustList>(data);
    let _ = lastmile_shared::envelope::decode_cbor::<Roster>(data);
});
