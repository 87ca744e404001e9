//! `redeem` and `id-redeem`.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use lastmile_shared::device_log::IdentityCheck;
use lastmile_shared::id::EntitlementId;
use lastmile_shared::money::Money;
use lastmile_shared::roster::Delivery;
use lastmile_shared::voucher;
use lastmile_terminal::receipt::Receipt;
use lastmile_terminal::redemption::{IdEntry, IdInput, Identified, VoucherCheck, VoucherRequest};
use lastmile_terminal::{Error, Terminal};

use super::manage::PrinterArgs;
use super::output::Output;
use super::{EXIT_OK, EXIT_REFUSED, scan};

/// How long `redeem --scanner` waits for a code by default, in seconds.
const SCAN_TIMEOUT_SECONDS_DEFAULT: u64 = 60;
/// The longest `--scan-timeout` accepted, in seconds.
const SCAN_TIMEOUT_SECONDS_MAX: u64 = 3_600;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["qr", "qr_file", "scanner", "code"])))]
pub struct RedeemArgs {
    /// The voucher's QR text (`LM1:...`), as scanned or typed.
    #[arg(long, value_name = "TEXT")]
    qr: Option<String>,
    /// Redeem every voucher in FILE, one QR text per line (`-` for stdin).
    /// Prints one result per line as soon as it is durable.
    #[arg(long, value_name = "FILE")]
    qr_file: Option<PathBuf>,
    /// The voucher code printed under the QR code (12 characters, e.g.
    /// RWCW-VMNG-YGAW), for when the QR will not scan: the voucher is found
    /// in this terminal's voucher book and redeemed as if scanned.
    #[arg(long, value_name = "CODE")]
    code: Option<String>,
    /// Read the voucher from the serial barcode scanner on DEVICE (e.g. /dev/ttyACM0):
    /// waits for one code, then redeems it as --qr does.
    #[arg(long, value_name = "DEVICE")]
    scanner: Option<String>,
    /// Baud rate of the serial scanner.
    #[arg(long, value_name = "N", default_value_t = 9600, requires = "scanner")]
    baud: u32,
    /// How long to wait for the scanner, in seconds (1–3600).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = SCAN_TIMEOUT_SECONDS_DEFAULT,
        requires = "scanner",
        value_parser = clap::value_parser!(u64).range(1..=SCAN_TIMEOUT_SECONDS_MAX)
    )]
    scan_timeout: u64,
    /// Amount to redeem in major units (e.g. 12.50); default: all that is left.
    #[arg(long, value_name = "AMOUNT")]
    amount: Option<String>,
    /// The holder's ID card QR or ID number, for vouchers bound to a person.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Only check: verify the voucher and say what this redemption (with its
    /// --amount and --id) would do, from whichever input; change nothing.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    printer: PrinterArgs,
}

#[derive(Debug, clap::Args)]
pub struct IdRedeemArgs {
    /// The ID card's QR text (Claim 169) or the ID number.
    #[arg(long, value_name = "ID")]
    id: String,
    /// The ID came from a scanner (a barcode), not typed by the operator.
    #[arg(long)]
    scanned: bool,
    /// The entitlement to redeem; without it, the person's entitlements are listed.
    #[arg(long, value_name = "ENTITLEMENT")]
    entitlement: Option<String>,
    /// Amount in major units (e.g. 12.50); default: all that is left.
    #[arg(long, value_name = "AMOUNT")]
    amount: Option<String>,
}

pub fn id_input(text: &str, scanned: bool) -> IdInput<'_> {
    IdInput {
        text,
        entry: if scanned {
            IdEntry::Scanned
        } else {
            IdEntry::Typed
        },
    }
}

/// Parses `--amount` in the voucher's currency. The currency is read from
/// the (not yet verified) voucher only to place the decimal point; the
/// redemption itself verifies everything.
fn voucher_amount(qr: &str, amount: Option<&str>) -> Result<Option<Money>, Error> {
    let Some(amount) = amount else {
        return Ok(None);
    };
    let decoded = voucher::decode(qr)?;
    Ok(Some(Money::parse(
        amount.trim(),
        decoded.claims().value.currency,
    )?))
}

/// What `redeem` did with one voucher text.
enum Outcome {
    /// `--check`: what the redemption would answer; nothing changed.
    Checked(VoucherCheck),
    Redeemed(Receipt),
}

/// The one path every voucher text takes, whether it came from `--qr`,
/// `--qr-file` (or stdin) or `--scanner`: the same request, with the same
/// `--amount` and `--id`, either checked or redeemed.
fn act_on(terminal: &mut Terminal, args: &RedeemArgs, qr: &str) -> Result<Outcome, Error> {
    let request = VoucherRequest {
        qr,
        amount: voucher_amount(qr, args.amount.as_deref())?,
        id_card: args.id.as_deref().map(|id| id_input(id, true)),
    };
    if args.check {
        terminal.check_redemption(&request).map(Outcome::Checked)
    } else {
        terminal.redeem_voucher(&request).map(Outcome::Redeemed)
    }
}

/// The check's verdict in a sentence: what can be redeemed, or why not.
fn verdict(out: &Output, args: &RedeemArgs, check: &VoucherCheck) -> String {
    match (&check.full_redemption, &check.refusal) {
        (Ok(amount), _) if args.amount.is_some() => format!("Can redeem {}.", out.money(*amount)),
        (Ok(amount), _) => format!("Can redeem up to {}.", out.money(*amount)),
        (Err(_), Some(reason)) => out.sentence(&Error::Rejected(reason.clone())),
        (Err(code), None) => format!("Cannot redeem now ({code})."),
    }
}

