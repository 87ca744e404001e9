//! `lastmile-terminal demo`: the whole system on one machine.
//!
//! One process runs the sync server (the `lastmile-server` library on an
//! embedded SQLite file) on loopback, a virtual receipt printer that saves
//! every receipt as a PNG, and this terminal enrolled against that server
//! over real HTTP. On first run it sets up HQ as HQ would: keys, offline
//! limits, HQ people, and the demo programme through the programme
//! registry — a site, a programme, its beneficiary file
//! (`assets/demo/beneficiaries.csv`, compiled in) imported, this month's
//! cycle generated and submitted by the officer, approved by the approver,
//! released as vouchers (QR PNGs and a printable PDF sheet) and the site's
//! cash list; a food entitlement redeemable by ID at the demo shop is added
//! to that roster, and one voucher is revoked at HQ. Then it opens the touch
//! interface when there is a display, and otherwise walks through a
//! redemption on the command line, running the same commands a person would
//! type.
//!
//! Everything lives under one directory (`lastmile-demo/` by default):
//!
//! ```text
//! lastmile-demo/
//!   demo.json      what the walkthrough needs to find things again
//!   hq-token       an API token of the demo HQ admin (mode 0600)
//!   hq-login       the demo HQ people's usernames and password (mode 0600)
//!   server/        the server's SQLite database and keys
//!   terminal/      the terminal's database, device key and settings
//!   vouchers/      vouchers.pdf, vouchers.csv, qr/ with one PNG per voucher
//!   receipts/      job-NNNN.png, one per printed receipt
//! ```
//!
//! A second run reuses the directory (redemptions and all); `--reset`
//! starts again from nothing.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use lastmile_hardware::emulator::VirtualPrinter;
use lastmile_hardware::escpos::PaperWidth;
use lastmile_server::audit::Actor;
use lastmile_server::clock::Clock;
use lastmile_server::config::{Config, Overrides};
use lastmile_server::keys::{self, KeyDir};
use lastmile_server::ledger::funding::{self, FundingRequest};
use lastmile_server::payments::batches;
use lastmile_server::payments::rails::{self, NewBankRail};
use lastmile_server::people::{self, Language, NewUser, Role, tokens};
use lastmile_server::proposals::{self, Action, Decision};
use lastmile_server::rails::bank_file::{BankFileConfig, FileFormat};
use lastmile_server::rails::sim::bank::BankSimConfig;
use lastmile_server::rails::sim::folder::{FolderBank, Folders};
use lastmile_server::registry::cycles::{self, RuleRequest};
use lastmile_server::registry::import::{self, Mapping};
use lastmile_server::registry::programmes::{self, NewProgramme, Target, Transition};
use lastmile_server::registry::{release, sites};
use lastmile_server::startup::Server;
use lastmile_server::storage::registry as registry_table;
use lastmile_server::storage::{Storage, StorageError};
use lastmile_server::{calendar, documents, limits, terminals};
use lastmile_shared::id::{
    BeneficiaryId, EntitlementId, MerchantId, OperatorId, ProgrammeId, SiteId, VoucherId,
};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::roster::{Delivery, Entitlement, Roster, RosterPerson};
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::trust_list::{RootKey, RootSigned};
use lastmile_shared::voucher::RedemptionMode;
use lastmile_terminal::gui::prefs::{PREFS_FILE, Prefs};
use lastmile_terminal::receipt::Letterhead;
use lastmile_terminal::{SystemClock, Terminal};
use serde::{Deserialize, Serialize};

use super::gui;

