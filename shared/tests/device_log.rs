//! Device log: signing, chain verification, and naming the first bad entry.

mod common;

use common::*;
use lastmile_shared::device_log::{
    ChainErrorKind, ChainHead, EntryError, GENESIS_HASH, LogEntry, LogEvent, SignedEntry,
    verify_chain,
};
use lastmile_shared::envelope::EnvelopeError;
use lastmile_shared::id::{DeviceId, IssuerId, OperatorId, ProgrammeId, VoucherId};
use lastmile_shared::money::Money;
use proptest::prelude::*;

fn device() -> DeviceId {
    DeviceId::parse("term-0001").unwrap()
}

fn chain(n: u64) -> Vec<SignedEntry> {
    let mut prev = GENESIS_HASH;
    (1..=n)
        .map(|seq| {
            let entry = LogEntry {
                seq,
                prev,
                device: device(),
                operator: OperatorId::parse("op-amina").unwrap(),
                merchant: None,
                site: None,
                at: T0 + seq as i64,
                event: LogEvent::VoucherRedeemed {
                    voucher: VoucherId::parse(&format!("V-{seq}")).unwrap(),
                    issuer: IssuerId::parse("hq-ke").unwrap(),
                    programme: ProgrammeId::parse("p1").unwrap(),
                    kid: kid("ke-2026a"),
                    amount: Money::new(1000, kes()),
                    remaining_after: Money::new(0, kes()),
                    credential: "LM1:...".into(),
                },
            };
            let signed = SignedEntry::sign(entry, &kid("term-0001"), &key(5));
            prev = signed.hash;
            signed
        })
        .collect()
}

fn check(entries: &[Vec<u8>]) -> Result<ChainHead, lastmile_shared::device_log::ChainError> {
    verify_chain(
        entries.iter().map(Vec::as_slice),
        &device(),
        &kid("term-0001"),
        &key(5).verifying_key(),
        ChainHead::GENESIS,
    )
}

fn bytes(entries: &[SignedEntry]) -> Vec<Vec<u8>> {
    entries.iter().map(|e| e.bytes.clone()).collect()
}

#[test]
fn a_good_chain_verifies_and_continues() {
    let entries = chain(10);
    let head = check(&bytes(&entries[..6])).unwrap();
    assert_eq!(head.seq, 6);
    let rest = bytes(&entries[6..]);
    let end = verify_chain(
        rest.iter().map(Vec::as_slice),
        &device(),
        &kid("term-0001"),
        &key(5).verifying_key(),
        head,
    )
    .unwrap();
    assert_eq!(
        end,
        ChainHead {
            seq: 10,
            hash: entries[9].hash
        }
    );
}

#[test]
fn each_break_is_named() {
    let entries = chain(6);
    let mut gap = bytes(&entries);
    gap.remove(3);
    let e = check(&gap).unwrap_err();
    assert_eq!(
        (e.index, e.seq, e.kind),
        (3, 5, ChainErrorKind::Gap { expected: 4 })
    );

    let mut reordered = bytes(&entries);
    reordered.swap(2, 3);
    let e = check(&reordered).unwrap_err();
    assert_eq!((e.index, e.kind), (2, ChainErrorKind::Gap { expected: 3 }));

    let mut repeated = bytes(&entries);
    repeated.insert(3, entries[1].bytes.clone());
    let e = check(&repeated).unwrap_err();
    assert_eq!((e.index, e.kind), (3, ChainErrorKind::Fork));

    // Re-signing an altered entry with the device key keeps the signature
    // valid but breaks the next link.
    let mut altered = entries[2].entry.clone();
    altered.at += 1;
    let mut relinked = bytes(&entries);
    relinked[2] = SignedEntry::sign(altered, &kid("term-0001"), &key(5)).bytes;
    let e = check(&relinked).unwrap_err();
    assert_eq!((e.index, e.seq, e.kind), (3, 4, ChainErrorKind::BadHash));

    let mut forged = bytes(&entries);
    forged[4] = SignedEntry::sign(entries[4].entry.clone(), &kid("term-0001"), &key(9)).bytes;
    let e = check(&forged).unwrap_err();
    assert_eq!(e.index, 4);
    assert!(matches!(e.kind, ChainErrorKind::BadSignature(_)));
}

#[test]
fn the_last_entry_cannot_be_rewritten_outside_its_signature() {
    // The last entry has no successor whose link would break: only the
    // one-valid-encoding rule stops an unprotected header being added.
    let entries = chain(3);
    let last = &entries[2].bytes;
    let unprotected_at = 3 + usize::from(last[2] & 0x1f);
    assert_eq!(last[unprotected_at], 0xa0);
    let rewritten = [
        &last[..unprotected_at],
        &[0xa1, 0x03, 0x00],
        &last[unprotected_at + 1..],
    ]
    .concat();
    let verifying = key(5).verifying_key();
    assert!(SignedEntry::open(last, &kid("term-0001"), &verifying).is_ok());
    for refused in [
        SignedEntry::open(&rewritten, &kid("term-0001"), &verifying).map(|_| ()),
        SignedEntry::parse_unverified(&rewritten).map(|_| ()),
    ] {
        assert!(matches!(
            refused,
            Err(EntryError::Envelope(EnvelopeError::NotCanonical(_)))
        ));
    }
    let mut all = bytes(&entries);
    all[2] = rewritten;
    let e = check(&all).unwrap_err();
    assert_eq!((e.index, e.seq), (2, 0));
}

proptest! {
    #[test]
    fn flipping_any_bit_of_any_entry_is_caught(which in 0usize..5, position in 0usize..2000, bit in 0u8..8) {
        let entries = chain(5);
        let mut all = bytes(&entries);
        let target = &mut all[which];
        let i = position % target.len();
        target[i] ^= 1 << bit;
        let error = check(&all).unwrap_err();
        prop_assert_eq!(error.index, which);
    }
}
