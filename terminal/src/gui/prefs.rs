//! The interface's own settings (language, contrast, printer, scanner),
//! kept in `gui.json` in the terminal's data directory. The engine's
//! configuration (server, limits, roster) is not here: it comes signed from
//! the server.

use std::path::Path;

use lastmile_hardware::escpos::PaperWidth;
use serde::{Deserialize, Serialize};

/// Name of the settings file inside the data directory.
pub const PREFS_FILE: &str = "gui.json";
/// Largest settings file read, in bytes.
const PREFS_FILE_BYTES_MAX: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// `en`, `fr`, `sw` or `ar`.
    pub language: String,
    pub high_contrast: bool,
    /// `tcp:HOST[:PORT]`, `serial:PATH[@BAUD]`, `file:PATH` (or just the
    /// device path), or empty for none.
    pub printer: String,
    /// Receipt paper width in millimetres: 58 or 80.
    pub paper_mm: u32,
    /// Serial barcode scanner device, or empty for none.
    pub scanner_port: String,
    /// Camera index for QR scanning, or none to use the first camera found.
    pub camera: Option<u32>,
    /// Seconds between background syncs while enrolled with a server (also
    /// right after each redemption; longer after failures).
    pub sync_interval_s: u64,
}

/// Receipt paper width when `gui.json` does not say.
pub const PAPER_MM_DEFAULT: u32 = 58;

/// Background sync interval when `gui.json` does not say.
pub const SYNC_INTERVAL_S_DEFAULT: u64 = 60;

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            language: "en".to_owned(),
            high_contrast: false,
            printer: String::new(),
            paper_mm: PAPER_MM_DEFAULT,
            scanner_port: String::new(),
            camera: None,
            sync_interval_s: SYNC_INTERVAL_S_DEFAULT,
        }
    }
}

impl Prefs {
    /// The receipt paper; an unknown width in the file gives the 58 mm default.
    pub fn paper(&self) -> PaperWidth {
        PaperWidth::from_dots_or_mm(self.paper_mm).unwrap_or(PaperWidth::Mm58)
    }

    /// Reads the file; a missing or unreadable file gives the defaults (the
    /// terminal must start even if its settings file is damaged).
    pub fn load(path: &Path) -> Prefs {
        let Ok(meta) = std::fs::metadata(path) else {
            return Prefs::default();
        };
        if meta.len() > PREFS_FILE_BYTES_MAX {
            return Prefs::default();
        }
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the file through a temporary file and a rename, so a power cut
    /// leaves the old or the new settings, never half of them.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, bytes)?;
        std::fs::rename(&temporary, path)
    }
}
