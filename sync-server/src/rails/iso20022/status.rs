//! What a bank sends back: `pain.002` payment status reports and
//! `camt.054` debit notifications, read as streams (one [`StatusLine`] or
//! [`Booking`] at a time, in memory bounded by named limits whatever the
//! file holds), and written as streams for the bank simulator and the tests.
//!
//! The readers are tolerant of what banks add (any element we do not use
//! is skipped, whatever it holds) and strict about what we use: a status
//! code, an amount or an id that is not what the standard allows is an
//! error naming it, the payment's `EndToEndId` and the byte where it was
//! found, never a guess. They are total: any bytes give a value or a
//! [`StatusFileError`], with work bounded by the file's size and memory by
//! [`XmlLimits`]. A document type declaration is refused outright (bank
//! files have none, and it is how entity expansion attacks start); the
//! five XML entities and character references are the only ones read.
//!
//! Versions: `pain.002.001.03` to `.001.10` and later, `camt.054.001.02`
//! to `.001.08` and later, recognised by their namespace's prefix: the
//! elements we read have kept their names and places across versions
//! (`camt.054`'s entry status became `<Sts><Cd>` in `.08`; both are read).
//! The writers write `pain.002.001.10` and `camt.054.001.08`.

use std::io::{self, BufRead, Read, Write};

use lastmile_shared::money::{Currency, CurrencyError, Money, MoneyError};
use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};

use super::{
    AccountId, Booking, CreditDebit, MAX35_CHARS, MAX140_CHARS, Notification, StatusLine,
    StatusReport, TxStatus,
};
use crate::calendar;

/// The largest status file read: two million `camt.054` entries as banks
/// pretty-print them (about 1.5 KiB each) fit, with room.
pub const STATUS_FILE_BYTES_MAX: u64 = 4 << 30;
/// Status lines in one `pain.002`, bookings in one `camt.054`: twice the
/// largest batch we send.
pub const STATUS_RECORDS_MAX: u64 = 2_000_000;
/// How deep elements nest. What we read is at most 9 deep; the rest is
/// room for what banks add (`SplmtryData`, structured remittance).
pub const XML_DEPTH_MAX: usize = 32;
/// The text of one element. What we keep is at most 140 characters; this
/// is room for long texts we skip.
pub const XML_TEXT_BYTES_MAX: usize = 4 * 1024;
/// One tag with its attributes, one run of text, one comment: what the
/// XML reader holds in memory at once.
pub const XML_TOKEN_BYTES_MAX: u64 = 64 * 1024;
/// `ISO 20022 Max105Text`: one `AddtlInf` line of a status reason.
const MAX105_CHARS: usize = 105;
/// What banks write in `EndToEndId` for a payment that had none: not ours.
const NOT_PROVIDED: &str = "NOTPROVIDED";

/// The bounds a reader enforces; [`XmlLimits::default`] is the named
/// constants above. A caller may only tighten them (an upload limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    pub file_bytes_max: u64,
    pub records_max: u64,
    pub depth_max: usize,
    pub text_bytes_max: usize,
    pub token_bytes_max: u64,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            file_bytes_max: STATUS_FILE_BYTES_MAX,
            records_max: STATUS_RECORDS_MAX,
            depth_max: XML_DEPTH_MAX,
            text_bytes_max: XML_TEXT_BYTES_MAX,
            token_bytes_max: XML_TOKEN_BYTES_MAX,
        }
    }
}

/// The ISO 20022 bank files an upload or an inbox may hold, told apart by
/// the namespace of their root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFileKind {
    /// A credit transfer initiation: what we send (and what the bank
    /// simulator reads).
    Pain001,
    /// A payment status report: [`read_pain002`].
    Pain002,
    /// An account statement: recognised, not read yet.
    Camt053,
    /// A debit or credit notification: [`read_camt054`].
    Camt054,
}

impl StatusFileKind {
    const ALL: [Self; 4] = [Self::Pain001, Self::Pain002, Self::Camt053, Self::Camt054];

    /// What every version's namespace starts with.
    pub fn namespace_prefix(self) -> &'static str {
        match self {
            Self::Pain001 => "urn:iso:std:iso:20022:tech:xsd:pain.001.001.",
            Self::Pain002 => "urn:iso:std:iso:20022:tech:xsd:pain.002.001.",
            Self::Camt053 => "urn:iso:std:iso:20022:tech:xsd:camt.053.001.",
            Self::Camt054 => "urn:iso:std:iso:20022:tech:xsd:camt.054.001.",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Pain001 => "pain.001",
            Self::Pain002 => "pain.002",
            Self::Camt053 => "camt.053",
            Self::Camt054 => "camt.054",
        }
    }

    fn of_namespace(namespace: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| namespace.starts_with(kind.namespace_prefix()))
    }
}

/// Which bank file `first_bytes` (the start of a file; a few KiB are
/// plenty) is, by its root `Document`'s namespace; `None` for anything
/// else, including bytes that are not XML.
pub fn identify(first_bytes: &[u8]) -> Option<StatusFileKind> {
    let mut reader = Reader::from_reader(first_bytes);
    loop {
        match reader.read_event() {
            Ok(Event::Start(root) | Event::Empty(root)) => {
                if root.local_name().as_ref() != b"Document" {
                    return None;
                }
                return StatusFileKind::of_namespace(&root_namespace(&root)?);
            }
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_)) => {}
            Ok(Event::Text(text)) if text.iter().all(u8::is_ascii_whitespace) => {}
            _ => return None,
        }
    }
}

/// The namespace the root element is in: the root is the first element,
/// so the only declaration in scope is its own.
fn root_namespace(root: &BytesStart) -> Option<String> {
    let key = match root.name().prefix() {
        Some(prefix) => [b"xmlns:".as_slice(), prefix.as_ref()].concat(),
        None => b"xmlns".to_vec(),
    };
    root.attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == key.as_slice())
        .and_then(|attribute| String::from_utf8(attribute.value.into_owned()).ok())
}

/// Why a status file could not be read. `at` is a byte offset in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusFileError {
    #[error("could not read the file: {0}")]
    Io(String),
    #[error("the file is larger than {limit} bytes")]
    FileTooLarge { limit: u64 },
    #[error("at byte {at}: a tag, text or comment longer than {limit} bytes")]
    TokenTooLong { at: u64, limit: u64 },
    #[error("at byte {at}: <{element}> holds more than {limit} bytes of text")]
    TextTooLong {
        at: u64,
        element: String,
        limit: usize,
    },
    #[error("at byte {at}: elements nest deeper than {limit}")]
    TooDeep { at: u64, limit: usize },
    #[error("the file holds more than {limit} {what}")]
    TooMany { what: &'static str, limit: u64 },
    #[error(
        "at byte {at}: a document type declaration (<!DOCTYPE …>); bank files have none, it is refused"
    )]
    DocType { at: u64 },
    #[error(
        "at byte {at}: &{name}; is not an XML entity (only &amp; &lt; &gt; &quot; &apos; and character references are read)"
    )]
    UnknownEntity { at: u64, name: String },
    #[error("at byte {at}: the file says it is in {encoding}; only UTF-8 is read")]
    Encoding { at: u64, encoding: String },
    #[error("at byte {at}: text that is not UTF-8")]
    NotUtf8 { at: u64 },
    #[error("at byte {at}: not well-formed XML: {message}")]
    Xml { at: u64, message: String },
    #[error("at byte {at}: text or elements after the document's end")]
    AfterEnd { at: u64 },
    #[error("the file ends at byte {at} with {open} elements still open: it is cut short")]
    Truncated { at: u64, open: usize },
    #[error("the file holds no XML element")]
    Empty,
    #[error("this is not a {expected} file: its root is <{root}> in namespace \"{namespace}\"")]
    WrongDocument {
        expected: &'static str,
        root: String,
        namespace: String,
    },
    #[error("at byte {at}{}: {element} is missing", for_payment(.end_to_end_id))]
    Missing {
        at: u64,
        element: &'static str,
        end_to_end_id: Option<String>,
    },
    #[error("at byte {at}{}: {element} is given twice", for_payment(.end_to_end_id))]
    Repeated {
        at: u64,
        element: &'static str,
        end_to_end_id: Option<String>,
    },
    #[error("at byte {at}: {element} \"{value}\" is empty or longer than {limit} characters")]
    BadId {
        at: u64,
        element: &'static str,
        value: String,
        limit: usize,
    },
    #[error("at byte {at}{}: {element} \"{code}\" is not a status we know", for_payment(.end_to_end_id))]
    UnknownStatus {
        at: u64,
        element: &'static str,
        code: String,
        end_to_end_id: Option<String>,
    },
    #[error("at byte {at}, payment {end_to_end_id}: {element} \"{value}\" is not allowed here")]
    BadCode {
        at: u64,
        element: &'static str,
        value: String,
        end_to_end_id: String,
    },
    #[error("at byte {at}, payment {end_to_end_id}: the amount is wrong: {problem}")]
    Amount {
        at: u64,
        end_to_end_id: String,
        problem: AmountProblem,
    },
    #[error(
        "at byte {at}: an entry with several transactions, and payment {end_to_end_id} has no amount of its own"
    )]
    AmbiguousAmount { at: u64, end_to_end_id: String },
}

fn for_payment(end_to_end_id: &Option<String>) -> String {
    match end_to_end_id {
        Some(id) => format!(", payment {id}"),
        None => String::new(),
    }
}

/// What is wrong with an amount of a payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountProblem {
    #[error("it has no currency (no Ccy attribute)")]
    NoCurrency,
    #[error(transparent)]
    Currency(#[from] CurrencyError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("\"{0}\" is negative")]
    Negative(String),
}

/// A status file's error, or the error of what the caller did with a line.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    #[error(transparent)]
    File(#[from] StatusFileError),
    #[error("{0}")]
    Handler(E),
}

// --- The XML underneath both readers ------------------------------------

/// The input, counted: a file or a single token over its limit stops the
/// XML reader at its next read, before it buffers more.
struct Bounded<R> {
    inner: R,
    consumed: u64,
    token_start: u64,
    limits: XmlLimits,
    exceeded: Option<Exceeded>,
}

#[derive(Debug, Clone, Copy)]
enum Exceeded {
    File,
    Token,
}

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let exceeded = if self.consumed > self.limits.file_bytes_max {
            Some(Exceeded::File)
        } else if self.consumed - self.token_start > self.limits.token_bytes_max {
            Some(Exceeded::Token)
        } else {
            None
        };
        if let Some(exceeded) = exceeded {
            self.exceeded = Some(exceeded);
            return Err(io::Error::other("over a limit"));
        }
        // One byte past either allowance at most, so that going over is
        // seen at the next read whatever the input's buffer size.
        let allowance = (self.limits.token_bytes_max - (self.consumed - self.token_start))
            .min(self.limits.file_bytes_max - self.consumed)
            .saturating_add(1);
        let available = self.inner.fill_buf()?;
        let n = usize::try_from(allowance).map_or(available.len(), |a| a.min(available.len()));
        Ok(&available[..n])
    }

    fn consume(&mut self, n: usize) {
        self.consumed += n as u64;
        self.inner.consume(n);
    }
}

