//! The command line: one subcommand per job the terminal does. Every
//! subcommand is a thin driver of the engine in the library
//! (`lastmile_terminal::Terminal`).

mod cash;
#[cfg(feature = "demo")]
mod demo;
mod gui;
mod manage;
mod output;
mod printer;
mod redeem;
mod scan;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use lastmile_terminal::i18n::Language;
use lastmile_terminal::{Clock, SkewedClock, SystemClock, Terminal};

use output::Output;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: any other failure (a damaged database or key file, a bug).
pub const EXIT_OTHER: u8 = 1;
/// Exit status: the command line or an amount or id in it is malformed.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the redemption, payout or cash action was refused, or the
/// terminal is already enrolled.
pub const EXIT_REFUSED: u8 = 3;
/// Exit status: the terminal is not enrolled or lacks a document it needs.
pub const EXIT_NOT_PROVISIONED: u8 = 4;
/// Exit status: the server could not be reached or refused the sync.
pub const EXIT_NETWORK: u8 = 5;
/// Exit status: no operator logged in, a wrong PIN or a locked operator.
pub const EXIT_OPERATOR: u8 = 6;

const AFTER_HELP: &str = "\
Exit status:
  0  done
  1  other failure (damaged database or key file, internal error)
  2  usage: a malformed command line, amount or id
  3  refused: the voucher, ID, payout or cash action was refused, or `enroll` on a
     terminal that is already enrolled; nothing changed
  4  not enrolled, or a document (trust list, policy, roster) is missing: enroll or sync
  5  network: the server could not be reached or refused the sync
  6  operator: nobody logged in, wrong PIN, or operator locked

Data directory: --data-dir, else $LASTMILE_TERMINAL_DIR, else
~/.local/share/lastmile-terminal. It holds terminal.sqlite3 (the store and
device log) and device.key (the device's private key, mode 0600).

A redemption the terminal accepts is durable and signed before it is
reported, and shows as ACCEPTED OFFLINE — PENDING until a sync confirms it.
With --printer, `redeem` first asks the server (a few seconds at most), so
the paper of an online sale says CONFIRMED.";

/// Lastmile point-of-sale terminal: verify and redeem signed vouchers
/// offline, redeem entitlements by ID card, pay out cash, print receipts,
/// and sync with headquarters.
///
/// Typical day: `operator login --id amina` (PIN on stdin), then `redeem
/// --qr 'LM1:...'` for each voucher, `status` to see what is pending, and
/// `sync` when the network is there.
#[derive(Debug, Parser)]
#[command(name = "lastmile-terminal", version, about, long_about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Directory holding the terminal's database and device key.
    #[arg(long, global = true, env = "LASTMILE_TERMINAL_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON (one object per result) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Language of messages for people: en, fr, sw or ar.
    #[arg(
        long,
        global = true,
        env = "LASTMILE_LANG",
        value_name = "LANG",
        default_value = "en",
        value_parser = parse_language
    )]
    lang: Language,
    /// Reads the system clock this many seconds off: a drill for a board
    /// whose clock is wrong (tests, training). Sync corrects it.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "LASTMILE_TERMINAL_CLOCK_SKEW_S",
        value_name = "SECONDS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    clock_skew_seconds: i64,
    /// Without a subcommand, the touch interface opens when there is a display.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol this terminal with the sync server using a one-time code from HQ.
    Enroll(manage::EnrollArgs),
    /// Install root-signed documents from a CBOR bundle (tests, demos, training).
    #[command(hide = true)]
    Provision(manage::ProvisionArgs),
    /// Manage operators and log in or out.
    #[command(subcommand)]
    Operator(manage::OperatorCommand),
    /// Verify and redeem a voucher QR code (in full or in part).
    Redeem(redeem::RedeemArgs),
    /// Redeem a person's entitlement after reading their ID card or number.
    IdRedeem(redeem::IdRedeemArgs),
    /// Cash distribution: open a session, pay people on the list, close with a count.
    #[command(subcommand)]
    Cash(cash::CashCommand),
    /// Run one sync round: upload pending log entries, then pull updates.
    Sync,
    /// Show pending entries, last sync, offline limits left and the operator.
    Status,
    /// Verify or export the signed device log.
    #[command(subcommand)]
    Log(manage::LogCommand),
    /// Print receipts again, or set the names they print.
    #[command(subcommand)]
    Receipt(manage::ReceiptCommand),
    /// Decode codes from image files or read them from a serial scanner.
    Scan(scan::Args),
    /// Thermal printer tools: render ESC/POS bytes to a picture.
    Printer(printer::Args),
    /// Open the touch interface (the default when there is a display).
    Gui(gui::Args),
    /// The whole system on this machine: an embedded sync server with a demo
    /// programme and issued vouchers, this terminal enrolled against it, and a
    /// virtual receipt printer; the touch interface when there is a display,
    /// otherwise a guided tour on the command line.
    #[cfg(feature = "demo")]
    Demo(demo::Args),
}

