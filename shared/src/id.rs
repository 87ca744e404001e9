//! Typed identifiers that can only hold valid values.
//!
//! Every id is 1 to [`ID_BYTES_MAX`] bytes of `A-Z a-z 0-9 . _ - :`, so ids
//! are safe to print on receipts, put in file names and URLs, and compare
//! byte for byte. Parse, don't validate: the only way to get an id is
//! `parse`, which returns a specific error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id in bytes.
pub const ID_BYTES_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is {len} bytes long; the limit is {ID_BYTES_MAX}")]
    TooLong { kind: &'static str, len: usize },
    #[error("{kind} contains {found:?}; only letters, digits and . _ - : are allowed")]
    BadCharacter { kind: &'static str, found: char },
}

fn check(kind: &'static str, text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if text.len() > ID_BYTES_MAX {
        return Err(IdError::TooLong {
            kind,
            len: text.len(),
        });
    }
    if let Some(found) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
    {
        return Err(IdError::BadCharacter { kind, found });
    }
    Ok(())
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check($kind, text)?;
                Ok(Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// A voucher, unique per issuer (`cti` of the voucher credential).
    VoucherId, "voucher id"
);
typed_id!(
    /// A social-protection programme.
    ProgrammeId, "programme id"
);
typed_id!(
    /// The organisation that issues vouchers (`iss` of the credential).
    IssuerId, "issuer id"
);
typed_id!(
    /// A signing key in a trust list (`kid` of a COSE header).
    KeyId, "key id"
);
typed_id!(
    /// An enrolled terminal.
    DeviceId, "device id"
);
typed_id!(
    /// A merchant (shop, clinic) that redeems vouchers.
    MerchantId, "merchant id"
);
typed_id!(
    /// A distribution site or service point.
    SiteId, "site id"
);
typed_id!(
    /// A person who operates a terminal.
    OperatorId, "operator id"
);
typed_id!(
    /// A beneficiary in a programme's registry or roster.
    BeneficiaryId, "beneficiary id"
);
typed_id!(
    /// An entitlement of a beneficiary in one cycle.
    EntitlementId, "entitlement id"
);
typed_id!(
    /// A household (a head and its members) in a programme's registry.
    HouseholdId, "household id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(VoucherId::parse("V-2026-000123").is_ok());
        assert!(KeyId::parse("ke:2026a").is_ok());
        assert_eq!(
            VoucherId::parse(""),
            Err(IdError::Empty { kind: "voucher id" })
        );
        assert_eq!(
            DeviceId::parse("a b"),
            Err(IdError::BadCharacter {
                kind: "device id",
                found: ' '
            })
        );
        assert!(matches!(
            SiteId::parse(&"x".repeat(65)),
            Err(IdError::TooLong { len: 65, .. })
        ));
    }

    #[test]
    fn serde_refuses_invalid_ids() {
        let ok: VoucherId = serde_json::from_str("\"V-1\"").unwrap();
        assert_eq!(ok.as_str(), "V-1");
        assert!(serde_json::from_str::<VoucherId>("\"V 1\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_is_total_and_round_trips(text in "\\PC{0,80}") {
            if let Ok(id) = MerchantId::parse(&text) {
                prop_assert_eq!(id.as_str(), text.as_str());
            }
        }
    }
}
