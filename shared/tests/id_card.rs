//! ID cards: Claim 169 QR codes made with the reference encoder, and plain
//! ID numbers.

mod common;

use claim169_core::{Claim169, CwtMeta, Encoder};
use common::*;
use lastmile_shared::id_card::{self, IdCardError, IdIssuerKey, IdSource};

fn authority(seed: u8) -> IdIssuerKey {
    IdIssuerKey {
        name: format!("authority-{seed}"),
        ed25519: key(seed).verifying_key().to_bytes(),
    }
}

fn card(seed: u8, expires_at: Option<i64>) -> String {
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
        .sign_with_ed25519(&key(seed).to_bytes())
        .unwrap()
        .encode()
        .unwrap()
        .qr_data
}

#[test]
fn signed_cards_verify_against_a_configured_authority() {
    let qr = card(11, Some(T0 + 365 * DAY));
    let read = id_card::read(&qr, &[authority(10), authority(11)], T0).unwrap();
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
}

#[test]
fn untrusted_expired_and_damaged_cards_are_refused() {
    let qr = card(12, Some(T0 + DAY));
    assert_eq!(
        id_card::read(&qr, &[authority(10)], T0),
        Err(IdCardError::UntrustedSignature)
    );
    assert_eq!(
        id_card::read(&qr, &[authority(12)], T0 + DAY),
        Err(IdCardError::Expired)
    );
    let mut damaged = qr.clone();
    damaged.replace_range(40..44, "0000");
    assert!(id_card::read(&damaged, &[authority(12)], T0).is_err());
    assert_eq!(id_card::read("", &[], T0), Err(IdCardError::Empty));
    assert!(matches!(
        id_card::read(&"9".repeat(9000), &[], T0),
        Err(IdCardError::Oversize { .. })
    ));
}

#[test]
fn plain_numbers_are_read_as_numbers() {
    let read = id_card::read(" 12345678 \n", &[], T0).unwrap();
    assert_eq!(
        (read.id_number.as_str(), read.source),
        ("12345678", IdSource::Number)
    );
}
