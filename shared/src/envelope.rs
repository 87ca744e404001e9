//! COSE_Sign1 envelopes (RFC 9052) signed with EdDSA over Ed25519.
//!
//! Every signed object Lastmile exchanges — voucher credentials, trust lists,
//! revocation lists, rosters and device log entries — is one of these: a
//! tagged COSE_Sign1 whose protected header holds `alg: EdDSA (-8)` and the
//! signer's `kid`, with no external AAD. This module is the one place that
//! builds and checks them.
//!
//! Each signed object has exactly one valid encoding: the one [`seal_bytes`]
//! writes. The parser rebuilds the envelope from what it read and refuses
//! anything that differs (another tag, an unprotected header, a protected
//! header with more than `alg` and `kid`, longer-than-needed lengths,
//! indefinite lengths, trailing bytes), and [`decode_canonical`] does the same
//! for the payload. Without that, anyone could alter the unsigned parts of a
//! signed object (the unprotected header, the CBOR heads around the signed
//! byte strings) and obtain a second text that still verifies.

use coset::{CoseSign1, CoseSign1Builder, Header, HeaderBuilder, TaggedCborSerializable, iana};
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
    #[error("the signed data is not in its one valid encoding: {0}")]
    NotCanonical(&'static str),
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
        // Nothing unsigned may travel with the signed data: an unprotected
        // header would let anyone make new valid encodings of one object.
        if !sign1.unprotected.is_empty() {
            return Err(EnvelopeError::NotCanonical(
                "the unprotected header is not empty",
            ));
        }
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
        if *protected != protected_header(&kid) {
            return Err(EnvelopeError::NotCanonical(
                "the protected header holds more than alg and kid",
            ));
        }
        let signature_bytes: [u8; 64] = sign1
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| EnvelopeError::MalformedSignature)?;
        let to_be_signed = sign1.tbs_data(b"");
        let payload = sign1.payload.ok_or(EnvelopeError::MissingPayload)?;
        let envelope = Self {
            kid,
            payload,
            signature: Signature::from_bytes(&signature_bytes),
            to_be_signed,
        };
        // What was read must be byte for byte what the sealer writes for the
        // same kid, payload and signature: this refuses every other tag,
        // non-shortest heads, indefinite lengths and trailing bytes at once.
        if envelope.to_bytes() != bytes {
            return Err(EnvelopeError::NotCanonical(
                "not in deterministic CBOR encoding (RFC 8949 section 4.2.1)",
            ));
        }
        Ok(envelope)
    }

    /// The envelope's bytes, rebuilt from its key id, payload and signature
    /// as [`seal_bytes`] writes them; equal to the parsed bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        assemble(&self.kid, self.payload.clone(), &self.signature)
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

    /// Verifies, then decodes the payload into `T` in its one valid
    /// encoding ([`decode_canonical`]).
    pub fn open<T: Serialize + DeserializeOwned>(
        &self,
        key: &VerifyingKey,
    ) -> Result<T, EnvelopeError> {
        self.verify(key)?;
        self.payload_unverified()
    }

    /// Decodes the payload as [`Envelope::open`] does, without checking the
    /// signature (to read a sequence number before looking up a device's
    /// key, or to check many signatures in one batch afterwards).
    pub fn payload_unverified<T: Serialize + DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        decode_canonical(&self.payload)
    }
}

fn protected_header(kid: &KeyId) -> Header {
    HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(kid.as_str().as_bytes().to_vec())
        .build()
}

/// The one shape of every envelope: protected `{alg: EdDSA, kid}`, an empty
/// unprotected header, the payload attached, no external AAD.
fn sign1(kid: &KeyId, payload: Vec<u8>, signature: Vec<u8>) -> CoseSign1 {
    CoseSign1Builder::new()
        .protected(protected_header(kid))
        .payload(payload)
        .signature(signature)
        .build()
}

fn tagged_bytes(sign1: CoseSign1) -> Vec<u8> {
    // Serialising a structure we built cannot fail: it holds only byte
    // strings and small integers.
    sign1
        .to_tagged_vec()
        .expect("a COSE_Sign1 of byte strings and small integers always serialises")
}

/// The envelope bytes for a payload and its signature, exactly as
/// [`seal_bytes`] writes them.
pub fn assemble(kid: &KeyId, payload: Vec<u8>, signature: &Signature) -> Vec<u8> {
    tagged_bytes(sign1(kid, payload, signature.to_bytes().to_vec()))
}

/// Builds a tagged COSE_Sign1 over `payload` bytes.
pub fn seal_bytes(payload: Vec<u8>, kid: &KeyId, key: &SigningKey) -> Vec<u8> {
    let mut unsigned = sign1(kid, payload, Vec::new());
    unsigned.signature = key.sign(&unsigned.tbs_data(b"")).to_bytes().to_vec();
    tagged_bytes(unsigned)
}

/// Serialises `value` as CBOR and seals it.
pub fn seal<T: Serialize>(value: &T, kid: &KeyId, key: &SigningKey) -> Vec<u8> {
    seal_bytes(encode_cbor(value), kid, key)
}

/// CBOR encoding of a serde value (maps with text keys, as in the spec).
///
/// Shortest-form integers and lengths, definite lengths; maps in the field
/// order of the Rust type. That order is part of each signed document's one
/// valid encoding (see [`decode_canonical`]).
pub fn encode_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR into a Vec cannot fail");
    out
}

/// Decodes CBOR into `T`, mapping every failure to a specific error.
pub fn decode_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EnvelopeError> {
    ciborium::from_reader(bytes).map_err(|e| EnvelopeError::BadContent(e.to_string()))
}

/// Decodes signed CBOR into `T` and demands that `T` re-encodes to exactly
/// these bytes, so a signed document has one valid encoding: no bignums for
/// integers, no longer-than-needed heads, no indefinite lengths, no
/// duplicate, reordered or unknown fields, no trailing bytes.
pub fn decode_canonical<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, EnvelopeError> {
    let value: T = decode_cbor(bytes)?;
    if encode_cbor(&value) != bytes {
        return Err(EnvelopeError::NotCanonical(
            "the signed content is not in the encoding its signer writes",
        ));
    }
    Ok(value)
}

/// Rejects an unparseable or weak (small-order) public key.
pub fn verifying_key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(bytes)
        .ok()
        .filter(|key| !key.is_weak())
}
