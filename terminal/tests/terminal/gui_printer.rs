//! What the interface says about the printer is what the printer did: a
//! test page against a real ESC/POS printer in software (the hardware
//! crate's virtual network printer, over TCP), unreachable, ready, and out
//! of paper.

use crate::support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use lastmile_hardware::emulator::VirtualPrinter;
use lastmile_hardware::escpos::{PaperWidth, PrinterStatus};
use lastmile_terminal::gui::printing::EscPosPrinter;
use support::App;

/// A loopback port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the virtual printer has written `count` job files.
fn wait_for_jobs(printer: &VirtualPrinter, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while printer.jobs().len() < count {
        assert!(Instant::now() < deadline, "{count} job(s) never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_test_print_reports_what_the_printer_did() {
    let port = free_port();
    let printer = EscPosPrinter::new(&format!("tcp:127.0.0.1:{port}")).unwrap();
    let app = App::start_printing(
        800.0,
        480.0,
        "en",
        |terminal| Box::new(terminal),
        Some(Box::new(printer)),
    );
    app.login();

    app.window.invoke_test_print();
    assert_eq!(
        app.window.get_toast(),
        "Not printed: the printer cannot be reached. Check its cable, power and network.",
        "nothing listens on the printer's port"
    );

    let out = tempfile::tempdir().unwrap();
    let virtual_printer =
        VirtualPrinter::start(([127, 0, 0, 1], port).into(), out.path(), PaperWidth::Mm58).unwrap();
    app.window.invoke_test_print();
    assert_eq!(app.window.get_toast(), "Printed.");
    wait_for_jobs(&virtual_printer, 1);

    virtual_printer.set_status(PrinterStatus {
        paper_out: true,
        ..PrinterStatus::default()
    });
    app.window.invoke_test_print();
    assert_eq!(
        app.window.get_toast(),
        "Not printed: the printer is out of paper. Load paper and try again."
    );
    app.controller.language_chosen("fr");
    assert_eq!(
        app.window.get_toast(),
        "Non imprimé : l'imprimante n'a plus de papier. Chargez du papier et réessayez."
    );
}
