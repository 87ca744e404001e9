//! `lastmile-terminal printer`: thermal printer tools.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use lastmile_hardware::emulator::{self, VirtualPrinter};
use lastmile_hardware::escpos::PaperWidth;
use lastmile_hardware::printer::{Printed, Printer, PrinterTarget};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PrinterCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PrinterCommand {
    /// Render raw ESC/POS bytes to a PNG, as a thermal printer would print them.
    Render {
        /// File of raw ESC/POS bytes.
        file: PathBuf,
        /// Where to write the picture of the paper.
        #[arg(long, value_name = "OUT")]
        png: PathBuf,
        /// Paper width in dots or mm: 384 or 58, 576 or 80 (default: guessed from the data).
        #[arg(long, value_parser = parse_width)]
        width: Option<PaperWidth>,
    },
    /// Run a virtual network printer: each job received becomes a PNG in a directory, and
    /// DLE EOT status queries are answered.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: SocketAddr,
        /// Directory for job-NNNN.png files.
        #[arg(long, default_value = "printed")]
        out: PathBuf,
        /// Paper width in dots or mm: 384 or 58, 576 or 80.
        #[arg(long, value_parser = parse_width, default_value = "58")]
        width: PaperWidth,
    },
    /// Send raw ESC/POS bytes to a printer, checking its status before and after.
    Send {
        /// File of raw ESC/POS bytes.
        file: PathBuf,
        /// The printer: tcp:HOST[:PORT], serial:PATH[@BAUD] or file:PATH (e.g. file:/dev/usb/lp0).
        #[arg(long, value_name = "TARGET")]
        to: String,
    },
}

fn parse_width(text: &str) -> Result<PaperWidth, String> {
    text.parse()
        .ok()
        .and_then(PaperWidth::from_dots_or_mm)
        .ok_or_else(|| format!("{text:?} is not a paper width; use 384 or 58, 576 or 80"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        PrinterCommand::Render { file, png, width } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let paper = width.unwrap_or_else(|| emulator::infer_paper_width(&bytes));
            let image = emulator::render(&bytes, paper)
                .with_context(|| format!("cannot render {}", file.display()))?;
            std::fs::write(&png, image.to_png())
                .with_context(|| format!("cannot write {}", png.display()))?;
            eprintln!(
                "{}: {}×{} dots",
                png.display(),
                image.width(),
                image.height()
            );
            Ok(())
        }
        PrinterCommand::Serve { listen, out, width } => {
            let printer = VirtualPrinter::start(listen, &out, width)
                .with_context(|| format!("cannot listen on {listen}; is the port in use?"))?;
            eprintln!(
                "virtual printer on {}, writing jobs to {}",
                printer.local_addr(),
                out.display()
            );
            printer.wait();
            Ok(())
        }
        PrinterCommand::Send { file, to } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let target = PrinterTarget::parse(&to)?;
            let mut printer = Printer::new(target.open()?);
            match printer.print(&bytes)? {
                Printed::Confirmed => eprintln!("printed; the printer reports no problem"),
                Printed::Unconfirmed => {
                    eprintln!("sent; this connection cannot report the printer's status")
                }
            }
            Ok(())
        }
    }
}
