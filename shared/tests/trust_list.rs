//! Trust lists, revocation lists and rosters: root signatures, versions,
//! key rotation.

mod common;

use ciborium::value::Value;
use common::*;
use lastmile_shared::envelope::EnvelopeError;
use lastmile_shared::id::{KeyId, VoucherId};
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::trust_list::{
    DocumentError, KeyStatus, RootKey, RootSigned, TrustList, TrustListError,
};
use lastmile_shared::voucher::{self, VoucherError};

#[test]
fn only_the_enrolled_root_and_newer_versions_are_accepted() {
    let (root_kid, root_key) = root();
    let sealed = trust_list().seal(&root_kid, &root_key);
    let (list, store) = TrustList::open_with_store(&sealed, &root_public(), None).unwrap();
    assert_eq!((list.version, store.len()), (1, 4));

    assert!(matches!(
        TrustList::open_with_store(&sealed, &root_public(), Some(1)),
        Err(TrustListError::Document(DocumentError::NotNewer {
            offered: 1,
            held: 1
        }))
    ));
    let impostor = trust_list().seal(&root_kid, &key(9));
    assert!(matches!(
        TrustList::open_with_store(&impostor, &root_public(), None),
        Err(TrustListError::Document(DocumentError::Envelope(_)))
    ));
    let other_root = trust_list().seal(&KeyId::parse("root-2").unwrap(), &key(9));
    assert!(matches!(
        TrustList::open_with_store(&other_root, &root_public(), None),
        Err(TrustListError::Document(DocumentError::WrongRoot { .. }))
    ));
    let mut truncated = sealed.clone();
    truncated.truncate(sealed.len() - 3);
    assert!(TrustList::open_with_store(&truncated, &root_public(), None).is_err());
}

#[test]
fn malformed_keys_are_refused() {
    let (root_kid, root_key) = root();
    let mut list = trust_list();
    list.keys.push(list.keys[0].clone());
    assert!(matches!(
        TrustList::open_with_store(&list.seal(&root_kid, &root_key), &root_public(), None),
        Err(TrustListError::DuplicateKey(_))
    ));
    let mut weak = trust_list();
    weak.keys[0].public_key = [0; 32]; // a small-order point
    weak.keys[0].public_key[0] = 1;
    assert!(matches!(
        TrustList::open_with_store(&weak.seal(&root_kid, &root_key), &root_public(), None),
        Err(TrustListError::InvalidKey(_))
    ));
}

#[test]
fn rotation_keeps_old_vouchers_valid_and_revocation_kills_them() {
    let (root_kid, root_key) = root();
    let old_voucher = voucher::encode(&claims(), &kid("ke-2026a"), &key(2));
    let now = T0 + DAY;

    // Version 2: ke-2026b becomes active, ke-2026a retires from now on.
    let mut v2 = trust_list();
    v2.version = 2;
    v2.keys[0].status = KeyStatus::Retired { since: now };
    v2.keys.push(issuer_key("ke-2026b", 6, KeyStatus::Active));
    let (_, store) =
        TrustList::open_with_store(&v2.seal(&root_kid, &root_key), &root_public(), Some(1))
            .unwrap();
    assert!(voucher::verify(&old_voucher, &store, now).is_ok());
    let mut fresh = claims();
    fresh.issued_at = now;
    assert!(
        voucher::verify(
            &voucher::encode(&fresh, &kid("ke-2026b"), &key(6)),
            &store,
            now
        )
        .is_ok()
    );
    assert!(matches!(
        voucher::verify(
            &voucher::encode(&fresh, &kid("ke-2026a"), &key(2)),
            &store,
            now
        ),
        Err(VoucherError::KeyRetired { .. })
    ));

    // Version 3: ke-2026a is found compromised.
    let mut v3 = v2.clone();
    v3.version = 3;
    v3.keys[0].status = KeyStatus::Revoked { since: now };
    let (_, store) =
        TrustList::open_with_store(&v3.seal(&root_kid, &root_key), &root_public(), Some(2))
            .unwrap();
    assert!(matches!(
        voucher::verify(&old_voucher, &store, now),
        Err(VoucherError::KeyRevoked(_))
    ));
}

#[test]
fn revocation_lists_are_root_signed_and_versioned() {
    let (root_kid, root_key) = root();
    let mut list = RevocationList {
        version: 7,
        issued_at: T0,
        ..Default::default()
    };
    list.vouchers
        .insert(VoucherId::parse("V-2026-000123").unwrap());
    let sealed = list.seal(&root_kid, &root_key);
    let opened = RevocationList::open(&sealed, &root_public(), Some(6)).unwrap();
    assert_eq!(opened, list);
    assert!(RevocationList::open(&sealed, &root_public(), Some(7)).is_err());
    let other = RootKey {
        kid: root_public().kid,
        key: key(9).verifying_key(),
    };
    assert!(RevocationList::open(&sealed, &other, None).is_err());
}

/// The root's CBOR payload for `list`, rebuilt with `edit` applied to its
/// top-level map, then sealed by the root.
fn sealed_with(list: &TrustList, edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let bytes = lastmile_shared::envelope::encode_cbor(list);
    let Value::Map(mut fields) = ciborium::from_reader(bytes.as_slice()).unwrap() else {
        panic!("a trust list is a map");
    };
    edit(&mut fields);
    let mut payload = Vec::new();
    ciborium::into_writer(&Value::Map(fields), &mut payload).unwrap();
    let (root_kid, root_key) = root();
    lastmile_shared::envelope::seal_bytes(payload, &root_kid, &root_key)
}

fn refused_as_not_canonical(bytes: &[u8]) -> bool {
    matches!(
        TrustList::open_with_store(bytes, &root_public(), None),
        Err(TrustListError::Document(DocumentError::Envelope(
            EnvelopeError::NotCanonical(_)
        )))
    )
}

#[test]
fn a_signed_document_has_one_valid_encoding() {
    let list = trust_list();
    let (root_kid, root_key) = root();
    let sealed = list.seal(&root_kid, &root_key);
    // The rebuilding helper itself changes nothing.
    assert_eq!(sealed_with(&list, |_| {}), sealed);
    assert!(TrustList::open_with_store(&sealed, &root_public(), None).is_ok());

    // Unsigned parts rewritten by anyone: an unprotected header, a longer head.
    let protected_len = usize::from(sealed[2] & 0x1f);
    let unprotected_at = 3 + protected_len;
    assert_eq!(sealed[unprotected_at], 0xa0);
    let with_header = [
        &sealed[..unprotected_at],
        &[0xa1, 0x03, 0x00],
        &sealed[unprotected_at + 1..],
    ]
    .concat();
    assert!(refused_as_not_canonical(&with_header));
    let long_array = [&[0xd2, 0x98, 0x04][..], &sealed[2..]].concat();
    assert!(refused_as_not_canonical(&long_array));

    // Signed by the root, but not what its encoder writes: an unknown
    // field, fields out of order, a bignum version.
    let unknown = sealed_with(&list, |fields| {
        fields.push((Value::Text("note".into()), Value::Text("ignored?".into())));
    });
    assert!(refused_as_not_canonical(&unknown));
    let reordered = sealed_with(&list, |fields| fields.reverse());
    assert!(refused_as_not_canonical(&reordered));
    let bignum = sealed_with(&list, |fields| {
        fields[0].1 = Value::Tag(2, Box::new(Value::Bytes(vec![1])));
    });
    assert!(refused_as_not_canonical(&bignum));
}
