//! The server's integration tests, in one test binary: linking dominates the test build on two
//! cores, so each file is a module of this binary rather than a binary of
//! its own. Run one file's tests with a filter, e.g.
//! `cargo nextest run -p lastmile-server --test server sync::`.

mod common;

mod cli;
mod hostile;
mod jobs;
mod multi_instance;
mod openapi;
mod refusals;
mod safe_text;
mod sync;
mod voucher_book;