/// The demo programme's register: households and people, each paid by
/// voucher or in cash at the demo site.
const BENEFICIARIES_CSV: &str = include_str!("../../../assets/demo/beneficiaries.csv");
/// The shop the demo terminal belongs to, and its site.
const MERCHANT: &str = "shop-017";
const SITE: &str = "site-kibera";
const SITE_NAME: &str = "Kibera";
/// The demo programme in the registry.
const PROGRAMME: &str = "kibera-support";
const PROGRAMME_NAME: &str = "Kibera Household Support";
/// Its rule: so much per household member, at most so much per household
/// (KES), and its budget per cycle.
const PER_MEMBER: &str = "750.00";
const CAP: &str = "2000.00";
const BUDGET: &str = "15000.00";
/// How long the programme runs, from the day the demo is set up.
const PROGRAMME_DAYS: i64 = 4 * 365;
/// The food entitlement redeemable by ID at the demo shop: a merchant
/// roster entry, which the registry does not make (its cash entitlements
/// are paid by field agents, its vouchers redeemed anywhere). (beneficiary,
/// name, national ID, entitlement, programme, KES.)
const SHOP_ENTITLEMENT: (&str, &str, &str, &str, &str, i64) = (
    "ben-amina-w",
    "Amina Wanjiru",
    "12345678",
    "food-12-amina-w",
    "food-2026",
    3_000,
);
/// The voucher the demo revokes at HQ, so that a red "revoked" verdict can be seen.
const REVOKED_BENEFICIARY: &str = "ben-john-m";
/// The demo operators: (id, name, PIN).
const OPERATORS: [(&str, &str, &str); 2] = [
    ("op-1", "Grace Muthoni", "1234"),
    ("op-2", "Daniel Kiprop", "5678"),
];
/// The file that marks a complete demo directory.
const STATE_FILE: &str = "demo.json";
/// What a demo directory may hold; `--reset` deletes nothing else.
const DEMO_ENTRIES: [&str; 8] = [
    STATE_FILE, "hq-token", "hq-login", "server", "terminal", "vouchers", "receipts", "bank",
];
/// The demo's bank rail, which the bank simulator answers for.
const BANK_RAIL: &str = "demo-bank";
/// The demo's HQ people: (username, name, role). The officer proposes the
/// demo's voucher revocation and the approver approves it.
const HQ_PEOPLE: [(&str, &str, Role); 4] = [
    ("hq.admin", "Halima Admin", Role::Admin),
    ("hq.officer", "Peter Officer", Role::ProgrammeOfficer),
    ("hq.approver", "Wanjiru Approver", Role::Approver),
    ("hq.finance", "Joseph Finance", Role::Finance),
];
/// How long the embedded server may take to open its database and bind.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the demo keeps everything (server, terminal, voucher sheet, receipts).
    #[arg(long, value_name = "DIR", default_value = "lastmile-demo")]
    dir: PathBuf,
    /// Delete the demo directory first and start again from nothing.
    #[arg(long)]
    reset: bool,
    /// Where the embedded server listens (loopback only; port 0 for any free
    /// port). Fixed when the demo is first set up, because the terminal is
    /// enrolled against it; later runs use the same address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    listen: SocketAddr,
    /// Walk through on the command line even when a display exists.
    #[arg(long)]
    headless: bool,
    /// Window size for the touch interface, e.g. 800x480.
    #[arg(long, value_name = "WxH", value_parser = gui::parse_size)]
    size: Option<(u32, u32)>,
}

/// What a set-up demo directory records for later runs.
#[derive(Debug, Serialize, Deserialize)]
struct DemoState {
    listen: SocketAddr,
    /// The issued vouchers in the order of the sheet.
    vouchers: Vec<DemoVoucher>,
    /// The voucher revoked at HQ.
    revoked: String,
    /// The registry cycle the vouchers were released from (none in a demo
    /// directory set up before the registry).
    #[serde(default)]
    cycle: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DemoVoucher {
    id: String,
    /// The registry's beneficiary id.
    #[serde(default)]
    beneficiary: String,
    /// The beneficiary's name, from the registry.
    name: String,
    qr_text: String,
    qr_png: PathBuf,
}

/// The demo directory's parts.
struct Layout {
    root: PathBuf,
}

impl Layout {
    fn server(&self) -> PathBuf {
        self.root.join("server")
    }
    fn terminal(&self) -> PathBuf {
        self.root.join("terminal")
    }
    fn vouchers(&self) -> PathBuf {
        self.root.join("vouchers")
    }
    fn receipts(&self) -> PathBuf {
        self.root.join("receipts")
    }
    fn token(&self) -> PathBuf {
        self.root.join("hq-token")
    }
    fn login(&self) -> PathBuf {
        self.root.join("hq-login")
    }
    fn state(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }
    /// The folders the server and the bank simulator exchange files in.
    fn bank(&self) -> PathBuf {
        self.root.join("bank")
    }
    fn to_bank(&self) -> PathBuf {
        self.bank().join("to-bank")
    }
    fn bank_answers(&self) -> PathBuf {
        self.bank().join("from-bank")
    }
}

pub fn run(args: Args, language: &str) -> anyhow::Result<()> {
    let layout = Layout {
        root: args.dir.clone(),
    };
    if !args.listen.ip().is_loopback() {
        bail!(
            "the demo server listens on loopback only; {} is not a loopback address",
            args.listen
        );
    }
    let existing = read_state(&layout)?;
    let state = match existing {
        Some(_) if args.reset => {
            clear(&layout)?;
            None
        }
        Some(state) => Some(state),
        None => {
            // An earlier run stopped during set-up: start again.
            clear(&layout)?;
            None
        }
    };
    let (state, server) = match state {
        Some(state) => {
            eprintln!(
                "Reusing the demo in {} (--reset starts again).",
                layout.root.display()
            );
            let config = server_config(&layout, state.listen)?;
            let server = EmbeddedServer::start(config)?;
            (state, server)
        }
        None => set_up(&layout, args.listen)?,
    };
    let _bank = SimulatedBank::start(&layout)?;
    let printer = VirtualPrinter::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &layout.receipts(),
        PaperWidth::Mm58,
    )
    .context("cannot start the virtual printer")?;
    let printer_target = format!("tcp:{}", printer.local_addr());
    let prefs_path = layout.terminal().join(PREFS_FILE);
    let mut prefs = Prefs::load(&prefs_path);
    prefs.printer = printer_target.clone();
    prefs
        .save(&prefs_path)
        .with_context(|| format!("cannot write {}", prefs_path.display()))?;

