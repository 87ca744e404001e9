//! The printer driver against the virtual printer over TCP: jobs arrive as PNG files, and
//! paper-out or an open cover is a clear error with nothing lost.

use std::net::SocketAddr;

use lastmile_hardware::emulator::VirtualPrinter;
use lastmile_hardware::escpos::{PaperWidth, PrinterStatus, QrMode, Receipt};
use lastmile_hardware::printer::{PrintError, Printed, Printer, PrinterTarget};

fn receipt() -> Vec<u8> {
    Receipt::new(PaperWidth::Mm58)
        .line("Reçu — Montant payé")
        .qr("LM1:TEST", QrMode::Native)
        .cut()
        .finish()
        .unwrap()
}

fn connect(printer: &VirtualPrinter) -> Printer {
    let target = PrinterTarget::parse(&format!("tcp:{}", printer.local_addr())).unwrap();
    Printer::new(target.open().unwrap())
}

#[test]
fn prints_checks_status_and_refuses_on_paper_out_or_cover_open() {
    let dir = std::env::temp_dir().join(format!("lastmile-virtual-printer-{}", std::process::id()));
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let virtual_printer = VirtualPrinter::start(local, &dir, PaperWidth::Mm58).unwrap();

    let job = receipt();
    assert_eq!(
        connect(&virtual_printer).print(&job).unwrap(),
        Printed::Confirmed
    );

    virtual_printer.set_status(PrinterStatus {
        paper_out: true,
        ..PrinterStatus::default()
    });
    let error = connect(&virtual_printer).print(&job).unwrap_err();
    assert!(matches!(error, PrintError::PaperOut), "{error}");
    assert!(error.to_string().contains("out of paper"));

    virtual_printer.set_status(PrinterStatus {
        cover_open: true,
        ..PrinterStatus::default()
    });
    assert!(matches!(
        connect(&virtual_printer).status().unwrap(),
        Some(PrinterStatus {
            cover_open: true,
            ..
        })
    ));
    assert!(matches!(
        connect(&virtual_printer).print(&job),
        Err(PrintError::CoverOpen)
    ));

    // Paper loaded, cover closed: the same job prints.
    virtual_printer.set_status(PrinterStatus::default());
    assert_eq!(
        connect(&virtual_printer).print(&job).unwrap(),
        Printed::Confirmed
    );

    // Jobs are written when the connection closes; wait for the second one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while virtual_printer.jobs().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let jobs = virtual_printer.jobs();
    assert_eq!(
        jobs.len(),
        2,
        "only the two accepted jobs are printed: {jobs:?}"
    );
    for job in &jobs {
        assert!(std::fs::read(job).unwrap().starts_with(b"\x89PNG"));
    }
    drop(virtual_printer);
    std::fs::remove_dir_all(&dir).ok();
}
