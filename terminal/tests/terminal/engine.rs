//! The engine's API: redemption by voucher and by ID, every refusal, cash
//! sessions, operators, the device log and receipts.

use crate::common;

use std::sync::Arc;

use common::*;
use lastmile_shared::device_log::LogEvent;
use lastmile_shared::id::{EntitlementId, OperatorId};
use lastmile_shared::rules::RejectReason;
use lastmile_shared::voucher::{RedemptionMode, VoucherError};
use lastmile_terminal::receipt::{ReceiptItem, ReceiptStatus};
use lastmile_terminal::redemption::{IdEntry, IdInput, VoucherRequest};
use lastmile_terminal::{Error, ManualClock, Terminal};

fn setup(revoked: &[&str]) -> (tempfile::TempDir, ManualClock, Terminal) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let terminal = engine(dir.path(), Arc::new(clock.clone()), revoked);
    (dir, clock, terminal)
}

fn redeem(
    terminal: &mut Terminal,
    qr: &str,
    amount: Option<i64>,
) -> Result<lastmile_terminal::receipt::Receipt, Error> {
    terminal.redeem_voucher(&VoucherRequest {
        qr,
        amount: amount.map(ksh),
        id_card: None,
    })
}

fn rejected(result: Result<impl std::fmt::Debug, Error>) -> RejectReason {
    match result {
        Err(Error::Rejected(reason)) => reason,
        other => panic!("expected a rule refusal, got {other:?}"),
    }
}

fn typed(text: &str) -> IdInput<'_> {
    IdInput {
        text,
        entry: IdEntry::Typed,
    }
}

