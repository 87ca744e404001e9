//! The touch interface: Slint screens (`terminal/ui/*.slint`) over the engine.
//!
//! - `ui/*.slint`: the screens. Their only interface is the properties,
//!   callbacks and models of `AppWindow`; they hold no rule.
//! - [`controller`]: taps in, engine jobs out, answers rendered back.
//! - [`worker`]: the engine and the printer each run on their own thread;
//!   results return with `slint::invoke_from_event_loop`, so the event loop
//!   never waits for SQLite, signatures, a printer or the network.
//! - [`format`]: amounts and times per language.
//! - [`devices`]: serial scanner and camera threads feeding the controller.
//! - [`demo`]: a provisioned training terminal (tests, screenshots, `--demo`).
//!
//! Architecture invariant: the GUI decides nothing about money. Every
//! verdict, amount and refusal it shows is the engine's answer.

slint::include_modules!();

pub mod controller;
pub mod demo;
pub mod devices;
pub mod engine;
pub mod format;
pub mod prefs;
pub mod printing;
pub mod worker;

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use self::controller::Controller;
use self::engine::Engine;
use self::prefs::{PREFS_FILE, Prefs};
use self::printing::{EscPosPrinter, NoPrinter, ReceiptPrinter, SimulatedPrinter};
use self::worker::Worker;
use crate::{Clock, SystemClock, Terminal};

/// How to start the interface.
#[derive(Debug, Clone)]
pub struct GuiOptions {
    pub data_dir: PathBuf,
    /// `en`, `fr`, `sw` or `ar`; overrides the saved choice.
    pub language: Option<String>,
    pub high_contrast: Option<bool>,
    /// Provision a training terminal in `data_dir` if it is empty, and use a simulated printer.
    pub demo: bool,
    /// Window size in logical pixels, e.g. (800, 480).
    pub size: Option<(u32, u32)>,
    pub fullscreen: bool,
    /// Quit after this many milliseconds (screenshots, start-up measurements).
    pub quit_after_ms: Option<u64>,
}

/// A printer from its configuration text; empty means none.
pub fn open_printer(
    target: &str,
) -> Result<Box<dyn ReceiptPrinter>, lastmile_hardware::printer::PrintError> {
    if target.trim().is_empty() {
        Ok(Box::new(NoPrinter))
    } else {
        Ok(Box::new(EscPosPrinter::new(target.trim())?))
    }
}

/// Opens the window and runs the event loop until the window is closed.
pub fn run(options: GuiOptions) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let prefs_path = options.data_dir.join(PREFS_FILE);
    let mut prefs = Prefs::load(&prefs_path);
    if let Some(language) = &options.language {
        prefs.language = language.clone();
    }
    if let Some(on) = options.high_contrast {
        prefs.high_contrast = on;
    }
    let window = AppWindow::new()?;
    if let Some((w, h)) = options.size {
        window
            .window()
            .set_size(slint::LogicalSize::new(w as f32, h as f32));
    }
    if options.fullscreen {
        window.window().set_fullscreen(true);
    }

    // Opening the store is quick (and needed before anything can be shown);
    // from here on the engine lives on its own thread.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let terminal = if options.demo {
        demo::open(&options.data_dir, clock)?.0
    } else {
        Terminal::open(&options.data_dir, clock)?
    };
    let engine: Worker<dyn Engine> =
        Worker::spawn("engine", move || Box::new(terminal) as Box<dyn Engine>)?;
    let printer: Box<dyn ReceiptPrinter> = if options.demo && prefs.printer.is_empty() {
        Box::new(SimulatedPrinter::new())
    } else {
        open_printer(&prefs.printer).unwrap_or_else(|_| Box::new(NoPrinter))
    };
    let printer = Worker::spawn("printer", move || printer)?;
    let scanner_port = prefs.scanner_port.clone();
    let camera = prefs.camera;
    let controller: Rc<Controller> =
        Controller::attach(&window, engine, printer, prefs, Some(prefs_path));
    controller.watch_server(Worker::spawn("reachability", || Box::new(()))?);
    let _devices = devices::start(&window, &controller, &scanner_port, camera);

    if let Some(ms) = options.quit_after_ms {
        slint::Timer::single_shot(std::time::Duration::from_millis(ms), || {
            let _ = slint::quit_event_loop();
        });
    }
    // Start-up time and memory, for the measurement in the README.
    if std::env::var_os("LASTMILE_GUI_REPORT_STARTUP").is_some() {
        let timer = slint::Timer::default();
        timer.start(
            slint::TimerMode::SingleShot,
            std::time::Duration::from_millis(0),
            move || {
                eprintln!(
                    "gui: first frame after {} ms, {}",
                    started.elapsed().as_millis(),
                    devices::resident_memory().unwrap_or_default()
                );
            },
        );
        std::mem::forget(timer);
    }
    window.run()?;
    drop(controller);
    Ok(())
}