/// What the cursor saw: an element opened, or closed (its text and `Ccy`
/// are then [`XmlCursor::text`] and [`XmlCursor::currency`]), or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<T> {
    Open(T),
    Close(T),
    End,
}

/// Elements as a reader's own tag type `T` (each reader names the
/// elements it reads and lumps the rest as one "other"), with the path of
/// open elements, so a reader matches on where it is.
pub(crate) struct XmlCursor<R, T> {
    reader: Reader<Bounded<R>>,
    buf: Vec<u8>,
    state: CursorState<T>,
}

struct CursorState<T> {
    classify: fn(&[u8]) -> T,
    limits: XmlLimits,
    tags: Vec<T>,
    /// The local name of the element opened last, for errors.
    name: Vec<u8>,
    text: String,
    currency: String,
    /// The element closing now had no child: its text is its own.
    leaf: bool,
    /// The last step was a [`Step::Close`].
    closed: bool,
    /// The root has closed: only the end may follow.
    ended: bool,
}

impl<R: BufRead, T: Copy> XmlCursor<R, T> {
    /// Reads the prolog and the root element, which must be a `Document`
    /// in one of `kind`'s namespaces.
    pub(crate) fn open(
        input: R,
        kind: StatusFileKind,
        limits: XmlLimits,
        classify: fn(&[u8]) -> T,
    ) -> Result<Self, StatusFileError> {
        let mut reader = Reader::from_reader(Bounded {
            inner: input,
            consumed: 0,
            token_start: 0,
            limits,
            exceeded: None,
        });
        reader.config_mut().expand_empty_elements = true;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            reader.get_mut().token_start = reader.get_ref().consumed;
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|error| xml_error(&reader, error))?;
            let at = reader.buffer_position();
            match event {
                Event::Start(root) => {
                    let local = root.local_name();
                    let namespace = root_namespace(&root).unwrap_or_default();
                    if local.as_ref() != b"Document"
                        || !namespace.starts_with(kind.namespace_prefix())
                    {
                        return Err(StatusFileError::WrongDocument {
                            expected: kind.name(),
                            root: clipped(&String::from_utf8_lossy(root.name().as_ref())),
                            namespace: clipped(&namespace),
                        });
                    }
                    let tag = classify(local.as_ref());
                    let state = CursorState {
                        classify,
                        limits,
                        tags: vec![tag],
                        name: local.as_ref().to_vec(),
                        text: String::new(),
                        currency: String::new(),
                        leaf: true,
                        closed: false,
                        ended: false,
                    };
                    return Ok(Self { reader, buf, state });
                }
                Event::Decl(declaration) => check_encoding(&declaration, at)?,
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(text) if text.iter().all(u8::is_ascii_whitespace) => {}
                Event::DocType(_) => return Err(StatusFileError::DocType { at }),
                Event::Eof => return Err(StatusFileError::Empty),
                _ => {
                    return Err(StatusFileError::Xml {
                        at,
                        message: "text before the first element".to_owned(),
                    });
                }
            }
        }
    }

    pub(crate) fn limits(&self) -> XmlLimits {
        self.state.limits
    }

    /// The byte the reader has reached.
    pub(crate) fn at(&self) -> u64 {
        self.reader.buffer_position()
    }

    /// The open elements, the root first; after a [`Step::Close`], the
    /// closed element's parents.
    pub(crate) fn parents(&self) -> &[T] {
        &self.state.tags
    }

    /// The text of the element just closed, trimmed.
    pub(crate) fn text(&self) -> &str {
        self.state.text.trim()
    }

    /// The `Ccy` attribute of the element just closed.
    pub(crate) fn currency(&self) -> Option<&str> {
        (self.state.leaf && !self.state.currency.is_empty()).then_some(self.state.currency.as_str())
    }

    pub(crate) fn step(&mut self) -> Result<Step<T>, StatusFileError> {
        let state = &mut self.state;
        if state.closed {
            // The element that closes next had a child: its text is not
            // its own.
            state.closed = false;
            state.leaf = false;
            state.text.clear();
            state.currency.clear();
        }
        loop {
            self.buf.clear();
            let consumed = self.reader.get_ref().consumed;
            self.reader.get_mut().token_start = consumed;
            let event = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|error| xml_error(&self.reader, error))?;
            let at = self.reader.buffer_position();
            match event {
                Event::Start(start) => {
                    if state.ended {
                        return Err(StatusFileError::AfterEnd { at });
                    }
                    if state.tags.len() >= state.limits.depth_max {
                        return Err(StatusFileError::TooDeep {
                            at,
                            limit: state.limits.depth_max,
                        });
                    }
                    let local = start.local_name();
                    let tag = (state.classify)(local.as_ref());
                    state.name.clear();
                    state.name.extend_from_slice(local.as_ref());
                    state.currency.clear();
                    for attribute in start.attributes() {
                        let attribute = attribute.map_err(|error| StatusFileError::Xml {
                            at,
                            message: error.to_string(),
                        })?;
                        if attribute.key.local_name().as_ref() == b"Ccy" {
                            let code = std::str::from_utf8(&attribute.value)
                                .map_err(|_| StatusFileError::NotUtf8 { at })?;
                            state.currency.push_str(&clipped(code));
                        }
                    }
                    state.tags.push(tag);
                    state.text.clear();
                    state.leaf = true;
                    return Ok(Step::Open(tag));
                }
                Event::End(_) => {
                    if !state.leaf {
                        state.text.clear();
                        state.currency.clear();
                    }
                    let Some(tag) = state.tags.pop() else {
                        return Err(StatusFileError::AfterEnd { at });
                    };
                    state.ended = state.tags.is_empty();
                    state.closed = true;
                    return Ok(Step::Close(tag));
                }
                Event::Text(text) => {
                    let text = text.decode().map_err(|_| StatusFileError::NotUtf8 { at })?;
                    state.push_text(&text, at)?;
                }
                Event::CData(data) => {
                    let text = data.decode().map_err(|_| StatusFileError::NotUtf8 { at })?;
                    state.push_text(&text, at)?;
                }
                Event::GeneralRef(reference) => {
                    let resolved = if reference.is_char_ref() {
                        reference.resolve_char_ref().ok().flatten()
                    } else {
                        None
                    };
                    let mut one = [0; 4];
                    let text = match resolved {
                        Some(c) => &*c.encode_utf8(&mut one),
                        None => {
                            let name = reference
                                .decode()
                                .map_err(|_| StatusFileError::NotUtf8 { at })?;
                            resolve_predefined_entity(&name).ok_or_else(|| {
                                StatusFileError::UnknownEntity {
                                    at,
                                    name: clipped(&name),
                                }
                            })?
                        }
                    };
                    state.push_text(text, at)?;
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Decl(declaration) => check_encoding(&declaration, at)?,
                Event::DocType(_) => return Err(StatusFileError::DocType { at }),
                Event::Empty(_) => unreachable!("expand_empty_elements is set"),
                Event::Eof if state.ended => return Ok(Step::End),
                Event::Eof => {
                    return Err(StatusFileError::Truncated {
                        at,
                        open: state.tags.len(),
                    });
                }
            }
        }
    }
}

impl<T> CursorState<T> {
    fn push_text(&mut self, text: &str, at: u64) -> Result<(), StatusFileError> {
        if self.text.len() + text.len() > self.limits.text_bytes_max {
            return Err(StatusFileError::TextTooLong {
                at,
                element: clipped(&String::from_utf8_lossy(&self.name)),
                limit: self.limits.text_bytes_max,
            });
        }
        self.text.push_str(text);
        Ok(())
    }
}

fn xml_error<R>(reader: &Reader<Bounded<R>>, error: quick_xml::Error) -> StatusFileError {
    let input = reader.get_ref();
    match (input.exceeded, error) {
        (Some(Exceeded::File), _) => StatusFileError::FileTooLarge {
            limit: input.limits.file_bytes_max,
        },
        (Some(Exceeded::Token), _) => StatusFileError::TokenTooLong {
            at: reader.buffer_position(),
            limit: input.limits.token_bytes_max,
        },
        (None, quick_xml::Error::Io(error)) => StatusFileError::Io(error.to_string()),
        (None, quick_xml::Error::Encoding(_)) => StatusFileError::NotUtf8 {
            at: reader.error_position(),
        },
        (None, error) => StatusFileError::Xml {
            at: reader.error_position(),
            message: clipped(&error.to_string()),
        },
    }
}