#[test]
fn full_redemption_is_pending_then_refused_twice() {
    let (_dir, _clock, mut terminal) = setup(&[]);
    let qr = voucher("V-1", 250_000, RedemptionMode::SingleUse, T0);
    let receipt = redeem(&mut terminal, &qr, None).unwrap();
    assert_eq!(receipt.seq, 1);
    assert_eq!(receipt.status, ReceiptStatus::AcceptedOfflinePending);
    assert_eq!(receipt.operator, operator());
    match &receipt.item {
        ReceiptItem::Voucher {
            amount, remaining, ..
        } => {
            assert_eq!(*amount, ksh(250_000));
            assert_eq!(*remaining, ksh(0));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        receipt
            .render_text(32)
            .contains("ACCEPTED OFFLINE — PENDING")
    );
    assert_eq!(
        rejected(redeem(&mut terminal, &qr, None)),
        RejectReason::AlreadyRedeemed
    );
    assert_eq!(terminal.log_head_seq().unwrap(), 1);
}

#[test]
fn partial_redemptions_add_up_to_the_value() {
    let (_dir, _clock, mut terminal) = setup(&[]);
    let qr = voucher("V-2", 10_000, RedemptionMode::Partial, T0);
    let first = redeem(&mut terminal, &qr, Some(2_550)).unwrap();
    assert!(
        matches!(first.item, ReceiptItem::Voucher { remaining, .. } if remaining == ksh(7_450))
    );
    assert_eq!(
        rejected(redeem(&mut terminal, &qr, Some(7_451))),
        RejectReason::AmountOverBalance {
            remaining: ksh(7_450)
        }
    );
    let check = terminal.check_voucher(&qr).unwrap();
    assert_eq!(check.remaining, ksh(7_450));
    assert_eq!(check.full_redemption, Ok(ksh(7_450)));
    let rest = redeem(&mut terminal, &qr, None).unwrap();
    assert!(
        matches!(rest.item, ReceiptItem::Voucher { amount, remaining, .. } if amount == ksh(7_450) && remaining == ksh(0))
    );
    assert_eq!(
        rejected(redeem(&mut terminal, &qr, Some(1))),
        RejectReason::AlreadyRedeemed
    );
    assert_eq!(
        terminal.check_voucher(&qr).unwrap().full_redemption,
        Err("already_redeemed".into())
    );
}

#[test]
fn every_refusal_names_its_reason_and_changes_nothing() {
    let (_dir, clock, mut terminal) = setup(&["V-REVOKED"]);
    let single = voucher("V-S", 10_000, RedemptionMode::SingleUse, T0);
    assert_eq!(
        rejected(redeem(&mut terminal, &single, Some(5_000))),
        RejectReason::PartialNotAllowed { value: ksh(10_000) }
    );
    assert_eq!(
        rejected(redeem(&mut terminal, &single, Some(0))),
        RejectReason::AmountNotPositive
    );
    let revoked = voucher("V-REVOKED", 10_000, RedemptionMode::SingleUse, T0);
    assert_eq!(
        rejected(redeem(&mut terminal, &revoked, None)),
        RejectReason::Revoked
    );

    let mut expired = claims("V-OLD", 10_000, RedemptionMode::SingleUse, T0);
    expired.valid_until = T0 - 1;
    assert!(matches!(
        redeem(&mut terminal, &sign(&expired), None),
        Err(Error::Voucher(VoucherError::Expired { .. }))
    ));
    let mut elsewhere = claims("V-ELSEWHERE", 10_000, RedemptionMode::SingleUse, T0);
    elsewhere.merchants = vec![lastmile_shared::id::MerchantId::parse("other-shop").unwrap()];
    assert_eq!(
        rejected(redeem(&mut terminal, &sign(&elsewhere), None)),
        RejectReason::WrongMerchant
    );
    let mut over = claims("V-BIG", 2_000_000, RedemptionMode::SingleUse, T0);
    over.mode = RedemptionMode::Partial;
    assert_eq!(
        rejected(redeem(&mut terminal, &sign(&over), None)),
        RejectReason::OverCredentialLimit {
            allowed: ksh(1_000_000)
        }
    );
    let mut dollars = claims("V-USD", 1_000, RedemptionMode::SingleUse, T0);
    dollars.value = lastmile_shared::money::Money::new(
        1_000,
        lastmile_shared::money::Currency::parse("USD").unwrap(),
    );
    assert!(matches!(
        rejected(redeem(&mut terminal, &sign(&dollars), None)),
        RejectReason::NoOfflineLimit(_)
    ));

    // Voucher errors: damaged, forged, not a voucher.
    let forged = lastmile_shared::voucher::encode(
        &claims("V-FORGED", 10_000, RedemptionMode::SingleUse, T0),
        &kid("ke-2026a"),
        &key(99),
    );
    assert!(matches!(
        redeem(&mut terminal, &forged, None),
        Err(Error::Voucher(VoucherError::BadSignature))
    ));
    assert!(matches!(
        redeem(&mut terminal, "hello", None),
        Err(Error::Voucher(VoucherError::NotAVoucher))
    ));
    let mut damaged = single.clone();
    damaged.replace_range(20..22, "$$");
    assert!(matches!(
        redeem(&mut terminal, &damaged, None),
        Err(Error::Voucher(_))
    ));

    // Bound vouchers need the holder's ID.
    let bound = bound_voucher("V-BOUND", T0);
    assert_eq!(
        rejected(redeem(&mut terminal, &bound, None)),
        RejectReason::IdentityCheckRequired
    );
    let wrong_person = terminal.redeem_voucher(&VoucherRequest {
        qr: &bound,
        amount: None,
        id_card: Some(typed("KE-87654321")),
    });
    assert_eq!(rejected(wrong_person), RejectReason::WrongBeneficiary);

    // Offline too long.
    clock.advance(8 * DAY);
    terminal.login(&operator(), PIN).unwrap();
    let fresh = voucher("V-LATE", 10_000, RedemptionMode::SingleUse, T0);
    assert_eq!(
        rejected(redeem(&mut terminal, &fresh, None)),
        RejectReason::OfflineTooLong
    );

    // Nothing was written by any of these.
    assert_eq!(terminal.log_head_seq().unwrap(), 0);
    assert_eq!(terminal.status().unwrap().pending_count, 0);

    // And the bound voucher goes through with the right card.
    clock.set(T0);
    let card = id_card(PERSON_ID, &id_authority(), T0);
    let receipt = terminal
        .redeem_voucher(&VoucherRequest {
            qr: &bound,
            amount: None,
            id_card: Some(IdInput {
                text: &card,
                entry: IdEntry::Scanned,
            }),
        })
        .unwrap();
    assert_eq!(receipt.seq, 1);
}

#[test]
fn offline_limits_of_pending_value_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut terminal = Terminal::open(dir.path(), Arc::new(clock.clone())).unwrap();
    let mut b = bundle(T0, &[]);
    let mut tight = limits();
    tight.unsynced_value_max_minor = 15_000;
    tight.unsynced_count_max = 2;
    let (root_kid, root_key) = root();
    use lastmile_shared::trust_list::RootSigned;
    b.policy = serde_bytes::ByteBuf::from(policy(T0, 1, vec![tight]).seal(&root_kid, &root_key));
    terminal.provision(&b).unwrap();
    terminal.add_operator(&operator(), "Amina", PIN).unwrap();
    terminal.login(&operator(), PIN).unwrap();
    redeem(
        &mut terminal,
        &voucher("V-A", 10_000, RedemptionMode::SingleUse, T0),
        None,
    )
    .unwrap();
    assert_eq!(
        rejected(redeem(
            &mut terminal,
            &voucher("V-B", 10_000, RedemptionMode::SingleUse, T0),
            None
        )),
        RejectReason::OverUnsyncedValue { left: ksh(5_000) }
    );
    redeem(
        &mut terminal,
        &voucher("V-C", 1_000, RedemptionMode::SingleUse, T0),
        None,
    )
    .unwrap();
    assert_eq!(
        rejected(redeem(
            &mut terminal,
            &voucher("V-D", 1_000, RedemptionMode::SingleUse, T0),
            None
        )),
        RejectReason::OverUnsyncedCount
    );
    let status = terminal.status().unwrap();
    assert_eq!(status.pending_count, 2);
    assert_eq!(status.pending_value, vec![ksh(11_000)]);
    assert_eq!(status.limits[0].unsynced_value_left, ksh(4_000));
    assert_eq!(status.limits[0].unsynced_count_left, 0);
}

