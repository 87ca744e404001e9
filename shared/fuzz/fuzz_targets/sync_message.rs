//! Sync request bodies and HTTP signature headers from the network.
#![no_main]

use lastmile_shared::cbor_limits;
use lastmile_shared::http_signature::{self, SignatureHeaders};
use lastmile_shared::sync::{
    EnrollRequest, PullRequest, REQUEST_CBOR_LIMITS, UploadRequest, from_cbor,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cbor_limits::check(data, &REQUEST_CBOR_LIMITS);
    let _ = from_cbor::<UploadRequest>(data);
    let _ = from_cbor::<PullRequest>(data);
    let _ = from_cbor::<EnrollRequest>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut parts = text.splitn(3, '\n');
        let headers = SignatureHeaders {
            content_digest: parts.next().unwrap_or_default().to_owned(),
            signature_input: parts.next().unwrap_or_default().to_owned(),
            signature: parts.next().unwrap_or_default().to_owned(),
        };
        let _ = http_signature::verify(
            "POST",
            "/v1/terminal/upload",
            data,
            &headers,
            |_| None,
            1_793_577_600,
        );
    }
});