fn check_encoding(
    declaration: &quick_xml::events::BytesDecl,
    at: u64,
) -> Result<(), StatusFileError> {
    match declaration.encoding() {
        Some(Ok(encoding))
            if !encoding.eq_ignore_ascii_case(b"utf-8")
                && !encoding.eq_ignore_ascii_case(b"utf8") =>
        {
            Err(StatusFileError::Encoding {
                at,
                encoding: clipped(&String::from_utf8_lossy(&encoding)),
            })
        }
        Some(Err(error)) => Err(StatusFileError::Xml {
            at,
            message: error.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Text from the file quoted in an error: short enough to read.
fn clipped(text: &str) -> String {
    const QUOTED_CHARS_MAX: usize = 64;
    text.chars().take(QUOTED_CHARS_MAX).collect()
}

/// An id we match on (`Max35Text`): not empty, at most 35 characters.
pub(crate) fn max35(text: &str, element: &'static str, at: u64) -> Result<String, StatusFileError> {
    if text.is_empty() || text.chars().count() > MAX35_CHARS {
        return Err(StatusFileError::BadId {
            at,
            element,
            value: clipped(text),
            limit: MAX35_CHARS,
        });
    }
    Ok(text.to_owned())
}

/// Keeps the first value of an element that may occur once.
pub(crate) fn set_once(
    slot: &mut Option<String>,
    value: &str,
    element: &'static str,
    end_to_end_id: Option<&String>,
    at: u64,
) -> Result<(), StatusFileError> {
    if slot.is_some() {
        return Err(StatusFileError::Repeated {
            at,
            element,
            end_to_end_id: end_to_end_id.cloned(),
        });
    }
    *slot = Some(value.to_owned());
    Ok(())
}

/// An amount as written (`text`, `Ccy`), read once its payment is known.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawAmount {
    text: String,
    currency: Option<String>,
}

impl RawAmount {
    pub(crate) fn of<R: BufRead, T: Copy>(cursor: &XmlCursor<R, T>) -> Self {
        Self {
            text: cursor.text().to_owned(),
            currency: cursor.currency().map(str::to_owned),
        }
    }

    /// The amount: a known currency with minor units, not negative, no
    /// more decimals than the currency has.
    pub(crate) fn money(&self, end_to_end_id: &str, at: u64) -> Result<Money, StatusFileError> {
        let fail = |problem: AmountProblem| StatusFileError::Amount {
            at,
            end_to_end_id: end_to_end_id.to_owned(),
            problem,
        };
        let code = self
            .currency
            .as_deref()
            .ok_or_else(|| fail(AmountProblem::NoCurrency))?;
        let currency = Currency::parse(code).map_err(|error| fail(error.into()))?;
        if self.text.starts_with('-') {
            return Err(fail(AmountProblem::Negative(clipped(&self.text))));
        }
        Money::parse(&self.text, currency).map_err(|error| fail(error.into()))
    }
}

// --- pain.002 ------------------------------------------------------------

/// The elements of a `pain.002` we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum P2 {
    Document,
    Report,
    GrpHdr,
    MsgId,
    OrgnlGrpInfAndSts,
    OrgnlMsgId,
    GrpSts,
    StsRsnInf,
    Rsn,
    Cd,
    Prtry,
    AddtlInf,
    OrgnlPmtInfAndSts,
    PmtInfSts,
    TxInfAndSts,
    OrgnlEndToEndId,
    TxSts,
    OrgnlTxRef,
    Amt,
    InstdAmt,
    Other,
}

fn pain002_tag(local: &[u8]) -> P2 {
    match local {
        b"Document" => P2::Document,
        b"CstmrPmtStsRpt" => P2::Report,
        b"GrpHdr" => P2::GrpHdr,
        b"MsgId" => P2::MsgId,
        b"OrgnlGrpInfAndSts" => P2::OrgnlGrpInfAndSts,
        b"OrgnlMsgId" => P2::OrgnlMsgId,
        b"GrpSts" => P2::GrpSts,
        b"StsRsnInf" => P2::StsRsnInf,
        b"Rsn" => P2::Rsn,
        b"Cd" => P2::Cd,
        b"Prtry" => P2::Prtry,
        b"AddtlInf" => P2::AddtlInf,
        b"OrgnlPmtInfAndSts" => P2::OrgnlPmtInfAndSts,
        b"PmtInfSts" => P2::PmtInfSts,
        b"TxInfAndSts" => P2::TxInfAndSts,
        b"OrgnlEndToEndId" => P2::OrgnlEndToEndId,
        b"TxSts" => P2::TxSts,
        b"OrgnlTxRef" => P2::OrgnlTxRef,
        b"Amt" => P2::Amt,
        b"InstdAmt" => P2::InstdAmt,
        _ => P2::Other,
    }
}

/// A payment's status code (`ExternalPaymentTransactionStatus1Code`).
/// A code not listed is refused rather than guessed: `ACWP`, `BLCK` or
/// `CANC` mean something we would have to decide about first.
pub fn tx_status(code: &str) -> Option<TxStatus> {
    match code {
        "RCVD" | "ACTC" | "ACCP" | "ACWC" => Some(TxStatus::Accepted),
        "ACSP" | "PDNG" => Some(TxStatus::Pending),
        "ACSC" | "ACCC" => Some(TxStatus::Settled),
        "RJCT" => Some(TxStatus::Rejected),
        _ => None,
    }
}

/// The code the writer gives a status.
pub fn tx_status_code(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Accepted => "ACCP",
        TxStatus::Pending => "ACSP",
        TxStatus::Settled => "ACSC",
        TxStatus::Rejected => "RJCT",
    }
}

/// A group's (or payment information's) status: a payment status, or
/// `PART` (partially accepted), which says only that the lines differ:
/// no status of its own.
fn group_status(
    code: &str,
    element: &'static str,
    at: u64,
) -> Result<Option<TxStatus>, StatusFileError> {
    if code == "PART" {
        return Ok(None);
    }
    tx_status(code)
        .map(Some)
        .ok_or_else(|| StatusFileError::UnknownStatus {
            at,
            element,
            code: clipped(code),
            end_to_end_id: None,
        })
}

/// Adds an `AddtlInf` line to a detail: lines joined by a space, at most
/// 140 characters, control characters as spaces.
fn push_detail(detail: &mut Option<String>, line: &str) {
    let detail = detail.get_or_insert_with(String::new);
    let mut length = detail.chars().count();
    if length > 0 && length < MAX140_CHARS && !line.is_empty() {
        detail.push(' ');
        length += 1;
    }
    for c in line.chars().take(MAX140_CHARS.saturating_sub(length)) {
        detail.push(if c.is_control() { ' ' } else { c });
    }
}

#[derive(Debug, Default)]
struct LineFields {
    end_to_end_id: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
    amount: Option<RawAmount>,
}

/// A `pain.002` read one line at a time: the head is read by
/// [`Pain002Reader::new`] (it comes first in every version), the lines by
/// [`Pain002Reader::next_line`].
pub struct Pain002Reader<R> {
    cursor: XmlCursor<R, P2>,
    report: StatusReport,
    /// `OrgnlPmtInfAndSts/PmtInfSts` stands for the group's status when
    /// the group has none (our files hold one payment information each).
    group_from_payment_information: bool,
    /// `GrpHdr/MsgId` and `OrgnlMsgId` until the head is read.
    message_id: Option<String>,
    original_message_id: Option<String>,
    head_read: bool,
    line: Option<LineFields>,
    lines: u64,
}

enum P2Event {
    HeadRead,
    Line(StatusLine),
    End,
    Nothing,
}

impl<R: BufRead> Pain002Reader<R> {
    pub fn new(input: R) -> Result<Self, StatusFileError> {
        Self::with_limits(input, XmlLimits::default())
    }

    pub fn with_limits(input: R, limits: XmlLimits) -> Result<Self, StatusFileError> {
        let cursor = XmlCursor::open(input, StatusFileKind::Pain002, limits, pain002_tag)?;
        let mut reader = Self {
            cursor,
            report: StatusReport {
                message_id: String::new(),
                original_message_id: String::new(),
                group_status: None,
                group_reason: None,
                group_detail: None,
            },
            group_from_payment_information: false,
            message_id: None,
            original_message_id: None,
            head_read: false,
            line: None,
            lines: 0,
        };
        loop {
            match reader.advance()? {
                P2Event::HeadRead => return Ok(reader),
                P2Event::Nothing => {}
                P2Event::Line(_) | P2Event::End => {
                    return Err(StatusFileError::Missing {
                        at: reader.cursor.at(),
                        element: "CstmrPmtStsRpt/OrgnlGrpInfAndSts",
                        end_to_end_id: None,
                    });
                }
            }
        }
    }

    /// The report's head; once [`Self::next_line`] has returned `None`,
    /// with the payment information's status folded in.
    pub fn report(&self) -> &StatusReport {
        &self.report
    }

    pub fn next_line(&mut self) -> Result<Option<StatusLine>, StatusFileError> {
        loop {
            match self.advance()? {
                P2Event::Line(line) => return Ok(Some(line)),
                P2Event::End => return Ok(None),
                P2Event::HeadRead | P2Event::Nothing => {}
            }
        }
    }

    fn advance(&mut self) -> Result<P2Event, StatusFileError> {
        use P2::*;
        let step = self.cursor.step()?;
        let at = self.cursor.at();
        let text = self.cursor.text();
        let close = match step {
            Step::End => return Ok(P2Event::End),
            Step::Open(TxInfAndSts)
                if self.cursor.parents() == [Document, Report, OrgnlPmtInfAndSts, TxInfAndSts] =>
            {
                self.line = Some(LineFields::default());
                return Ok(P2Event::Nothing);
            }
            Step::Open(_) => return Ok(P2Event::Nothing),
            Step::Close(tag) => tag,
        };
        let report = &mut self.report;
        match (self.cursor.parents(), close) {
            ([Document, Report, GrpHdr], MsgId) => {
                set_once(&mut self.message_id, text, "GrpHdr/MsgId", None, at)?;
            }
            ([Document, Report, OrgnlGrpInfAndSts], OrgnlMsgId) => {
                set_once(&mut self.original_message_id, text, "OrgnlMsgId", None, at)?;
            }
            ([Document, Report, OrgnlGrpInfAndSts], GrpSts) => {
                report.group_status = group_status(text, "GrpSts", at)?;
            }
            ([Document, Report, OrgnlGrpInfAndSts, StsRsnInf, Rsn], Cd | Prtry) => {
                report.group_reason.get_or_insert_with(|| clipped(text));
            }
            ([Document, Report, OrgnlGrpInfAndSts, StsRsnInf], AddtlInf) => {
                push_detail(&mut report.group_detail, text);
            }
            ([Document, Report], OrgnlGrpInfAndSts) => {
                if self.head_read {
                    return Err(StatusFileError::Repeated {
                        at,
                        element: "OrgnlGrpInfAndSts",
                        end_to_end_id: None,
                    });
                }
                self.head_read = true;
                let missing = |element| StatusFileError::Missing {
                    at,
                    element,
                    end_to_end_id: None,
                };
                let id = self
                    .message_id
                    .take()
                    .ok_or_else(|| missing("GrpHdr/MsgId"))?;
                report.message_id = max35(&id, "GrpHdr/MsgId", at)?;
                let id = self
                    .original_message_id
                    .take()
                    .ok_or_else(|| missing("OrgnlGrpInfAndSts/OrgnlMsgId"))?;
                report.original_message_id = max35(&id, "OrgnlMsgId", at)?;
                return Ok(P2Event::HeadRead);
            }
            ([Document, Report, OrgnlPmtInfAndSts], PmtInfSts) if report.group_status.is_none() => {
                report.group_status = group_status(text, "PmtInfSts", at)?;
                self.group_from_payment_information = true;
            }
            ([Document, Report, OrgnlPmtInfAndSts, StsRsnInf, Rsn], Cd | Prtry)
                if self.group_from_payment_information =>
            {
                report.group_reason.get_or_insert_with(|| clipped(text));
            }
            ([Document, Report, OrgnlPmtInfAndSts, StsRsnInf], AddtlInf)
                if self.group_from_payment_information =>
            {
                push_detail(&mut report.group_detail, text);
            }
            ([Document, Report, OrgnlPmtInfAndSts, TxInfAndSts], tag) => {
                if let Some(line) = &mut self.line {
                    let id = line.end_to_end_id.as_ref();
                    match tag {
                        OrgnlEndToEndId => {
                            set_once(&mut line.end_to_end_id, text, "OrgnlEndToEndId", None, at)?
                        }
                        TxSts => set_once(&mut line.status, text, "TxSts", id, at)?,
                        _ => {}
                    }
                }
            }
            (
                [
                    Document,
                    Report,
                    OrgnlPmtInfAndSts,
                    TxInfAndSts,
                    StsRsnInf,
                    Rsn,
                ],
                Cd | Prtry,
            ) => {
                if let Some(line) = &mut self.line {
                    line.reason.get_or_insert_with(|| clipped(text));
                }
            }
            ([Document, Report, OrgnlPmtInfAndSts, TxInfAndSts, StsRsnInf], AddtlInf) => {
                if let Some(line) = &mut self.line {
                    push_detail(&mut line.detail, text);
                }
            }
            (
                [
                    Document,
                    Report,
                    OrgnlPmtInfAndSts,
                    TxInfAndSts,
                    OrgnlTxRef,
                    Amt,
                ],
                InstdAmt,
            ) => {
                if let Some(line) = &mut self.line {
                    if line.amount.is_some() {
                        return Err(StatusFileError::Repeated {
                            at,
                            element: "OrgnlTxRef/Amt/InstdAmt",
                            end_to_end_id: line.end_to_end_id.clone(),
                        });
                    }
                    line.amount = Some(RawAmount::of(&self.cursor));
                }
            }
            ([Document, Report, OrgnlPmtInfAndSts], TxInfAndSts) => {
                if let Some(fields) = self.line.take() {
                    self.lines += 1;
                    let limit = self.cursor.limits().records_max;
                    if self.lines > limit {
                        return Err(StatusFileError::TooMany {
                            what: "status lines",
                            limit,
                        });
                    }
                    return Ok(P2Event::Line(status_line(fields, at)?));
                }
            }
            _ => {}
        }
        Ok(P2Event::Nothing)
    }
}

fn status_line(fields: LineFields, at: u64) -> Result<StatusLine, StatusFileError> {
    let id = fields.end_to_end_id.ok_or(StatusFileError::Missing {
        at,
        element: "TxInfAndSts/OrgnlEndToEndId",
        end_to_end_id: None,
    })?;
    let end_to_end_id = max35(&id, "OrgnlEndToEndId", at)?;
    let code = fields.status.ok_or_else(|| StatusFileError::Missing {
        at,
        element: "TxInfAndSts/TxSts",
        end_to_end_id: Some(end_to_end_id.clone()),
    })?;
    let status = tx_status(&code).ok_or_else(|| StatusFileError::UnknownStatus {
        at,
        element: "TxSts",
        code: clipped(&code),
        end_to_end_id: Some(end_to_end_id.clone()),
    })?;
    let amount = match &fields.amount {
        Some(raw) => Some(raw.money(&end_to_end_id, at)?),
        None => None,
    };
    Ok(StatusLine {
        end_to_end_id,
        status,
        reason: fields.reason,
        detail: fields.detail,
        amount,
    })
}

/// Reads a whole `pain.002`, giving each line to `on_line` as it is read
/// (a million lines take the memory of one); the head at the end.
pub fn read_pain002<R: BufRead, E>(
    input: R,
    mut on_line: impl FnMut(StatusLine) -> Result<(), E>,
) -> Result<StatusReport, ReadError<E>> {
    let mut reader = Pain002Reader::new(input)?;
    while let Some(line) = reader.next_line()? {
        on_line(line).map_err(ReadError::Handler)?;
    }
    Ok(reader.report)
}

// --- camt.054 ------------------------------------------------------------

/// The elements of a `camt.054` we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C54 {
    Document,
    Notifications,
    GrpHdr,
    MsgId,
    Ntfctn,
    Acct,
    Id,
    Iban,
    Othr,
    Ntry,
    Amt,
    CdtDbtInd,
    RvslInd,
    Sts,
    Cd,
    Prtry,
    BookgDt,
    Dt,
    DtTm,
    AcctSvcrRef,
    NtryDtls,
    TxDtls,
    Refs,
    EndToEndId,
    AmtDtls,
    TxAmt,
    Other,
}

