//! Enrolment (who this terminal is and which root key it trusts) and the
//! root-signed documents it holds: trust list, revocations, roster, policy.
//!
//! A terminal is enrolled either against the server with a one-time code
//! ([`Terminal::enroll`]) or offline from a [`ProvisionBundle`] of
//! root-signed documents ([`Terminal::provision`]) for tests and demos. Both
//! paths verify every document against the root key before storing it.

use ed25519_dalek::VerifyingKey;
use lastmile_shared::envelope;
use lastmile_shared::id::{DeviceId, KeyId, MerchantId, SiteId};
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::Roster;
use lastmile_shared::sync::{EnrollRequest, SyncCursor, TerminalPolicy};
use lastmile_shared::trust_list::{RootKey, RootSigned, TrustList, TrustStore};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::device_key::DeviceKey;
use crate::error::Error;
use crate::sync_client::{self, HttpClient, ServerCa, ServerTrust};
use crate::terminal::{DEVICE_KEY_FILE, Terminal};

/// Longest label a terminal gives itself at enrolment.
pub const LABEL_CHARS_MAX: usize = 64;

/// Who this terminal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The sync server, or `None` for a terminal provisioned offline.
    pub server_url: Option<String>,
    /// The CA certificate(s) pinned at enrolment as the only roots trusted
    /// for the server; `None` = the webpki roots.
    pub server_ca: Option<ServerCa>,
    pub device: DeviceId,
    /// The key id the device signs log entries and requests with.
    pub device_kid: KeyId,
    pub device_public_key: [u8; 32],
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    /// The root key every document must be signed by.
    pub root: RootKey,
    pub enrolled_at: i64,
}

/// Root-signed documents for an offline installation (tests, demos,
/// training). Everything in it is verified against `root_public_key`
/// exactly as documents from the server are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionBundle {
    pub device: DeviceId,
    pub device_kid: KeyId,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub root_kid: KeyId,
    pub root_public_key: ByteBuf,
    pub trust_list: ByteBuf,
    pub policy: ByteBuf,
    pub revocations: Option<ByteBuf>,
    pub roster: Option<ByteBuf>,
    /// The site's voucher book, for redeeming typed voucher codes.
    #[serde(default)]
    pub voucher_book: Option<ByteBuf>,
}

impl ProvisionBundle {
    pub fn to_cbor(&self) -> Vec<u8> {
        envelope::encode_cbor(self)
    }

    pub fn from_cbor(bytes: &[u8]) -> Result<Self, Error> {
        envelope::decode_cbor(bytes).map_err(|e| Error::Document {
            what: "provisioning bundle",
            reason: e.to_string(),
        })
    }
}

/// The kinds of root-signed document a terminal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentKind {
    TrustList,
    Revocations,
    Roster,
    Policy,
}

impl DocumentKind {
    const ALL: [DocumentKind; 4] = [
        DocumentKind::TrustList,
        DocumentKind::Revocations,
        DocumentKind::Roster,
        DocumentKind::Policy,
    ];

    fn column(self) -> &'static str {
        match self {
            DocumentKind::TrustList => "trust_list",
            DocumentKind::Revocations => "revocations",
            DocumentKind::Roster => "roster",
            DocumentKind::Policy => "policy",
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            DocumentKind::TrustList => "trust list",
            DocumentKind::Revocations => "revocation list",
            DocumentKind::Roster => "roster",
            DocumentKind::Policy => "terminal policy",
        }
    }
}

/// One verified document, ready to store and install.
pub(crate) enum Accepted {
    TrustList(TrustList, TrustStore),
    Revocations(RevocationList),
    Roster(Roster),
    Policy(TerminalPolicy),
}

impl Accepted {
    fn kind(&self) -> DocumentKind {
        match self {
            Accepted::TrustList(..) => DocumentKind::TrustList,
            Accepted::Revocations(_) => DocumentKind::Revocations,
            Accepted::Roster(_) => DocumentKind::Roster,
            Accepted::Policy(_) => DocumentKind::Policy,
        }
    }

    fn version(&self) -> u64 {
        match self {
            Accepted::TrustList(list, _) => list.version,
            Accepted::Revocations(list) => list.version,
            Accepted::Roster(roster) => roster.version,
            Accepted::Policy(policy) => policy.version,
        }
    }
}

