//! ID cards: Claim 169 QR codes made with `claim169-core`'s encoder, verified
//! against registered ID authorities, and plain ID numbers.

mod common;

use claim169_core::{Claim169, CwtMeta, EcdsaP256Signer, Ed25519Signer, Encoder};
use common::*;
use coset::iana;
use lastmile_shared::id::KeyId;
use lastmile_shared::id_card::{
    self, IdAuthorities, IdCardError, IdIssuerKey, IdKeyAlgorithm, IdKeyError, IdSource,
    RetiredIdIssuer,
};

fn authority(seed: u8) -> IdIssuerKey {
    IdIssuerKey::new(
        &format!("authority-{seed}"),
        &format!("kid-{seed}"),
        IdKeyAlgorithm::Ed25519,
        key(seed).verifying_key().to_bytes().to_vec(),
        T0 - 365 * DAY,
        Some(T0 + 365 * DAY),
    )
    .unwrap()
}

fn claims(expires_at: Option<i64>) -> Encoder {
    let claim = Claim169 {
        id: Some("KE-12345678".into()),
        full_name: Some("Amina Wanjiru".into()),
        date_of_birth: Some("19880412".into()),
        photo: Some(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]),
        ..Default::default()
    };
    let meta = CwtMeta {
        issuer: Some("ke-registry".into()),
        expires_at,
        ..Default::default()
    };
    Encoder::new(claim, meta)
}

/// A card signed by `key(seed)`, naming `kid` in its header (or none).
fn card(seed: u8, kid: Option<&str>, expires_at: Option<i64>) -> String {
    let mut signer = Ed25519Signer::from_bytes(&key(seed).to_bytes()).unwrap();
    if let Some(kid) = kid {
        signer.set_key_id(kid.as_bytes().to_vec());
    }
    claims(expires_at)
        .sign_with(signer, iana::Algorithm::EdDSA)
        .encode()
        .unwrap()
        .qr_data
}

fn only(active: &[IdIssuerKey]) -> IdAuthorities<'_> {
    IdAuthorities {
        active,
        retired: &[],
    }
}

#[test]
fn signed_cards_verify_against_the_authority_their_kid_names() {
    let qr = card(11, Some("kid-11"), Some(T0 + 365 * DAY));
    let read = id_card::read(&qr, only(&[authority(10), authority(11)]), T0).unwrap();
    assert_eq!(read.id_number, "KE-12345678");
    assert_eq!(read.full_name.as_deref(), Some("Amina Wanjiru"));
    assert_eq!(
        read.photo.as_deref(),
        Some(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3][..])
    );
    assert_eq!(
        read.source,
        IdSource::SignedClaim169 {
            authority: "authority-11".into()
        }
    );
    // A card without a kid is tried against every registered key.
    let bare = card(11, None, None);
    assert!(id_card::read(&bare, only(&[authority(10), authority(11)]), T0).is_ok());
    assert_eq!(
        id_card::read(&bare, only(&[authority(10)]), T0),
        Err(IdCardError::UntrustedSignature)
    );
}

#[test]
fn es256_cards_verify_against_a_p256_authority() {
    let signer = EcdsaP256Signer::from_bytes(&[7; 32]).unwrap();
    let public = signer.public_key_uncompressed();
    let mut signer = signer;
    signer.set_key_id(b"p256-1".to_vec());
    let qr = claims(None)
        .sign_with(signer, iana::Algorithm::ES256)
        .encode()
        .unwrap()
        .qr_data;
    let p256 = IdIssuerKey::new(
        "ES256 registry",
        "p256-1",
        IdKeyAlgorithm::Es256,
        public,
        T0,
        None,
    )
    .unwrap();
    let read = id_card::read(&qr, only(std::slice::from_ref(&p256)), T0).unwrap();
    assert_eq!(read.id_number, "KE-12345678");
    // The same kid registered as an Ed25519 key does not verify it.
    let mut wrong = authority(10);
    wrong.kid = KeyId::parse("p256-1").unwrap();
    assert_eq!(
        id_card::read(&qr, only(&[wrong]), T0),
        Err(IdCardError::BadSignature {
            name: "authority-10".into(),
            kid: "p256-1".into()
        })
    );
}

#[test]
fn unknown_retired_forged_and_out_of_window_cards_are_refused_with_their_reason() {
    let qr = card(12, Some("kid-12"), Some(T0 + DAY));
    assert_eq!(
        id_card::read(&qr, only(&[authority(10)]), T0),
        Err(IdCardError::UnknownAuthority {
            kid: "kid-12".into()
        })
    );
    let retired = [RetiredIdIssuer {
        name: "authority-12".into(),
        kid: KeyId::parse("kid-12").unwrap(),
        retired_at: T0 - DAY,
    }];
    let authorities = IdAuthorities {
        active: &[authority(10)],
        retired: &retired,
    };
    assert_eq!(
        id_card::read(&qr, authorities, T0),
        Err(IdCardError::RetiredAuthority {
            name: "authority-12".into(),
            kid: "kid-12".into()
        })
    );
    // Signed by another key than the one its kid names.
    let forged = card(66, Some("kid-12"), None);
    assert_eq!(
        id_card::read(&forged, only(&[authority(12)]), T0),
        Err(IdCardError::BadSignature {
            name: "authority-12".into(),
            kid: "kid-12".into()
        })
    );
    assert_eq!(
        id_card::read(&qr, only(&[authority(12)]), T0 + 366 * DAY),
        Err(IdCardError::AuthorityNotValid {
            name: "authority-12".into(),
            kid: "kid-12".into()
        })
    );
    assert_eq!(
        id_card::read(&qr, only(&[authority(12)]), T0 + DAY),
        Err(IdCardError::Expired)
    );
    // A kid that is no key id is shown in hexadecimal.
    let odd = card(12, Some("k\u{e9}y"), None);
    assert_eq!(
        id_card::read(&odd, only(&[authority(12)]), T0),
        Err(IdCardError::UnknownAuthority {
            kid: "hex:6bc3a979".into()
        })
    );
    let mut damaged = qr.clone();
    damaged.replace_range(40..44, "0000");
    assert!(id_card::read(&damaged, only(&[authority(12)]), T0).is_err());
    assert_eq!(
        id_card::read("", IdAuthorities::default(), T0),
        Err(IdCardError::Empty)
    );
    assert!(matches!(
        id_card::read(&"9".repeat(9000), IdAuthorities::default(), T0),
        Err(IdCardError::Oversize { .. })
    ));
}