    let tour = Tour {
        layout: &layout,
        state: &state,
        server_url: server.url.clone(),
        printer_target,
    };
    tour.introduce();
    if gui::display_available() && !args.headless {
        eprintln!("Opening the terminal window. Log in as Grace Muthoni with PIN 1234.");
        let result = lastmile_terminal::gui::run(lastmile_terminal::gui::GuiOptions {
            data_dir: layout.terminal(),
            language: (language != "en").then(|| language.to_owned()),
            high_contrast: None,
            demo: false,
            size: args.size,
            fullscreen: false,
            quit_after_ms: None,
        });
        tour.receipts(&printer);
        result
    } else {
        if !args.headless {
            eprintln!(
                "No display (DISPLAY and WAYLAND_DISPLAY are not set), so here is a guided tour \
                 on the command line instead of the touch interface."
            );
        }
        tour.walk(&printer)?;
        tour.keep_running();
        Ok(())
    }
}

fn read_state(layout: &Layout) -> anyhow::Result<Option<DemoState>> {
    match std::fs::read(layout.state()) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is damaged; run with --reset to start again",
                layout.state().display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", layout.state().display())),
    }
}

/// Deletes the demo's own entries; refuses a directory holding anything else.
fn clear(layout: &Layout) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(&layout.root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", layout.root.display())),
    };
    let mut ours = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if !DEMO_ENTRIES.iter().any(|n| name == *n) {
            bail!(
                "{} holds {:?}, which the demo did not make; choose another --dir",
                layout.root.display(),
                name
            );
        }
        ours.push(entry.path());
    }
    for path in ours {
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        }
        .with_context(|| format!("cannot delete {}", path.display()))?;
    }
    Ok(())
}

fn server_config(layout: &Layout, listen: SocketAddr) -> anyhow::Result<Config> {
    Ok(Config::load(&Overrides {
        data_dir: Some(layout.server()),
        listen: Some(listen.to_string()),
        ..Overrides::default()
    })?)
}

/// The demo's HQ people, all with one random password (written to
/// `hq-login`), and an API token of the admin (written to `hq-token`).
fn hq_people(layout: &Layout, storage: &Storage, now: i64) -> anyhow::Result<()> {
    let password = hex::encode(&random_bytes()[..8]);
    let actor = Actor::Operator("demo".to_owned());
    let mut login = String::new();
    for (username, name, role) in HQ_PEOPLE {
        people::create_user(
            storage,
            &actor,
            &NewUser {
                username,
                display_name: name,
                role,
                language: Language::En,
                password: &password,
            },
            now,
        )?;
        login.push_str(&format!("{username} {password} ({})\n", role.code()));
    }
    write_private(&layout.login(), &login)?;
    let token = tokens::create(storage, &actor, HQ_PEOPLE[0].0, "demo", now)?;
    write_private(&layout.token(), &token.token)?;
    Ok(())
}