/// The documents in memory, verified.
#[derive(Debug, Default)]
pub(crate) struct Documents {
    pub trust: Option<(TrustList, TrustStore)>,
    pub revocations: Option<RevocationList>,
    pub roster: Option<Roster>,
    pub policy: Option<TerminalPolicy>,
}

impl Documents {
    /// Reads and re-verifies the stored documents.
    pub fn load(conn: &Connection, enrolment: &Enrolment) -> Result<Self, Error> {
        let mut docs = Documents::default();
        let mut statement = conn.prepare("SELECT kind, version, bytes FROM documents")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let column: String = row.get(0)?;
            let version: i64 = row.get(1)?;
            let bytes: Vec<u8> = row.get(2)?;
            let Some(kind) = DocumentKind::ALL.into_iter().find(|k| k.column() == column) else {
                continue;
            };
            let accepted = verify(kind, &bytes, enrolment, None)?;
            if i64::try_from(accepted.version()).ok() != Some(version) {
                return Err(Error::Document {
                    what: kind.what(),
                    reason: "the stored version does not match the signed document".into(),
                });
            }
            docs.install(accepted);
        }
        Ok(docs)
    }

    pub fn held_version(&self, kind: DocumentKind) -> Option<u64> {
        match kind {
            DocumentKind::TrustList => self.trust.as_ref().map(|(l, _)| l.version),
            DocumentKind::Revocations => self.revocations.as_ref().map(|l| l.version),
            DocumentKind::Roster => self.roster.as_ref().map(|r| r.version),
            DocumentKind::Policy => self.policy.as_ref().map(|p| p.version),
        }
    }

    /// The versions held, as the sync cursor sends them (0 = none).
    pub fn cursor(&self, balances: u64) -> SyncCursor {
        let v = |kind| self.held_version(kind).unwrap_or(0);
        SyncCursor {
            trust_list: v(DocumentKind::TrustList),
            revocations: v(DocumentKind::Revocations),
            roster: v(DocumentKind::Roster),
            policy: v(DocumentKind::Policy),
            balances,
        }
    }

    pub fn install(&mut self, accepted: Accepted) {
        match accepted {
            Accepted::TrustList(list, store) => self.trust = Some((list, store)),
            Accepted::Revocations(list) => self.revocations = Some(list),
            Accepted::Roster(roster) => self.roster = Some(roster),
            Accepted::Policy(policy) => self.policy = Some(policy),
        }
    }
}

/// Opens a root-signed document of `kind`: right root, good signature,
/// newer than `held`, and (for a policy) addressed to this device.
pub(crate) fn verify(
    kind: DocumentKind,
    bytes: &[u8],
    enrolment: &Enrolment,
    held: Option<u64>,
) -> Result<Accepted, Error> {
    let root = &enrolment.root;
    let refuse = |e| Error::document(kind.what(), e);
    Ok(match kind {
        DocumentKind::TrustList => {
            let (list, store) = TrustList::open_with_store(bytes, root, held)?;
            Accepted::TrustList(list, store)
        }
        DocumentKind::Revocations => {
            Accepted::Revocations(RevocationList::open(bytes, root, held).map_err(refuse)?)
        }
        DocumentKind::Roster => Accepted::Roster(Roster::open(bytes, root, held).map_err(refuse)?),
        DocumentKind::Policy => {
            let policy = TerminalPolicy::open(bytes, root, held).map_err(refuse)?;
            if policy.device != enrolment.device {
                return Err(Error::Document {
                    what: kind.what(),
                    reason: format!(
                        "it is addressed to device {}, not to this terminal ({})",
                        policy.device, enrolment.device
                    ),
                });
            }
            Accepted::Policy(policy)
        }
    })
}

/// Stores a verified document in the caller's transaction.
/// Replaces the root key this terminal trusts (after following a handover
/// signed by the previous one).
pub(crate) fn store_root(tx: &rusqlite::Transaction<'_>, root: &RootKey) -> Result<(), Error> {
    tx.execute(
        "UPDATE enrolment SET root_kid = ?1, root_public_key = ?2 WHERE id = 1",
        params![root.kid.as_str(), root.key.to_bytes().as_slice()],
    )?;
    Ok(())
}

