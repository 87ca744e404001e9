//! Receipt printers: transports (serial, TCP port 9100, device file) behind one trait, and a
//! [`Printer`] that checks `DLE EOT` status before and after each job, so paper-out or an open
//! cover is a clear error and the caller still holds the job to print again.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::escpos::{PRINT_JOB_BYTES_MAX, PrinterStatus, StatusQuery};

/// The raw-print port of network printers (JetDirect / AppSocket).
pub const PRINTER_TCP_PORT: u16 = 9100;
/// How long to wait for a one-byte status answer, in ms.
pub const PRINTER_STATUS_TIMEOUT_MS: u64 = 1_000;
/// How long sending a job may take before we give up, in ms (slow serial at 9600 baud sends
/// about 1 KB/s; a large raster receipt is 40 KB).
pub const PRINTER_WRITE_TIMEOUT_MS: u64 = 60_000;
/// How long to wait for a network printer to accept the connection, in ms.
pub const PRINTER_CONNECT_TIMEOUT_MS: u64 = 3_000;
pub const PRINTER_BAUD_DEFAULT: u32 = 9_600;

/// A way to get bytes to a printer, and status back if the link allows.
pub trait PrinterTransport: Send {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Sends `DLE EOT n` and reads the one-byte answer; `Ok(None)` when this transport cannot
    /// read back.
    fn query(&mut self, query: StatusQuery) -> std::io::Result<Option<u8>>;
    /// For messages: e.g. `tcp 192.168.1.50:9100`.
    fn describe(&self) -> String;
}

/// Where a printer is: parse from configuration with [`PrinterTarget::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterTarget {
    /// `tcp:HOST[:PORT]` (port 9100 by default).
    Tcp(String),
    /// `serial:PATH[@BAUD]` (9600 baud by default).
    Serial { path: String, baud_rate: u32 },
    /// `file:PATH`, e.g. `file:/dev/usb/lp0`. Write-only: no status.
    DeviceFile(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("printer target {0:?} is not tcp:HOST[:PORT], serial:PATH[@BAUD] or file:PATH")]
    BadTarget(String),
    #[error("printer is out of paper; load a new roll and print the receipt again")]
    PaperOut,
    #[error("printer cover is open; close it and print the receipt again")]
    CoverOpen,
    #[error(
        "printer reports an error (cutter jam or overheating); check it, switch it off and on, and print again"
    )]
    PrinterFault,
    #[error("printer is offline; check that it is switched on and print again")]
    Offline,
    #[error(
        "printer answered a status query with {0:#04x}, which is not a status byte; check that the device is an ESC/POS printer"
    )]
    BadStatus(u8),
    #[error(
        "print job of {bytes} bytes exceeds {PRINT_JOB_BYTES_MAX}; this is a bug in the receipt"
    )]
    JobTooLarge { bytes: usize },
    #[error(
        "cannot reach the printer at {target} while {during}: {source}; check the cable or network and print again"
    )]
    Io {
        target: String,
        during: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl PrinterTarget {
    pub fn parse(text: &str) -> Result<PrinterTarget, PrintError> {
        let bad = || PrintError::BadTarget(text.to_owned());
        if let Some(rest) = text.strip_prefix("tcp:") {
            let address = if rest.contains(':') {
                rest.to_owned()
            } else {
                format!("{rest}:{PRINTER_TCP_PORT}")
            };
            return if rest.is_empty() {
                Err(bad())
            } else {
                Ok(PrinterTarget::Tcp(address))
            };
        }
        if let Some(rest) = text.strip_prefix("serial:") {
            let (path, baud_rate) = match rest.split_once('@') {
                Some((path, baud)) => (path, baud.parse().map_err(|_| bad())?),
                None => (rest, PRINTER_BAUD_DEFAULT),
            };
            return if path.is_empty() {
                Err(bad())
            } else {
                Ok(PrinterTarget::Serial {
                    path: path.to_owned(),
                    baud_rate,
                })
            };
        }
        match text.strip_prefix("file:") {
            Some(path) if !path.is_empty() => Ok(PrinterTarget::DeviceFile(PathBuf::from(path))),
            _ => Err(bad()),
        }
    }

    /// Opens the transport.
    pub fn open(&self) -> Result<Box<dyn PrinterTransport>, PrintError> {
        let io = |source| PrintError::Io {
            target: match self {
                PrinterTarget::Tcp(address) => format!("tcp {address}"),
                PrinterTarget::Serial { path, .. } => format!("serial {path}"),
                PrinterTarget::DeviceFile(path) => format!("device file {}", path.display()),
            },
            during: "connecting",
            source,
        };
        Ok(match self {
            PrinterTarget::Tcp(address) => Box::new(TcpTransport::connect(address).map_err(io)?),
            PrinterTarget::Serial { path, baud_rate } => {
                Box::new(SerialTransport::open(path, *baud_rate).map_err(io)?)
            }
            PrinterTarget::DeviceFile(path) => {
                Box::new(DeviceFileTransport::open(path.clone()).map_err(io)?)
            }
        })
    }
}

/// A network printer on TCP (usually port 9100).
pub struct TcpTransport {
    stream: TcpStream,
    address: String,
}

impl TcpTransport {
    pub fn connect(address: &str) -> std::io::Result<TcpTransport> {
        let resolved = address.to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "address resolves to nothing")
        })?;
        let stream = TcpStream::connect_timeout(
            &resolved,
            Duration::from_millis(PRINTER_CONNECT_TIMEOUT_MS),
        )?;
        stream.set_write_timeout(Some(Duration::from_millis(PRINTER_WRITE_TIMEOUT_MS)))?;
        stream.set_read_timeout(Some(Duration::from_millis(PRINTER_STATUS_TIMEOUT_MS)))?;
        stream.set_nodelay(true)?;
        Ok(TcpTransport {
            stream,
            address: address.to_owned(),
        })
    }
}

