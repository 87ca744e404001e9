//! The terminal's integration tests, in one test binary: linking dominates the test build on two
//! cores, so each file is a module of this binary rather than a binary of
//! its own. Run one file's tests with a filter, e.g.
//! `cargo nextest run -p lastmile-terminal --test terminal cli::`.

mod common;
#[path = "../../../hardware/tests/support/pty.rs"]
mod pty;
#[path = "support/gui.rs"]
mod support;

mod cli;
mod crash;
mod demo;
mod engine;
mod gui;
mod gui_keyboard;
mod gui_language;
mod gui_layout;
mod gui_printer;
mod gui_screenshots;
mod gui_sync;
mod gui_touch;
// The server library is linked only with the demo feature (on by default).
#[cfg(feature = "demo")]
mod id_authorities;
#[cfg(feature = "demo")]
mod payments;
#[cfg(feature = "demo")]
mod registry;
mod sync;
mod voucher_code;