#[test]
fn id_redemption_by_number_and_by_claim_169_card() {
    let (_dir, _clock, mut terminal) = setup(&[]);
    let person = terminal.identify(typed("ke 1234-5678")).unwrap();
    assert_eq!(person.name, "Amina Wanjiru");
    assert_eq!(
        person.entitlements.len(),
        1,
        "only merchant entitlements here"
    );
    let food = EntitlementId::parse("ENT-FOOD-1").unwrap();
    let receipt = terminal
        .redeem_entitlement(typed(PERSON_ID), &food, Some(ksh(120_000)))
        .unwrap();
    let entry = terminal.log_entry(receipt.seq).unwrap();
    assert!(matches!(
        entry.entry.event,
        LogEvent::EntitlementRedeemed { identity: lastmile_shared::device_log::IdentityCheck::Manual, remaining_after, .. }
            if remaining_after == ksh(380_000)
    ));
    let card = id_card(PERSON_ID, &id_authority(), T0);
    let scanned = IdInput {
        text: &card,
        entry: IdEntry::Scanned,
    };
    let person = terminal.identify(scanned).unwrap();
    assert_eq!(person.card_name.as_deref(), Some("Amina Wanjiru"));
    assert_eq!(person.entitlements[0].remaining, ksh(380_000));
    let receipt = terminal.redeem_entitlement(scanned, &food, None).unwrap();
    let entry = terminal.log_entry(receipt.seq).unwrap();
    assert!(matches!(
        entry.entry.event,
        LogEvent::EntitlementRedeemed { identity: lastmile_shared::device_log::IdentityCheck::SignedIdCard, amount, .. }
            if amount == ksh(380_000)
    ));
    assert_eq!(
        rejected(terminal.redeem_entitlement(scanned, &food, None)),
        RejectReason::AlreadyRedeemed
    );
    // Refusals: unknown person, untrusted card, cash entitlement at a merchant.
    assert!(matches!(
        terminal.identify(typed("KE-00000000")),
        Err(Error::PersonNotFound(_))
    ));
    let forged = id_card(PERSON_ID, &key(66), T0);
    assert!(matches!(
        terminal.identify(IdInput {
            text: &forged,
            entry: IdEntry::Scanned
        }),
        Err(Error::IdCard(
            lastmile_shared::id_card::IdCardError::UntrustedSignature
        ))
    ));
    let cash = EntitlementId::parse("ENT-CASH-1").unwrap();
    assert!(matches!(
        terminal.redeem_entitlement(typed(PERSON_ID), &cash, None),
        Err(Error::CashEntitlement(_))
    ));
}

