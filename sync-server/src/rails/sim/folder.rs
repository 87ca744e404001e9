//! The simulated bank on two folders: it reads each new `*.xml` the
//! server delivered into its outbox (the bank's in-tray) and writes
//! `<name>.pain002.xml` and, when it settled something,
//! `<name>.camt054.xml` into the server's inbox.
//!
//! Its memory is two files in its state folder, so it survives restarts:
//! `settled.jsonl` (every `EndToEndId` it booked, one JSON string a line)
//! and `done.jsonl` (each file answered, by name and SHA-256: the same
//! name with other bytes is a new file). The order of writes is what
//! keeps a payment from being booked twice: the reports are written under
//! temporary names and synced, then the settled ids are appended and
//! synced, then the reports are renamed into place. A crash before the
//! ids are recorded leaves only temporaries (removed at the next start)
//! and the file is answered again; a crash after leaves the ids recorded,
//! and the file answered again books none of them a second time.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::bank::{self, BankAnswer, BankSimConfig, SimError};

/// The largest `pain.001` answered; a larger one is left alone (and said
/// so): the bank reads a file whole before it answers.
pub const PAIN001_FILE_BYTES_MAX: u64 = 1 << 30;
const SETTLED_FILE: &str = "settled.jsonl";
const DONE_FILE: &str = "done.jsonl";
const TEMPORARY_SUFFIX: &str = ".tmp";

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: line {line} is not what the bank simulator wrote", .path.display())]
    Memory { path: PathBuf, line: usize },
    #[error("{}: larger than {limit} bytes; not answered", .path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error(transparent)]
    Sim(#[from] SimError),
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where the bank reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    /// The server's outbox: `pain.001` files to answer.
    pub outbox: PathBuf,
    /// The server's inbox: where the answers go.
    pub inbox: PathBuf,
    /// The bank's memory.
    pub state: PathBuf,
}

/// One file answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The `pain.001`'s file name.
    pub file: String,
    pub pain002: PathBuf,
    /// Written only when something was settled.
    pub camt054: Option<PathBuf>,
    pub answer: BankAnswer,
}

pub struct FolderBank {
    folders: Folders,
    config: BankSimConfig,
    delay: Duration,
    settled: HashSet<String>,
    done: HashSet<(String, String)>,
}

impl FolderBank {
    /// Opens the folders (creating the inbox and the state folder), reads
    /// the bank's memory and removes temporaries a crash left.
    pub fn open(
        folders: Folders,
        config: BankSimConfig,
        delay: Duration,
    ) -> Result<Self, FolderError> {
        config.check()?;
        for dir in [&folders.inbox, &folders.state] {
            fs::create_dir_all(dir).map_err(at(dir))?;
        }
        for entry in fs::read_dir(&folders.inbox).map_err(at(&folders.inbox))? {
            let path = entry.map_err(at(&folders.inbox))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with('.') && name.ends_with(TEMPORARY_SUFFIX) {
                fs::remove_file(&path).map_err(at(&path))?;
            }
        }
        let settled = read_memory(&folders.state.join(SETTLED_FILE))?;
        let done = read_memory(&folders.state.join(DONE_FILE))?;
        Ok(Self {
            folders,
            config,
            delay,
            settled,
            done,
        })
    }

