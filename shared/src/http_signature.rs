//! HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest
//! (RFC 9530), for authenticating every terminal request.
//!
//! Lastmile signs a fixed set of components — `("@method" "@path"
//! "content-digest")` with `created`, `keyid`, `alg="ed25519"` and `nonce`
//! parameters under the label `sig1` — and the verifier accepts exactly that
//! set, so there is nothing to negotiate and nothing to strip. Replay
//! protection is the caller's: reject a `(keyid, nonce)` seen within
//! [`SIGNATURE_AGE_SECONDS_MAX`], which `verify` enforces for `created`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::id::KeyId;

/// A request signed longer ago (or further in the future) than this is refused.
pub const SIGNATURE_AGE_SECONDS_MAX: i64 = 300;
/// Longest nonce accepted.
pub const NONCE_BYTES_MAX: usize = 64;
/// Longest header value parsed.
const HEADER_BYTES_MAX: usize = 512;
const COMPONENTS: &str = r#"("@method" "@path" "content-digest")"#;

/// The three headers a signed request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

/// What a verified signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub keyid: KeyId,
    pub created: i64,
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSignatureError {
    #[error("the request is not signed (missing {0} header)")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the body does not match its Content-Digest")]
    DigestMismatch,
    #[error("the signature was made at {created}, too far from the server's time {now}")]
    Stale { created: i64, now: i64 },
    #[error("key {0} is unknown or revoked")]
    UnknownKey(KeyId),
    #[error("the request signature is invalid")]
    BadSignature,
}

/// `sha-256=:<base64>:` of the body.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", B64.encode(Sha256::digest(body)))
}

fn params(created: i64, keyid: &KeyId, nonce: &str) -> String {
    format!(r#"{COMPONENTS};created={created};keyid="{keyid}";alg="ed25519";nonce="{nonce}""#)
}

fn signature_base(method: &str, path: &str, digest: &str, params: &str) -> String {
    format!(
        "\"@method\": {}\n\"@path\": {path}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        method.to_ascii_uppercase()
    )
}

/// Signs a request. `nonce` must be unique per key within the signature age
/// window (a random 128-bit value in hex is the norm).
pub fn sign(
    method: &str,
    path: &str,
    body: &[u8],
    keyid: &KeyId,
    key: &SigningKey,
    created: i64,
    nonce: &str,
) -> SignatureHeaders {
    let content_digest = content_digest(body);
    let params = params(created, keyid, nonce);
    let base = signature_base(method, path, &content_digest, &params);
    let signature = key.sign(base.as_bytes());
    SignatureHeaders {
        content_digest,
        signature_input: format!("sig1={params}"),
        signature: format!("sig1=:{}:", B64.encode(signature.to_bytes())),
    }
}

fn quoted<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!(";{name}=\""))? + name.len() + 3;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

fn number(text: &str, name: &str) -> Option<i64> {
    let start = text.find(&format!(";{name}="))? + name.len() + 2;
    let digits: &str = text[start..].split(';').next()?;
    digits.parse().ok()
}

/// Verifies a request's signature and its body. `lookup` maps a key id to
/// the device's public key (or `None` when unknown or revoked); `now` is the
/// server's Unix time.
pub fn verify(
    method: &str,
    path: &str,
    body: &[u8],
    headers: &SignatureHeaders,
    lookup: impl FnOnce(&KeyId) -> Option<VerifyingKey>,
    now: i64,
) -> Result<VerifiedSignature, HttpSignatureError> {
    check_digest(headers, body)?;
    verify_headers(method, path, headers, lookup, now)
}

/// Checks that `body` is the one the Content-Digest header names.
pub fn check_digest(headers: &SignatureHeaders, body: &[u8]) -> Result<(), HttpSignatureError> {
    if headers.content_digest.len() > HEADER_BYTES_MAX {
        return Err(HttpSignatureError::Malformed("content-digest"));
    }
    if headers.content_digest != content_digest(body) {
        return Err(HttpSignatureError::DigestMismatch);
    }
    Ok(())
}