fn exit_of(check: &VoucherCheck) -> u8 {
    match check.full_redemption {
        Ok(_) => EXIT_OK,
        Err(_) => EXIT_REFUSED,
    }
}

pub fn redeem(terminal: &mut Terminal, args: RedeemArgs, out: &Output) -> anyhow::Result<u8> {
    let scanned = match &args.scanner {
        Some(device) => Some(scan::read_one_code(
            device,
            args.baud,
            Duration::from_secs(args.scan_timeout),
        )?),
        None => None,
    };
    let from_code = match &args.code {
        Some(code) => Some(terminal.voucher_for_code(code)?),
        None => None,
    };
    if let Some(qr) = args
        .qr
        .as_deref()
        .or(scanned.as_deref())
        .or(from_code.as_deref())
    {
        match act_on(terminal, &args, qr)? {
            Outcome::Checked(check) => {
                out.show(&check, || {
                    let c = &check.claims;
                    format!(
                        "Voucher {} ({}), issued by {}\nValue {}; redeemed {}; remaining {}\n{}",
                        c.id,
                        c.programme,
                        c.issuer,
                        out.money(c.value),
                        out.money(check.redeemed),
                        out.money(check.remaining),
                        verdict(out, &args, &check)
                    )
                });
                return Ok(exit_of(&check));
            }
            Outcome::Redeemed(mut receipt) => {
                if args.printer.given() {
                    // Paper cannot change later: ask the server first, so an online
                    // sale prints CONFIRMED, and the screen says what the paper says.
                    receipt = terminal.confirm_online(receipt);
                }
                out.receipt(&receipt);
                // The redemption is done and durable whatever the printer does: a
                // failed print is reported, never turned into a failed redemption
                // (a script retrying it would be refused as already redeemed anyway).
                if let Err(error) = args.printer.print(terminal, &receipt, out.language) {
                    eprintln!(
                        "The receipt was not printed: {error:#}. The redemption is done; print it \
                         with `receipt reprint {} --printer ...`.",
                        receipt.seq
                    );
                }
                return Ok(EXIT_OK);
            }
        }
    }
    let Some(path) = &args.qr_file else {
        anyhow::bail!("give --qr TEXT, --qr-file FILE, --scanner DEVICE or --code CODE");
    };
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file =
            std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut exit = EXIT_OK;
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let qr = line.trim();
        if qr.is_empty() {
            continue;
        }
        let number = index + 1;
        match act_on(terminal, &args, qr) {
            Ok(Outcome::Checked(check)) => {
                if exit_of(&check) != EXIT_OK {
                    exit = EXIT_REFUSED;
                }
                out.show(
                    &serde_json::json!({
                        "ok": check.full_redemption.is_ok(), "line": number, "check": check,
                    }),
                    || format!("line {number}: checked: {}", verdict(out, &args, &check)),
                );
            }
            // Printed only after the commit returned: a line here means the
            // redemption is on disk.
            Ok(Outcome::Redeemed(receipt)) => out.show(
                &serde_json::json!({ "ok": true, "line": number, "receipt": receipt }),
                || {
                    format!(
                        "line {number}: redeemed, receipt {} ({})",
                        receipt.seq,
                        receipt.status.label()
                    )
                },
            ),
            Err(error) if error.category() == lastmile_terminal::ErrorCategory::Refused => {
                exit = EXIT_REFUSED;
                let message = out.sentence(&error);
                out.show(
                    &serde_json::json!({
                        "ok": false, "line": number, "code": error.code(), "message": message,
                    }),
                    || format!("line {number}: refused: {message}"),
                );
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(exit)
}

pub fn show_person(out: &Output, person: &Identified) {
    out.show(person, || {
        let identity = match person.identity {
            IdentityCheck::SignedIdCard => "signed ID card, verified",
            IdentityCheck::IdBarcode => "ID number scanned",
            IdentityCheck::Manual => "ID number typed: compare the name and photo",
        };
        let mut text = format!(
            "{} ({})\nDate of birth: {}\nPhoto on file: {}\nIdentity: {identity}",
            person.name,
            person.beneficiary,
            person.date_of_birth.as_deref().unwrap_or("unknown"),
            if person.photo.is_some() { "yes" } else { "no" },
        );
        if let Some(card_name) = &person.card_name {
            text.push_str(&format!("\nName on the ID card: {card_name}"));
        }
        for e in &person.entitlements {
            text.push_str(&format!(
                "\n  {}  {}  value {}  remaining {}",
                e.entitlement.id,
                e.entitlement.programme,
                out.money(e.entitlement.value),
                out.money(e.remaining)
            ));
        }
        if person.entitlements.is_empty() {
            text.push_str("\n  no entitlements here");
        }
        text
    });
}

pub fn id_redeem(terminal: &mut Terminal, args: IdRedeemArgs, out: &Output) -> anyhow::Result<u8> {
    let id = id_input(&args.id, args.scanned);
    let person = terminal.identify(id)?;
    let Some(entitlement) = &args.entitlement else {
        show_person(out, &person);
        return Ok(EXIT_OK);
    };
    let entitlement = EntitlementId::parse(entitlement).map_err(Error::from)?;
    let amount = match (
        &args.amount,
        person
            .entitlements
            .iter()
            .find(|e| e.entitlement.id == entitlement),
    ) {
        (Some(text), Some(view)) => {
            Some(Money::parse(text.trim(), view.entitlement.value.currency).map_err(Error::from)?)
        }
        _ => None,
    };
    let receipt = terminal
        .redeem_entitlement(id, &entitlement, amount)
        .map_err(|e| e.for_entitlement(&entitlement, Delivery::Merchant))?;
    out.receipt(&receipt);
    Ok(EXIT_OK)
}
