//! A private key with its key id: what signs the documents terminals read.
//! A module of its own so that `documents` (which signs with it) and
//! `keys` (which loads it and publishes documents) do not import each other.

use ed25519_dalek::SigningKey;
use lastmile_shared::id::KeyId;

/// A private key with its key id. Its `Debug` never shows the secret.
pub struct Signer {
    pub kid: KeyId,
    pub key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.kid)
    }
}