/// Loads the demo programme into a new server, starts it, enrols the terminal.
fn set_up(layout: &Layout, listen: SocketAddr) -> anyhow::Result<(DemoState, EmbeddedServer)> {
    eprintln!("Setting up the demo in {} ...", layout.root.display());
    std::fs::create_dir_all(layout.server())
        .with_context(|| format!("cannot create {}", layout.server().display()))?;
    let config = server_config(layout, listen)?;
    let keys = KeyDir::new(&config.data_dir);
    let now = Clock::now(&lastmile_server::clock::SystemClock);
    let actor = Actor::Operator("demo".to_owned());
    let merchant = MerchantId::parse(MERCHANT)?;
    let site = SiteId::parse(SITE)?;
    let (programme, revoked, code) = {
        let storage = Storage::open(&config.database)?;
        keys::init(&storage, &keys, &actor, &config.issuer, now)?;
        hq_people(layout, &storage, now)?;
        let kes = Currency::parse("KES")?;
        let major = |units: i64| Money::new(units * 100, kes).minor;
        limits::set(
            &storage,
            &keys,
            &actor,
            &OfflineLimits {
                currency: kes,
                credential_value_max_minor: major(5_000),
                unsynced_value_max_minor: major(50_000),
                unsynced_count_max: 200,
                offline_seconds_max: 72 * 3600,
            },
            now,
        )?;
        let [_, officer, approver, finance] =
            HQ_PEOPLE.map(|(name, ..)| people::caller(&storage, name));
        let (officer, approver, finance) = (officer?, approver?, finance?);
        let programme =
            register_programme(layout, &storage, &keys, &config, &officer, &approver, now)?;
        pay_by_bank(
            layout,
            &storage,
            &keys,
            &finance,
            &approver,
            programme.cycle,
            now,
        )?;
        add_shop_entitlement(&storage, &keys, &site, &merchant, now)?;
        let revoked = programme
            .vouchers
            .iter()
            .find(|v| v.beneficiary == REVOKED_BENEFICIARY)
            .map(|v| VoucherId::parse(&v.id))
            .transpose()?
            .context("the demo vouchers lack the one to revoke")?;
        // Revoked the way HQ revokes: proposed by one person, approved by another.
        let proposal = proposals::propose(
            &storage,
            &officer,
            &Action::RevokeVoucher(revoked.clone()),
            "demo: the beneficiary reported the voucher lost",
            now,
        )?;
        proposals::decide(
            &storage,
            &keys,
            &approver,
            proposal.id,
            Decision::Approve,
            "demo: confirmed with the programme",
            now,
        )?;
        let code = terminals::create_code(&storage, &actor, Some(merchant), Some(site), 3600, now)?;
        (programme, revoked, code.code)
    };
    let server = EmbeddedServer::start(config)?;
    let mut terminal = Terminal::open(&layout.terminal(), Arc::new(SystemClock))?;
    terminal
        .enroll(&server.url, &code, "Demo shop counter")
        .context("the demo terminal could not enrol with the embedded server")?;
    let [(first_id, first_name, first_pin), rest @ ..] = OPERATORS;
    let first = OperatorId::parse(first_id)?;
    terminal.add_operator(&first, first_name, first_pin)?;
    // Further operators are added by a logged-in one.
    terminal.login(&first, first_pin)?;
    for (id, name, pin) in rest {
        terminal.add_operator(&OperatorId::parse(id)?, name, pin)?;
    }
    terminal.set_letterhead(&Letterhead {
        shop: Some("Duka la Mama Amina".into()),
        site: Some("Kibera".into()),
        terminal: Some("Demo shop counter".into()),
    })?;
    terminal.logout()?;
    let state = DemoState {
        // The address actually bound (`--listen` may give port 0).
        listen: server.address,
        vouchers: programme.vouchers,
        revoked: revoked.to_string(),
        cycle: Some(programme.cycle),
    };
    std::fs::write(layout.state(), serde_json::to_vec_pretty(&state)?)?;
    Ok((state, server))
}

/// What the demo programme released.
struct DemoProgramme {
    cycle: i64,
    vouchers: Vec<DemoVoucher>,
}

