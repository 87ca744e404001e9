//! The ledger: a programme funded, a cycle approved, vouchers redeemed and
//! cash paid out on terminals and synced (twice) — the trial balance and
//! the statements match what happened to the cent, in two currencies, and
//! `verify` holds; a budget funded in dollars is converted into shillings
//! at an approved rate. And a long random history of postings, retries and
//! refusals through storage keeps every invariant on both backends.

use crate::common;

use common::{Backend, TestApp, spawn_app};
use lastmile_server::ledger::account::{Account, AccountKind};
use lastmile_server::ledger::book::Outcome;
use lastmile_server::ledger::transfer::{NewTransfer, Phase, TransferCode, TransferId};
use lastmile_server::ledger::{self, verify};
use lastmile_server::people::Role;
use lastmile_shared::device_log::{IdentityCheck, LogEvent};
use lastmile_shared::id::{BeneficiaryId, EntitlementId, ProgrammeId};
use lastmile_shared::money::{Currency, Money};

lastmile_tests::on_both_backends!(
    what_happened_in_the_field_balances_to_the_cent_in_two_currencies,
    random_postings_retries_and_refusals_keep_every_invariant,
);

const OFFICER: Role = Role::ProgrammeOfficer;

pub(crate) fn ok(
    app: &TestApp,
    role: Role,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, answer) = app.hq_as(role, method, path, Some(body));
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

fn programme(app: &TestApp, id: &str, currency: &str, channels: &[&str], file: &str) {
    ok(
        app,
        OFFICER,
        "POST",
        "/v1/hq/programmes",
        serde_json::json!({
            "programme": id, "name": format!("Programme {id}"), "currency": currency,
            "issuer": "lastmile-test", "channels": channels, "budget": "100000.00",
            "starts_on": "2027-01-01", "target": "individual",
        }),
    );
    let (status, imported) = app.hq_upload(
        OFFICER,
        &format!("/v1/hq/programmes/{id}/imports"),
        file.as_bytes(),
    );
    assert_eq!(status, 201, "{imported}");
    ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/programmes/{id}/state"),
        serde_json::json!({ "transition": "activate" }),
    );
}

