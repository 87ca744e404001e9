//! Command groups of `lastmile-server` that live in files of their own.

pub mod audit;
pub mod bank_simulator;
pub mod id_authorities;
pub mod ledger;
pub mod payments;
pub mod people;
pub mod registry;
