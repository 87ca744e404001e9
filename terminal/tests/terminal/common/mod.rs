//! Fixtures for the terminal's tests and benchmark: fixed keys (never use
//! them for anything real), signed documents, vouchers, ID cards, and a
//! provisioned engine or data directory.
#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, IssuerId, KeyId, MerchantId, OperatorId, ProgrammeId,
    SiteId, VoucherId,
};
use lastmile_shared::id_card::{IdIssuerKey, IdKeyAlgorithm};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::{Delivery, Entitlement, Roster, RosterPerson};
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::{IssuerKey, KeyStatus, RootSigned, TrustList};
use lastmile_shared::voucher::{self, BeneficiaryBinding, RedemptionMode, VoucherClaims};
use lastmile_terminal::enrolment::ProvisionBundle;
use lastmile_terminal::{Clock, Terminal};
use serde_bytes::ByteBuf;

/// 2026-11-01T00:00:00Z
pub const T0: i64 = 1_793_491_200;
pub const DAY: i64 = 86_400;
pub const OPERATOR: &str = "op-amina";
pub const PIN: &str = "4711";
pub const DEVICE: &str = "term-0001";
pub const MERCHANT: &str = "shop-kisumu-012";
pub const SITE: &str = "site-kisumu";
/// The roster person with a merchant entitlement and a cash entitlement.
pub const PERSON_ID: &str = "KE-12345678";
pub const PERSON_BENEFICIARY: &str = "BEN-0001";

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}
pub fn kid(text: &str) -> KeyId {
    KeyId::parse(text).unwrap()
}
pub fn kes() -> Currency {
    Currency::parse("KES").unwrap()
}
pub fn ksh(minor: i64) -> Money {
    Money::new(minor, kes())
}
pub fn root() -> (KeyId, SigningKey) {
    (kid("root-1"), key(1))
}
/// The ID authority whose Claim 169 cards the terminal accepts.
pub fn id_authority() -> SigningKey {
    key(10)
}

/// Unix time now, for tests that run the real binary (system clock).
pub fn wall_clock() -> i64 {
    lastmile_terminal::SystemClock.now()
}

pub fn trust_list(now: i64) -> TrustList {
    TrustList {
        version: 1,
        issued_at: now,
        keys: vec![IssuerKey {
            kid: kid("ke-2026a"),
            issuer: IssuerId::parse("hq-ke").unwrap(),
            public_key: key(2).verifying_key().to_bytes(),
            valid_from: now - 365 * DAY,
            valid_until: now + 365 * DAY,
            status: KeyStatus::Active,
            programmes: vec![],
        }],
    }
}

pub fn limits() -> OfflineLimits {
    OfflineLimits {
        currency: kes(),
        credential_value_max_minor: 1_000_000,
        unsynced_value_max_minor: 100_000_000,
        unsynced_count_max: 100_000,
        offline_seconds_max: 7 * DAY,
    }
}

pub fn policy(now: i64, version: u64, limits: Vec<OfflineLimits>) -> TerminalPolicy {
    TerminalPolicy {
        version,
        issued_at: now,
        device: DeviceId::parse(DEVICE).unwrap(),
        merchant: Some(MerchantId::parse(MERCHANT).unwrap()),
        site: Some(SiteId::parse(SITE).unwrap()),
        limits,
        id_authorities: vec![IdIssuerKey {
            name: "ke-registry".into(),
            kid: kid("ke-registry-1"),
            algorithm: IdKeyAlgorithm::Ed25519,
            public_key: id_authority().verifying_key().to_bytes().to_vec(),
            valid_from: now - 365 * DAY,
            valid_until: None,
        }],
        id_authorities_retired: Vec::new(),
    }
}

fn entitlement(
    id: &str,
    minor: i64,
    mode: RedemptionMode,
    delivery: Delivery,
    now: i64,
) -> Entitlement {
    Entitlement {
        id: EntitlementId::parse(id).unwrap(),
        programme: ProgrammeId::parse("cash-plus-2026").unwrap(),
        value: ksh(minor),
        valid_from: now - DAY,
        valid_until: now + 90 * DAY,
        mode,
        delivery,
    }
}

pub fn roster(now: i64) -> Roster {
    let person = |beneficiary: &str, name: &str, id: &str, entitlements| RosterPerson {
        beneficiary: BeneficiaryId::parse(beneficiary).unwrap(),
        name: name.into(),
        id_numbers: vec![id.into()],
        date_of_birth: Some("19880412".into()),
        photo: Some(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]),
        entitlements,
    };
    Roster {
        version: 1,
        issued_at: now,
        site: Some(SiteId::parse(SITE).unwrap()),
        merchant: Some(MerchantId::parse(MERCHANT).unwrap()),
        people: vec![
            person(
                PERSON_BENEFICIARY,
                "Amina Wanjiru",
                PERSON_ID,
                vec![
                    entitlement(
                        "ENT-FOOD-1",
                        500_000,
                        RedemptionMode::Partial,
                        Delivery::Merchant,
                        now,
                    ),
                    entitlement(
                        "ENT-CASH-1",
                        300_000,
                        RedemptionMode::SingleUse,
                        Delivery::Cash,
                        now,
                    ),
                ],
            ),
            person(
                "BEN-0002",
                "Baraka Otieno",
                "KE-87654321",
                vec![entitlement(
                    "ENT-CASH-2",
                    400_000,
                    RedemptionMode::SingleUse,
                    Delivery::Cash,
                    now,
                )],
            ),
            person(
                "BEN-0003",
                "Chausiku Njeri",
                "KE-55555555",
                vec![entitlement(
                    "ENT-CASH-3",
                    900_000,
                    RedemptionMode::SingleUse,
                    Delivery::Cash,
                    now,
                )],
            ),
        ],
    }
}