/// Generates, approves (as another person) and releases a flat cycle;
/// returns each beneficiary's released reference.
fn cycle(app: &TestApp, programme: &str, amount: &str) -> Vec<(String, String)> {
    let cycle = ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/programmes/{programme}/cycles"),
        serde_json::json!({ "period": "2027-01", "rule": "flat", "amount": amount }),
    );
    let id = cycle["id"].as_i64().unwrap();
    let proposal = ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{id}/submit"),
        serde_json::json!({ "reason": "monthly" }),
    );
    ok(
        app,
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
        serde_json::json!({ "decision": "approve", "note": "checked" }),
    );
    ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{id}/release"),
        serde_json::json!({}),
    );
    let (_, list) = app.hq_as(
        OFFICER,
        "GET",
        &format!("/v1/hq/cycles/{id}/entitlements"),
        None,
    );
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["beneficiary"].as_str().unwrap().to_owned(),
                e["reference"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn lines(app: &TestApp) -> Vec<serde_json::Value> {
    let (status, list) = app.hq_as(
        Role::Auditor,
        "GET",
        "/v1/hq/ledger/accounts?limit=500",
        None,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// `(debits posted, credits posted)` of the account whose id starts with `prefix`.
fn sums(lines: &[serde_json::Value], prefix: &str) -> (i64, i64) {
    let found: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["account"].as_str().unwrap().starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "one account {prefix}: {lines:?}");
    (
        found[0]["debits_posted"].as_i64().unwrap(),
        found[0]["credits_posted"].as_i64().unwrap(),
    )
}

/// The currencies of a verification that holds, each with its debits equal
/// to its credits.
fn verified_currencies(app: &TestApp) -> Vec<String> {
    let (status, report) = app.hq_as(Role::Auditor, "GET", "/v1/hq/ledger/verification", None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["problem_count"], 0, "{report}");
    let currencies = report["currencies"].as_array().unwrap();
    for c in currencies {
        assert_eq!(c["debits_posted"], c["credits_posted"], "{c}");
        assert_eq!(c["debits_pending"], c["credits_pending"], "{c}");
    }
    currencies
        .iter()
        .map(|c| c["currency"].as_str().unwrap().to_owned())
        .collect()
}

fn standing(statement: &serde_json::Value) -> [i64; 5] {
    let s = &statement["currencies"][0];
    [
        "funded",
        "committed",
        "delivered",
        "outstanding",
        "available",
    ]
    .map(|k| s[k].as_i64().unwrap())
}

fn what_happened_in_the_field_balances_to_the_cent_in_two_currencies(backend: Backend) {
    let app = spawn_app(backend);
    ok(
        &app,
        OFFICER,
        "POST",
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    programme(
        &app,
        "P-kes",
        "KES",
        &["cash", "voucher"],
        "ID,name,national_id,site,channels\n\
         B-1,Amina Wanjiru,10000001,,voucher\n\
         B-2,Baraka Mwangi,10000002,site-1,cash\n",
    );
    programme(
        &app,
        "P-eur",
        "EUR",
        &["voucher"],
        "ID,name,national_id,site,channels\nE-1,Chiku Otieno,10000003,,voucher\n",
    );

    // Funding is recorded once per reference, by finance only.
    let fund = |programme: &str, amount: &str, reference: &str| {
        ok(
            &app,
            Role::Finance,
            "POST",
            &format!("/v1/hq/programmes/{programme}/funding"),
            serde_json::json!({ "source": "treasury", "amount": amount, "reference": reference }),
        )
    };
    let fund_in = |programme: &str, amount: &str, currency: &str, reference: &str| {
        ok(
            &app,
            Role::Finance,
            "POST",
            &format!("/v1/hq/programmes/{programme}/funding"),
            serde_json::json!({
                "source": "donor-us", "amount": amount, "currency": currency, "reference": reference,
            }),
        )
    };
    assert_eq!(fund("P-kes", "1000.00", "TR-1")["new"], true);
    assert_eq!(fund("P-kes", "1000.00", "TR-1")["new"], false);
    assert_eq!(fund("P-eur", "300.50", "TR-2")["new"], true);
    let (status, refused) = app.hq_as(
        OFFICER,
        "POST",
        "/v1/hq/programmes/P-kes/funding",
        Some(serde_json::json!({ "source": "treasury", "amount": "1.00", "reference": "TR-9" })),
    );
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = app.hq_as(
        Role::Finance,
        "POST",
        "/v1/hq/programmes/P-kes/funding",
        Some(serde_json::json!({ "source": "treasury", "amount": "1.001", "reference": "TR-9" })),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("bad_amount")),
        "{refused}"
    );

    let kes = cycle(&app, "P-kes", "20.00");
    let eur = cycle(&app, "P-eur", "12.34");
    let voucher_text = |reference: &str| {
        let id = lastmile_shared::id::VoucherId::parse(reference).unwrap();
        app.storage
            .transaction(|tx| tx.voucher(&id))
            .unwrap()
            .unwrap()
            .credential
    };

    // A shop redeems 15.00 of the KES voucher and all of the EUR one, and a
    // voucher issued by hand (outside any cycle); a field agent opens a
    // session with 100.00, pays B-2 20.00 and closes counting 79.50.
    let mut shop = app.terminal("shop-1", "site-1");
    shop.redeem(&voucher_text(&kes[0].1), 1500);
    shop.redeem(&voucher_text(&eur[0].1), 1234);
    let by_hand = app.issue(1, "5.00", "single_use").remove(0);
    shop.redeem(&by_hand.qr_text, 500);
    shop.upload(1..=3).unwrap();
    let kes_minor = |minor| Money::new(minor, common::kes());
    let mut agent = app.terminal("agent-1", "site-1");
    agent.record(LogEvent::CashSessionOpened {
        session: 1,
        float: kes_minor(10_000),
    });
    agent.record(LogEvent::CashPaidOut {
        session: 1,
        entitlement: EntitlementId::parse(&kes[1].1).unwrap(),
        beneficiary: BeneficiaryId::parse("B-2").unwrap(),
        programme: ProgrammeId::parse("P-kes").unwrap(),
        amount: kes_minor(2_000),
        identity: IdentityCheck::Manual,
    });
    agent.record(LogEvent::CashSessionClosed {
        session: 1,
        expected: kes_minor(8_000),
        counted: kes_minor(7_950),
        variance: kes_minor(-50),
    });
    agent.upload(1..=3).unwrap();
    let count = || {
        app.storage
            .transaction(|tx| lastmile_server::storage::ledger::transfer_count(tx.sql()))
            .unwrap()
    };
    let before = count();
    // The same uploads again (an answer lost): nothing is posted twice.
    shop.upload(1..=3).unwrap();
    agent.upload(1..=3).unwrap();
    assert_eq!(count(), before);

    let all = lines(&app);
    let shop_id = "shop-1";
    let agent_id = agent.enrolment.device.as_str();
    assert_eq!(sums(&all, "budget/P-kes/KES"), (4_000, 100_000));
    assert_eq!(sums(&all, "budget/food/KES"), (500, 0));
    assert_eq!(
        sums(&all, "obligations/P-kes/2027-01/KES"),
        (1_500 + 2_000, 4_000)
    );
    assert_eq!(sums(&all, "obligations/food/direct/KES"), (500, 500));
    assert_eq!(
        sums(&all, &format!("merchant/{shop_id}/KES")),
        (0, 1_500 + 500)
    );
    assert_eq!(sums(&all, &format!("merchant/{shop_id}/EUR")), (0, 1_234));
    assert_eq!(sums(&all, "delivered/P-kes/KES"), (0, 2_000));
    assert_eq!(sums(&all, "vault/site-1/KES"), (10_000, 7_950));
    assert_eq!(
        sums(&all, &format!("float/{agent_id}/KES")),
        (2_000 + 7_950 + 50, 10_000)
    );
    assert_eq!(sums(&all, &format!("handed/{agent_id}/KES")), (0, 2_000));
    assert_eq!(sums(&all, &format!("variance/{agent_id}/KES")), (0, 50));
    assert_eq!(sums(&all, "budget/P-eur/EUR"), (1_234, 30_050));

    let (_, kes_statement) = app.hq_as(
        Role::Auditor,
        "GET",
        "/v1/hq/programmes/P-kes/statement",
        None,
    );
    assert_eq!(
        standing(&kes_statement),
        [100_000, 4_000, 3_500, 500, 96_000],
        "{kes_statement}"
    );
    assert_eq!(kes_statement["cycles"]["2027-01"][0]["outstanding"], 500);
    let (_, eur_statement) = app.hq_as(
        Role::Auditor,
        "GET",
        "/v1/hq/programmes/P-eur/statement",
        None,
    );
    assert_eq!(
        standing(&eur_statement),
        [30_050, 1_234, 1_234, 0, 28_816],
        "{eur_statement}"
    );

    assert_eq!(verified_currencies(&app), ["EUR", "KES"]);

    // Exchange rates: a file with a bad row enters nothing and names it;
    // a good one waits for an approver; then USD funding buys KES.
    let (status, refused) = app.hq_upload(
        Role::Finance,
        "/v1/hq/exchange-rates/file?file_name=rates-2026",
        b"base,quote,rate,effective_from\nUSD,KES,129.45,2026-01-01\nUSD,KES,12.5x,2026-02-30\n",
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("rows_have_errors")),
        "{refused}"
    );
    assert_eq!(refused["report"]["errors"][0]["line"], 3, "{refused}");
    let (status, entered) = app.hq_upload(
        Role::Finance,
        "/v1/hq/exchange-rates/file?file_name=rates-2026",
        b"base,quote,rate,effective_from\nUSD,KES,129.45,2020-01-01\nEUR,KES,140.125,2020-01-01\n",
    );
    assert_eq!(status, 202, "{entered}");
    assert_eq!(entered["rates"].as_array().map(Vec::len), Some(2));
    assert_eq!(fund_in("P-kes", "100.00", "USD", "TR-3")["new"], true);
    let convert = |reference: &str| {
        app.hq_as(
            Role::Finance,
            "POST",
            "/v1/hq/programmes/P-kes/conversions",
            Some(serde_json::json!({ "from": "USD", "amount": "10.00", "to": "KES", "reference": reference })),
        )
    };
    // Not approved yet: no rate is in force.
    let (status, refused) = convert("FX-1");
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("no_rate")),
        "{refused}"
    );
    ok(
        &app,
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", entered["proposal"]["id"]),
        serde_json::json!({ "decision": "approve", "note": "central bank" }),
    );
    let (status, converted) = convert("FX-1");
    assert_eq!(status, 201, "{converted}");
    assert_eq!(
        (
            converted["spent"]["minor"].as_i64(),
            converted["bought"]["minor"].as_i64(),
            converted["left"]["minor"].as_i64()
        ),
        (Some(1_000), Some(129_450), Some(0)),
        "{converted}"
    );
    assert_eq!(
        convert("FX-1").1["new"],
        false,
        "the same reference converts once"
    );
    let (status, refused) = app.hq_as(
        Role::Finance,
        "POST",
        "/v1/hq/programmes/P-kes/conversions",
        Some(serde_json::json!({ "from": "USD", "amount": "95.00", "to": "KES", "reference": "FX-2" })),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("not_enough_budget")),
        "{refused}"
    );
    let (_, kes_statement) = app.hq_as(
        Role::Auditor,
        "GET",
        "/v1/hq/programmes/P-kes/statement",
        None,
    );
    let by_currency = |code: &str| {
        kes_statement["currencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["currency"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("no {code}: {kes_statement}"))
    };
    let kes_now = by_currency("KES");
    assert_eq!(
        (
            kes_now["funded"].as_i64(),
            kes_now["converted_in"].as_i64(),
            kes_now["available"].as_i64()
        ),
        (Some(100_000), Some(129_450), Some(96_000 + 129_450)),
        "{kes_statement}"
    );
    let usd_now = by_currency("USD");
    assert_eq!(
        (
            usd_now["funded"].as_i64(),
            usd_now["converted_out"].as_i64(),
            usd_now["available"].as_i64()
        ),
        (Some(10_000), Some(1_000), Some(9_000)),
        "{kes_statement}"
    );
    assert_eq!(verified_currencies(&app), ["EUR", "KES", "USD"]);

    // An account's history names what caused each transfer.
    let (status, history) = app.hq_as(
        Role::Auditor,
        "GET",
        &format!("/v1/hq/ledger/accounts/float%2F{agent_id}%2FKES/transfers"),
        None,
    );
    assert_eq!(status, 200, "{history}");
    let codes: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["float_variance", "float_return", "cash_out", "float_issue"]
    );

    // A balance changed behind the ledger's back is found.
    app.storage
        .transaction(|tx| {
            tx.sql().execute(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 1
                 WHERE account = 'delivered/P-kes/KES'",
                &[],
            )
        })
        .unwrap();
    let broken = app
        .storage
        .transaction(|tx| verify::verify(tx.sql()))
        .unwrap();
    assert!(!broken.holds());
    assert!(
        broken
            .problems
            .iter()
            .any(|p| p.contains("delivered/P-kes/KES")),
        "{broken:?}"
    );
    assert!(
        broken.problems.iter().any(|p| p.starts_with("KES:")),
        "{broken:?}"
    );
}

