//! The roster: the people a site or merchant serves and their entitlements,
//! signed by the root key so a terminal can redeem by ID card with no
//! network. A field agent's distribution list is the roster's cash
//! entitlements.

use serde::{Deserialize, Serialize};

use crate::id::{BeneficiaryId, EntitlementId, MerchantId, ProgrammeId, SiteId};
use crate::money::Money;
use crate::rules::RedemptionTerms;
use crate::trust_list::RootSigned;
use crate::voucher::RedemptionMode;

/// How an entitlement is delivered at the point of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Redeemed for goods or services at a merchant, by ID.
    Merchant,
    /// Handed over as cash by a field agent.
    Cash,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub id: EntitlementId,
    pub programme: ProgrammeId,
    pub value: Money,
    pub valid_from: i64,
    pub valid_until: i64,
    pub mode: RedemptionMode,
    pub delivery: Delivery,
}

impl Entitlement {
    pub fn terms(&self) -> RedemptionTerms<'_> {
        RedemptionTerms {
            value: self.value,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            mode: self.mode,
            // The roster itself is the binding: the person was identified.
            beneficiary: None,
            merchants: &[],
            sites: &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterPerson {
    pub beneficiary: BeneficiaryId,
    pub name: String,
    /// National ID numbers or card numbers that identify this person.
    pub id_numbers: Vec<String>,
    pub date_of_birth: Option<String>,
    /// A small JPEG for the identity check, if the registry has one.
    #[serde(default, with = "optional_bytes")]
    pub photo: Option<Vec<u8>>,
    pub entitlements: Vec<Entitlement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub version: u64,
    pub issued_at: i64,
    pub site: Option<SiteId>,
    pub merchant: Option<MerchantId>,
    pub people: Vec<RosterPerson>,
}

impl RootSigned for Roster {
    fn version(&self) -> u64 {
        self.version
    }
}

impl Roster {
    /// The person with this ID number or beneficiary id.
    pub fn find(&self, id_number: &str) -> Option<&RosterPerson> {
        let wanted = normalise_id_number(id_number);
        self.people.iter().find(|p| {
            p.beneficiary.as_str() == id_number
                || p.id_numbers
                    .iter()
                    .any(|n| normalise_id_number(n) == wanted)
        })
    }
}

/// ID numbers are compared without spaces and dashes, case-insensitively,
/// because cards, barcodes and people write them differently.
pub fn normalise_id_number(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .flat_map(char::to_uppercase)
        .collect()
}

mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&ciborium::value::Value::Bytes(b.clone())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<ciborium::value::Value>::deserialize(d)? {
            None => Ok(None),
            Some(ciborium::value::Value::Bytes(b)) => Ok(Some(b)),
            Some(_) => Err(serde::de::Error::custom("expected a byte string")),
        }
    }
}