impl PrinterTransport for TcpTransport {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn query(&mut self, query: StatusQuery) -> std::io::Result<Option<u8>> {
        self.stream.write_all(&query.bytes())?;
        let mut answer = [0u8; 1];
        self.stream.read_exact(&mut answer)?;
        Ok(Some(answer[0]))
    }

    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }
}

/// A printer on a serial port (RS-232 or USB CDC).
pub struct SerialTransport {
    port: Box<dyn serialport::SerialPort>,
    path: String,
}

impl SerialTransport {
    pub fn open(path: &str, baud_rate: u32) -> std::io::Result<SerialTransport> {
        let port = serialport::new(path, baud_rate)
            .timeout(Duration::from_millis(PRINTER_STATUS_TIMEOUT_MS))
            .open()
            .map_err(std::io::Error::from)?;
        Ok(SerialTransport {
            port,
            path: path.to_owned(),
        })
    }
}

impl PrinterTransport for SerialTransport {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.port
            .set_timeout(Duration::from_millis(PRINTER_WRITE_TIMEOUT_MS))?;
        self.port.write_all(bytes)?;
        self.port.flush()
    }

    fn query(&mut self, query: StatusQuery) -> std::io::Result<Option<u8>> {
        self.port.clear(serialport::ClearBuffer::Input)?;
        self.port
            .set_timeout(Duration::from_millis(PRINTER_STATUS_TIMEOUT_MS))?;
        self.port.write_all(&query.bytes())?;
        let mut answer = [0u8; 1];
        self.port.read_exact(&mut answer)?;
        Ok(Some(answer[0]))
    }

    fn describe(&self) -> String {
        format!("serial {}", self.path)
    }
}

/// A printer device file such as `/dev/usb/lp0` (Linux `usblp`). Write-only: reading back
/// through `usblp` blocks on many printers, so no status is asked.
pub struct DeviceFileTransport {
    file: File,
    path: PathBuf,
}

