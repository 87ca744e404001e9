//! The device key: the Ed25519 key that signs every log entry and every
//! sync request. Its private half lives in one file readable only by the
//! terminal's user, is created atomically and never printed.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::OsRng;

/// The key file's permissions: read and write for the owner only.
const KEY_FILE_MODE: u32 = 0o600;
/// Raw Ed25519 seed length in the key file.
const KEY_FILE_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum DeviceKeyError {
    #[error("device key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "device key file {path} can be read by other users (mode {mode:o}); run `chmod 600` on it"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("device key file {path} is damaged: it must hold exactly {KEY_FILE_BYTES} bytes")]
    Damaged { path: PathBuf },
    #[error("device key file {path} does not match the key this terminal was enrolled with")]
    Mismatch { path: PathBuf },
}

/// The device's signing key. `Debug` never shows the secret.
pub struct DeviceKey {
    signing: SigningKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &hex::encode(self.public().to_bytes()))
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl DeviceKey {
    /// Loads the key at `path`, or creates a new random one there if the
    /// file does not exist. Creation writes a temporary file with mode
    /// 0600, syncs it, and links it into place only if no key exists, so a
    /// crash leaves either no key or a complete one, and an existing key is
    /// never replaced.
    pub fn load_or_create(path: &Path) -> Result<Self, DeviceKeyError> {
        match Self::load(path) {
            Err(DeviceKeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let io = |source| DeviceKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let signing = SigningKey::generate(&mut OsRng);
        let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(KEY_FILE_MODE)
            .open(&temporary)
            .map_err(io)?;
        let written = file
            .write_all(&signing.to_bytes())
            .and_then(|()| file.sync_all());
        drop(file);
        let linked = written.and_then(|()| fs::hard_link(&temporary, path));
        // The temporary name goes either way; if linking failed because
        // another process created the key first, load theirs.
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
                }
                Ok(Self { signing })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io(e)),
        }
    }

    /// Loads an existing key, refusing a file others can read.
    pub fn load(path: &Path) -> Result<Self, DeviceKeyError> {
        let io = |source| DeviceKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = fs::File::open(path).map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(DeviceKeyError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
        let mut bytes = Vec::with_capacity(KEY_FILE_BYTES + 1);
        Read::by_ref(&mut file)
            .take(KEY_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let seed: [u8; KEY_FILE_BYTES] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| DeviceKeyError::Damaged {
                    path: path.to_owned(),
                })?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }
}
