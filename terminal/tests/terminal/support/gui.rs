//! Drives the real Slint window headless (Slint's testing backend with the
//! software renderer) over a real engine: a demo terminal provisioned in a
//! temporary directory, with a fixed clock. Engine and printer jobs run
//! inline, so each click's result is on screen when the click returns.

#![allow(dead_code)]

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use i_slint_backend_testing::ElementHandle;
use lastmile_terminal::gui::controller::{CONFIRM_ARM_MS, Controller};
use lastmile_terminal::gui::demo::{self, DEMO_NOW, Demo};
use lastmile_terminal::gui::engine::Engine;
use lastmile_terminal::gui::prefs::Prefs;
use lastmile_terminal::gui::printing::{ReceiptPrinter, SimulatedPrinter};
use lastmile_terminal::gui::worker::Worker;
use lastmile_terminal::gui::{AppWindow, Screen};
use lastmile_terminal::{ManualClock, Terminal};
use slint::ComponentHandle;
use slint::platform::{PointerEventButton, WindowEvent};

/// How long a finger stays down in a tap.
pub const TAP_MS: u64 = 60;

/// Installs the testing backend (software renderer) for this test thread.
pub fn init_backend() {
    let _ = slint::platform::set_platform(Box::new(i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: true,
            threading: false,
            renderer_name: Some("software".into()),
        },
    )));
}

pub struct App {
    pub window: AppWindow,
    pub controller: Rc<Controller>,
    pub demo: Demo,
    pub paper_out: Arc<AtomicBool>,
    /// Every job the simulated printer printed, as ESC/POS bytes.
    pub printed: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    pub clock: ManualClock,
    /// The demo terminal's data directory.
    pub dir: tempfile::TempDir,
}

impl App {
    pub fn start(width: f32, height: f32, language: &str) -> App {
        App::start_with(width, height, language, |terminal| Box::new(terminal))
    }

    /// As [`App::start`], with the demo terminal behind an engine of the test's own.
    pub fn start_with(
        width: f32,
        height: f32,
        language: &str,
        engine: impl FnOnce(Terminal) -> Box<dyn Engine>,
    ) -> App {
        App::start_printing(width, height, language, engine, None)
    }

    /// As [`App::start_with`], printing on `printer` (a real one) instead
    /// of the simulated printer when given.
    pub fn start_printing(
        width: f32,
        height: f32,
        language: &str,
        engine: impl FnOnce(Terminal) -> Box<dyn Engine>,
        printer: Option<Box<dyn ReceiptPrinter>>,
    ) -> App {
        init_backend();
        let dir = tempfile::tempdir().expect("temporary directory");
        let clock = ManualClock::new(DEMO_NOW);
        let (terminal, demo) =
            demo::open(dir.path(), Arc::new(clock.clone())).expect("demo terminal");
        let window = AppWindow::new().expect("window");
        window
            .window()
            .set_size(slint::LogicalSize::new(width, height));
        window.show().expect("show");
        let simulated = SimulatedPrinter::new();
        let paper_out = simulated.paper_out.clone();
        let printed = simulated.printed.clone();
        let printer = printer.unwrap_or_else(|| Box::new(simulated));
        let prefs = Prefs {
            language: language.to_owned(),
            ..Prefs::default()
        };
        let controller = Controller::attach(
            &window,
            Worker::inline(engine(terminal)),
            Worker::inline(printer),
            prefs,
            None,
        );
        App {
            window,
            controller,
            demo,
            paper_out,
            printed,
            clock,
            dir,
        }
    }

