//! Every byte to and from a rail. A file is written under a temporary
//! name, flushed to disk and renamed, so a bank sees it whole or not at
//! all; it is hashed as it is written, and the hash recorded with it. A
//! file written again for the same batch (a worker that died before its
//! transaction committed) has the same name and the same bytes, so the
//! bank reads one message, which it de-duplicates on anyway.
//!
//! Each writer has a temporary name of its own (`.NAME.<random>.partial`),
//! so two writers of one file (one of them past its job's lease) never
//! write into the same temporary file. A writer first removes what earlier
//! writers of that name left behind: a dead one's partial file, or a live
//! one's, whose rename then fails and whose job is run again later (and
//! finds its batch sent).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// Largest answer file read from a rail (a camt.054 of a million bookings
/// is about 600 MB; status reports are smaller).
pub const ANSWER_BYTES_MAX: u64 = 1 << 30;
/// Most files one poll of a folder reads.
pub const FOLDER_FILES_MAX: usize = 100;

/// A writer that hashes and counts what passes through it.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// Why a delivery failed: the folder, the disk, or what `write` refused.
#[derive(Debug)]
pub enum DeliveryError<E> {
    Io(io::Error),
    Content(E),
}

/// Writes `name` into `dir` through `write`, atomically.
pub fn deliver<E>(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<Delivered, DeliveryError<E>> {
    let io = DeliveryError::Io;
    remove_partials(dir, name).map_err(io)?;
    let partial = dir.join(format!(".{name}.{:016x}.partial", OsRng.next_u64()));
    let file = File::create(&partial).map_err(io)?;
    let mut out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
        bytes: 0,
    };
    if let Err(e) = write(&mut out) {
        drop(out);
        let _ = fs::remove_file(&partial);
        return Err(DeliveryError::Content(e));
    }
    out.flush().map_err(io)?;
    let Hashing { inner, hash, bytes } = out;
    let file = inner
        .into_inner()
        .map_err(|e| DeliveryError::Io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    let path = dir.join(name);
    fs::rename(&partial, &path).map_err(io)?;
    // The rename itself is durable only once the folder is.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(Delivered {
        path,
        sha256: hex::encode(hash.finalize()),
        bytes,
    })
}

/// Removes the partial files earlier writers of `name` left in `dir`.
fn remove_partials(dir: &Path, name: &str) -> io::Result<()> {
    let prefix = format!(".{name}.");
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".partial") {
            match fs::remove_file(entry.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The answer files waiting in `dir` (`*.xml`, not hidden), by name, at
/// most [`FOLDER_FILES_MAX`].
pub fn waiting(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".xml") || !entry.file_type()?.is_file() {
            continue;
        }
        files.push(entry.path());
    }
    files.sort();
    files.truncate(FOLDER_FILES_MAX);
    Ok(files)
}

/// Reads a whole answer file, refusing one over `max` bytes before
/// reading it.
pub fn read(path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let file = File::open(path)?;
    if file.metadata()?.len() > max {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_whole_with_its_hash_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let done = deliver::<()>(dir.path(), "a.xml", |out| {
            out.write_all(b"<a/>").map_err(|_| ())
        })
        .unwrap();
        assert_eq!(fs::read(&done.path).unwrap(), b"<a/>");
        assert_eq!(done.sha256, sha256(b"<a/>"));
        assert_eq!(done.bytes, 4);
        let refused = deliver(dir.path(), "b.xml", |out| {
            out.write_all(b"<half").map_err(|_| "io")?;
            Err("refused")
        });
        assert!(matches!(refused, Err(DeliveryError::Content("refused"))));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.xml".to_owned()]);
        // What a dead writer left is gone once the file is written again.
        fs::write(dir.path().join(".a.xml.0123456789abcdef.partial"), b"<a").unwrap();
        deliver::<()>(dir.path(), "a.xml", |out| {
            out.write_all(b"<a/>").map_err(|_| ())
        })
        .unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.xml".to_owned()]);
        assert_eq!(waiting(dir.path()).unwrap(), vec![done.path.clone()]);
        assert_eq!(read(&done.path, 3).unwrap(), None);
        assert_eq!(read(&done.path, 4).unwrap().unwrap(), b"<a/>");
    }
}