pub fn revocations(now: i64, vouchers: &[&str]) -> RevocationList {
    RevocationList {
        version: 1,
        issued_at: now,
        vouchers: vouchers
            .iter()
            .map(|v| VoucherId::parse(v).unwrap())
            .collect(),
        ..Default::default()
    }
}

/// A provisioning bundle with everything signed by the test root.
pub fn bundle(now: i64, revoked: &[&str]) -> ProvisionBundle {
    let (root_kid, root_key) = root();
    ProvisionBundle {
        device: DeviceId::parse(DEVICE).unwrap(),
        device_kid: kid("term-0001-k1"),
        merchant: Some(MerchantId::parse(MERCHANT).unwrap()),
        site: Some(SiteId::parse(SITE).unwrap()),
        root_kid: root_kid.clone(),
        root_public_key: ByteBuf::from(root_key.verifying_key().to_bytes().to_vec()),
        trust_list: ByteBuf::from(trust_list(now).seal(&root_kid, &root_key)),
        policy: ByteBuf::from(policy(now, 1, vec![limits()]).seal(&root_kid, &root_key)),
        revocations: Some(ByteBuf::from(
            revocations(now, revoked).seal(&root_kid, &root_key),
        )),
        roster: Some(ByteBuf::from(roster(now).seal(&root_kid, &root_key))),
        voucher_book: None,
    }
}

pub fn claims(id: &str, minor: i64, mode: RedemptionMode, now: i64) -> VoucherClaims {
    VoucherClaims {
        id: VoucherId::parse(id).unwrap(),
        issuer: IssuerId::parse("hq-ke").unwrap(),
        programme: ProgrammeId::parse("cash-plus-2026").unwrap(),
        value: ksh(minor),
        issued_at: now - DAY,
        valid_from: now - DAY,
        valid_until: now + 90 * DAY,
        mode,
        beneficiary: None,
        merchants: vec![],
        sites: vec![],
    }
}

pub fn sign(claims: &VoucherClaims) -> String {
    voucher::encode(claims, &kid("ke-2026a"), &key(2))
}

/// A voucher worth `minor` KES cents from the test issuer.
pub fn voucher(id: &str, minor: i64, mode: RedemptionMode, now: i64) -> String {
    sign(&claims(id, minor, mode, now))
}

/// A voucher bound to the roster's first person.
pub fn bound_voucher(id: &str, now: i64) -> String {
    let mut claims = claims(id, 10_000, RedemptionMode::SingleUse, now);
    claims.beneficiary = Some(BeneficiaryBinding::compute(
        &claims.id,
        &BeneficiaryId::parse(PERSON_BENEFICIARY).unwrap(),
    ));
    sign(&claims)
}

/// A Claim 169 ID card QR for `id_number`, signed by `authority`.
pub fn id_card(id_number: &str, authority: &SigningKey, now: i64) -> String {
    use claim169_core::{Claim169, CwtMeta, Encoder};
    let claim = Claim169 {
        id: Some(id_number.into()),
        full_name: Some("Amina Wanjiru".into()),
        date_of_birth: Some("19880412".into()),
        ..Default::default()
    };
    let meta = CwtMeta {
        issuer: Some("ke-registry".into()),
        expires_at: Some(now + 365 * DAY),
        ..Default::default()
    };
    Encoder::new(claim, meta)
        .sign_with_ed25519(&authority.to_bytes())
        .unwrap()
        .encode()
        .unwrap()
        .qr_data
}

pub fn operator() -> OperatorId {
    OperatorId::parse(OPERATOR).unwrap()
}

/// An engine in `dir`, provisioned, with the test operator logged in.
pub fn engine(dir: &Path, clock: Arc<dyn Clock>, revoked: &[&str]) -> Terminal {
    let now = clock.now();
    let mut terminal = Terminal::open(dir, clock).unwrap();
    terminal.provision(&bundle(now, revoked)).unwrap();
    terminal.add_operator(&operator(), "Amina", PIN).unwrap();
    terminal.login(&operator(), PIN).unwrap();
    terminal
}

/// Runs the real binary on data directory `dir`.
pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
        .env("LASTMILE_TERMINAL_DIR", dir)
        .env_remove("LASTMILE_PIN")
        .env_remove("LASTMILE_LANG")
        .args(args)
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A data directory provisioned through the CLI, with the operator logged in.
pub fn cli_setup(dir: &Path) {
    let bundle_path = dir.join("bundle.cbor");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&bundle_path, bundle(wall_clock(), &[]).to_cbor()).unwrap();
    let data = dir.join("data");
    for args in [
        vec!["provision", "--bundle", bundle_path.to_str().unwrap()],
        vec![
            "operator", "add", "--id", OPERATOR, "--name", "Amina", "--pin", PIN,
        ],
        vec!["operator", "login", "--id", OPERATOR, "--pin", PIN],
    ] {
        let output = cli(&data, &args);
        assert!(output.status.success(), "{args:?}: {output:?}");
    }
}
