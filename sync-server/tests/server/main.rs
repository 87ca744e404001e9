//! The server's integration tests, in one test binary: linking dominates the test build on two
//! cores, so each file is a module of this binary rather than a binary of
//! its own. Run one file's tests with a filter, e.g.
//! `cargo nextest run -p lastmile-server --test server sync::`.

mod common;

mod access;
mod audit;
mod bank_simulator;
mod cli;
mod console;
mod console_floats;
mod console_ledger;
mod console_payments;
mod console_registry;
mod hostile;
mod id_authorities;
mod iso20022;
mod jobs;
mod ledger;
mod maker_checker;
mod multi_instance;
mod openapi;
mod payments;
mod people;
mod refusals;
mod registry;
mod safe_text;
mod schema;
mod storage_conformance;
mod sync;
mod voucher_book;