fn camt054_tag(local: &[u8]) -> C54 {
    match local {
        b"Document" => C54::Document,
        b"BkToCstmrDbtCdtNtfctn" => C54::Notifications,
        b"GrpHdr" => C54::GrpHdr,
        b"MsgId" => C54::MsgId,
        b"Ntfctn" => C54::Ntfctn,
        b"Acct" => C54::Acct,
        b"Id" => C54::Id,
        b"IBAN" => C54::Iban,
        b"Othr" => C54::Othr,
        b"Ntry" => C54::Ntry,
        b"Amt" => C54::Amt,
        b"CdtDbtInd" => C54::CdtDbtInd,
        b"RvslInd" => C54::RvslInd,
        b"Sts" => C54::Sts,
        b"Cd" => C54::Cd,
        b"Prtry" => C54::Prtry,
        b"BookgDt" => C54::BookgDt,
        b"Dt" => C54::Dt,
        b"DtTm" => C54::DtTm,
        b"AcctSvcrRef" => C54::AcctSvcrRef,
        b"NtryDtls" => C54::NtryDtls,
        b"TxDtls" => C54::TxDtls,
        b"Refs" => C54::Refs,
        b"EndToEndId" => C54::EndToEndId,
        b"AmtDtls" => C54::AmtDtls,
        b"TxAmt" => C54::TxAmt,
        _ => C54::Other,
    }
}

/// An entry's own fields: they come before its transactions.
#[derive(Debug, Default)]
struct EntryFields {
    amount: Option<RawAmount>,
    credit_debit: Option<String>,
    reversal: Option<String>,
    status: Option<String>,
    booking_date: Option<String>,
    bank_reference: Option<String>,
    /// `TxDtls` seen in this entry.
    transactions: u64,
}

#[derive(Debug, Default)]
struct TransactionFields {
    end_to_end_id: Option<String>,
    /// `TxDtls/Amt` (`.04` and later).
    amount: Option<RawAmount>,
    /// `TxDtls/AmtDtls/TxAmt/Amt`, where `.02` and `.03` put it.
    amount_details: Option<RawAmount>,
}

/// A `camt.054` read one booking at a time: one [`Booking`] per
/// transaction (`TxDtls`) that names an `EndToEndId`.
///
/// A movement without one (an entry with no `TxDtls`, or whose `TxDtls`
/// have no `EndToEndId` or `NOTPROVIDED`) is skipped and counted in
/// [`Notification::unreferenced`], not refused: a notification lists every
/// movement on the account, and bank charges or the programme's own
/// funding, which are not payments of ours, must not make a file of a
/// million bookings unreadable. Every movement we do read is checked in
/// full.
pub struct Camt054Reader<R> {
    cursor: XmlCursor<R, C54>,
    notification: Notification,
    message_id: Option<String>,
    entry: EntryFields,
    transaction: Option<TransactionFields>,
    /// The entry's only transaction so far, without an amount of its own:
    /// booked with the entry's amount when the entry ends alone.
    pending: Option<TransactionFields>,
    bookings: u64,
}

enum C54Event {
    HeadRead,
    Booking(Booking),
    End,
    Nothing,
}

impl<R: BufRead> Camt054Reader<R> {
    pub fn new(input: R) -> Result<Self, StatusFileError> {
        Self::with_limits(input, XmlLimits::default())
    }

    pub fn with_limits(input: R, limits: XmlLimits) -> Result<Self, StatusFileError> {
        let cursor = XmlCursor::open(input, StatusFileKind::Camt054, limits, camt054_tag)?;
        let mut reader = Self {
            cursor,
            notification: Notification {
                message_id: String::new(),
                account: None,
                unreferenced: 0,
            },
            message_id: None,
            entry: EntryFields::default(),
            transaction: None,
            pending: None,
            bookings: 0,
        };
        loop {
            match reader.advance()? {
                C54Event::HeadRead => return Ok(reader),
                C54Event::Nothing => {}
                C54Event::Booking(_) | C54Event::End => {
                    return Err(StatusFileError::Missing {
                        at: reader.cursor.at(),
                        element: "BkToCstmrDbtCdtNtfctn/GrpHdr",
                        end_to_end_id: None,
                    });
                }
            }
        }
    }

    /// The notification's head; its account and the count of movements
    /// skipped are complete once [`Self::next_booking`] has returned `None`.
    pub fn notification(&self) -> &Notification {
        &self.notification
    }

    pub fn next_booking(&mut self) -> Result<Option<Booking>, StatusFileError> {
        loop {
            match self.advance()? {
                C54Event::Booking(booking) => return Ok(Some(booking)),
                C54Event::End => return Ok(None),
                C54Event::HeadRead | C54Event::Nothing => {}
            }
        }
    }

    fn advance(&mut self) -> Result<C54Event, StatusFileError> {
        use C54::*;
        let step = self.cursor.step()?;
        let at = self.cursor.at();
        let close = match step {
            Step::End => return Ok(C54Event::End),
            Step::Open(Ntry)
                if self.cursor.parents() == [Document, Notifications, Ntfctn, Ntry] =>
            {
                self.entry = EntryFields::default();
                return Ok(C54Event::Nothing);
            }
            Step::Open(TxDtls)
                if self.cursor.parents()
                    == [Document, Notifications, Ntfctn, Ntry, NtryDtls, TxDtls] =>
            {
                if let Some(pending) = self.pending.take() {
                    return Err(StatusFileError::AmbiguousAmount {
                        at,
                        end_to_end_id: pending.end_to_end_id.unwrap_or_default(),
                    });
                }
                self.entry.transactions += 1;
                self.transaction = Some(TransactionFields::default());
                return Ok(C54Event::Nothing);
            }
            Step::Open(_) => return Ok(C54Event::Nothing),
            Step::Close(tag) => tag,
        };
        let text = self.cursor.text();
        let entry = &mut self.entry;
        match (self.cursor.parents(), close) {
            ([Document, Notifications, GrpHdr], MsgId) => {
                set_once(&mut self.message_id, text, "GrpHdr/MsgId", None, at)?;
            }
            ([Document, Notifications], GrpHdr) => {
                let id = self.message_id.take().ok_or(StatusFileError::Missing {
                    at,
                    element: "GrpHdr/MsgId",
                    end_to_end_id: None,
                })?;
                self.notification.message_id = max35(&id, "GrpHdr/MsgId", at)?;
                return Ok(C54Event::HeadRead);
            }
            ([Document, Notifications, Ntfctn, Acct, Id], Iban)
                if self.notification.account.is_none() =>
            {
                self.notification.account = Some(AccountId::Iban(clipped(text)));
            }
            ([Document, Notifications, Ntfctn, Acct, Id, Othr], Id)
                if self.notification.account.is_none() =>
            {
                self.notification.account = Some(AccountId::Other(clipped(text)));
            }
            ([Document, Notifications, Ntfctn, Ntry], tag) => match tag {
                Amt => {
                    if entry.amount.is_some() {
                        return Err(StatusFileError::Repeated {
                            at,
                            element: "Ntry/Amt",
                            end_to_end_id: None,
                        });
                    }
                    entry.amount = Some(RawAmount::of(&self.cursor));
                }
                CdtDbtInd => set_once(&mut entry.credit_debit, text, "CdtDbtInd", None, at)?,
                RvslInd => set_once(&mut entry.reversal, text, "RvslInd", None, at)?,
                // Before `.08`, the code is the text of `Sts`.
                Sts if !text.is_empty() => set_once(&mut entry.status, text, "Sts", None, at)?,
                AcctSvcrRef => {
                    set_once(&mut entry.bank_reference, text, "AcctSvcrRef", None, at)?;
                }
                _ => {}
            },
            ([Document, Notifications, Ntfctn, Ntry, Sts], Cd | Prtry) => {
                set_once(&mut entry.status, text, "Sts", None, at)?;
            }
            ([Document, Notifications, Ntfctn, Ntry, BookgDt], Dt | DtTm) => {
                set_once(&mut entry.booking_date, text, "BookgDt", None, at)?;
            }
            (
                [
                    Document,
                    Notifications,
                    Ntfctn,
                    Ntry,
                    NtryDtls,
                    TxDtls,
                    Refs,
                ],
                EndToEndId,
            ) => {
                if let Some(transaction) = &mut self.transaction {
                    set_once(
                        &mut transaction.end_to_end_id,
                        text,
                        "Refs/EndToEndId",
                        None,
                        at,
                    )?;
                }
            }
            ([Document, Notifications, Ntfctn, Ntry, NtryDtls, TxDtls], Amt) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.amount = Some(RawAmount::of(&self.cursor));
                }
            }
            (
                [
                    Document,
                    Notifications,
                    Ntfctn,
                    Ntry,
                    NtryDtls,
                    TxDtls,
                    AmtDtls,
                    TxAmt,
                ],
                Amt,
            ) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.amount_details = Some(RawAmount::of(&self.cursor));
                }
            }
            ([Document, Notifications, Ntfctn, Ntry, NtryDtls], TxDtls) => {
                let Some(transaction) = self.transaction.take() else {
                    return Ok(C54Event::Nothing);
                };
                let ours = transaction
                    .end_to_end_id
                    .as_deref()
                    .is_some_and(|id| id != NOT_PROVIDED);
                if !ours {
                    self.notification.unreferenced += 1;
                } else if transaction.amount.is_some() || transaction.amount_details.is_some() {
                    return self.booked(transaction, at);
                } else if entry.transactions == 1 {
                    self.pending = Some(transaction);
                } else {
                    return Err(StatusFileError::AmbiguousAmount {
                        at,
                        end_to_end_id: transaction.end_to_end_id.unwrap_or_default(),
                    });
                }
            }
            ([Document, Notifications, Ntfctn], Ntry) => {
                if let Some(pending) = self.pending.take() {
                    return self.booked(pending, at);
                }
                if entry.transactions == 0 {
                    self.notification.unreferenced += 1;
                }
            }
            _ => {}
        }
        Ok(C54Event::Nothing)
    }

    fn booked(
        &mut self,
        transaction: TransactionFields,
        at: u64,
    ) -> Result<C54Event, StatusFileError> {
        self.bookings += 1;
        let limit = self.cursor.limits().records_max;
        if self.bookings > limit {
            return Err(StatusFileError::TooMany {
                what: "bookings",
                limit,
            });
        }
        Ok(C54Event::Booking(booking(&self.entry, transaction, at)?))
    }
}