#[test]
fn cash_session_pays_once_and_closes_with_variance() {
    let (_dir, _clock, mut terminal) = setup(&[]);
    let cash1 = EntitlementId::parse("ENT-CASH-1").unwrap();
    let cash2 = EntitlementId::parse("ENT-CASH-2").unwrap();
    let cash3 = EntitlementId::parse("ENT-CASH-3").unwrap();
    assert!(matches!(
        terminal.pay_cash(typed(PERSON_ID), &cash1),
        Err(Error::NoCashSession)
    ));
    terminal.open_cash_session(ksh(1_000_000)).unwrap();
    assert!(matches!(
        terminal.open_cash_session(ksh(1)),
        Err(Error::CashSessionOpen(1))
    ));
    let list = terminal.distribution_list().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|line| !line.paid));
    let check = terminal.identify_for_cash(typed(PERSON_ID)).unwrap();
    assert_eq!(check.name, "Amina Wanjiru");
    assert!(check.photo.is_some());
    assert_eq!(check.entitlements[0].entitlement.id, cash1);

    terminal.pay_cash(typed(PERSON_ID), &cash1).unwrap();
    assert_eq!(
        rejected(terminal.pay_cash(typed(PERSON_ID), &cash1)),
        RejectReason::AlreadyRedeemed
    );
    terminal.pay_cash(typed("KE-87654321"), &cash2).unwrap();
    // 10 000.00 - 3 000.00 - 4 000.00 = 3 000.00 left; 9 000.00 is too much.
    assert!(matches!(
        terminal.pay_cash(typed("KE-55555555"), &cash3),
        Err(Error::FloatTooSmall { available, .. }) if available == ksh(300_000)
    ));
    let merchant = EntitlementId::parse("ENT-FOOD-1").unwrap();
    assert!(matches!(
        terminal.pay_cash(typed(PERSON_ID), &merchant),
        Err(Error::MerchantEntitlement(_))
    ));
    let report = terminal.close_cash_session(ksh(299_000)).unwrap();
    assert_eq!(report.session.expected, ksh(300_000));
    assert_eq!(report.variance, ksh(-1_000));
    assert_eq!(report.payouts.len(), 2);
    assert!(report.render_text(32).contains("Variance"));
    assert_eq!(terminal.cash_report(1).unwrap(), report);

    // Across sessions: still paid once.
    terminal.open_cash_session(ksh(1_000_000)).unwrap();
    assert_eq!(
        rejected(terminal.pay_cash(typed(PERSON_ID), &cash1)),
        RejectReason::AlreadyRedeemed
    );
    terminal.pay_cash(typed("KE-55555555"), &cash3).unwrap();
    let paid: Vec<bool> = terminal
        .distribution_list()
        .unwrap()
        .iter()
        .map(|l| l.paid)
        .collect();
    assert_eq!(paid, vec![true, true, true]);
    let closed = terminal.receipt(None).unwrap();
    assert!(matches!(
        closed.item,
        ReceiptItem::CashPayout { session: 2, .. }
    ));
    terminal.verify_log().unwrap();
}

