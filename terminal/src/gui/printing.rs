//! Receipt printing for the interface: the engine's receipt model, encoded
//! as ESC/POS by the receipt itself (`Receipt::render_escpos_in`, so Arabic
//! labels print right-aligned as images) for the configured paper width,
//! sent to the configured printer on the printer worker, with the outcome
//! the receipt screen shows.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lastmile_hardware::escpos::{self, PaperWidth};
use lastmile_hardware::printer::{PrintError, Printed, Printer, PrinterTarget};

use crate::i18n::{self, Language, Text};
use crate::receipt::Receipt;

impl PrintOutcome {
    /// Whether a paper came out (as far as the printer can tell): the next
    /// print of the same receipt is a copy.
    pub fn came_out(&self) -> bool {
        matches!(self, PrintOutcome::Printed | PrintOutcome::Sent)
    }

    /// What the printer did, in a sentence for the operator (test page,
    /// day report). The detail of an unreachable printer (an OS error) goes
    /// to the log, not the screen.
    pub fn sentence(&self, language: Language) -> String {
        let text = |t: Text| i18n::text(language, t).to_owned();
        match self {
            PrintOutcome::Printed => text(Text::PrintDone),
            PrintOutcome::Sent => text(Text::PrintUnconfirmed),
            PrintOutcome::PaperOut => text(Text::PrintPaperOut),
            PrintOutcome::Offline(_) => text(Text::PrintUnreachable),
            PrintOutcome::Failed(detail) => i18n::fill(
                i18n::text(language, Text::PrintFailed),
                &[("detail", detail)],
            ),
            PrintOutcome::NoPrinter => text(Text::PrintNoPrinter),
        }
    }
}

/// What became of a print job, as the receipt screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    /// The printer reported the job done.
    Printed,
    /// Delivered, but the connection cannot report the printer's status
    /// (a device file): taken as printed, and said so.
    Sent,
    PaperOut,
    /// Not reachable (cable, power, network); the text says which and what to do.
    Offline(String),
    Failed(String),
    NoPrinter,
}

/// Something to print, encoded for the paper on the printer worker.
#[derive(Debug, Clone)]
pub enum PrintJob {
    /// A receipt in the operator's language, with its verification QR code.
    Receipt {
        receipt: Box<Receipt>,
        language: Language,
    },
    /// Plain lines (test page, day report).
    Lines(Vec<String>),
}

impl PrintJob {
    /// The ESC/POS bytes of the job on `paper`, cut at the end.
    pub fn encode(&self, paper: PaperWidth) -> Result<Vec<u8>, String> {
        match self {
            PrintJob::Receipt { receipt, language } => receipt.render_escpos_in(*language, paper),
            PrintJob::Lines(lines) => {
                let mut job = escpos::Receipt::new(paper);
                for line in lines {
                    job.line(line);
                }
                job.feed(3).cut();
                job.finish()
            }
        }
        .map_err(|e| e.to_string())
    }
}

/// Something that prints ESC/POS jobs. Runs on the printer worker.
pub trait ReceiptPrinter: Send {
    /// Sends one encoded job.
    fn print(&mut self, job: &[u8]) -> PrintOutcome;
    /// For the settings screen, e.g. `tcp 192.168.1.50:9100`.
    fn describe(&self) -> String;
}

/// The receipt in `language` as text lines, `paper` wide (the on-screen preview).
pub fn receipt_lines(receipt: &Receipt, language: Language, paper: PaperWidth) -> Vec<String> {
    receipt
        .render_text_in(language, paper.columns())
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The printer setting as the hardware crate reads it; a bare device path
/// (`/dev/usb/lp0`, as the settings screen suggests) is a device file.
pub fn printer_target(text: &str) -> Result<PrinterTarget, PrintError> {
    let text = text.trim();
    if Path::new(text).is_absolute() {
        PrinterTarget::parse(&format!("file:{text}"))
    } else {
        PrinterTarget::parse(text)
    }
}

/// No printer configured: every job says so, and the payment stands.
pub struct NoPrinter;

impl ReceiptPrinter for NoPrinter {
    fn print(&mut self, _job: &[u8]) -> PrintOutcome {
        PrintOutcome::NoPrinter
    }
    fn describe(&self) -> String {
        String::new()
    }
}

/// An ESC/POS printer at a configured target (`tcp:`, `serial:`, `file:` or
/// a device path), opened for each job so that a printer switched off and
/// on again just works.
pub struct EscPosPrinter {
    target: PrinterTarget,
    text: String,
}

impl EscPosPrinter {
    pub fn new(target_text: &str) -> Result<EscPosPrinter, PrintError> {
        Ok(EscPosPrinter {
            target: printer_target(target_text)?,
            text: target_text.trim().to_owned(),
        })
    }
}

impl ReceiptPrinter for EscPosPrinter {
    fn print(&mut self, job: &[u8]) -> PrintOutcome {
        let outcome = self
            .target
            .open()
            .and_then(|transport| Printer::new(transport).print(job));
        match outcome {
            Ok(Printed::Confirmed) => PrintOutcome::Printed,
            Ok(Printed::Unconfirmed) => PrintOutcome::Sent,
            Err(PrintError::PaperOut) => PrintOutcome::PaperOut,
            Err(e @ (PrintError::Offline | PrintError::Io { .. })) => {
                eprintln!("printer {}: {e}", self.text);
                PrintOutcome::Offline(e.to_string())
            }
            Err(e) => PrintOutcome::Failed(e.to_string()),
        }
    }
    fn describe(&self) -> String {
        self.text.clone()
    }
}

/// A printer simulated in memory (demo mode, tests, screenshots), whose
/// paper can be made to run out. Keeps every job's bytes.
pub struct SimulatedPrinter {
    pub paper_out: Arc<AtomicBool>,
    pub printed: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl SimulatedPrinter {
    pub fn new() -> SimulatedPrinter {
        SimulatedPrinter {
            paper_out: Arc::default(),
            printed: Arc::default(),
        }
    }
}

impl Default for SimulatedPrinter {
    fn default() -> Self {
        Self::new()
    }
}

impl ReceiptPrinter for SimulatedPrinter {
    fn print(&mut self, job: &[u8]) -> PrintOutcome {
        if self.paper_out.load(Ordering::SeqCst) {
            return PrintOutcome::PaperOut;
        }
        if let Ok(mut printed) = self.printed.lock() {
            printed.push(job.to_vec());
        }
        PrintOutcome::Printed
    }
    fn describe(&self) -> String {
        "simulated printer".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_device_path_is_a_device_file() {
        assert_eq!(
            printer_target(" /dev/usb/lp0 ").unwrap(),
            PrinterTarget::parse("file:/dev/usb/lp0").unwrap()
        );
        assert!(printer_target("tcp:192.168.1.50").is_ok());
        assert!(printer_target("lp0").is_err());
    }
}