/// The demo programme, through the registry as HQ runs one: the site, the
/// programme (a draft), its beneficiary file imported, activated; this
/// month's cycle generated by the officer, submitted by the officer and
/// approved by the approver (maker–checker), then released: vouchers
/// printed in `vouchers/`, cash entitlements on the site's roster.
fn register_programme(
    layout: &Layout,
    storage: &Storage,
    keys: &KeyDir,
    config: &Config,
    officer: &people::Caller,
    approver: &people::Caller,
    now: i64,
) -> anyhow::Result<DemoProgramme> {
    const DAY: i64 = 86_400;
    let by = officer.actor();
    sites::create(storage, &by, SITE, SITE_NAME, now)?;
    programmes::create(
        storage,
        &by,
        &NewProgramme {
            programme: PROGRAMME.to_owned(),
            name: PROGRAMME_NAME.to_owned(),
            currency: "KES".to_owned(),
            issuer: config.issuer.to_string(),
            channels: vec!["voucher".to_owned(), "cash".to_owned(), "bank".to_owned()],
            budget: BUDGET.to_owned(),
            starts_on: calendar::format_date(now),
            ends_on: Some(calendar::format_date(now + PROGRAMME_DAYS * DAY)),
            target: Target::Household,
            household_max: Some(8),
            id_pattern: Some("99999999".to_owned()),
        },
        now,
    )?;
    // Imported from a file, as `lastmile-server beneficiaries import` does:
    // the file stays in the server's folder for a person to look at.
    let inputs = layout.server().join("demo-input");
    std::fs::create_dir_all(&inputs)?;
    let file = inputs.join("beneficiaries.csv");
    std::fs::write(&file, BENEFICIARIES_CSV)?;
    let open = || {
        std::fs::File::open(&file)
            .map(std::io::BufReader::new)
            .with_context(|| format!("cannot read {}", file.display()))
    };
    let headers = import::headers(open()?)?;
    // A row with an error would refuse the whole file.
    import::import(
        storage,
        &by,
        PROGRAMME,
        "beneficiaries.csv",
        open()?,
        &Mapping::guess(&headers),
        import::Options::default(),
        now,
    )?;
    programmes::transition(storage, &by, PROGRAMME, Transition::Activate, now)?;
    // The treasury pays this cycle's budget in, so the ledger's statement
    // shows it funded, committed and (once terminals sync) delivered.
    funding::record(
        storage,
        &Actor::Operator("demo".to_owned()),
        PROGRAMME,
        &FundingRequest {
            source: "treasury".to_owned(),
            amount: BUDGET.to_owned(),
            currency: None,
            reference: "demo-release-1".to_owned(),
        },
        now,
    )?;
    // This month, e.g. 2026-05.
    let period = &calendar::format_date(now)[..7];
    let cycle = cycles::generate(
        storage,
        &by,
        PROGRAMME,
        period,
        &RuleRequest {
            rule: "per_member".to_owned(),
            amount: PER_MEMBER.to_owned(),
            cap: Some(CAP.to_owned()),
        },
        now,
    )?;
    let proposal = proposals::submit_cycle(
        storage,
        officer,
        cycle.id,
        "demo: this month's transfers for Kibera",
        false,
        now,
    )?;
    proposals::decide(
        storage,
        keys,
        approver,
        proposal.id,
        Decision::Approve,
        "demo: household sizes checked against the register",
        now,
    )?;
    let released = release::release(
        storage,
        keys,
        &by,
        cycle.id,
        Some(layout.vouchers().as_path()),
        now,
    )?;
    let sheet = released
        .sheet
        .context("the demo cycle released no vouchers")?;
    // The sheet prints beneficiary ids; the tour names people.
    let vouchers = storage.transaction(|tx| {
        sheet
            .vouchers
            .into_iter()
            .map(|v| {
                let name =
                    registry_table::beneficiary(tx.sql(), PROGRAMME, v.beneficiary.as_str())?
                        .map_or_else(|| v.beneficiary.to_string(), |b| b.name);
                Ok(DemoVoucher {
                    id: v.voucher.to_string(),
                    beneficiary: v.beneficiary.to_string(),
                    name,
                    qr_text: v.qr_text,
                    qr_png: v.qr_png,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()
    })?;
    Ok(DemoProgramme {
        cycle: cycle.id,
        vouchers,
    })
}

/// The cycle's bank entitlements through the payment pipeline: a bank
/// rail whose folders the bank simulator reads and answers in, a batch
/// prepared and submitted by finance and approved by the approver. The
/// embedded server's worker writes its pain.001 file once it starts.
fn pay_by_bank(
    layout: &Layout,
    storage: &Storage,
    keys: &KeyDir,
    finance: &people::Caller,
    approver: &people::Caller,
    cycle: i64,
    now: i64,
) -> anyhow::Result<()> {
    for dir in [layout.to_bank(), layout.bank_answers()] {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    rails::add_bank(
        storage,
        &Actor::Operator("demo".to_owned()),
        &NewBankRail {
            rail: BANK_RAIL.to_owned(),
            currency: "KES".to_owned(),
            config: BankFileConfig {
                format: FileFormat::Pain001V09,
                debtor_name: PROGRAMME_NAME.to_owned(),
                debtor_account: "0100200300".to_owned(),
                debtor_bic: Some("KCBLKENX".to_owned()),
                outbox: layout.to_bank(),
                inbox: layout.bank_answers(),
                batch_payments_max: 1_000,
                answer_deadline_hours: 48,
            },
        },
        now,
    )?;
    for batch in batches::prepare(storage, finance, cycle, BANK_RAIL, now)? {
        let proposal = batches::submit(
            storage,
            finance,
            batch.row.id,
            "demo: this month's bank transfers",
            now,
        )?;
        proposals::decide(
            storage,
            keys,
            approver,
            proposal.id,
            Decision::Approve,
            "demo: the account list matches the register",
            now,
        )?;
    }
    Ok(())
}

/// Adds [`SHOP_ENTITLEMENT`] to the demo site's roster as the release
/// published it, and publishes that roster again for the site and the demo
/// shop. (A terminal with a site receives its site's roster only, so the
/// shop's entitlement goes on the same document.)
fn add_shop_entitlement(
    storage: &Storage,
    keys: &KeyDir,
    site: &SiteId,
    merchant: &MerchantId,
    now: i64,
) -> anyhow::Result<()> {
    const DAY: i64 = 86_400;
    let (beneficiary, name, national_id, entitlement, programme, kes) = SHOP_ENTITLEMENT;
    let item = Entitlement {
        id: EntitlementId::parse(entitlement)?,
        programme: ProgrammeId::parse(programme)?,
        value: Money::new(kes * 100, Currency::parse("KES")?),
        valid_from: now,
        valid_until: now + PROGRAMME_DAYS * DAY,
        mode: RedemptionMode::Partial,
        delivery: Delivery::Merchant,
    };
    let beneficiary = BeneficiaryId::parse(beneficiary)?;
    storage.transaction(|tx| -> anyhow::Result<()> {
        let root = keys::root_signer(tx, keys)?;
        let scope = documents::roster_scope(Some(site), None).context("a site has a roster")?;
        let (_, bytes) = tx
            .document(documents::ROSTER, &scope)?
            .context("the release published no roster for the demo site")?;
        let roster = Roster::open(
            &bytes,
            &RootKey {
                kid: root.kid.clone(),
                key: root.key.verifying_key(),
            },
            None,
        )?;
        let mut people = roster.people;
        match people.iter_mut().find(|p| p.beneficiary == beneficiary) {
            Some(person) => person.entitlements.push(item),
            None => people.push(RosterPerson {
                beneficiary,
                name: name.to_owned(),
                id_numbers: vec![national_id.to_owned()],
                date_of_birth: None,
                photo: None,
                entitlements: vec![item],
            }),
        }
        documents::publish_roster(tx, &root, Some(site), Some(merchant), people, now)?;
        Ok(())
    })
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

/// Writes a secret readable by this user only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The sync server running on its own threads inside this process.
struct EmbeddedServer {
    address: SocketAddr,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedServer {
    fn start(config: Config) -> anyhow::Result<EmbeddedServer> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sync-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Server::build(&config).await {
                        Ok(server) => {
                            let address = server.local_addr().map_err(anyhow::Error::from);
                            let _ = ready_tx.send(address);
                            let stopped = async {
                                let _ = stop_rx.await;
                            };
                            if let Err(e) = server.run(stopped).await {
                                eprintln!("the embedded server stopped: {e}");
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow::Error::from(e)));
                        }
                    }
                });
            })?;
        let address = ready_rx
            .recv_timeout(SERVER_START_TIMEOUT)
            .context("the embedded server did not start in time")?
            .context(
                "the embedded server could not start (is another demo running? try --listen)",
            )?;
        Ok(EmbeddedServer {
            address,
            url: format!("http://{address}"),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The demo's bank: the bank simulator on the rail's folders, answering
/// every payment file the server writes (about one payment in four
/// refused, as closed or unknown accounts, so the exception queue has
/// something in it), until the demo stops.
struct SimulatedBank {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimulatedBank {
    /// How often the bank looks at its in-tray.
    const POLL: Duration = Duration::from_millis(500);

    fn start(layout: &Layout) -> anyhow::Result<SimulatedBank> {
        let mut bank = FolderBank::open(
            Folders {
                outbox: layout.to_bank(),
                inbox: layout.bank_answers(),
                state: layout.bank().join("simulator"),
            },
            BankSimConfig {
                reject_per_mille: 250,
                reasons: vec!["AC04".to_owned(), "AC01".to_owned()],
                duplicate_reports: false,
                // Refuses two of the demo's six (the draws follow the seed
                // and each payment's key, which a fresh demo always makes the same).
                seed: 2,
                settle: true,
            },
            Duration::ZERO,
        )
        .context("cannot start the bank simulator")?;
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bank-simulator".into())
            .spawn(move || {
                loop {
                    if let Err(e) = bank.sweep(|| Clock::now(&lastmile_server::clock::SystemClock))
                    {
                        eprintln!("the bank simulator: {e}");
                    }
                    match stop_rx.recv_timeout(Self::POLL) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(SimulatedBank {
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for SimulatedBank {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the newcomer is shown, and the walkthrough.
struct Tour<'a> {
    layout: &'a Layout,
    state: &'a DemoState,
    server_url: String,
    printer_target: String,
}

impl Tour<'_> {
    fn terminal_dir(&self) -> String {
        self.layout.terminal().display().to_string()
    }

    fn introduce(&self) {
        let root = self.layout.root.display();
        println!();
        println!("Lastmile demo is running.");
        println!(
            "  HQ sync server   {} (SQLite in {root}/server)",
            self.server_url
        );
        // `hq-login` holds "username password (role)" lines, one password.
        let login = std::fs::read_to_string(self.layout.login()).unwrap_or_default();
        let password = login.split_whitespace().nth(1).unwrap_or("(see hq-login)");
        println!("  HQ console       {}/console", self.server_url);
        println!(
            "  HQ login         hq.admin, hq.officer, hq.approver or hq.finance, password {password} (in {root}/hq-login)"
        );
        println!("  HQ API token     {root}/hq-token (the admin's)");
        println!(
            "  voucher sheet    {root}/vouchers/vouchers.pdf (vouchers.csv beside it, QR PNGs in qr/)"
        );
        println!(
            "  receipts         {root}/receipts/ (virtual printer at {})",
            self.printer_target
        );
        println!("  terminal         {root}/terminal, enrolled at shop {MERCHANT}, site {SITE}");
        println!(
            "  operators        Grace Muthoni (op-1, PIN 1234), Daniel Kiprop (op-2, PIN 5678)"
        );
        if let Some(cycle) = self.state.cycle {
            println!(
                "  programme        {PROGRAMME} ({PROGRAMME_NAME}), in the registry: cycle {cycle} generated and submitted by hq.officer, \
                 approved by hq.approver, released as the voucher sheet and the cash list of {SITE}"
            );
            println!(
                "  bank payments    its bank entitlements in a batch prepared by hq.finance, approved by hq.approver, sent as \
                 pain.001 to {root}/bank/to-bank; the bank simulator answers in {root}/bank/from-bank (refusals land in the \
                 console's exception queue, Payments)"
            );
        }
        let (_, shop_name, shop_id, ..) = SHOP_ENTITLEMENT;
        println!(
            "  to try           every voucher on the sheet; {} is revoked at HQ; ID number {shop_id} ({shop_name}) has a food \
             entitlement at this shop; `cash list` shows who is paid in cash at {SITE}",
            self.state.revoked
        );
        println!();
    }

    /// Runs this program with `args`, first showing the command exactly as
    /// run — the program's own path, every argument in full, shell-quoted —
    /// so that it can be pasted into a shell opened in this directory.
    fn step(&self, title: &str, args: &[&str], env: Option<(&str, &str)>) -> i32 {
        println!("── {title}");
        let prefix = env
            .map(|(k, v)| format!("{k}={} ", quoted(v)))
            .unwrap_or_default();
        println!("$ {prefix}{}", command_line(args));
        let _ = std::io::stdout().flush();
        let mut command = match std::env::current_exe() {
            Ok(exe) => Command::new(exe),
            Err(e) => {
                println!("(cannot find this program: {e})");
                return -1;
            }
        };
        command.args(args).env_remove("LASTMILE_TERMINAL_DIR");
        if let Some((k, v)) = env {
            command.env(k, v);
        }
        let status = match command.status() {
            Ok(status) => status.code().unwrap_or(-1),
            Err(e) => {
                println!("(could not run: {e})");
                -1
            }
        };
        if status != 0 {
            println!("(exit status {status}; see `--help` for what it means)");
        }
        println!();
        status
    }

    /// Waits for Enter between steps when a person is watching.
    fn pause(&self) {
        if std::io::stdin().is_terminal() {
            print!("(press Enter for the next step) ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        }
    }

    /// The first voucher on the sheet that can still be redeemed here, and
    /// what it would redeem in full.
    fn redeemable(&self) -> anyhow::Result<Option<(&DemoVoucher, Money, RedemptionMode)>> {
        let mut terminal = Terminal::open(&self.layout.terminal(), Arc::new(SystemClock))?;
        for voucher in &self.state.vouchers {
            if let Ok(check) = terminal.check_voucher(&voucher.qr_text)
                && let Ok(amount) = check.full_redemption
            {
                return Ok(Some((voucher, amount, check.claims.mode)));
            }
        }
        Ok(None)
    }

    fn walk(&self, printer: &VirtualPrinter) -> anyhow::Result<()> {
        let dir = self.terminal_dir();
        let Some((voucher, remaining, mode)) = self.redeemable()? else {
            println!(
                "Every demo voucher has been used. Run the demo again with --reset to start over."
            );
            return Ok(());
        };
        let (id, qr) = (&voucher.id, &voucher.qr_text);
        let png = voucher.qr_png.display().to_string();
        println!(
            "The first voucher on the sheet that can still be used is {}'s ({id}).\n",
            voucher.name
        );
        self.pause();
        self.step(
            "1. Scan the voucher's QR code from its PNG (a webcam or a serial scanner gives the same text)",
            &["scan", "--image", &png],
            None,
        );
        self.pause();
        self.step(
            "2. Check it: signature, validity, balance and limits, offline; nothing changes",
            &["--data-dir", &dir, "redeem", "--check", "--qr", qr],
            None,
        );
        self.pause();
        self.step(
            "3. The shop assistant logs in",
            &["--data-dir", &dir, "operator", "login", "--id", "op-1"],
            Some(("LASTMILE_PIN", "1234")),
        );
        let amount = match mode {
            RedemptionMode::Partial if remaining.minor >= 2 => {
                Money::new(remaining.minor / 2, remaining.currency)
            }
            _ => remaining,
        };
        let amount_text = amount.decimal();
        self.pause();
        let before = printer.jobs().len();
        self.step(
            &format!(
                "4. Redeem {} {} of it and print the receipt: the signed entry is on disk before this answers, and with HQ reachable the paper says CONFIRMED (offline, ACCEPTED OFFLINE — PENDING)",
                amount.currency.code(),
                amount_text
            ),
            &[
                "--data-dir",
                &dir,
                "redeem",
                "--qr",
                qr,
                "--amount",
                &amount_text,
                "--printer",
                &self.printer_target,
            ],
            None,
        );
        wait_for_jobs(printer, before + 1);
        if let Some(job) = printer.jobs().last() {
            println!(
                "   The printed receipt (virtual printer): {}\n",
                job.display()
            );
        }
        self.pause();
        self.step(
            "5. Sync with HQ: anything still pending is uploaded, and updates come down",
            &["--data-dir", &dir, "sync"],
            None,
        );
        self.step(
            "6. The terminal shows it confirmed",
            &["--data-dir", &dir, "status"],
            None,
        );
        self.pause();
        println!("── 7. What HQ sees (GET /v1/hq/vouchers/{id})");
        match self.hq_voucher(id) {
            Ok(text) => println!("{text}\n"),
            Err(e) => println!("(the HQ API did not answer: {e:#})\n"),
        }
        self.pause();
        let revoked_qr = self
            .state
            .vouchers
            .iter()
            .find(|v| v.id == self.state.revoked)
            .map(|v| v.qr_text.as_str())
            .context("the revoked voucher is not in the demo's list")?;
        self.step(
            "8. A voucher revoked at HQ is refused, offline, with the reason",
            &["--data-dir", &dir, "redeem", "--qr", revoked_qr],
            None,
        );
        if let Some(cycle) = self.state.cycle {
            self.pause();
            println!(
                "── 9. Where the vouchers came from: cycle {cycle} of programme {PROGRAMME}, generated by hq.officer, \
                 approved by hq.approver (GET /v1/hq/cycles/{cycle})"
            );
            match self.hq_get(&format!("/v1/hq/cycles/{cycle}")) {
                Ok(value) => println!("{}\n", serde_json::to_string_pretty(&value)?),
                Err(e) => println!("(the HQ API did not answer: {e:#})\n"),
            }
        }
        Ok(())
    }

    /// `GET` on the HQ API with the demo admin's token.
    fn hq_get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let token = std::fs::read_to_string(self.layout.token())?;
        let body = ureq::get(&format!("{}{path}", self.server_url))
            .header("Authorization", &format!("Bearer {}", token.trim()))
            .call()?
            .body_mut()
            .read_to_string()?;
        Ok(serde_json::from_str(&body)?)
    }

    fn hq_voucher(&self, id: &str) -> anyhow::Result<String> {
        VoucherId::parse(id)?;
        let mut value = self.hq_get(&format!("/v1/hq/vouchers/{id}"))?;
        // The credential is the whole QR text: shown above already.
        if let Some(fields) = value.as_object_mut() {
            fields.remove("credential");
        }
        Ok(serde_json::to_string_pretty(&value)?)
    }

    fn receipts(&self, printer: &VirtualPrinter) {
        let jobs = printer.jobs();
        if !jobs.is_empty() {
            println!("{} receipt(s) printed this session:", jobs.len());
            for job in jobs {
                println!("  {}", job.display());
            }
        }
    }

    /// Keeps the server and printer up while a person tries things, when one is watching.
    fn keep_running(&self) {
        let dir = self.terminal_dir();
        let root = self.layout.root.display().to_string();
        println!("Try it yourself (another shell, in this directory):");
        if let Some(voucher) = self.state.vouchers.first() {
            let png = voucher.qr_png.display().to_string();
            println!("  {}", command_line(&["scan", "--image", &png]));
            let check: [&str; 6] = [
                "--data-dir",
                &dir,
                "redeem",
                "--check",
                "--qr",
                &voucher.qr_text,
            ];
            println!("  {}", command_line(&check));
        }
        let (_, _, shop_id, ..) = SHOP_ENTITLEMENT;
        println!(
            "  {}",
            command_line(&["--data-dir", &dir, "id-redeem", "--id", shop_id])
        );
        println!("  {}", command_line(&["--data-dir", &dir, "cash", "list"]));
        println!("  {}", command_line(&["--data-dir", &dir, "sync"]));
        println!(
            "  curl -H \"Authorization: Bearer $(cat {})\" {}/v1/hq/cases",
            quoted(&format!("{root}/hq-token")),
            self.server_url
        );
        if std::io::stdin().is_terminal() {
            print!("\nThe server and the virtual printer keep running. Press Enter to stop. ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        }
    }
}

/// This program and `args` as one line a POSIX shell runs as is: the
/// program by its path (relative to the current directory when it lies
/// inside it, so `./target/release/lastmile-terminal`), every argument in full.
fn command_line(args: &[&str]) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lastmile-terminal"));
    let program = match std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf))
    {
        Some(relative) => Path::new(".").join(relative),
        None => exe,
    };
    let mut line = quoted(&program.display().to_string());
    for arg in args {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    line
}

/// `text` as one shell word: as it is when it holds only characters no
/// shell treats specially, else in single quotes.
fn quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-+=.,/:@%".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The virtual printer renders a job after the connection closes; give it a moment.
fn wait_for_jobs(printer: &VirtualPrinter, count: usize) {
    for _ in 0..50 {
        if printer.jobs().len() >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