#[test]
fn operators_lock_after_repeated_wrong_pins_and_name_every_entry() {
    let (_dir, clock, mut terminal) = setup(&[]);
    let clerk = OperatorId::parse("op-baraka").unwrap();
    terminal.add_operator(&clerk, "Baraka", "90210").unwrap();
    assert!(matches!(
        terminal.add_operator(&clerk, "Baraka", "90210"),
        Err(Error::OperatorExists(_))
    ));
    assert!(matches!(
        terminal.add_operator(&OperatorId::parse("x").unwrap(), "X", "12"),
        Err(Error::BadPin)
    ));
    for left in (1..5).rev() {
        assert!(
            matches!(terminal.login(&clerk, "00000"), Err(Error::WrongPin { attempts_left }) if attempts_left == left)
        );
    }
    assert!(matches!(
        terminal.login(&clerk, "00000"),
        Err(Error::LockedOut {
            minutes_left: 15,
            ..
        })
    ));
    assert!(matches!(
        terminal.login(&clerk, "90210"),
        Err(Error::LockedOut { .. })
    ));
    // A failed attempt does not log the current operator out.
    assert_eq!(
        terminal.current_login().unwrap().unwrap().operator,
        operator()
    );
    clock.advance(lastmile_terminal::operator::LOCKOUT_SECONDS);
    terminal.login(&clerk, "90210").unwrap();
    let receipt = redeem(
        &mut terminal,
        &voucher("V-OP", 100, RedemptionMode::SingleUse, T0),
        None,
    )
    .unwrap();
    assert_eq!(receipt.operator, clerk);
    terminal.logout().unwrap();
    assert!(matches!(
        redeem(
            &mut terminal,
            &voucher("V-OP2", 100, RedemptionMode::SingleUse, T0),
            None
        ),
        Err(Error::NotLoggedIn)
    ));
    terminal.login(&operator(), PIN).unwrap();
    clock.advance(lastmile_terminal::operator::LOGIN_SECONDS_MAX);
    assert!(matches!(
        redeem(
            &mut terminal,
            &voucher("V-OP3", 100, RedemptionMode::SingleUse, T0),
            None
        ),
        Err(Error::NotLoggedIn)
    ));
}

