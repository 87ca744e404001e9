//! Lastmile's devices, each behind a small trait with a real driver and a simulator.
//!
//! - [`frame`] and [`qr`]: grayscale frames and the QR decoder (with a frame-skipping worker).
//! - [`camera`]: V4L2 capture through `nokhwa`, and image files through the same trait.
//! - [`scanner`]: serial and keyboard-wedge barcode scanners, one event stream.
//! - [`escpos`]: receipts as ESC/POS bytes; [`bitmap`] and [`typeface`] draw what the
//!   printer's character tables cannot.
//! - [`printer`]: serial, TCP 9100 and device-file transports with `DLE EOT` status checks.
//! - [`emulator`]: ESC/POS bytes to a paper image, and a virtual printer on TCP.

pub mod bitmap;
pub mod camera;
pub mod emulator;
pub mod escpos;
pub mod frame;
pub mod printer;
pub mod qr;
pub mod scanner;
pub mod typeface;
