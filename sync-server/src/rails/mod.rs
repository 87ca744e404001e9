//! Payment rails: each speaks one provider's protocol as pure functions
//! (build what is sent from instructions; read what comes back into
//! events), with every byte of I/O done by the transport.

pub mod iso20022;
pub mod sim;