#[test]
fn log_survives_reopening_and_verify_names_a_tampered_entry() {
    let (dir, clock, mut terminal) = setup(&[]);
    for i in 0..3 {
        redeem(
            &mut terminal,
            &voucher(&format!("V-T{i}"), 1_000, RedemptionMode::SingleUse, T0),
            None,
        )
        .unwrap();
    }
    let check = terminal.verify_log().unwrap();
    assert_eq!(check.entries, 3);
    drop(terminal);

    let terminal = Terminal::open(dir.path(), Arc::new(clock.clone())).unwrap();
    assert_eq!(terminal.verify_log().unwrap(), check);
    let reprint = terminal.receipt(Some(2)).unwrap();
    assert_eq!(reprint.status, ReceiptStatus::AcceptedOfflinePending);
    assert!(reprint.verification.ends_with(&reprint.entry_hash));
    let mut export = Vec::new();
    assert_eq!(terminal.export_log(&mut export).unwrap(), 3);
    let lines: Vec<serde_json::Value> = String::from_utf8(export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["seq"], 2);
    assert_eq!(lines[1]["status"], "pending");
    assert_eq!(lines[1]["event"]["kind"], "voucher_redeemed");
    assert_eq!(lines[1]["operator"], OPERATOR);
    drop(terminal);

    // Flip one byte inside the second entry's signed bytes.
    let conn = rusqlite::Connection::open(dir.path().join("terminal.sqlite3")).unwrap();
    let mut bytes: Vec<u8> = conn
        .query_row("SELECT bytes FROM log_entries WHERE seq = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    conn.execute("UPDATE log_entries SET bytes = ?1 WHERE seq = 2", [&bytes])
        .unwrap();
    drop(conn);
    let terminal = Terminal::open(dir.path(), Arc::new(clock)).unwrap();
    match terminal.verify_log() {
        Err(Error::LogDamaged { seq: 2, .. }) => {}
        other => panic!("expected damage at entry 2, got {other:?}"),
    }
}

#[test]
fn device_key_is_private_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _clock, terminal) = setup(&[]);
    let mode = std::fs::metadata(dir.path().join("device.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let key =
        lastmile_terminal::device_key::DeviceKey::load(&dir.path().join("device.key")).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains("<redacted>"));
    assert_eq!(Some(key.public()), terminal.device_public_key());
    // A key file others can read is refused.
    std::fs::set_permissions(
        dir.path().join("device.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    drop(terminal);
    assert!(matches!(
        Terminal::open(dir.path(), Arc::new(ManualClock::new(T0))),
        Err(Error::DeviceKey(
            lastmile_terminal::device_key::DeviceKeyError::Exposed { .. }
        ))
    ));
}

#[test]
fn provisioning_refuses_documents_not_signed_by_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::open(dir.path(), Arc::new(ManualClock::new(T0))).unwrap();
    let mut b = bundle(T0, &[]);
    use lastmile_shared::trust_list::RootSigned;
    b.trust_list = serde_bytes::ByteBuf::from(trust_list(T0).seal(&kid("root-1"), &key(77)));
    assert!(matches!(
        terminal.provision(&b),
        Err(Error::Document {
            what: "trust list",
            ..
        })
    ));
    assert!(terminal.enrolment().is_none());
    assert!(matches!(
        redeem(
            &mut terminal,
            &voucher("V-X", 1, RedemptionMode::SingleUse, T0),
            None
        ),
        Err(Error::NotEnrolled)
    ));
    terminal.provision(&bundle(T0, &[])).unwrap();
    assert!(matches!(
        terminal.provision(&bundle(T0, &[])),
        Err(Error::AlreadyEnrolled(_))
    ));
}

/// A terminal provisioned with a revocation list that names `devices` and `merchants`.
fn setup_with_revoked(
    devices: &[&str],
    merchants: &[&str],
) -> (tempfile::TempDir, ManualClock, Terminal) {
    use lastmile_shared::id::{DeviceId, MerchantId};
    use lastmile_shared::trust_list::RootSigned;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut list = revocations(T0, &[]);
    list.devices = devices
        .iter()
        .map(|d| DeviceId::parse(d).unwrap())
        .collect();
    list.merchants = merchants
        .iter()
        .map(|m| MerchantId::parse(m).unwrap())
        .collect();
    let (root_kid, root_key) = root();
    let mut bundle = bundle(T0, &[]);
    bundle.revocations = Some(serde_bytes::ByteBuf::from(list.seal(&root_kid, &root_key)));
    let mut terminal = Terminal::open(dir.path(), Arc::new(clock.clone())).unwrap();
    terminal.provision(&bundle).unwrap();
    terminal.add_operator(&operator(), "Amina", PIN).unwrap();
    terminal.login(&operator(), PIN).unwrap();
    (dir, clock, terminal)
}

/// Every way of moving money is refused with `reason`, and nothing but the cash session
/// opening is logged.
fn refuses_every_spend(terminal: &mut Terminal, reason: &RejectReason) {
    let qr = voucher("V-R", 10_000, RedemptionMode::SingleUse, T0);
    assert_eq!(&rejected(redeem(terminal, &qr, None)), reason);
    assert_eq!(
        terminal.check_voucher(&qr).unwrap().full_redemption,
        Err(reason.code().to_owned())
    );
    let food = EntitlementId::parse("ENT-FOOD-1").unwrap();
    assert_eq!(
        &rejected(terminal.redeem_entitlement(typed(PERSON_ID), &food, None)),
        reason
    );
    terminal.open_cash_session(ksh(1_000_000)).unwrap();
    let cash = EntitlementId::parse("ENT-CASH-1").unwrap();
    assert_eq!(
        &rejected(terminal.pay_cash(typed(PERSON_ID), &cash)),
        reason
    );
    assert_eq!(
        terminal.verify_log().unwrap().entries,
        1,
        "only the session opened"
    );
}

#[test]
fn a_revoked_terminal_refuses_to_redeem_or_pay_out() {
    let (_dir, _clock, mut terminal) = setup_with_revoked(&[DEVICE], &[]);
    refuses_every_spend(&mut terminal, &RejectReason::DeviceRevoked);
    let error = Error::Rejected(RejectReason::DeviceRevoked);
    assert_eq!(error.code(), "device_revoked");
    assert_eq!(
        lastmile_terminal::i18n::message(lastmile_terminal::i18n::Language::English, &error),
        "this terminal has been revoked and may not redeem or pay out; contact headquarters"
    );

    // Another terminal on the list changes nothing here.
    let (_dir, _clock, mut terminal) = setup_with_revoked(&["term-0002"], &["other-shop"]);
    let qr = voucher("V-FINE", 10_000, RedemptionMode::SingleUse, T0);
    redeem(&mut terminal, &qr, None).unwrap();
}

#[test]
fn a_terminal_of_a_revoked_merchant_refuses_to_redeem_or_pay_out() {
    let (_dir, _clock, mut terminal) = setup_with_revoked(&[], &[MERCHANT]);
    refuses_every_spend(&mut terminal, &RejectReason::MerchantRevoked);
}

/// What the GUI asks before Confirm: the same rules as the redemption, and nothing written.
#[test]
fn previews_decide_like_the_redemption_and_write_nothing() {
    let (_dir, _clock, mut terminal) = setup(&[]);
    let mut big = claims("V-PREVIEW", 2_000_000, RedemptionMode::Partial, T0);
    big.mode = RedemptionMode::Partial;
    let qr = sign(&big);
    let preview = |terminal: &mut Terminal, minor: i64| {
        terminal.preview_voucher(&VoucherRequest {
            qr: &qr,
            amount: Some(ksh(minor)),
            id_card: None,
        })
    };
    let within = preview(&mut terminal, 1_000_000).unwrap();
    assert_eq!(
        (within.amount, within.remaining_after),
        (ksh(1_000_000), ksh(1_000_000))
    );
    assert_eq!(
        rejected(preview(&mut terminal, 1_000_001)),
        RejectReason::OverCredentialLimit {
            allowed: ksh(1_000_000)
        },
        "the per-voucher offline limit"
    );
    assert_eq!(
        rejected(preview(&mut terminal, 2_000_001)),
        RejectReason::AmountOverBalance {
            remaining: ksh(2_000_000)
        }
    );
    assert_eq!(
        terminal.log_head_seq().unwrap(),
        0,
        "a preview writes nothing"
    );
    redeem(&mut terminal, &qr, Some(1_000_000)).unwrap();
    assert_eq!(
        rejected(preview(&mut terminal, 1)),
        RejectReason::OverCredentialLimit { allowed: ksh(0) },
        "the preview sees what was redeemed"
    );

    let food = EntitlementId::parse("ENT-FOOD-1").unwrap();
    assert_eq!(
        rejected(terminal.preview_entitlement(typed(PERSON_ID), &food, Some(ksh(500_001)))),
        RejectReason::AmountOverBalance {
            remaining: ksh(500_000)
        }
    );
    let cash = EntitlementId::parse("ENT-CASH-1").unwrap();
    assert!(matches!(
        terminal.preview_cash_payout(typed(PERSON_ID), &cash),
        Err(Error::NoCashSession)
    ));
    terminal.open_cash_session(ksh(100_000)).unwrap();
    assert!(matches!(
        terminal.preview_cash_payout(typed(PERSON_ID), &cash),
        Err(Error::FloatTooSmall { available, needed })
            if available == ksh(100_000) && needed == ksh(300_000)
    ));
    assert_eq!(terminal.cash_session().unwrap().unwrap().payouts, 0);
}

#[test]
fn a_clock_set_back_records_nothing_and_time_never_runs_backwards() {
    let (_dir, clock, mut terminal) = setup(&[]);
    let first = redeem(
        &mut terminal,
        &voucher("V-T1", 1_000, RedemptionMode::SingleUse, T0),
        None,
    )
    .unwrap();
    assert_eq!(first.at, T0);
    // A few seconds behind (a server time read in whole seconds): stamped
    // with the latest time seen, never before it.
    clock.set(T0 - lastmile_terminal::terminal::CLOCK_BEHIND_TOLERANCE_SECONDS);
    let second = redeem(
        &mut terminal,
        &voucher("V-T2", 1_000, RedemptionMode::SingleUse, T0),
        None,
    )
    .unwrap();
    assert_eq!(second.at, T0);
    // An hour behind: refused, and nothing recorded.
    clock.set(T0 - 3_600);
    let refused = redeem(
        &mut terminal,
        &voucher("V-T3", 1_000, RedemptionMode::SingleUse, T0),
        None,
    );
    assert!(
        matches!(refused, Err(Error::ClockBehind { now, latest_seen })
            if now == T0 - 3_600 && latest_seen == T0),
        "{refused:?}"
    );
    assert_eq!(terminal.log_head_seq().unwrap(), 2);
    assert_eq!(terminal.status().unwrap().pending_count, 2);
    // Set right again, it redeems.
    clock.set(T0 + 10);
    let third = redeem(
        &mut terminal,
        &voucher("V-T3", 1_000, RedemptionMode::SingleUse, T0),
        None,
    )
    .unwrap();
    assert_eq!(third.at, T0 + 10);
}