fn booking(
    entry: &EntryFields,
    transaction: TransactionFields,
    at: u64,
) -> Result<Booking, StatusFileError> {
    let id = transaction.end_to_end_id.unwrap_or_default();
    let end_to_end_id = max35(&id, "Refs/EndToEndId", at)?;
    let missing = |element| StatusFileError::Missing {
        at,
        element,
        end_to_end_id: Some(end_to_end_id.clone()),
    };
    let bad = |element, value: &str| StatusFileError::BadCode {
        at,
        element,
        value: clipped(value),
        end_to_end_id: end_to_end_id.clone(),
    };
    let raw = transaction
        .amount
        .as_ref()
        .or(transaction.amount_details.as_ref())
        .or(entry.amount.as_ref())
        .ok_or_else(|| missing("Ntry/Amt"))?;
    let amount = raw.money(&end_to_end_id, at)?;
    let credit_debit = match entry.credit_debit.as_deref() {
        Some("DBIT") => CreditDebit::Debit,
        Some("CRDT") => CreditDebit::Credit,
        Some(other) => return Err(bad("CdtDbtInd", other)),
        None => return Err(missing("Ntry/CdtDbtInd")),
    };
    let reversal = match entry.reversal.as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => return Err(bad("RvslInd", other)),
    };
    let booked = match entry.status.as_deref() {
        Some("BOOK") => true,
        Some("PDNG" | "INFO" | "FUTR") => false,
        Some(other) => {
            return Err(StatusFileError::UnknownStatus {
                at,
                element: "Ntry/Sts",
                code: clipped(other),
                end_to_end_id: Some(end_to_end_id),
            });
        }
        None => return Err(missing("Ntry/Sts")),
    };
    Ok(Booking {
        amount,
        credit_debit,
        reversal,
        booked,
        booking_date: entry.booking_date.clone(),
        bank_reference: entry.bank_reference.clone(),
        end_to_end_id,
    })
}

/// Reads a whole `camt.054`, giving each booking to `on_booking` as it is
/// read; the head (with the account and the movements skipped) at the end.
pub fn read_camt054<R: BufRead, E>(
    input: R,
    mut on_booking: impl FnMut(Booking) -> Result<(), E>,
) -> Result<Notification, ReadError<E>> {
    let mut reader = Camt054Reader::new(input)?;
    while let Some(booking) = reader.next_booking()? {
        on_booking(booking).map_err(ReadError::Handler)?;
    }
    Ok(reader.notification)
}

// --- Writers -------------------------------------------------------------

/// `YYYY-MM-DDThh:mm:ssZ` of a Unix time.
fn iso_date_time(unix: i64) -> String {
    let seconds = unix.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        calendar::format_date(unix),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn element(out: &mut impl Write, name: &str, text: &str) -> io::Result<()> {
    write!(out, "<{name}>{}</{name}>", escape(text))
}

fn amount_element(out: &mut impl Write, name: &str, amount: &Money) -> io::Result<()> {
    write!(
        out,
        "<{name} Ccy=\"{}\">{}</{name}>",
        amount.currency.code(),
        amount.decimal()
    )
}

fn account_element(out: &mut impl Write, account: &AccountId) -> io::Result<()> {
    match account {
        AccountId::Iban(iban) => element(out, "IBAN", iban),
        AccountId::Other(id) => {
            out.write_all(b"<Othr>")?;
            element(out, "Id", id)?;
            out.write_all(b"</Othr>")
        }
    }
}

/// `StsRsnInf`: the reason as `Cd` (an external code has at most 4
/// characters) or `Prtry`, the detail as `AddtlInf` lines of at most 105
/// characters, split between words (the reader joins them with a space).
fn reason_element(
    out: &mut impl Write,
    reason: Option<&str>,
    detail: Option<&str>,
) -> io::Result<()> {
    if reason.is_none() && detail.is_none() {
        return Ok(());
    }
    out.write_all(b"<StsRsnInf>")?;
    if let Some(reason) = reason {
        out.write_all(b"<Rsn>")?;
        let name = if reason.chars().count() <= 4 {
            "Cd"
        } else {
            "Prtry"
        };
        element(out, name, reason)?;
        out.write_all(b"</Rsn>")?;
    }
    let mut rest = detail.unwrap_or_default();
    while !rest.is_empty() {
        let (line, next) = match rest.char_indices().nth(MAX105_CHARS) {
            None => (rest, ""),
            // The 106th character: a space up to it ends a line of 105.
            Some((end, c)) => match rest[..end + c.len_utf8()].rfind(' ') {
                Some(space) if space > 0 => (&rest[..space], &rest[space + 1..]),
                _ => rest.split_at(end),
            },
        };
        element(out, "AddtlInf", line)?;
        rest = next;
    }
    out.write_all(b"</StsRsnInf>")
}

/// What a `pain.002` says besides its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain002Header {
    pub report: StatusReport,
    /// `GrpHdr/CreDtTm`, Unix seconds.
    pub created_at: i64,
    /// `OrgnlMsgNmId`, e.g. `pain.001.001.09`.
    pub original_message_name: String,
    /// `OrgnlPmtInfAndSts/OrgnlPmtInfId`.
    pub original_payment_information_id: String,
}

/// A `pain.002.001.10`, written as a stream: the head, then one line at a
/// time, then [`Pain002Writer::finish`].
pub struct Pain002Writer<W: Write> {
    out: W,
    payment_information_id: String,
    lines_open: bool,
}

impl<W: Write> Pain002Writer<W> {
    pub fn new(mut out: W, header: &Pain002Header) -> io::Result<Self> {
        let report = &header.report;
        out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        out.write_all(
            b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"><CstmrPmtStsRpt>\n<GrpHdr>",
        )?;
        element(&mut out, "MsgId", &report.message_id)?;
        element(&mut out, "CreDtTm", &iso_date_time(header.created_at))?;
        out.write_all(b"</GrpHdr>\n<OrgnlGrpInfAndSts>")?;
        element(&mut out, "OrgnlMsgId", &report.original_message_id)?;
        element(&mut out, "OrgnlMsgNmId", &header.original_message_name)?;
        if let Some(status) = report.group_status {
            element(&mut out, "GrpSts", tx_status_code(status))?;
        }
        reason_element(
            &mut out,
            report.group_reason.as_deref(),
            report.group_detail.as_deref(),
        )?;
        out.write_all(b"</OrgnlGrpInfAndSts>\n")?;
        Ok(Self {
            out,
            payment_information_id: header.original_payment_information_id.clone(),
            lines_open: false,
        })
    }

    pub fn line(&mut self, line: &StatusLine) -> io::Result<()> {
        let out = &mut self.out;
        if !self.lines_open {
            out.write_all(b"<OrgnlPmtInfAndSts>")?;
            element(out, "OrgnlPmtInfId", &self.payment_information_id)?;
            out.write_all(b"\n")?;
            self.lines_open = true;
        }
        out.write_all(b"<TxInfAndSts>")?;
        element(out, "OrgnlEndToEndId", &line.end_to_end_id)?;
        element(out, "TxSts", tx_status_code(line.status))?;
        reason_element(out, line.reason.as_deref(), line.detail.as_deref())?;
        if let Some(amount) = &line.amount {
            out.write_all(b"<OrgnlTxRef><Amt>")?;
            amount_element(out, "InstdAmt", amount)?;
            out.write_all(b"</Amt></OrgnlTxRef>")?;
        }
        out.write_all(b"</TxInfAndSts>\n")
    }

    /// Closes the document and hands back the output (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        if self.lines_open {
            self.out.write_all(b"</OrgnlPmtInfAndSts>\n")?;
        }
        self.out.write_all(b"</CstmrPmtStsRpt></Document>\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What a `camt.054` says besides its bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Camt054Header {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/CreDtTm` and `Ntfctn/CreDtTm`, Unix seconds.
    pub created_at: i64,
    /// `Ntfctn/Id`.
    pub notification_id: String,
    /// `Ntfctn/Acct/Id`: the account debited.
    pub account: AccountId,
}

/// A `camt.054.001.08` of one notification, written as a stream: one
/// entry (`Ntry`) per booking, with its one `TxDtls`.
pub struct Camt054Writer<W: Write> {
    out: W,
}

impl<W: Write> Camt054Writer<W> {
    pub fn new(mut out: W, header: &Camt054Header) -> io::Result<Self> {
        out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        out.write_all(
            b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\"><BkToCstmrDbtCdtNtfctn>\n<GrpHdr>",
        )?;
        let created_at = iso_date_time(header.created_at);
        element(&mut out, "MsgId", &header.message_id)?;
        element(&mut out, "CreDtTm", &created_at)?;
        out.write_all(b"</GrpHdr>\n<Ntfctn>")?;
        element(&mut out, "Id", &header.notification_id)?;
        element(&mut out, "CreDtTm", &created_at)?;
        out.write_all(b"<Acct><Id>")?;
        account_element(&mut out, &header.account)?;
        out.write_all(b"</Id></Acct>\n")?;
        Ok(Self { out })
    }

