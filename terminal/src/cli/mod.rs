//! The command line: one subcommand per job the terminal does.

mod printer;
mod scan;

use clap::{Parser, Subcommand};

/// Lastmile point-of-sale terminal: verify and redeem signed vouchers offline,
/// pay out cash, print receipts, and sync with headquarters.
#[derive(Debug, Parser)]
#[command(name = "lastmile-terminal", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode codes from image files or read them from a serial scanner.
    Scan(scan::Args),
    /// Thermal printer tools: render ESC/POS bytes to a picture.
    Printer(printer::Args),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Scan(args) => scan::run(args),
            Command::Printer(args) => printer::run(args),
        }
    }
}
