//! A training terminal: a real engine in a data directory, provisioned
//! offline with root-signed documents made here (trust list, policy,
//! revocations, a roster with a distribution list) and a set of signed
//! vouchers covering the verdicts an operator meets.
//!
//! Used by `lastmile-terminal gui --demo`, the GUI tests and the screenshot
//! script. Every key is derived from a fixed seed, so the voucher codes are
//! the same on every run and can be typed or printed as QR for training.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, IssuerId, KeyId, MerchantId, OperatorId, ProgrammeId,
    SiteId, VoucherId,
};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::{Delivery, Entitlement, Roster, RosterPerson};
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::{IssuerKey, KeyStatus, RootSigned, TrustList};
use lastmile_shared::voucher::{self, BeneficiaryBinding, RedemptionMode, VoucherClaims};
use lastmile_shared::voucher_book::VoucherBook;
use serde_bytes::ByteBuf;

use crate::enrolment::ProvisionBundle;
use crate::error::Error;
use crate::receipt::Letterhead;
use crate::{Clock, Terminal};

/// 2026-05-04 10:30 UTC: the demo's "now" when a fixed clock is wanted.
pub const DEMO_NOW: i64 = 1_777_890_600;
const DAY: i64 = 86_400;

/// The demo's voucher codes, one per verdict.
#[derive(Debug, Clone)]
pub struct DemoVouchers {
    /// KES 1,250.00, partial redemption allowed: green.
    pub good: String,
    /// KES 500.00, single use: green, no "part amount".
    pub single_use: String,
    /// Bound to Amina Wanjiru: amber until her ID card is scanned.
    pub named: String,
    /// On the revocation list: red.
    pub revoked: String,
    /// Expired yesterday: red.
    pub expired: String,
    /// For another shop: red.
    pub other_shop: String,
    /// Not a voucher at all (a damaged code): red.
    pub forged: String,
    /// Signed by a key the terminal does not know yet: amber (a sync brings
    /// the new trust list).
    pub unknown_key: String,
}

/// What a demo terminal holds, for the operator (or a test) to use.
#[derive(Debug, Clone)]
pub struct Demo {
    pub vouchers: DemoVouchers,
    pub operator: OperatorId,
    pub operator_pin: &'static str,
    /// ID number of a person with a merchant entitlement (ID redemption).
    pub id_with_entitlement: &'static str,
    /// Entitlement ids on the site's cash distribution list.
    pub cash_entitlements: Vec<EntitlementId>,
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn id<T, E: std::fmt::Debug>(parse: fn(&str) -> Result<T, E>, text: &str) -> T {
    // The demo's ids are constants checked by the tests: a failure here is a bug.
    parse(text).expect("demo ids are valid")
}

fn kes(major: i64) -> Money {
    Money::new(
        major * 100,
        Currency::parse("KES").expect("KES is an ISO 4217 currency"),
    )
}

/// A plain avatar (head and shoulders on a tinted background), so the
/// identity-check screen has a photo to show without shipping real faces.
fn avatar(tint: [u8; 3]) -> Vec<u8> {
    let (w, h) = (120u32, 150u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let head =
            (fx - 60.0).powi(2) / 26.0f32.powi(2) + (fy - 58.0).powi(2) / 32.0f32.powi(2) <= 1.0;
        let body = fy > 100.0
            && (fx - 60.0).powi(2) / 52.0f32.powi(2) + (fy - 160.0).powi(2) / 62.0f32.powi(2)
                <= 1.0;
        if head || body {
            image::Rgb([70, 52, 40])
        } else {
            image::Rgb(tint)
        }
    });
    let mut png = Vec::new();
    // Encoding an in-memory image cannot fail short of running out of memory.
    let _ = img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png);
    png
}

