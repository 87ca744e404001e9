//! Ledger accounts: one currency each, four balances, and the flags that
//! say which way an account may never go.
//!
//! The model is TigerBeetle's: an account never holds a signed "balance",
//! only the pending and posted sums of what it was debited and credited. A
//! transfer moves money from the account it debits to the account it
//! credits, so an account that money flows *into* (a budget, an obligation,
//! a merchant's payable) carries a credit balance, `credits − debits`.

use std::fmt;

use lastmile_shared::money::{Currency, Money};
use serde::Serialize;

use super::LedgerText;

/// Longest account or transfer id, in bytes.
pub const LEDGER_ID_BYTES_MAX: usize = 160;

/// An account's id: its kind and the objects it belongs to, then its
/// currency, e.g. `obligations/P-FOOD/2027-01/XOF`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// `kind/part/…/CUR`. Each part is checked as ledger text (letters,
    /// digits, `. _ - :`); the kind and currency give the prefix and suffix.
    pub fn new(kind: AccountKind, parts: &[&str], currency: Currency) -> Result<Self, LedgerText> {
        let mut text = String::from(kind.as_str());
        for part in parts {
            LedgerText::check_part("an account id part", part)?;
            text.push('/');
            text.push_str(part);
        }
        text.push('/');
        text.push_str(currency.code());
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, LedgerText> {
        LedgerText::check("an account id", text)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({:?})", self.0)
    }
}

/// What an account stands for; the first part of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Where money enters: a donor, a treasury line. Debited when it funds.
    Funding,
    /// A programme's budget in one currency: credited when funded, debited
    /// when a cycle commits it.
    Budget,
    /// What a programme owes for one cycle (or for vouchers issued outside
    /// a cycle): credited when entitlements are approved, debited as they
    /// are delivered. Never delivers more than was committed.
    Obligations,
    /// What reached beneficiaries directly (cash in hand, a confirmed
    /// payment).
    Delivered,
    /// What the programme owes a merchant for redeemed vouchers, until it
    /// is settled. Never settles more than is owed.
    MerchantPayable,
    /// Money handed to a payment rail and not yet confirmed out.
    RailClearing,
    /// A site's cash store that field agents draw their floats from.
    CashVault,
    /// The cash a field agent's terminal holds in an open session. Not
    /// flagged: what the terminal paid out offline happened, and a float
    /// that went below zero is a discrepancy to see, not a sync to refuse.
    AgentFloat,
    /// Cash a field agent's terminal handed to people.
    CashHandedOut,
    /// Cash a closed session was short (or, as a debit, over).
    CashVariance,
    /// One side of a currency exchange: the position in one currency.
    Exchange,
}

impl AccountKind {
    pub const ALL: [Self; 11] = [
        Self::Funding,
        Self::Budget,
        Self::Obligations,
        Self::Delivered,
        Self::MerchantPayable,
        Self::RailClearing,
        Self::CashVault,
        Self::AgentFloat,
        Self::CashHandedOut,
        Self::CashVariance,
        Self::Exchange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Funding => "funding",
            Self::Budget => "budget",
            Self::Obligations => "obligations",
            Self::Delivered => "delivered",
            Self::MerchantPayable => "merchant",
            Self::RailClearing => "rail",
            Self::CashVault => "vault",
            Self::AgentFloat => "float",
            Self::CashHandedOut => "handed",
            Self::CashVariance => "variance",
            Self::Exchange => "exchange",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The flags every account of this kind carries: the accounts that
    /// hand on only what they received may never be overdrawn.
    pub fn flags(self) -> Flags {
        match self {
            Self::Obligations | Self::MerchantPayable => Flags {
                debits_must_not_exceed_credits: true,
                credits_must_not_exceed_debits: false,
            },
            _ => Flags::default(),
        }
    }
}

/// Which way an account may never go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Flags {
    /// Debits (pending and posted) never exceed posted credits.
    pub debits_must_not_exceed_credits: bool,
    /// Credits (pending and posted) never exceed posted debits.
    pub credits_must_not_exceed_debits: bool,
}

