//! COSE_Sign1 envelopes (RFC 9052) signed with EdDSA over Ed25519.
//!
//! Every signed object Lastmile exchanges — voucher credentials, trust lists,
//! revocation lists, rosters and device log entries — is one of these: a
//! tagged COSE_Sign1 whose protected header holds `alg: EdDSA (-8)` and the
//! signer's `kid`, with no external AAD. This module is the one place that
//! builds and checks them.

use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::id::KeyId;

/// Largest envelope we parse, in bytes. Rosters for a site are the largest
/// signed objects; everything else is far smaller.
pub const ENVELOPE_BYTES_MAX: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the signed data is {len} bytes; the limit is {max}")]
    Oversize { len: usize, max: usize },
    #[error("not a tagged COSE_Sign1 structure: {0}")]
    NotCose(String),
    #[error("the signature algorithm is not EdDSA")]
    WrongAlgorithm,
    #[error("the protected header names no valid key id")]
    MissingKeyId,
    #[error("the envelope has no payload")]
    MissingPayload,
    #[error("the signature is not 64 bytes")]
    MalformedSignature,
    #[error("the signature does not match the content: it was forged or altered")]
    BadSignature,
    #[error("the signed content is not valid: {0}")]
    BadContent(String),
}

/// A parsed, not yet verified COSE_Sign1.
#[derive(Debug, Clone)]
pub struct Envelope {
    kid: KeyId,
    payload: Vec<u8>,
    signature: Signature,
    to_be_signed: Vec<u8>,
}

impl Envelope {
    /// Parses a tagged COSE_Sign1; checks structure and header, not the signature.
    pub fn parse(bytes: &[u8], max: usize) -> Result<Self, EnvelopeError> {
        if bytes.len() > max {
            return Err(EnvelopeError::Oversize {
                len: bytes.len(),
                max,
            });
        }
        let sign1 = CoseSign1::from_tagged_slice(bytes)
            .map_err(|e| EnvelopeError::NotCose(e.to_string()))?;
        let protected = &sign1.protected.header;
        if protected.alg
            != Some(coset::RegisteredLabelWithPrivate::Assigned(
                iana::Algorithm::EdDSA,
            ))
        {
            return Err(EnvelopeError::WrongAlgorithm);
        }
        let kid = std::str::from_utf8(&protected.key_id)
            .ok()
            .and_then(|text| KeyId::parse(text).ok())
            .ok_or(EnvelopeError::MissingKeyId)?;
        let signature_bytes: [u8; 64] = sign1
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| EnvelopeError::MalformedSignature)?;
        let to_be_signed = sign1.tbs_data(b"");
        let payload = sign1.payload.ok_or(EnvelopeError::MissingPayload)?;
        Ok(Self {
            kid,
            payload,
            signature: Signature::from_bytes(&signature_bytes),
            to_be_signed,
        })
    }

    pub fn kid(&self) -> &KeyId {
        &self.kid
    }

    /// The signed content (not yet trusted until [`Envelope::verify`] passes).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The COSE `Sig_structure` bytes that the signature covers.
    pub fn to_be_signed(&self) -> &[u8] {
        &self.to_be_signed
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Checks the signature with `verify_strict` (rejects small-order keys and
    /// malleable signatures).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), EnvelopeError> {
        key.verify_strict(&self.to_be_signed, &self.signature)
            .map_err(|_| EnvelopeError::BadSignature)
    }

    /// Verifies, then decodes the payload as CBOR into `T`.
    pub fn open<T: DeserializeOwned>(&self, key: &VerifyingKey) -> Result<T, EnvelopeError> {
        self.verify(key)?;
        decode_cbor(&self.payload)
    }
}

/// Builds a tagged COSE_Sign1 over `payload` bytes.
pub fn seal_bytes(payload: Vec<u8>, kid: &KeyId, key: &SigningKey) -> Vec<u8> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(kid.as_str().as_bytes().to_vec())
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |data| key.sign(data).to_bytes().to_vec())
        .build();
    // Serialising a structure we just built cannot fail: it holds only byte
    // strings and small integers.
    sign1
        .to_tagged_vec()
        .expect("a freshly built COSE_Sign1 always serialises")
}

/// Serialises `value` as CBOR and seals it.
pub fn seal<T: Serialize>(value: &T, kid: &KeyId, key: &SigningKey) -> Vec<u8> {
    seal_bytes(encode_cbor(value), kid, key)
}

/// CBOR encoding of a serde value (maps with text keys, as in the spec).
pub fn encode_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR into a Vec cannot fail");
    out
}

/// Decodes CBOR into `T`, mapping every failure to a specific error.
pub fn decode_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EnvelopeError> {
    ciborium::from_reader(bytes).map_err(|e| EnvelopeError::BadContent(e.to_string()))
}

/// Rejects an unparseable or weak (small-order) public key.
pub fn verifying_key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(bytes)
        .ok()
        .filter(|key| !key.is_weak())
}