/// Opens (and on first use provisions) a demo terminal in `dir`.
pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<(Terminal, Demo), Error> {
    let now = clock.now();
    let mut terminal = Terminal::open(dir, clock)?;
    let root = key(1);
    let issuer_key = key(2);
    let root_kid = id(KeyId::parse, "root-demo");
    let issuer_kid = id(KeyId::parse, "issuer-demo-2026");
    let issuer = id(IssuerId::parse, "wfp-ke");
    let device = id(DeviceId::parse, "pos-0042");
    let merchant = id(MerchantId::parse, "shop-017");
    let site = id(SiteId::parse, "site-kibera");
    let food = id(ProgrammeId::parse, "food-2026");
    let cash = id(ProgrammeId::parse, "cash-2026");
    let operator = id(OperatorId::parse, "op-1");
    // Documents are dated from a fixed start so they are identical on every run.
    let start = DEMO_NOW - 30 * DAY;
    let end = DEMO_NOW + 365 * DAY;

    let claims = |n: &str,
                  value: Money,
                  mode,
                  valid_until: i64,
                  beneficiary: Option<BeneficiaryBinding>,
                  merchants: Vec<MerchantId>| {
        VoucherClaims {
            id: id(VoucherId::parse, n),
            issuer: issuer.clone(),
            programme: food.clone(),
            value,
            issued_at: start,
            valid_from: start,
            valid_until,
            mode,
            beneficiary,
            merchants,
            sites: Vec::new(),
        }
    };
    let voucher = |n: &str,
                   value: Money,
                   mode,
                   valid_until: i64,
                   beneficiary: Option<BeneficiaryBinding>,
                   merchants: Vec<MerchantId>| {
        let claims = claims(n, value, mode, valid_until, beneficiary, merchants);
        voucher::encode(&claims, &issuer_kid, &issuer_key)
    };
    let amina = id(BeneficiaryId::parse, "ben-amina-w");
    let vouchers = DemoVouchers {
        good: voucher(
            "v-1001",
            kes(1250),
            RedemptionMode::Partial,
            end,
            None,
            Vec::new(),
        ),
        single_use: voucher(
            "v-1002",
            kes(500),
            RedemptionMode::SingleUse,
            end,
            None,
            Vec::new(),
        ),
        named: voucher(
            "v-1003",
            kes(800),
            RedemptionMode::SingleUse,
            end,
            Some(BeneficiaryBinding::compute(
                &id(VoucherId::parse, "v-1003"),
                &amina,
            )),
            Vec::new(),
        ),
        revoked: voucher(
            "v-1004",
            kes(1000),
            RedemptionMode::Partial,
            end,
            None,
            Vec::new(),
        ),
        expired: voucher(
            "v-1005",
            kes(700),
            RedemptionMode::Partial,
            DEMO_NOW - DAY,
            None,
            Vec::new(),
        ),
        other_shop: voucher(
            "v-1006",
            kes(600),
            RedemptionMode::Partial,
            end,
            None,
            vec![id(MerchantId::parse, "shop-999")],
        ),
        forged: "LM1:THIS-IS-NOT-A-REAL-VOUCHER".to_owned(),
        unknown_key: voucher::encode(
            &claims(
                "v-1007",
                kes(900),
                RedemptionMode::Partial,
                end,
                None,
                Vec::new(),
            ),
            &id(KeyId::parse, "issuer-demo-2027"),
            &key(3),
        ),
    };

    let people = [
        (
            "ben-amina-w",
            "Amina Wanjiru",
            "12345678",
            2_500,
            [236, 201, 160],
        ),
        (
            "ben-joseph-o",
            "Joseph Otieno",
            "23456789",
            2_500,
            [180, 205, 230],
        ),
        (
            "ben-fatuma-h",
            "Fatuma Hassan Abdallah",
            "34567890",
            4_000,
            [200, 225, 190],
        ),
        (
            "ben-peter-k",
            "Peter Kamau",
            "45678901",
            2_500,
            [230, 200, 220],
        ),
        (
            "ben-grace-a",
            "Grace Achieng",
            "56789012",
            3_000,
            [225, 215, 170],
        ),
        (
            "ben-said-m",
            "Said Mwinyi",
            "67890123",
            2_500,
            [190, 190, 230],
        ),
    ];
    let cash_entitlements: Vec<EntitlementId> = people
        .iter()
        .map(|(b, ..)| id(EntitlementId::parse, &format!("cash-05-{}", &b[4..])))
        .collect();
    let roster = Roster {
        version: 1,
        issued_at: start,
        site: Some(site.clone()),
        merchant: Some(merchant.clone()),
        people: people
            .iter()
            .zip(&cash_entitlements)
            .map(|((beneficiary, name, number, cash_kes, tint), cash_id)| {
                let mut entitlements = vec![Entitlement {
                    id: cash_id.clone(),
                    programme: cash.clone(),
                    value: kes(*cash_kes),
                    valid_from: start,
                    valid_until: end,
                    mode: RedemptionMode::SingleUse,
                    delivery: Delivery::Cash,
                }];
                if *beneficiary == "ben-amina-w" {
                    entitlements.push(Entitlement {
                        id: id(EntitlementId::parse, "food-05-amina-w"),
                        programme: food.clone(),
                        value: kes(3000),
                        valid_from: start,
                        valid_until: end,
                        mode: RedemptionMode::Partial,
                        delivery: Delivery::Merchant,
                    });
                }
                RosterPerson {
                    beneficiary: id(BeneficiaryId::parse, beneficiary),
                    name: (*name).to_owned(),
                    id_numbers: vec![(*number).to_owned()],
                    date_of_birth: Some("1985".to_owned()),
                    photo: Some(avatar(*tint)),
                    entitlements,
                }
            })
            .collect(),
    };

    if terminal.enrolment().is_none() {
        let trust_list = TrustList {
            version: 1,
            issued_at: start,
            keys: vec![IssuerKey {
                kid: issuer_kid.clone(),
                issuer: issuer.clone(),
                public_key: issuer_key.verifying_key().to_bytes(),
                valid_from: start - DAY,
                valid_until: end + DAY,
                status: KeyStatus::Active,
                programmes: Vec::new(),
            }],
        };
        let policy = TerminalPolicy {
            version: 1,
            issued_at: start,
            device: device.clone(),
            merchant: Some(merchant.clone()),
            site: Some(site.clone()),
            limits: vec![OfflineLimits {
                currency: kes(0).currency,
                credential_value_max_minor: kes(5_000).minor,
                unsynced_value_max_minor: kes(50_000).minor,
                unsynced_count_max: 200,
                offline_seconds_max: 3 * 365 * DAY,
            }],
            id_authorities: Vec::new(),
            id_authorities_retired: Vec::new(),
        };
        let revocations = RevocationList {
            version: 1,
            issued_at: start,
            vouchers: [id(VoucherId::parse, "v-1004")].into_iter().collect(),
            keys: Default::default(),
            devices: Default::default(),
            merchants: Default::default(),
        };
        // Every demo voucher but the damaged one can also be typed by code.
        let book = VoucherBook {
            version: 1,
            issued_at: start,
            site: Some(site.clone()),
            merchant: None,
            vouchers: [
                &vouchers.good,
                &vouchers.single_use,
                &vouchers.named,
                &vouchers.revoked,
                &vouchers.expired,
                &vouchers.other_shop,
                &vouchers.unknown_key,
            ]
            .map(String::clone)
            .to_vec(),
        };
        let bundle = ProvisionBundle {
            device,
            device_kid: id(KeyId::parse, "pos-0042-k1"),
            merchant: Some(merchant),
            site: Some(site),
            root_kid: root_kid.clone(),
            root_public_key: ByteBuf::from(root.verifying_key().to_bytes().to_vec()),
            trust_list: ByteBuf::from(trust_list.seal(&root_kid, &root)),
            policy: ByteBuf::from(policy.seal(&root_kid, &root)),
            revocations: Some(ByteBuf::from(revocations.seal(&root_kid, &root))),
            roster: Some(ByteBuf::from(roster.seal(&root_kid, &root))),
            voucher_book: Some(ByteBuf::from(book.seal(&root_kid, &root))),
        };
        terminal.provision(&bundle)?;
        terminal.add_operator(&operator, "Grace Muthoni", "1234")?;
        // Further operators are added by a logged-in one.
        terminal.login(&operator, "1234")?;
        terminal.add_operator(&id(OperatorId::parse, "op-2"), "Daniel Kiprop", "5678")?;
        terminal.set_letterhead(&Letterhead {
            shop: Some("Mama Grace General Store".into()),
            site: Some("Kibera, Olympic".into()),
            terminal: Some("Counter 1".into()),
        })?;
        terminal.logout()?;
    }
    let _ = now;
    Ok((
        terminal,
        Demo {
            vouchers,
            operator,
            operator_pin: "1234",
            id_with_entitlement: "12345678",
            cash_entitlements,
        },
    ))
}