    /// Answers every new file in the outbox, in name order.
    pub fn sweep(&mut self, now: impl Fn() -> i64) -> Result<Vec<Delivered>, FolderError> {
        let outbox = &self.folders.outbox;
        let mut names = Vec::new();
        for entry in fs::read_dir(outbox).map_err(at(outbox))? {
            let entry = entry.map_err(at(outbox))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_file = entry.file_type().map_err(at(outbox))?.is_file();
            let ours = name.ends_with(".pain002.xml") || name.ends_with(".camt054.xml");
            if is_file && name.ends_with(".xml") && !name.starts_with('.') && !ours {
                names.push(name);
            }
        }
        names.sort();
        let mut delivered = Vec::new();
        for name in names {
            let path = self.folders.outbox.join(&name);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|file| {
                    file.take(PAIN001_FILE_BYTES_MAX + 1)
                        .read_to_end(&mut bytes)
                })
                .map_err(at(&path))?;
            if bytes.len() as u64 > PAIN001_FILE_BYTES_MAX {
                return Err(FolderError::TooLarge {
                    path,
                    limit: PAIN001_FILE_BYTES_MAX,
                });
            }
            let key = (name.clone(), hex::encode(Sha256::digest(&bytes)));
            if self.done.contains(&key) {
                continue;
            }
            std::thread::sleep(self.delay);
            delivered.push(self.deliver(&name, &bytes, now())?);
            append_memory(&self.folders.state.join(DONE_FILE), [&key])?;
            self.done.insert(key);
        }
        Ok(delivered)
    }

    fn deliver(&mut self, name: &str, bytes: &[u8], now: i64) -> Result<Delivered, FolderError> {
        let stem = name.strip_suffix(".xml").unwrap_or(name);
        let inbox = &self.folders.inbox;
        let final_path = |kind: &str| inbox.join(format!("{stem}.{kind}.xml"));
        let temporary = |kind: &str| inbox.join(format!(".{stem}.{kind}.xml{TEMPORARY_SUFFIX}"));
        let (status_temporary, notification_temporary) =
            (temporary("pain002"), temporary("camt054"));
        let status_file = File::create(&status_temporary).map_err(at(&status_temporary))?;
        let notification_file =
            File::create(&notification_temporary).map_err(at(&notification_temporary))?;
        let mut status = BufWriter::new(status_file);
        let mut notification = BufWriter::new(notification_file);
        let answer = bank::answer(
            bytes,
            &self.config,
            &self.settled,
            now,
            &mut status,
            &mut notification,
        )?;
        for (writer, path) in [
            (status, &status_temporary),
            (notification, &notification_temporary),
        ] {
            let file = writer
                .into_inner()
                .map_err(|error| at(path)(error.into_error()))?;
            file.sync_all().map_err(at(path))?;
        }
        // Recorded before anything is delivered: see the module's notes.
        append_memory(
            &self.folders.state.join(SETTLED_FILE),
            &answer.newly_settled,
        )?;
        self.settled.extend(answer.newly_settled.iter().cloned());
        let pain002 = final_path("pain002");
        let camt054 = (!answer.newly_settled.is_empty()).then(|| final_path("camt054"));
        if self.config.duplicate_reports {
            copy_into_place(&status_temporary, &final_path("again.pain002"))?;
            if camt054.is_some() {
                copy_into_place(&notification_temporary, &final_path("again.camt054"))?;
            }
        }
        fs::rename(&status_temporary, &pain002).map_err(at(&pain002))?;
        match &camt054 {
            Some(path) => fs::rename(&notification_temporary, path).map_err(at(path))?,
            None => {
                fs::remove_file(&notification_temporary).map_err(at(&notification_temporary))?
            }
        }
        Ok(Delivered {
            file: name.to_owned(),
            pain002,
            camt054,
            answer,
        })
    }
}

/// A second delivery of a report: copied to a temporary, then renamed.
fn copy_into_place(from: &Path, to: &Path) -> Result<(), FolderError> {
    let name = to.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let temporary = to.with_file_name(format!(".{name}{TEMPORARY_SUFFIX}"));
    fs::copy(from, &temporary).map_err(at(&temporary))?;
    fs::rename(&temporary, to).map_err(at(to))
}

/// A memory file: one JSON value a line; absent is empty.
fn read_memory<T>(path: &Path) -> Result<HashSet<T>, FolderError>
where
    T: serde::de::DeserializeOwned + Eq + std::hash::Hash,
{
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(error) => return Err(at(path)(error)),
    };
    let mut values = HashSet::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(at(path))?;
        let value = serde_json::from_str(&line).map_err(|_| FolderError::Memory {
            path: path.to_owned(),
            line: index + 1,
        })?;
        values.insert(value);
    }
    Ok(values)
}

fn append_memory<T: serde::Serialize>(
    path: &Path,
    values: impl IntoIterator<Item = T>,
) -> Result<(), FolderError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(at(path))?;
    let mut out = BufWriter::new(file);
    for value in values {
        let line = serde_json::to_string(&value).expect("strings serialise");
        writeln!(out, "{line}").map_err(at(path))?;
    }
    let file = out
        .into_inner()
        .map_err(|error| at(path)(error.into_error()))?;
    file.sync_all().map_err(at(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_files_round_trip_and_refuse_what_they_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        assert!(read_memory::<String>(&path).unwrap().is_empty());
        append_memory(&path, ["a\nb", "c"]).unwrap();
        append_memory(&path, ["d"]).unwrap();
        let read: HashSet<String> = read_memory(&path).unwrap();
        assert_eq!(read, HashSet::from(["a\nb".into(), "c".into(), "d".into()]));
        fs::write(&path, "\"a\"\nnot json\n").unwrap();
        assert!(matches!(
            read_memory::<String>(&path),
            Err(FolderError::Memory { line: 2, .. })
        ));
    }
}
