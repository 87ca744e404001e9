//! Signed trust list, revocation list, roster and policy bytes: parsed
//! totally, accepted only with the root's signature, and only in their one
//! valid encoding: any envelope that parses rebuilds to the same bytes, and
//! any document that opens is what the root's sealing writes for it.
#![no_main]

use ed25519_dalek::SigningKey;
use lastmile_shared::envelope::{ENVELOPE_BYTES_MAX, Envelope};
use lastmile_shared::id::KeyId;
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::Roster;
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::{RootKey, RootSigned, TrustList};
use libfuzzer_sys::fuzz_target;

/// Re-sealing an opened document with the root (Ed25519 signs
/// deterministically) must give back the bytes it was opened from.
fn reseals_to<T: RootSigned>(
    opened: Result<T, impl std::fmt::Debug>,
    data: &[u8],
    root: &SigningKey,
) {
    if let Ok(document) = opened {
        let kid = KeyId::parse("root-1").unwrap();
        assert_eq!(
            document.seal(&kid, root),
            data,
            "opened, but not the bytes the root seals"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let signing = SigningKey::from_bytes(&[1; 32]);
    let root = RootKey {
        kid: KeyId::parse("root-1").unwrap(),
        key: signing.verifying_key(),
    };
    if let Ok(envelope) = Envelope::parse(data, ENVELOPE_BYTES_MAX) {
        assert_eq!(
            envelope.to_bytes(),
            data,
            "parsed, but rebuilds differently"
        );
    }
    reseals_to(
        TrustList::open_with_store(data, &root, None).map(|(list, _)| list),
        data,
        &signing,
    );
    reseals_to(RevocationList::open(data, &root, Some(1)), data, &signing);
    reseals_to(Roster::open(data, &root, None), data, &signing);
    reseals_to(TerminalPolicy::open(data, &root, None), data, &signing);
    // The payload decoders on their own, as if the signature had passed.
    let _ = lastmile_shared::envelope::decode_cbor::<TrustList>(data);
    let _ = lastmile_shared::envelope::decode_cbor::<Roster>(data);
    let _ = lastmile_shared::envelope::decode_canonical::<Roster>(data);
});
