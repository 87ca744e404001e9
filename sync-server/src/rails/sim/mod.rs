//! A bank, simulated, for tests and demos: it reads the `pain.001` files
//! the server delivers and answers each with a `pain.002` (every payment
//! accepted or rejected with a reason) and a `camt.054` (the payments it
//! settled), as a real bank on the file rail does.
//!
//! - `pain001`: the bank's reader of `pain.001.001.09` and `.001.03`;
//! - `bank`: the decisions, pure: the same file, seed and memory give the
//!   same answers, and a payment is never settled twice;
//! - `folder`: the driver that watches the server's outbox and writes
//!   into its inbox (`lastmile-server bank-simulator`).

pub mod bank;
pub mod folder;
pub mod pain001;