impl Cli {
    pub fn run(self) -> ExitCode {
        let language = self.lang;
        let out = Output::new(self.json, language);
        let command = match self.command {
            Some(command) => command,
            None if gui::display_available() => Command::Gui(gui::Args::default()),
            None => {
                eprintln!(
                    "no display: give a subcommand (see --help), or run `gui` with DISPLAY or SLINT_BACKEND set"
                );
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let result = match command {
            Command::Gui(args) => data_dir(self.data_dir)
                .and_then(|dir| gui::run(args, dir, language.code()))
                .map(|()| EXIT_OK),
            #[cfg(feature = "demo")]
            Command::Demo(args) => demo::run(args, language.code()).map(|()| EXIT_OK),
            Command::Scan(args) => scan::run(args).map(|()| EXIT_OK),
            Command::Printer(args) => printer::run(args).map(|()| EXIT_OK),
            command => open(self.data_dir, self.clock_skew_seconds)
                .and_then(|terminal| dispatch(terminal, command, &out)),
        };
        match result {
            Ok(code) => ExitCode::from(code),
            Err(error) => ExitCode::from(out.failure(&error)),
        }
    }
}

/// `--lang`: one of the terminal's languages, or a clear refusal (never a
/// silent fall-back to English).
fn parse_language(text: &str) -> Result<Language, String> {
    Language::parse(text)
        .ok_or_else(|| format!("unknown language {text:?}: the terminal speaks en, fr, sw and ar"))
}

fn open(data_dir: Option<PathBuf>, clock_skew_seconds: i64) -> anyhow::Result<Terminal> {
    let clock: Arc<dyn Clock> = match clock_skew_seconds {
        0 => Arc::new(SystemClock),
        skew => Arc::new(SkewedClock(skew)),
    };
    Ok(Terminal::open(&self::data_dir(data_dir)?, clock)?)
}

fn data_dir(data_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    Ok(match data_dir {
        Some(dir) => dir,
        None => {
            let home = std::env::var_os("HOME").ok_or_else(|| {
                anyhow::anyhow!("HOME is not set; pass --data-dir or set LASTMILE_TERMINAL_DIR")
            })?;
            PathBuf::from(home).join(".local/share/lastmile-terminal")
        }
    })
}

fn dispatch(mut terminal: Terminal, command: Command, out: &Output) -> anyhow::Result<u8> {
    match command {
        Command::Enroll(args) => manage::enroll(&mut terminal, args, out),
        Command::Provision(args) => manage::provision(&mut terminal, args, out),
        Command::Operator(command) => manage::operator(&mut terminal, command, out),
        Command::Redeem(args) => redeem::redeem(&mut terminal, args, out),
        Command::IdRedeem(args) => redeem::id_redeem(&mut terminal, args, out),
        Command::Cash(command) => cash::run(&mut terminal, command, out),
        Command::Sync => manage::sync(&mut terminal, out),
        Command::Status => manage::status(&terminal, out),
        Command::Log(command) => manage::log(&terminal, command, out),
        Command::Receipt(command) => manage::receipt(&mut terminal, command, out),
        Command::Scan(_) | Command::Printer(_) | Command::Gui(_) => {
            unreachable!("handled before opening the store")
        }
        #[cfg(feature = "demo")]
        Command::Demo(_) => unreachable!("handled before opening the store"),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_argument_has_a_help_line() {
        let found = lastmile_tests::arguments_without_help(&Cli::command());
        assert!(found.is_empty(), "no help text: {found:?}");
    }
}
