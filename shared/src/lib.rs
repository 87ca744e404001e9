//! `lastmile-shared`: Lastmile's pure domain and protocol core.
//!
//! Architecture invariant: this crate does no I/O, starts no threads, reads
//! no clock and draws no randomness. Time arrives as Unix seconds in
//! arguments; keys arrive as values. Everything here is a plain function
//! over values, so the terminal, the server and third-party verifiers all
//! run exactly the same code.

pub mod cbor_limits;
pub mod device_log;
pub mod envelope;
pub mod http_signature;
pub mod id;
pub mod id_card;
pub mod money;
pub mod payee;
pub mod revocation;
pub mod roster;
pub mod rules;
pub mod sync;
pub mod text;
pub mod trust_list;
pub mod voucher;
pub mod voucher_book;
pub mod voucher_code;
