//! The revocation list: vouchers, keys, terminals and merchants that must no
//! longer be honoured. Signed by the root key and versioned like the trust
//! list; each version is a complete list, so a terminal that missed versions
//! loses nothing by applying only the newest. Its size is bounded by the
//! envelope limit ([`crate::envelope::ENVELOPE_BYTES_MAX`]).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::id::{DeviceId, KeyId, MerchantId, VoucherId};
use crate::trust_list::RootSigned;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    pub version: u64,
    pub issued_at: i64,
    #[serde(default)]
    pub vouchers: HashSet<VoucherId>,
    #[serde(default)]
    pub keys: HashSet<KeyId>,
    #[serde(default)]
    pub devices: HashSet<DeviceId>,
    #[serde(default)]
    pub merchants: HashSet<MerchantId>,
}

impl RootSigned for RevocationList {
    fn version(&self) -> u64 {
        self.version
    }
}

impl RevocationList {
    pub fn entry_count(&self) -> usize {
        self.vouchers.len() + self.keys.len() + self.devices.len() + self.merchants.len()
    }
}