impl Flags {
    pub fn bits(self) -> i64 {
        i64::from(self.debits_must_not_exceed_credits)
            | i64::from(self.credits_must_not_exceed_debits) << 1
    }

    pub fn from_bits(bits: i64) -> Option<Self> {
        (0..=3).contains(&bits).then_some(Self {
            debits_must_not_exceed_credits: bits & 1 != 0,
            credits_must_not_exceed_debits: bits & 2 != 0,
        })
    }
}

/// The four sums an account keeps, in minor units of its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Balances {
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl Balances {
    /// What its flags forbid, if anything: the first broken rule.
    pub fn breaks(&self, flags: Flags) -> Option<&'static str> {
        if self.debits_pending < 0
            || self.debits_posted < 0
            || self.credits_pending < 0
            || self.credits_posted < 0
        {
            return Some("a balance is negative");
        }
        let debits = self.debits_pending.checked_add(self.debits_posted);
        let credits = self.credits_pending.checked_add(self.credits_posted);
        let (Some(debits), Some(credits)) = (debits, credits) else {
            return Some("a balance overflows");
        };
        if flags.debits_must_not_exceed_credits && debits > self.credits_posted {
            return Some("debits exceed posted credits");
        }
        if flags.credits_must_not_exceed_debits && credits > self.debits_posted {
            return Some("credits exceed posted debits");
        }
        None
    }
}

/// An account as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub kind: AccountKind,
    pub currency: Currency,
    pub flags: Flags,
    pub balances: Balances,
    /// The programme it belongs to, for statements (`None` for a merchant,
    /// a rail, a site's vault or an agent's float, which serve several).
    pub programme: Option<String>,
}

impl Account {
    /// A new, empty account of `kind` with that kind's flags.
    pub fn open(
        kind: AccountKind,
        parts: &[&str],
        currency: Currency,
        programme: Option<&str>,
    ) -> Result<Self, LedgerText> {
        Ok(Self {
            id: AccountId::new(kind, parts, currency)?,
            kind,
            currency,
            flags: kind.flags(),
            balances: Balances::default(),
            programme: programme.map(str::to_owned),
        })
    }

    /// Posted credits minus posted debits: what an account money flows
    /// into holds (negative for an account money flows out of).
    pub fn credit_balance(&self) -> Money {
        Money::new(
            self.balances.credits_posted - self.balances.debits_posted,
            self.currency,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xof() -> Currency {
        Currency::parse("XOF").unwrap()
    }

    #[test]
    fn an_account_id_names_its_kind_parts_and_currency() {
        let id = AccountId::new(AccountKind::Obligations, &["P-FOOD", "2027-01"], xof()).unwrap();
        assert_eq!(id.as_str(), "obligations/P-FOOD/2027-01/XOF");
        assert!(AccountId::new(AccountKind::Budget, &["a/b"], xof()).is_err());
        assert!(AccountId::new(AccountKind::Budget, &[""], xof()).is_err());
    }

    #[test]
    fn flags_round_trip_through_their_bits() {
        for kind in AccountKind::ALL {
            assert_eq!(Flags::from_bits(kind.flags().bits()), Some(kind.flags()));
            assert_eq!(AccountKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Flags::from_bits(4), None);
    }

    #[test]
    fn a_flagged_account_may_not_hand_on_more_than_it_received() {
        let flags = AccountKind::Obligations.flags();
        let mut balances = Balances {
            credits_posted: 100,
            ..Balances::default()
        };
        balances.debits_posted = 60;
        balances.debits_pending = 40;
        assert_eq!(balances.breaks(flags), None);
        balances.debits_pending = 41;
        assert_eq!(balances.breaks(flags), Some("debits exceed posted credits"));
        assert_eq!(balances.breaks(Flags::default()), None);
    }
}