    pub fn booking(&mut self, booking: &Booking) -> io::Result<()> {
        let out = &mut self.out;
        out.write_all(b"<Ntry>")?;
        amount_element(out, "Amt", &booking.amount)?;
        let (indicator, family) = match booking.credit_debit {
            // Issued credit transfer, domestic.
            CreditDebit::Debit => ("DBIT", "DMCT"),
            // A credit transfer that came back (returned).
            CreditDebit::Credit => ("CRDT", "RRTN"),
        };
        element(out, "CdtDbtInd", indicator)?;
        if booking.reversal {
            element(out, "RvslInd", "true")?;
        }
        out.write_all(b"<Sts>")?;
        element(out, "Cd", if booking.booked { "BOOK" } else { "PDNG" })?;
        out.write_all(b"</Sts>")?;
        if let Some(date) = &booking.booking_date {
            out.write_all(b"<BookgDt>")?;
            element(out, if date.contains('T') { "DtTm" } else { "Dt" }, date)?;
            out.write_all(b"</BookgDt>")?;
        }
        if let Some(reference) = &booking.bank_reference {
            element(out, "AcctSvcrRef", reference)?;
        }
        write!(
            out,
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{family}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        )?;
        out.write_all(b"<NtryDtls><TxDtls><Refs>")?;
        element(out, "EndToEndId", &booking.end_to_end_id)?;
        out.write_all(b"</Refs>")?;
        amount_element(out, "Amt", &booking.amount)?;
        out.write_all(b"</TxDtls></NtryDtls></Ntry>\n")
    }

