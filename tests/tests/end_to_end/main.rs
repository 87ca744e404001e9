//! The end-to-end tests across crates, in one test binary: linking dominates the test build on two
//! cores, so each file is a module of this binary rather than a binary of
//! its own. Run one file's tests with a filter, e.g.
//! `cargo nextest run -p lastmile-tests --test end_to_end end_to_end::`.

mod architecture;
mod end_to_end;
mod receipts_online;
mod sync_conditions;
mod voucher_code;