    /// The first element whose accessible label is `label` (a button, a key, a list row).
    pub fn find(&self, label: &str) -> ElementHandle {
        ElementHandle::find_by_accessible_label(&self.window, label)
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "no element labelled {label:?} on screen {:?}",
                    self.window.get_screen()
                )
            })
    }

    pub fn has(&self, label: &str) -> bool {
        ElementHandle::find_by_accessible_label(&self.window, label)
            .next()
            .is_some()
    }

    /// Presses the element labelled `label`, as a touch or Enter would.
    pub fn tap(&self, label: &str) {
        self.find(label).invoke_accessible_default_action();
    }

    /// Lets `ms` pass on the mocked clock (Slint's timers fire).
    pub fn wait_ms(&self, ms: u64) {
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(ms));
    }

    /// Waits as a person reading the screen does: a screen that pays money
    /// arms its pay button after `CONFIRM_ARM_MS`.
    pub fn wait_armed(&self) {
        self.wait_ms(CONFIRM_ARM_MS);
    }

    /// Reads the Confirm screen, then presses "Confirm payment".
    pub fn confirm_payment(&self) {
        assert_eq!(self.screen(), Screen::Confirm);
        self.wait_armed();
        self.tap("Confirm payment");
    }

    /// A finger down at (`x`, `y`) in logical pixels: real pointer events
    /// through the window, as the touch screen's driver delivers them.
    pub fn press_at(&self, x: f32, y: f32) {
        let position = slint::LogicalPosition::new(x, y);
        let window = self.window.window();
        window.dispatch_event(WindowEvent::PointerMoved { position });
        window.dispatch_event(WindowEvent::PointerPressed {
            position,
            button: PointerEventButton::Left,
        });
    }

    /// The finger up again at (`x`, `y`).
    pub fn release_at(&self, x: f32, y: f32) {
        let position = slint::LogicalPosition::new(x, y);
        self.window
            .window()
            .dispatch_event(WindowEvent::PointerReleased {
                position,
                button: PointerEventButton::Left,
            });
        self.window
            .window()
            .dispatch_event(WindowEvent::PointerExited);
    }

    /// One short tap at (`x`, `y`).
    pub fn tap_at(&self, x: f32, y: f32) {
        self.press_at(x, y);
        self.wait_ms(TAP_MS);
        self.release_at(x, y);
    }

    /// One turn of an event loop: `changed` handlers run (the Theme follows
    /// the language and the window's size), as before a frame reaches the
    /// screen. A finger aims at what the screen shows, so geometry is read
    /// after this.
    pub fn settle(&self) {
        slint::platform::update_timers_and_animations();
    }

    /// The centre of the element labelled `label`, in window coordinates.
    pub fn centre_of(&self, label: &str) -> (f32, f32) {
        self.settle();
        let element = self.find(label);
        let (at, size) = (element.absolute_position(), element.size());
        assert!(
            size.width > 0.0 && size.height > 0.0,
            "{label:?} has no area on screen {:?}",
            self.screen()
        );
        (at.x + size.width / 2.0, at.y + size.height / 2.0)
    }

    /// Touches the element labelled `label` once, with pointer events at its centre.
    pub fn touch(&self, label: &str) {
        let (x, y) = self.centre_of(label);
        self.tap_at(x, y);
    }

    pub fn type_digits(&self, digits: &str) {
        for d in digits.chars() {
            self.tap(&d.to_string());
        }
    }

    pub fn screen(&self) -> Screen {
        self.window.get_screen()
    }

    pub fn login(&self) {
        assert_eq!(self.screen(), Screen::Login);
        self.type_digits(self.demo.operator_pin);
        // OK is labelled in the window's language; same callback.
        self.window.invoke_pin_entered(self.window.get_pin());
        assert_eq!(
            self.screen(),
            Screen::Home,
            "login failed: {}",
            self.window.get_login_error()
        );
    }

    /// Finishes a login whose first digits were already typed.
    pub fn login_rest(&self) {
        let typed = self.window.get_pin().len();
        self.type_digits(&self.demo.operator_pin[typed..]);
        self.window.invoke_pin_entered(self.window.get_pin());
        assert_eq!(self.screen(), Screen::Home);
    }

    /// Calls one of the window's callbacks by name (for scenes that are not about buttons).
    pub fn tap_action(&self, name: &str) {
        match name {
            "redeem-part" => self.window.invoke_redeem_part(),
            other => panic!("unknown action {other}"),
        }
    }

    /// Goes to the scan screen and types `code` into the manual entry, then "Check".
    pub fn scan(&self, code: &str) {
        if self.screen() != Screen::Scan {
            self.window.invoke_navigate(Screen::Scan);
        }
        self.window.set_manual_code(code.into());
        if self.has("Check") {
            self.tap("Check");
        } else {
            // Other languages label the button differently; same callback.
            self.window.invoke_code_typed(code.into());
        }
    }

    /// Types `code` into the scan screen as it is (keeping what the scan is for).
    pub fn scan_here(&self, code: &str) {
        assert_eq!(self.screen(), Screen::Scan);
        self.window.set_manual_code(code.into());
        self.tap("Check");
    }

    /// A code from a scanner (serial, keyboard wedge or camera), wherever the operator is.
    pub fn scanner(&self, code: &str) {
        self.controller.scanned(code.to_owned());
    }

    pub fn snapshot(&self, path: &std::path::Path) {
        let shot = self.window.window().take_snapshot().expect("snapshot");
        image::save_buffer(
            path,
            shot.as_bytes(),
            shot.width(),
            shot.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("write png");
    }
}