    /// Closes the document and hands back the output (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.out
            .write_all(b"</Ntfctn>\n</BkToCstmrDbtCdtNtfctn></Document>\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A change to a sample (`from` to `to`) and the error it must give.
    type Case = (&'static str, &'static str, fn(&StatusFileError) -> bool);

    fn kes(minor: i64) -> Money {
        Money::new(minor, Currency::parse("KES").unwrap())
    }

    fn lines_of(xml: &str) -> Result<(StatusReport, Vec<StatusLine>), StatusFileError> {
        let mut lines = Vec::new();
        let report = read_pain002(xml.as_bytes(), |line| {
            lines.push(line);
            Ok::<_, ()>(())
        })
        .map_err(|error| match error {
            ReadError::File(error) => error,
            ReadError::Handler(()) => unreachable!(),
        })?;
        Ok((report, lines))
    }

    fn bookings_of(xml: &str) -> Result<(Notification, Vec<Booking>), StatusFileError> {
        bookings_limited(xml, XmlLimits::default())
    }

    fn bookings_limited(
        xml: &str,
        limits: XmlLimits,
    ) -> Result<(Notification, Vec<Booking>), StatusFileError> {
        let mut reader = Camt054Reader::with_limits(xml.as_bytes(), limits)?;
        let mut bookings = Vec::new();
        while let Some(booking) = reader.next_booking()? {
            bookings.push(booking);
        }
        Ok((reader.notification().clone(), bookings))
    }

    /// An older bank's answer: version .03, a namespace prefix, a
    /// partial group status, reasons, two `AddtlInf` lines, an entity.
    const PAIN002_V03: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- from the bank -->
<p:Document xmlns:p="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <p:CstmrPmtStsRpt>
    <p:GrpHdr>
      <p:MsgId>BANK-STS-0001</p:MsgId>
      <p:CreDtTm>2027-01-05T10:00:00</p:CreDtTm>
      <p:InitgPty><p:Nm>Bank &amp; Co</p:Nm></p:InitgPty>
    </p:GrpHdr>
    <p:OrgnlGrpInfAndSts>
      <p:OrgnlMsgId>LM-2027-01-0001</p:OrgnlMsgId>
      <p:OrgnlMsgNmId>pain.001.001.03</p:OrgnlMsgNmId>
      <p:OrgnlNbOfTxs>3</p:OrgnlNbOfTxs>
      <p:GrpSts>PART</p:GrpSts>
    </p:OrgnlGrpInfAndSts>
    <p:OrgnlPmtInfAndSts>
      <p:OrgnlPmtInfId>LM-2027-01-0001-1</p:OrgnlPmtInfId>
      <p:TxInfAndSts>
        <p:StsId>1</p:StsId>
        <p:OrgnlInstrId>I-1</p:OrgnlInstrId>
        <p:OrgnlEndToEndId>E2E-1</p:OrgnlEndToEndId>
        <p:TxSts>ACCP</p:TxSts>
        <p:OrgnlTxRef>
          <p:Amt><p:InstdAmt Ccy="KES">2000.50</p:InstdAmt></p:Amt>
          <p:ReqdExctnDt>2027-01-06</p:ReqdExctnDt>
        </p:OrgnlTxRef>
      </p:TxInfAndSts>
      <p:TxInfAndSts>
        <p:OrgnlEndToEndId>E2E-2</p:OrgnlEndToEndId>
        <p:TxSts>RJCT</p:TxSts>
        <p:StsRsnInf>
          <p:Orgtr><p:Nm>Other bank</p:Nm></p:Orgtr>
          <p:Rsn><p:Cd>AC04</p:Cd></p:Rsn>
          <p:AddtlInf>Account closed</p:AddtlInf>
          <p:AddtlInf>on 2026-12-01 &#x2013; see letter</p:AddtlInf>
        </p:StsRsnInf>
      </p:TxInfAndSts>
      <p:TxInfAndSts>
        <p:OrgnlEndToEndId>E2E-3</p:OrgnlEndToEndId>
        <p:TxSts>ACSC</p:TxSts>
        <p:AcctSvcrRef>REF-3</p:AcctSvcrRef>
        <p:OrgnlTxRef><p:RmtInf><p:Strd><p:CdtrRefInf><p:Tp><p:CdOrPrtry><p:Cd>SCOR</p:Cd></p:CdOrPrtry></p:Tp><p:Ref>RF18</p:Ref></p:CdtrRefInf></p:Strd></p:RmtInf></p:OrgnlTxRef>
      </p:TxInfAndSts>
    </p:OrgnlPmtInfAndSts>
  </p:CstmrPmtStsRpt>
</p:Document>
"#;

    #[test]
    fn reads_a_version_03_report_with_reasons_and_amounts() {
        let (report, lines) = lines_of(PAIN002_V03).unwrap();
        assert_eq!(report.message_id, "BANK-STS-0001");
        assert_eq!(report.original_message_id, "LM-2027-01-0001");
        assert_eq!(
            report.group_status, None,
            "PART says only that lines differ"
        );
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].end_to_end_id, "E2E-1");
        assert_eq!(lines[0].status, TxStatus::Accepted);
        assert_eq!(lines[0].amount, Some(kes(200_050)));
        assert_eq!(lines[1].status, TxStatus::Rejected);
        assert_eq!(lines[1].reason.as_deref(), Some("AC04"));
        assert_eq!(
            lines[1].detail.as_deref(),
            Some("Account closed on 2026-12-01 \u{2013} see letter")
        );
        assert_eq!(lines[2].status, TxStatus::Settled);
        assert_eq!(lines[2].amount, None);
    }

    #[test]
    fn a_rejected_file_has_its_group_status_reason_and_words() {
        let xml = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>S</MsgId><CreDtTm>2027-01-05T10:00:00Z</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>O</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn><AddtlInf>bad file</AddtlInf></StsRsnInf>
</OrgnlGrpInfAndSts></CstmrPmtStsRpt></Document>"#;
        let (report, lines) = lines_of(xml).unwrap();
        assert_eq!(report.group_status, Some(TxStatus::Rejected));
        assert_eq!(report.group_reason.as_deref(), Some("FF01"));
        assert_eq!(report.group_detail.as_deref(), Some("bad file"));
        assert!(lines.is_empty());
    }

    #[test]
    fn a_payment_information_status_stands_for_a_missing_group_status() {
        let xml = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.05"><CstmrPmtStsRpt>
<GrpHdr><MsgId>S</MsgId></GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>O</OrgnlMsgId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>P</OrgnlPmtInfId><PmtInfSts>RJCT</PmtInfSts>
<StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#;
        let (report, _) = lines_of(xml).unwrap();
        assert_eq!(report.group_status, Some(TxStatus::Rejected));
        assert_eq!(report.group_reason.as_deref(), Some("AM04"));
    }

    #[test]
    fn the_head_is_known_before_the_first_line() {
        let mut reader = Pain002Reader::new(PAIN002_V03.as_bytes()).unwrap();
        assert_eq!(reader.report().original_message_id, "LM-2027-01-0001");
        assert_eq!(reader.next_line().unwrap().unwrap().end_to_end_id, "E2E-1");
    }

    #[test]
    fn every_status_code_maps_and_an_unknown_one_is_named_with_its_payment() {
        for (code, status) in [
            ("RCVD", TxStatus::Accepted),
            ("ACTC", TxStatus::Accepted),
            ("ACCP", TxStatus::Accepted),
            ("ACWC", TxStatus::Accepted),
            ("ACSP", TxStatus::Pending),
            ("PDNG", TxStatus::Pending),
            ("ACSC", TxStatus::Settled),
            ("ACCC", TxStatus::Settled),
            ("RJCT", TxStatus::Rejected),
        ] {
            assert_eq!(tx_status(code), Some(status), "{code}");
        }
        let xml = PAIN002_V03.replace("<p:TxSts>ACSC</p:TxSts>", "<p:TxSts>BLCK</p:TxSts>");
        let error = lines_of(&xml).unwrap_err();
        assert!(
            matches!(&error, StatusFileError::UnknownStatus { code, end_to_end_id: Some(id), .. }
                if code == "BLCK" && id == "E2E-3"),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("E2E-3") && message.contains("BLCK") && message.contains("at byte"),
            "{message}"
        );
        let xml = PAIN002_V03.replace("<p:GrpSts>PART", "<p:GrpSts>XXXX");
        assert!(matches!(
            lines_of(&xml),
            Err(StatusFileError::UnknownStatus {
                element: "GrpSts",
                ..
            })
        ));
    }

    #[test]
    fn bad_amounts_name_the_payment() {
        for (amount, problem) in [
            (r#"<p:InstdAmt Ccy="KES">-5.00</p:InstdAmt>"#, "negative"),
            (r#"<p:InstdAmt Ccy="KES">5.001</p:InstdAmt>"#, "decimal"),
            (r#"<p:InstdAmt Ccy="XOF">5.5</p:InstdAmt>"#, "decimal"),
            (r#"<p:InstdAmt Ccy="ABC">5</p:InstdAmt>"#, "ABC"),
            (r#"<p:InstdAmt Ccy="XAU">5</p:InstdAmt>"#, "XAU"),
            (r#"<p:InstdAmt>5</p:InstdAmt>"#, "Ccy"),
            (r#"<p:InstdAmt Ccy="KES">1e3</p:InstdAmt>"#, "digits"),
            (r#"<p:InstdAmt Ccy="KES"></p:InstdAmt>"#, "digits"),
        ] {
            let xml = PAIN002_V03.replace(r#"<p:InstdAmt Ccy="KES">2000.50</p:InstdAmt>"#, amount);
            let error = lines_of(&xml).unwrap_err();
            assert!(
                matches!(&error, StatusFileError::Amount { end_to_end_id, .. } if end_to_end_id == "E2E-1"),
                "{amount}: {error:?}"
            );
            assert!(error.to_string().contains(problem), "{amount}: {error}");
        }
    }

    #[test]
    fn pain002_structure_errors_are_specific() {
        let cases: &[Case] = &[
            ("<p:OrgnlEndToEndId>E2E-2</p:OrgnlEndToEndId>", "", |e| {
                matches!(
                    e,
                    StatusFileError::Missing {
                        element: "TxInfAndSts/OrgnlEndToEndId",
                        ..
                    }
                )
            }),
            (
                "<p:TxSts>RJCT</p:TxSts>",
                "",
                |e| matches!(e, StatusFileError::Missing { element: "TxInfAndSts/TxSts", end_to_end_id: Some(id), .. } if id == "E2E-2"),
            ),
            (
                "<p:TxSts>RJCT</p:TxSts>",
                "<p:TxSts>RJCT</p:TxSts><p:TxSts>ACCP</p:TxSts>",
                |e| matches!(e, StatusFileError::Repeated { element: "TxSts", end_to_end_id: Some(id), .. } if id == "E2E-2"),
            ),
            ("E2E-2<", "E2E-2-WHICH-IS-FAR-TOO-LONG-FOR-MAX35<", |e| {
                matches!(
                    e,
                    StatusFileError::BadId {
                        element: "OrgnlEndToEndId",
                        ..
                    }
                )
            }),
            ("<p:MsgId>BANK-STS-0001</p:MsgId>", "", |e| {
                matches!(
                    e,
                    StatusFileError::Missing {
                        element: "GrpHdr/MsgId",
                        ..
                    }
                )
            }),
            ("</p:Document>\n", "", |e| {
                matches!(e, StatusFileError::Truncated { open: 1, .. })
            }),
            ("</p:Document>\n", "</p:Document><p:Document/>", |e| {
                matches!(e, StatusFileError::AfterEnd { .. })
            }),
            (
                "Bank &amp; Co",
                "Bank &nbsp; Co",
                |e| matches!(e, StatusFileError::UnknownEntity { name, .. } if name == "nbsp"),
            ),
            ("</p:TxSts>", "</p:TxStatus>", |e| {
                matches!(e, StatusFileError::Xml { .. })
            }),
            (
                "encoding=\"UTF-8\"",
                "encoding=\"ISO-8859-1\"",
                |e| matches!(e, StatusFileError::Encoding { encoding, .. } if encoding == "ISO-8859-1"),
            ),
            (
                "<!-- from the bank -->",
                "<!DOCTYPE d [<!ENTITY a \"aaaa\">]>",
                |e| matches!(e, StatusFileError::DocType { .. }),
            ),
        ];
        for (from, to, expected) in cases {
            assert!(PAIN002_V03.contains(from), "{from}");
            let xml = PAIN002_V03.replacen(from, to, 1);
            let error = lines_of(&xml).unwrap_err();
            assert!(expected(&error), "{from} -> {to}: {error:?}");
        }
    }

    #[test]
    fn input_that_is_not_a_status_report_is_refused() {
        assert_eq!(lines_of("").unwrap_err(), StatusFileError::Empty);
        assert_eq!(lines_of("  \n").unwrap_err(), StatusFileError::Empty);
        assert!(matches!(
            lines_of("hello"),
            Err(StatusFileError::Xml { .. })
        ));
        let camt = PAIN002_V03.replace("pain.002.001.03", "camt.054.001.08");
        assert!(matches!(
            lines_of(&camt),
            Err(StatusFileError::WrongDocument { expected: "pain.002", namespace, .. })
                if namespace.contains("camt.054")
        ));
        assert!(matches!(
            lines_of("<Document><CstmrPmtStsRpt/></Document>"),
            Err(StatusFileError::WrongDocument { .. })
        ));
        let mut latin1 = PAIN002_V03
            .replace("Bank &amp; Co", "Bank \u{e9}")
            .into_bytes();
        let at = latin1.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
        latin1.splice(at..at + 2, [0xe9]);
        let error = read_pain002(&latin1[..], |_| Ok::<_, ()>(())).unwrap_err();
        assert!(
            matches!(error, ReadError::File(StatusFileError::NotUtf8 { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn limits_stop_the_reader() {
        let tight = |change: fn(&mut XmlLimits)| {
            let mut limits = XmlLimits::default();
            change(&mut limits);
            let mut reader = match Pain002Reader::with_limits(PAIN002_V03.as_bytes(), limits) {
                Ok(reader) => reader,
                Err(error) => return error,
            };
            loop {
                match reader.next_line() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("read within {limits:?}"),
                    Err(error) => return error,
                }
            }
        };
        assert!(matches!(
            tight(|l| l.records_max = 2),
            StatusFileError::TooMany { limit: 2, .. }
        ));
        assert!(matches!(
            tight(|l| l.depth_max = 6),
            StatusFileError::TooDeep { limit: 6, .. }
        ));
        assert!(matches!(
            tight(|l| l.text_bytes_max = 10),
            StatusFileError::TextTooLong { element, .. } if element == "MsgId"
        ));
        assert!(matches!(
            tight(|l| l.token_bytes_max = 40),
            StatusFileError::TokenTooLong { .. }
        ));
        assert!(matches!(
            tight(|l| l.file_bytes_max = 1000),
            StatusFileError::FileTooLarge { limit: 1000 }
        ));
        let huge_text = format!(
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"><CstmrPmtStsRpt><GrpHdr><MsgId>{}",
            "x".repeat(200_000)
        );
        assert!(matches!(
            lines_of(&huge_text),
            Err(StatusFileError::TokenTooLong { .. })
        ));
        let deep = format!(
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">{}",
            "<a>".repeat(100)
        );
        assert!(matches!(
            lines_of(&deep),
            Err(StatusFileError::TooDeep {
                limit: XML_DEPTH_MAX,
                ..
            })
        ));
    }

    #[test]
    fn a_handler_error_stops_the_read_and_comes_back() {
        let error = read_pain002(PAIN002_V03.as_bytes(), |line| {
            if line.end_to_end_id == "E2E-2" {
                Err("stop")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(matches!(error, ReadError::Handler("stop")));
    }

    /// A version .02 notification: `<Sts>BOOK</Sts>`, amounts in
    /// `AmtDtls`, an entry with two transactions, a fee without reference,
    /// a `NOTPROVIDED`, a reversal.
    const CAMT054_V02: &str = r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>NTF-0001</MsgId><CreDtTm>2027-01-06T18:00:00</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>N1</Id>
   <CreDtTm>2027-01-06T18:00:00</CreDtTm>
   <Acct><Id><IBAN>KE00BANK0000000000001</IBAN></Id></Acct>
   <Ntry>
    <Amt Ccy="KES">3000.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2027-01-06</Dt></BookgDt><AcctSvcrRef>BANKREF-1</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls>
     <Btch><NbOfTxs>2</NbOfTxs></Btch>
     <TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="KES">2000.00</Amt></TxAmt></AmtDtls></TxDtls>
     <TxDtls><Refs><EndToEndId>E2E-2</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="KES">1000.00</Amt></TxAmt></AmtDtls></TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="KES">35.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BkTxCd><Prtry><Cd>FEE</Cd></Prtry></BkTxCd>
   </Ntry>
   <Ntry>
    <Amt Ccy="KES">9.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="KES">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd><Sts>PDNG</Sts>
    <BookgDt><DtTm>2027-01-07T09:00:00</DtTm></BookgDt>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls><TxDtls><Refs><InstrId>I-2</InstrId><EndToEndId>E2E-2</EndToEndId></Refs></TxDtls></NtryDtls>
   </Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"#;

    #[test]
    fn reads_a_version_02_notification() {
        let (notification, bookings) = bookings_of(CAMT054_V02).unwrap();
        assert_eq!(notification.message_id, "NTF-0001");
        assert_eq!(
            notification.account,
            Some(AccountId::Iban("KE00BANK0000000000001".to_owned()))
        );
        assert_eq!(notification.unreferenced, 2, "the fee and the NOTPROVIDED");
        assert_eq!(bookings.len(), 3);
        let first = &bookings[0];
        assert_eq!(first.end_to_end_id, "E2E-1");
        assert_eq!(first.amount, kes(200_000));
        assert_eq!(first.credit_debit, CreditDebit::Debit);
        assert!(first.booked && !first.reversal);
        assert_eq!(first.booking_date.as_deref(), Some("2027-01-06"));
        assert_eq!(first.bank_reference.as_deref(), Some("BANKREF-1"));
        assert_eq!(bookings[1].amount, kes(100_000));
        let reversal = &bookings[2];
        assert_eq!(reversal.end_to_end_id, "E2E-2");
        assert_eq!(
            reversal.amount,
            kes(100_000),
            "the entry's amount, its only transaction"
        );
        assert_eq!(reversal.credit_debit, CreditDebit::Credit);
        assert!(reversal.reversal && !reversal.booked);
        assert_eq!(
            reversal.booking_date.as_deref(),
            Some("2027-01-07T09:00:00")
        );
    }

    #[test]
    fn reads_a_version_08_notification_with_a_coded_status() {
        let xml = r#"<c:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><c:BkToCstmrDbtCdtNtfctn>
<c:GrpHdr><c:MsgId>M</c:MsgId></c:GrpHdr><c:Ntfctn><c:Id>N</c:Id><c:Acct><c:Id><c:Othr><c:Id>0012345</c:Id></c:Othr></c:Id></c:Acct>
<c:Ntry><c:Amt Ccy="XOF">5000</c:Amt><c:CdtDbtInd>DBIT</c:CdtDbtInd><c:Sts><c:Cd>BOOK</c:Cd></c:Sts>
<c:NtryDtls><c:TxDtls><c:Refs><c:EndToEndId>E1</c:EndToEndId></c:Refs><c:Amt Ccy="XOF">5000</c:Amt></c:TxDtls></c:NtryDtls></c:Ntry>
</c:Ntfctn></c:BkToCstmrDbtCdtNtfctn></c:Document>"#;
        let (notification, bookings) = bookings_of(xml).unwrap();
        assert_eq!(
            notification.account,
            Some(AccountId::Other("0012345".to_owned()))
        );
        assert_eq!(bookings.len(), 1);
        assert_eq!(
            bookings[0].amount,
            Money::new(5000, Currency::parse("XOF").unwrap())
        );
        assert!(bookings[0].booked);
    }

    #[test]
    fn camt054_errors_are_specific() {
        let cases: &[Case] = &[
            (
                r#"<Amt Ccy="KES">2000.00</Amt></TxAmt></AmtDtls>"#,
                "</TxAmt></AmtDtls>",
                |e| matches!(e, StatusFileError::AmbiguousAmount { end_to_end_id, .. } if end_to_end_id == "E2E-1"),
            ),
            (
                "<CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>\n    <BookgDt>",
                "<CdtDbtInd>DEBIT</CdtDbtInd><Sts>BOOK</Sts>\n    <BookgDt>",
                |e| matches!(e, StatusFileError::BadCode { element: "CdtDbtInd", value, end_to_end_id, .. } if value == "DEBIT" && end_to_end_id == "E2E-1"),
            ),
            ("<RvslInd>true</RvslInd>", "<RvslInd>yes</RvslInd>", |e| {
                matches!(
                    e,
                    StatusFileError::BadCode {
                        element: "RvslInd",
                        ..
                    }
                )
            }),
            (
                "<Sts>PDNG</Sts>",
                "<Sts>DONE</Sts>",
                |e| matches!(e, StatusFileError::UnknownStatus { element: "Ntry/Sts", code, end_to_end_id: Some(id), .. } if code == "DONE" && id == "E2E-2"),
            ),
            (
                "<CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd><Sts>PDNG</Sts>",
                "",
                |e| {
                    matches!(
                        e,
                        StatusFileError::Missing {
                            element: "Ntry/CdtDbtInd",
                            ..
                        }
                    )
                },
            ),
            (
                r#"<Amt Ccy="KES">1000.00</Amt></TxAmt>"#,
                r#"<Amt Ccy="KES">10.000</Amt></TxAmt>"#,
                |e| matches!(e, StatusFileError::Amount { end_to_end_id, .. } if end_to_end_id == "E2E-2"),
            ),
            ("<MsgId>NTF-0001</MsgId>", "", |e| {
                matches!(
                    e,
                    StatusFileError::Missing {
                        element: "GrpHdr/MsgId",
                        ..
                    }
                )
            }),
            (
                "<EndToEndId>E2E-1</EndToEndId>",
                "<EndToEndId>E2E-1</EndToEndId><EndToEndId>X</EndToEndId>",
                |e| {
                    matches!(
                        e,
                        StatusFileError::Repeated {
                            element: "Refs/EndToEndId",
                            ..
                        }
                    )
                },
            ),
        ];
        for (from, to, expected) in cases {
            assert!(CAMT054_V02.contains(from), "{from}");
            let xml = CAMT054_V02.replacen(from, to, 1);
            let error = bookings_of(&xml).unwrap_err();
            assert!(expected(&error), "{from} -> {to}: {error:?}");
        }
        let limits = XmlLimits {
            records_max: 2,
            ..XmlLimits::default()
        };
        assert!(matches!(
            bookings_limited(CAMT054_V02, limits),
            Err(StatusFileError::TooMany {
                what: "bookings",
                limit: 2
            })
        ));
        assert!(matches!(
            bookings_of(PAIN002_V03),
            Err(StatusFileError::WrongDocument {
                expected: "camt.054",
                ..
            })
        ));
    }

    #[test]
    fn identify_tells_bank_files_apart_by_namespace() {
        let document = |namespace: &str| {
            format!(
                "<?xml version=\"1.0\"?><!-- x --><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:{namespace}\"><"
            )
        };
        assert_eq!(
            identify(document("pain.002.001.10").as_bytes()),
            Some(StatusFileKind::Pain002)
        );
        assert_eq!(
            identify(document("pain.002.001.03").as_bytes()),
            Some(StatusFileKind::Pain002)
        );
        assert_eq!(
            identify(document("camt.054.001.02").as_bytes()),
            Some(StatusFileKind::Camt054)
        );
        assert_eq!(
            identify(document("camt.053.001.08").as_bytes()),
            Some(StatusFileKind::Camt053)
        );
        assert_eq!(
            identify(document("pain.001.001.09").as_bytes()),
            Some(StatusFileKind::Pain001)
        );
        assert_eq!(identify(document("pacs.008.001.08").as_bytes()), None);
        assert_eq!(
            identify(PAIN002_V03.as_bytes()),
            Some(StatusFileKind::Pain002)
        );
        assert_eq!(
            identify(&PAIN002_V03.as_bytes()[..200]),
            Some(StatusFileKind::Pain002)
        );
        assert_eq!(
            identify(b"<Doc xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"/>"),
            None
        );
        assert_eq!(identify(b"<!DOCTYPE x><Document/>"), None);
        assert_eq!(identify(b"id,amount\n1,2\n"), None);
        assert_eq!(identify(b""), None);
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec!["KES", "XOF", "EUR", "BHD", "UGX"])
            .prop_map(|code| Currency::parse(code).unwrap())
    }

    fn money() -> impl Strategy<Value = Money> {
        (0..10_000_000_000_000_i64, currency())
            .prop_map(|(minor, currency)| Money::new(minor, currency))
    }

    /// Ids with the characters XML escapes; no spaces at either end (a
    /// reader trims text).
    const ID: &str = "[A-Za-z0-9&<>'\"/-]{1,35}";
    /// Words of one space, up to 140 characters (two `AddtlInf` lines).
    const DETAIL: &str = "[a-zA-Z&<\u{e9}]{1,12}( [a-zA-Z&<\u{e9}]{1,12}){0,9}";

    fn status_line() -> impl Strategy<Value = StatusLine> {
        (
            ID,
            prop::sample::select(vec![
                TxStatus::Accepted,
                TxStatus::Pending,
                TxStatus::Settled,
                TxStatus::Rejected,
            ]),
            prop::option::of("[A-Z0-9]{4}|[A-Za-z]{5,35}"),
            prop::option::of(DETAIL),
            prop::option::of(money()),
        )
            .prop_map(
                |(end_to_end_id, status, reason, detail, amount)| StatusLine {
                    end_to_end_id,
                    status,
                    reason,
                    detail,
                    amount,
                },
            )
    }

    fn booking() -> impl Strategy<Value = Booking> {
        (
            ID,
            money(),
            prop::bool::ANY,
            prop::bool::ANY,
            prop::bool::ANY,
            prop::option::of("20[0-9]{2}-[01][0-9]-[0-3][0-9](T[0-2][0-9]:[0-5][0-9]:[0-5][0-9])?"),
            prop::option::of(ID),
        )
            .prop_map(
                |(
                    end_to_end_id,
                    amount,
                    credit,
                    reversal,
                    booked,
                    booking_date,
                    bank_reference,
                )| {
                    Booking {
                        end_to_end_id,
                        amount,
                        credit_debit: if credit {
                            CreditDebit::Credit
                        } else {
                            CreditDebit::Debit
                        },
                        reversal,
                        booked,
                        booking_date,
                        bank_reference,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn pain002_round_trips(
            lines in prop::collection::vec(status_line(), 0..40),
            group_status in prop::option::of(prop::sample::select(vec![TxStatus::Accepted, TxStatus::Rejected])),
            group_reason in prop::option::of("[A-Z0-9]{4}"),
            group_detail in prop::option::of(DETAIL),
            created_at in 0..4_000_000_000_i64,
        ) {
            let header = Pain002Header {
                report: StatusReport {
                    message_id: "STS-1".to_owned(),
                    original_message_id: "LM-<&>-1".to_owned(),
                    group_status,
                    group_reason,
                    group_detail,
                },
                created_at,
                original_message_name: "pain.001.001.09".to_owned(),
                original_payment_information_id: "PMT-1".to_owned(),
            };
            let mut writer = Pain002Writer::new(Vec::new(), &header).unwrap();
            for line in &lines {
                writer.line(line).unwrap();
            }
            let bytes = writer.finish().unwrap();
            prop_assert_eq!(identify(&bytes), Some(StatusFileKind::Pain002));
            let (report, read) = lines_of(std::str::from_utf8(&bytes).unwrap()).unwrap();
            prop_assert_eq!(report, header.report);
            prop_assert_eq!(read, lines);
        }

        #[test]
        fn camt054_round_trips(bookings in prop::collection::vec(booking(), 0..40), other in prop::bool::ANY) {
            let account = if other {
                AccountId::Other("0012 <345>".to_owned())
            } else {
                AccountId::Iban("KE00BANK0000000000001".to_owned())
            };
            let header = Camt054Header {
                message_id: "NTF-&-1".to_owned(),
                created_at: 1_800_000_000,
                notification_id: "N-1".to_owned(),
                account: account.clone(),
            };
            let mut writer = Camt054Writer::new(Vec::new(), &header).unwrap();
            for booking in &bookings {
                writer.booking(booking).unwrap();
            }
            let bytes = writer.finish().unwrap();
            prop_assert_eq!(identify(&bytes), Some(StatusFileKind::Camt054));
            let (notification, read) = bookings_of(std::str::from_utf8(&bytes).unwrap()).unwrap();
            prop_assert_eq!(notification, Notification { message_id: header.message_id, account: Some(account), unreferenced: 0 });
            prop_assert_eq!(read, bookings);
        }

        #[test]
        fn any_bytes_give_a_value_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = identify(&bytes);
            let _ = read_pain002(&bytes[..], |_| Ok::<_, ()>(()));
            let _ = read_camt054(&bytes[..], |_| Ok::<_, ()>(()));
        }

        #[test]
        fn cut_or_damaged_files_give_a_value_or_an_error(cut in 0..CAMT054_V02.len(), flip in 0..CAMT054_V02.len(), byte in any::<u8>()) {
            let mut bytes = CAMT054_V02.as_bytes().to_vec();
            bytes[flip] = byte;
            let _ = read_camt054(&bytes[..], |_| Ok::<_, ()>(()));
            let _ = read_camt054(&CAMT054_V02.as_bytes()[..cut], |_| Ok::<_, ()>(()));
            let mut bytes = PAIN002_V03.as_bytes().to_vec();
            let at = flip.min(bytes.len() - 1);
            bytes[at] = byte;
            let _ = read_pain002(&bytes[..], |_| Ok::<_, ()>(()));
            // A file cut short is never read as complete.
            prop_assert!(read_pain002(&PAIN002_V03.as_bytes()[..cut.min(PAIN002_V03.len() - 20)], |_| Ok::<_, ()>(())).is_err());
        }
    }

    #[test]
    fn long_details_are_written_as_lines_of_105_and_read_back_joined() {
        let detail = "word ".repeat(27) + "end";
        let mut out = Vec::new();
        reason_element(&mut out, Some("NARR"), Some(&detail)).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert_eq!(xml.matches("<AddtlInf>").count(), 2, "{xml}");
        for line in xml.split("<AddtlInf>").skip(1) {
            assert!(line.split("</AddtlInf>").next().unwrap().chars().count() <= MAX105_CHARS);
        }
        let mut read = None;
        for line in xml.split("<AddtlInf>").skip(1) {
            push_detail(&mut read, line.split("</AddtlInf>").next().unwrap());
        }
        assert_eq!(read.as_deref(), Some(detail.as_str()));
    }

    #[test]
    fn a_byte_order_mark_is_read() {
        let xml = format!("\u{feff}{PAIN002_V03}");
        assert_eq!(lines_of(&xml).unwrap().1.len(), 3);
    }
}