impl DeviceFileTransport {
    pub fn open(path: PathBuf) -> std::io::Result<DeviceFileTransport> {
        let file = std::fs::OpenOptions::new().write(true).open(&path)?;
        Ok(DeviceFileTransport { file, path })
    }
}

impl PrinterTransport for DeviceFileTransport {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.flush()
    }

    fn query(&mut self, _query: StatusQuery) -> std::io::Result<Option<u8>> {
        Ok(None)
    }

    fn describe(&self) -> String {
        format!("device file {}", self.path.display())
    }
}

/// Whether the printer confirmed the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printed {
    /// Sent, and the printer reported a good status afterwards.
    Confirmed,
    /// Sent over a write-only transport; nothing more is known.
    Unconfirmed,
}

/// A printer behind any transport.
pub struct Printer {
    transport: Box<dyn PrinterTransport>,
}

impl Printer {
    pub fn new(transport: Box<dyn PrinterTransport>) -> Printer {
        Printer { transport }
    }

    /// Asks `DLE EOT 1–4`; `None` when the transport cannot read back.
    pub fn status(&mut self) -> Result<Option<PrinterStatus>, PrintError> {
        let mut answers = [0u8; 4];
        for (answer, query) in answers.iter_mut().zip([
            StatusQuery::Printer,
            StatusQuery::OfflineCause,
            StatusQuery::ErrorCause,
            StatusQuery::PaperSensor,
        ]) {
            match self
                .transport
                .query(query)
                .map_err(|source| self.io("asking for status", source))?
            {
                Some(byte) => *answer = byte,
                None => return Ok(None),
            }
        }
        let [printer, offline, error, paper] = answers;
        PrinterStatus::from_answers(printer, offline, error, paper)
            .map(Some)
            .ok_or(PrintError::BadStatus(
                answers
                    .into_iter()
                    .find(|b| b & 0x93 != 0x12)
                    .unwrap_or(printer),
            ))
    }

    /// Prints a job: refuses if the printer is not ready, then sends, then checks again. On
    /// any error the receipt may not be on paper; keep `job` and offer to print it again.
    pub fn print(&mut self, job: &[u8]) -> Result<Printed, PrintError> {
        if job.len() > PRINT_JOB_BYTES_MAX {
            return Err(PrintError::JobTooLarge { bytes: job.len() });
        }
        if let Some(status) = self.status()? {
            check(status)?;
        }
        self.transport
            .send(job)
            .map_err(|source| self.io("sending the receipt", source))?;
        match self.status()? {
            None => Ok(Printed::Unconfirmed),
            Some(status) => check(status).map(|()| Printed::Confirmed),
        }
    }

    fn io(&self, during: &'static str, source: std::io::Error) -> PrintError {
        PrintError::Io {
            target: self.transport.describe(),
            during,
            source,
        }
    }
}

fn check(status: PrinterStatus) -> Result<(), PrintError> {
    if status.paper_out {
        Err(PrintError::PaperOut)
    } else if status.cover_open {
        Err(PrintError::CoverOpen)
    } else if status.error {
        Err(PrintError::PrinterFault)
    } else if status.offline {
        Err(PrintError::Offline)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            PrinterTarget::parse("tcp:10.0.0.5").unwrap(),
            PrinterTarget::Tcp("10.0.0.5:9100".into())
        );
        assert_eq!(
            PrinterTarget::parse("serial:/dev/ttyUSB0@19200").unwrap(),
            PrinterTarget::Serial {
                path: "/dev/ttyUSB0".into(),
                baud_rate: 19200
            }
        );
        assert_eq!(
            PrinterTarget::parse("file:/dev/usb/lp0").unwrap(),
            PrinterTarget::DeviceFile("/dev/usb/lp0".into())
        );
        assert!(PrinterTarget::parse("lp0").is_err());
        assert!(PrinterTarget::parse("serial:/dev/x@fast").is_err());
    }
}