pub(crate) fn store_document(
    tx: &rusqlite::Transaction<'_>,
    accepted: &Accepted,
    bytes: &[u8],
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO documents (kind, version, bytes, received_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind) DO UPDATE SET version = ?2, bytes = ?3, received_at = ?4",
        params![
            accepted.kind().column(),
            i64::try_from(accepted.version()).unwrap_or(i64::MAX),
            bytes,
            now
        ],
    )?;
    Ok(())
}

impl Enrolment {
    pub(crate) fn load(conn: &Connection) -> Result<Option<Self>, Error> {
        let row = conn
            .query_row(
                "SELECT server_url, device, device_kid, device_public_key, merchant, site,
                        root_kid, root_public_key, enrolled_at, server_ca_pem
                 FROM enrolment WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Vec<u8>>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, Option<Vec<u8>>>(9)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            server_url,
            device,
            device_kid,
            device_pk,
            merchant,
            site,
            root_kid,
            root_pk,
            at,
            server_ca_pem,
        )) = row
        else {
            return Ok(None);
        };
        let damaged = |what: &str| Error::Document {
            what: "enrolment record",
            reason: format!("the stored {what} is invalid"),
        };
        let device_public_key: [u8; 32] = device_pk
            .as_slice()
            .try_into()
            .map_err(|_| damaged("device key"))?;
        let root_public_key: [u8; 32] = root_pk
            .as_slice()
            .try_into()
            .map_err(|_| damaged("root key"))?;
        let server_ca = server_ca_pem
            .map(|pem| ServerCa::from_pem(&pem).map_err(|_| damaged("server CA certificate")))
            .transpose()?;
        Ok(Some(Enrolment {
            server_url,
            server_ca,
            device: DeviceId::parse(&device)?,
            device_kid: KeyId::parse(&device_kid)?,
            device_public_key,
            merchant: merchant.as_deref().map(MerchantId::parse).transpose()?,
            site: site.as_deref().map(SiteId::parse).transpose()?,
            root: RootKey {
                kid: KeyId::parse(&root_kid)?,
                key: envelope::verifying_key(&root_public_key)
                    .ok_or_else(|| damaged("root key"))?,
            },
            enrolled_at: at,
        }))
    }

    fn insert(&self, tx: &rusqlite::Transaction<'_>) -> Result<(), Error> {
        tx.execute(
            "INSERT INTO enrolment (id, server_url, device, device_kid, device_public_key,
                                    merchant, site, root_kid, root_public_key, enrolled_at,
                                    server_ca_pem)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                self.server_url,
                self.device.as_str(),
                self.device_kid.as_str(),
                self.device_public_key.as_slice(),
                self.merchant.as_ref().map(MerchantId::as_str),
                self.site.as_ref().map(SiteId::as_str),
                self.root.kid.as_str(),
                self.root.key.to_bytes().as_slice(),
                self.enrolled_at,
                self.server_ca.as_ref().map(ServerCa::pem),
            ],
        )?;
        // Enrolment counts as a sync: the offline window starts now.
        tx.execute(
            "UPDATE sync_state SET last_sync_at = ?1 WHERE id = 1",
            [self.enrolled_at],
        )?;
        Ok(())
    }
}

fn root_key(kid: KeyId, bytes: &[u8]) -> Result<RootKey, Error> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::Document {
        what: "root key",
        reason: "it is not 32 bytes".into(),
    })?;
    let key: VerifyingKey = envelope::verifying_key(&bytes).ok_or_else(|| Error::Document {
        what: "root key",
        reason: "it is not a valid Ed25519 public key".into(),
    })?;
    Ok(RootKey { kid, key })
}