/// A small deterministic generator, so that a failure repeats.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn random_postings_retries_and_refusals_keep_every_invariant(backend: Backend) {
    let app = spawn_app(backend);
    let now = 1_800_000_000;
    let mut accounts = Vec::new();
    for code in ["KES", "EUR", "JPY"] {
        let currency = Currency::parse(code).unwrap();
        for kind in [
            AccountKind::Funding,
            AccountKind::Budget,
            AccountKind::Obligations,
            AccountKind::MerchantPayable,
        ] {
            accounts.push(Account::open(kind, &["R"], currency, Some("R")).unwrap());
        }
    }
    app.storage
        .transaction(|tx| ledger::open(tx.sql(), &accounts, now))
        .unwrap();
    let mut rng = Lcg(7);
    let mut sent: Vec<NewTransfer> = Vec::new();
    let mut created = 0u64;
    for batch_number in 0..60 {
        let size = 1 + rng.next(60) as usize;
        let mut batch = Vec::with_capacity(size);
        for n in 0..size {
            let roll = rng.next(10);
            if roll == 0 && !sent.is_empty() {
                // A retry of something sent before, refused or not.
                batch.push(sent[rng.next(sent.len() as u64) as usize].clone());
                continue;
            }
            let pending = sent
                .iter()
                .filter(|t| matches!(t.phase, Phase::Pending { .. }))
                .nth(rng.next(8) as usize)
                .cloned();
            let id = TransferId::parse(&format!("r/{batch_number}/{n}")).unwrap();
            let new = match (roll, pending) {
                (1 | 2, Some(held)) => NewTransfer {
                    id,
                    amount: if roll == 1 { 0 } else { rng.next(300) as i64 },
                    phase: if roll == 1 {
                        Phase::Void {
                            pending: held.id.clone(),
                        }
                    } else {
                        Phase::Post {
                            pending: held.id.clone(),
                        }
                    },
                    linked: false,
                    ..held
                },
                _ => {
                    let debit = rng.next(accounts.len() as u64) as usize;
                    let credit = if rng.next(20) == 0 {
                        rng.next(accounts.len() as u64) as usize
                    } else {
                        // Mostly the same currency, along the flow.
                        (debit / 4) * 4 + (debit % 4 + 1) % 4
                    };
                    NewTransfer {
                        id,
                        debit: accounts[debit].id.clone(),
                        credit: accounts[credit].id.clone(),
                        amount: rng.next(400) as i64 - 5,
                        code: TransferCode::Adjust,
                        phase: if rng.next(4) == 0 {
                            Phase::Pending { timeout_at: None }
                        } else {
                            Phase::Single
                        },
                        linked: rng.next(5) == 0 && n + 1 < size,
                        cause: None,
                    }
                }
            };
            batch.push(new);
        }
        let outcomes = app
            .storage
            .transaction(|tx| ledger::post(tx.sql(), &batch, now + batch_number, Some("tester")))
            .unwrap();
        assert_eq!(outcomes.len(), batch.len());
        created += outcomes.iter().filter(|o| **o == Outcome::Created).count() as u64;
        sent.extend(batch);
        if batch_number % 20 == 19 {
            let report = app
                .storage
                .transaction(|tx| verify::verify(tx.sql()))
                .unwrap();
            assert!(report.holds(), "{report:?}");
        }
    }
    // A hold with a timeout, not posted in time: the sweep releases it.
    let hold = NewTransfer {
        id: TransferId::parse("hold/1").unwrap(),
        debit: accounts[0].id.clone(),
        credit: accounts[1].id.clone(),
        amount: 700,
        code: TransferCode::Adjust,
        phase: Phase::Pending {
            timeout_at: Some(now + 100),
        },
        linked: false,
        cause: None,
    };
    let budget_before = app
        .storage
        .transaction(|tx| {
            lastmile_server::storage::ledger::accounts_by_id(
                tx.sql(),
                &[accounts[1].id.as_str()],
                false,
            )
        })
        .unwrap()
        .remove(0)
        .balances;
    app.storage
        .transaction(|tx| ledger::post_all(tx.sql(), &[hold], now + 60, None))
        .unwrap();
    created += 1;
    assert_eq!(
        app.storage
            .transaction(|tx| ledger::expire_due(tx.sql(), now + 99))
            .unwrap(),
        0
    );
    assert_eq!(
        app.storage
            .transaction(|tx| ledger::expire_due(tx.sql(), now + 100))
            .unwrap(),
        1
    );
    let budget_after = app
        .storage
        .transaction(|tx| {
            lastmile_server::storage::ledger::accounts_by_id(
                tx.sql(),
                &[accounts[1].id.as_str()],
                false,
            )
        })
        .unwrap()
        .remove(0)
        .balances;
    assert_eq!(budget_after, budget_before, "the hold was released whole");

    let report = app
        .storage
        .transaction(|tx| verify::verify(tx.sql()))
        .unwrap();
    assert!(report.holds(), "{report:?}");
    // Each id posted at most once: the ledger holds exactly what was created.
    assert_eq!(report.transfers, created);
    assert!(
        created > 500,
        "the history should mostly succeed: {created}"
    );
}
