//! Receipt printing for the interface: the engine's receipt model, encoded
//! as ESC/POS by the hardware crate, sent to the configured printer on the
//! printer worker, with the outcome the receipt screen shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lastmile_hardware::escpos::{self, PaperWidth, QrMode};
use lastmile_hardware::printer::{PrintError, Printer, PrinterTarget};

use crate::i18n::Language;
use crate::receipt::{RECEIPT_COLUMNS_58MM, Receipt};

/// What became of a print job, as the receipt screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    Printed,
    PaperOut,
    /// Not reachable (cable, power, network); the text says which and what to do.
    Offline(String),
    Failed(String),
    NoPrinter,
}

/// Something that prints receipts. Runs on the printer worker.
pub trait ReceiptPrinter: Send {
    /// Prints text lines and, when given, a QR code under them.
    fn print(&mut self, lines: &[String], qr: Option<&str>) -> PrintOutcome;
    /// For the settings screen, e.g. `tcp 192.168.1.50:9100`.
    fn describe(&self) -> String;
}

/// The receipt in `language` as text lines, as printed on a 58 mm roll (also the preview).
pub fn receipt_lines(receipt: &Receipt, language: Language) -> Vec<String> {
    receipt
        .render_text_in(language, RECEIPT_COLUMNS_58MM)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn escpos_job(lines: &[String], qr: Option<&str>) -> Result<Vec<u8>, String> {
    let mut job = escpos::Receipt::new(PaperWidth::Mm58);
    for line in lines {
        job.line(line);
    }
    if let Some(qr) = qr {
        job.qr(qr, QrMode::Raster);
    }
    job.feed(3).cut();
    job.finish().map_err(|e| e.to_string())
}

/// No printer configured: every job says so, and the payment stands.
pub struct NoPrinter;

impl ReceiptPrinter for NoPrinter {
    fn print(&mut self, _lines: &[String], _qr: Option<&str>) -> PrintOutcome {
        PrintOutcome::NoPrinter
    }
    fn describe(&self) -> String {
        String::new()
    }
}

/// An ESC/POS printer at a configured target (`tcp:`, `serial:` or `file:`),
/// opened for each job so that a printer switched off and on again just works.
pub struct EscPosPrinter {
    target: PrinterTarget,
    text: String,
}

impl EscPosPrinter {
    pub fn new(target_text: &str) -> Result<EscPosPrinter, PrintError> {
        Ok(EscPosPrinter {
            target: PrinterTarget::parse(target_text)?,
            text: target_text.to_owned(),
        })
    }
}

impl ReceiptPrinter for EscPosPrinter {
    fn print(&mut self, lines: &[String], qr: Option<&str>) -> PrintOutcome {
        let job = match escpos_job(lines, qr) {
            Ok(job) => job,
            Err(reason) => return PrintOutcome::Failed(reason),
        };
        let outcome = self
            .target
            .open()
            .and_then(|transport| Printer::new(transport).print(&job));
        match outcome {
            Ok(_) => PrintOutcome::Printed,
            Err(PrintError::PaperOut) => PrintOutcome::PaperOut,
            Err(e @ (PrintError::Offline | PrintError::Io { .. })) => {
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
/// paper can be made to run out.
pub struct SimulatedPrinter {
    pub paper_out: Arc<AtomicBool>,
    pub printed: Arc<std::sync::Mutex<Vec<Vec<String>>>>,
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
    fn print(&mut self, lines: &[String], _qr: Option<&str>) -> PrintOutcome {
        if self.paper_out.load(Ordering::SeqCst) {
            return PrintOutcome::PaperOut;
        }
        if let Ok(mut printed) = self.printed.lock() {
            printed.push(lines.to_vec());
        }
        PrintOutcome::Printed
    }
    fn describe(&self) -> String {
        "simulated printer".to_owned()
    }
}