impl Terminal {
    /// Installs an offline provisioning bundle: creates the device key if
    /// needed, verifies every document against the bundle's root key, and
    /// stores enrolment and documents in one transaction.
    pub fn provision(&mut self, bundle: &ProvisionBundle) -> Result<(), Error> {
        if let Some(enrolment) = &self.enrolment {
            return Err(Error::AlreadyEnrolled(enrolment.device.clone()));
        }
        let key = DeviceKey::load_or_create(&self.dir.join(DEVICE_KEY_FILE))?;
        let now = self.clock.now();
        let enrolment = Enrolment {
            server_url: None,
            server_ca: None,
            device: bundle.device.clone(),
            device_kid: bundle.device_kid.clone(),
            device_public_key: key.public().to_bytes(),
            merchant: bundle.merchant.clone(),
            site: bundle.site.clone(),
            root: root_key(bundle.root_kid.clone(), &bundle.root_public_key)?,
            enrolled_at: now,
        };
        let mut documents = vec![
            (DocumentKind::TrustList, &bundle.trust_list),
            (DocumentKind::Policy, &bundle.policy),
        ];
        documents.extend(
            bundle
                .revocations
                .iter()
                .map(|b| (DocumentKind::Revocations, b)),
        );
        documents.extend(bundle.roster.iter().map(|b| (DocumentKind::Roster, b)));
        let verified = documents
            .into_iter()
            .map(|(kind, bytes)| Ok((verify(kind, bytes, &enrolment, None)?, bytes)))
            .collect::<Result<Vec<_>, Error>>()?;
        let book = bundle
            .voucher_book
            .as_ref()
            .map(|bytes| crate::voucher_book::open(bytes, &enrolment, 0))
            .transpose()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        enrolment.insert(&tx)?;
        for (accepted, bytes) in &verified {
            store_document(&tx, accepted, bytes, now)?;
        }
        if let Some(book) = &book {
            crate::voucher_book::store(&tx, book, now)?;
        }
        tx.commit()?;
        for (accepted, _) in verified {
            self.documents.install(accepted);
        }
        self.enrolment = Some(enrolment);
        self.key = Some(key);
        Ok(())
    }

    /// Enrols with the sync server using a one-time code from HQ: creates
    /// the device key, registers its public half, stores the root key and
    /// identity the server returns, then runs one sync round to fetch the
    /// trust list, policy and roster. If that first sync fails the terminal
    /// stays enrolled and `sync` completes it later. Trusts the webpki roots
    /// and refuses plain HTTP to a host that is not a loopback address.
    pub fn enroll(
        &mut self,
        server_url: &str,
        code: &str,
        label: &str,
    ) -> Result<crate::sync_client::SyncReport, Error> {
        self.enroll_with(server_url, code, label, &ServerTrust::default())
    }

    /// [`Terminal::enroll`] with how to reach and trust the server: a pinned
    /// CA (stored with the enrolment, so every later sync trusts only it)
    /// and whether plain HTTP to another host is allowed.
    pub fn enroll_with(
        &mut self,
        server_url: &str,
        code: &str,
        label: &str,
        trust: &ServerTrust,
    ) -> Result<crate::sync_client::SyncReport, Error> {
        if let Some(enrolment) = &self.enrolment {
            return Err(Error::AlreadyEnrolled(enrolment.device.clone()));
        }
        let client = HttpClient::new(server_url, trust).map_err(Error::Enrolment)?;
        let key = DeviceKey::load_or_create(&self.dir.join(DEVICE_KEY_FILE))?;
        let request = EnrollRequest {
            code: code.trim().to_owned(),
            device_public_key: ByteBuf::from(key.public().to_bytes().to_vec()),
            label: label.chars().take(LABEL_CHARS_MAX).collect(),
        };
        let response = sync_client::enroll(&client, &request).map_err(|error| match error {
            Error::Sync(error) => Error::Enrolment(error),
            other => other,
        })?;
        let enrolment = Enrolment {
            server_url: Some(server_url.trim_end_matches('/').to_owned()),
            server_ca: trust.ca.clone(),
            device: response.device,
            device_kid: response.device_kid,
            device_public_key: key.public().to_bytes(),
            merchant: response.merchant,
            site: response.site,
            root: root_key(response.root_kid, &response.root_public_key)?,
            enrolled_at: response.server_time,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        enrolment.insert(&tx)?;
        // From the first answer on, the terminal keeps the server's time.
        crate::sync_client::record_server_clock(
            &tx,
            response.server_time.saturating_sub(self.clock.now()),
            response.server_time,
        )?;
        tx.commit()?;
        let device = enrolment.device.clone();
        self.enrolment = Some(enrolment);
        self.key = Some(key);
        self.sync().map_err(|error| Error::FirstSyncFailed {
            device,
            source: Box::new(error),
        })
    }
}