/// Verifies the signature over method, path and the Content-Digest header,
/// without the body: a server checks who signed before it reads (and
/// buffers) a body, then the body with [`check_digest`]. Until then the
/// body is unauthenticated.
pub fn verify_headers(
    method: &str,
    path: &str,
    headers: &SignatureHeaders,
    lookup: impl FnOnce(&KeyId) -> Option<VerifyingKey>,
    now: i64,
) -> Result<VerifiedSignature, HttpSignatureError> {
    use HttpSignatureError as E;
    for (value, name) in [
        (&headers.content_digest, "content-digest"),
        (&headers.signature_input, "signature-input"),
        (&headers.signature, "signature"),
    ] {
        if value.len() > HEADER_BYTES_MAX {
            return Err(E::Malformed(name));
        }
    }
    let input = headers
        .signature_input
        .strip_prefix("sig1=")
        .ok_or(E::Malformed("signature-input"))?;
    if !input.starts_with(COMPONENTS) {
        return Err(E::Malformed("signature-input"));
    }
    let created = number(input, "created").ok_or(E::Malformed("signature-input"))?;
    let keyid = quoted(input, "keyid")
        .and_then(|k| KeyId::parse(k).ok())
        .ok_or(E::Malformed("signature-input"))?;
    let nonce = quoted(input, "nonce")
        .filter(|n| {
            !n.is_empty()
                && n.len() <= NONCE_BYTES_MAX
                && n.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .ok_or(E::Malformed("signature-input"))?;
    if quoted(input, "alg") != Some("ed25519") {
        return Err(E::Malformed("signature-input"));
    }
    // Re-serialise what we understood: any extra or reordered parameter
    // makes the bases differ and the signature fail, rather than being
    // silently ignored.
    let expected_params = params(created, &keyid, nonce);
    if input != expected_params {
        return Err(E::Malformed("signature-input"));
    }
    if (now - created).abs() > SIGNATURE_AGE_SECONDS_MAX {
        return Err(E::Stale { created, now });
    }
    let sig_b64 = headers
        .signature
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(E::Malformed("signature"))?;
    let sig_bytes: [u8; 64] = B64
        .decode(sig_b64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(E::Malformed("signature"))?;
    let key = lookup(&keyid).ok_or_else(|| E::UnknownKey(keyid.clone()))?;
    let base = signature_base(method, path, &headers.content_digest, &expected_params);
    key.verify_strict(base.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| E::BadSignature)?;
    Ok(VerifiedSignature {
        keyid,
        created,
        nonce: nonce.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn kid() -> KeyId {
        KeyId::parse("device-1").unwrap()
    }

    #[test]
    fn headers_verify_before_the_body_is_read() {
        let body = b"body";
        let h = sign(
            "POST",
            "/v1/terminal/upload",
            body,
            &kid(),
            &key(),
            1000,
            "n1",
        );
        let pk = key().verifying_key();
        let verified = verify_headers("POST", "/v1/terminal/upload", &h, |_| Some(pk), 1000);
        assert_eq!(verified.map(|v| v.created), Ok(1000));
        assert_eq!(check_digest(&h, body), Ok(()));
        assert_eq!(
            check_digest(&h, b"other"),
            Err(HttpSignatureError::DigestMismatch)
        );
        let mut forged = h.clone();
        forged.content_digest = content_digest(b"other");
        assert_eq!(
            verify_headers("POST", "/v1/terminal/upload", &forged, |_| Some(pk), 1000),
            Err(HttpSignatureError::BadSignature)
        );
    }

    #[test]
    fn round_trip_and_tamper() {
        let body = br#"{"x":1}"#;
        let h = sign(
            "post",
            "/v1/sync/upload",
            body,
            &kid(),
            &key(),
            1000,
            "abc123",
        );
        let pk = key().verifying_key();
        let ok = verify("POST", "/v1/sync/upload", body, &h, |_| Some(pk), 1100).unwrap();
        assert_eq!(ok.nonce, "abc123");
        assert_eq!(
            verify("POST", "/v1/sync/upload", b"{}", &h, |_| Some(pk), 1100),
            Err(HttpSignatureError::DigestMismatch)
        );
        assert_eq!(
            verify("POST", "/v1/sync/pull", body, &h, |_| Some(pk), 1100),
            Err(HttpSignatureError::BadSignature)
        );
        assert!(matches!(
            verify("POST", "/v1/sync/upload", body, &h, |_| Some(pk), 2000),
            Err(HttpSignatureError::Stale { .. })
        ));
        assert_eq!(
            verify("POST", "/v1/sync/upload", body, &h, |_| None, 1100),
            Err(HttpSignatureError::UnknownKey(kid()))
        );
        let mut extra = h.clone();
        extra.signature_input.push_str(";expires=99999");
        assert_eq!(
            verify("POST", "/v1/sync/upload", body, &extra, |_| Some(pk), 1100),
            Err(HttpSignatureError::Malformed("signature-input"))
        );
    }
}
