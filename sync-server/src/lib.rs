//! `lastmile-server`: Lastmile's sync server.
//!
//! It enrols terminals with one-time codes, authenticates every sync request
//! by the device key (RFC 9421), ingests device logs idempotently by
//! `(device, sequence)`, turns conflicting redemptions into double-spend
//! cases, hands terminals root-signed trust lists, revocations, rosters and
//! policies, and issues signed vouchers (QR PNGs and a PDF sheet). It runs
//! on an embedded SQLite file, or on PostgreSQL with several instances.
//!
//! Architecture invariant: the server depends on `lastmile-shared` for every
//! signed format and never on the terminal or hardware crates. Domain
//! modules are plain synchronous code over [`storage::Tx`]; only `api`,
//! `startup`, `connections` and `tls` know about async and HTTP.

pub mod api;
pub mod audit;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod connections;
pub mod console;
pub mod device_auth;
pub mod documents;
pub mod double_spend;
pub mod id_authorities;
pub mod issuance;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod merchants;
pub mod payments;
pub mod people;
pub mod proposals;
pub mod rails;
pub mod registry;
pub mod rosters;
pub mod sheet_typeface;
pub mod signer;
pub mod spreadsheet;
pub mod startup;
pub mod storage;
pub mod sync;
pub mod terminals;
pub mod tls;
pub mod voucher_book;
pub mod voucher_sheet;
pub mod vouchers;