#[test]
fn authority_keys_are_parsed_with_a_specific_error() {
    let ed = key(1).verifying_key().to_bytes().to_vec();
    let new = |name: &str, kid: &str, alg, key: Vec<u8>, until| {
        IdIssuerKey::new(name, kid, alg, key, T0, until)
    };
    assert!(matches!(
        new(" ", "k", IdKeyAlgorithm::Ed25519, ed.clone(), None),
        Err(IdKeyError::BadName(_))
    ));
    assert!(matches!(
        new("A", "k y", IdKeyAlgorithm::Ed25519, ed.clone(), None),
        Err(IdKeyError::BadKeyId(_))
    ));
    assert_eq!(
        new("A", "k", IdKeyAlgorithm::Ed25519, ed[..31].to_vec(), None),
        Err(IdKeyError::KeyLength {
            algorithm: IdKeyAlgorithm::Ed25519,
            expected: "32",
            len: 31
        })
    );
    assert_eq!(
        new("A", "k", IdKeyAlgorithm::Es256, vec![4; 65], None),
        Err(IdKeyError::BadKey(IdKeyAlgorithm::Es256))
    );
    assert_eq!(
        new("A", "k", IdKeyAlgorithm::Ed25519, ed.clone(), Some(T0)),
        Err(IdKeyError::EmptyWindow {
            from: T0,
            until: T0
        })
    );
    assert_eq!(
        IdIssuerKey::from_hex("A", "k", IdKeyAlgorithm::Ed25519, "zz", T0, None),
        Err(IdKeyError::NotHex)
    );
    assert_eq!(IdKeyAlgorithm::parse("es256"), Ok(IdKeyAlgorithm::Es256));
    assert_eq!(IdKeyAlgorithm::parse("EdDSA"), Ok(IdKeyAlgorithm::Ed25519));
    assert!(matches!(
        IdKeyAlgorithm::parse("RS256"),
        Err(IdKeyError::UnknownAlgorithm(_))
    ));
}

#[test]
fn plain_numbers_are_read_as_numbers() {
    let read = id_card::read(" 12345678 \n", IdAuthorities::default(), T0).unwrap();
    assert_eq!(
        (read.id_number.as_str(), read.source),
        ("12345678", IdSource::Number)
    );
}

/// The cards `scripts/claim169-fixtures.py` wrote with an encoder of its
/// own (cbor2, cryptography, zlib, base45 by hand), not `claim169-core`.
mod independent_encoder {
    use super::*;

    const AUTHORITIES: &str = include_str!("fixtures/claim169/authorities.json");

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/claim169/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn registered() -> Vec<IdIssuerKey> {
        let listed: Vec<serde_json::Value> = serde_json::from_str(AUTHORITIES).unwrap();
        listed
            .iter()
            .map(|a| {
                let text = |field: &str| a[field].as_str().unwrap();
                IdIssuerKey::from_hex(
                    text("name"),
                    text("kid"),
                    IdKeyAlgorithm::parse(text("algorithm")).unwrap(),
                    text("public_key"),
                    T0 - 365 * DAY,
                    None,
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn its_ed25519_and_es256_cards_verify() {
        let keys = registered();
        let card = id_card::read(&fixture("registered"), only(&keys), T0).unwrap();
        assert_eq!(card.id_number, "20000002");
        assert_eq!(card.full_name.as_deref(), Some("Baraka Mwangi"));
        assert_eq!(card.date_of_birth.as_deref(), Some("19900101"));
        assert_eq!(
            card.source,
            IdSource::SignedClaim169 {
                authority: "Kenya National Registration Bureau".into()
            }
        );
        let card = id_card::read(&fixture("es256"), only(&keys), T0).unwrap();
        assert_eq!(card.id_number, "20000003");
    }

    #[test]
    fn its_unregistered_and_forged_cards_are_refused() {
        let keys = registered();
        assert_eq!(
            id_card::read(&fixture("unregistered"), only(&keys), T0),
            Err(IdCardError::UnknownAuthority {
                kid: "xx-rogue-1".into()
            })
        );
        assert_eq!(
            id_card::read(&fixture("forged"), only(&keys), T0),
            Err(IdCardError::BadSignature {
                name: "Kenya National Registration Bureau".into(),
                kid: "ke-nrb-2027".into()
            })
        );
    }
}
