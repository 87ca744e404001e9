//! The posting engine: a batch of transfers applied to the accounts it
//! touches, in memory, with every rule of the model. Storage loads the
//! accounts and the transfers the batch names, hands them to a [`Book`],
//! and writes back what the book changed; the rules live only here.
//!
//! A batch's transfers succeed or fail one by one, except a linked chain,
//! which succeeds or fails whole. A transfer whose id is already known is a
//! retry: the same request changes nothing ([`Outcome::Exists`]), a
//! different one under that id is refused.

use std::collections::{BTreeMap, HashMap};

use lastmile_shared::money::Currency;
use serde::Serialize;

use super::account::{Account, AccountId, Balances};
use super::transfer::{NewTransfer, PendingState, Phase, Transfer, TransferId};

/// Why one transfer of a batch was not posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "refusal")]
pub enum Refusal {
    #[error("a transfer with this id exists with a different {field}")]
    ExistsWithDifferent { field: &'static str },
    #[error("a transfer debits and credits the same account")]
    SameAccount,
    #[error("the amount must be positive")]
    AmountNotPositive,
    #[error("no account {account}")]
    AccountNotFound { account: AccountId },
    #[error("the accounts are in different currencies ({debit} and {credit})")]
    CurrencyMismatch { debit: Currency, credit: Currency },
    #[error("{account} would be debited beyond its posted credits")]
    ExceedsCredits { account: AccountId },
    #[error("{account} would be credited beyond its posted debits")]
    ExceedsDebits { account: AccountId },
    #[error("no pending transfer {pending}")]
    PendingNotFound { pending: TransferId },
    #[error("{pending} is not a pending transfer")]
    NotAPendingTransfer { pending: TransferId },
    #[error("{pending} is already {state:?}")]
    PendingNotPending {
        pending: TransferId,
        state: PendingState,
    },
    #[error("{pending} expired")]
    PendingExpired { pending: TransferId },
    #[error("the accounts differ from those of {pending}")]
    PendingDifferentAccounts { pending: TransferId },
    #[error("posting {amount} exceeds the pending {pending_amount}")]
    PostExceedsPending { amount: i64, pending_amount: i64 },
    #[error("a void releases the pending amount in full (give 0 or {pending_amount})")]
    VoidAmount { pending_amount: i64 },
    #[error("a balance would overflow")]
    Overflow,
    #[error("another transfer of its linked chain failed")]
    LinkedEventFailed,
    #[error("the batch ends inside a linked chain")]
    LinkedChainOpen,
}

/// What became of one transfer of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Created,
    /// The same transfer was posted before: nothing changed.
    Exists,
    Refused(Refusal),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

/// The accounts and transfers a batch works on, and what it changed.
pub struct Book {
    accounts: HashMap<AccountId, Account>,
    /// Balances as loaded, for the invariant check.
    before: HashMap<AccountId, Balances>,
    transfers: HashMap<TransferId, Transfer>,
    /// New transfers in posting order.
    created: Vec<TransferId>,
    /// Pending transfers loaded from storage whose state changed.
    resolved: BTreeMap<TransferId, PendingState>,
}

/// A chain's tentative changes, applied to the book only if it all succeeds.
#[derive(Default)]
struct Draft {
    accounts: HashMap<AccountId, Account>,
    transfers: Vec<Transfer>,
    resolved: Vec<(TransferId, PendingState)>,
}

/// What a book changed, for storage to write.
pub struct Changes {
    pub transfers: Vec<Transfer>,
    pub resolved: Vec<(TransferId, PendingState)>,
    pub accounts: Vec<Account>,
}

impl Book {
    /// A book over `accounts` that knows `transfers` (those the batch names
    /// by id or as its pending transfers).
    pub fn new(accounts: Vec<Account>, transfers: Vec<Transfer>) -> Self {
        let before = accounts
            .iter()
            .map(|a| (a.id.clone(), a.balances))
            .collect();
        Self {
            accounts: accounts.into_iter().map(|a| (a.id.clone(), a)).collect(),
            before,
            transfers: transfers.into_iter().map(|t| (t.id.clone(), t)).collect(),
            created: Vec::new(),
            resolved: BTreeMap::new(),
        }
    }

    /// Applies a batch at `now` on behalf of `actor`; one outcome per
    /// transfer, in order.
    pub fn apply(&mut self, batch: &[NewTransfer], now: i64, actor: Option<&str>) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut start = 0;
        while start < batch.len() {
            let end = batch[start..]
                .iter()
                .position(|t| !t.linked)
                .map(|i| start + i + 1);
            let Some(end) = end else {
                // An open chain at the end of the batch: refused whole.
                outcomes.extend(
                    batch[start..]
                        .iter()
                        .map(|_| Outcome::Refused(Refusal::LinkedChainOpen)),
                );
                break;
            };
            outcomes.extend(self.apply_chain(&batch[start..end], now, actor));
            start = end;
        }
        outcomes
    }

    fn apply_chain(
        &mut self,
        chain: &[NewTransfer],
        now: i64,
        actor: Option<&str>,
    ) -> Vec<Outcome> {
        let mut draft = Draft::default();
        let mut outcomes = Vec::with_capacity(chain.len());
        let mut failed = None;
        for (index, new) in chain.iter().enumerate() {
            match self.apply_one(&mut draft, new, now, actor) {
                Ok(outcome) => outcomes.push(outcome),
                Err(refusal) => {
                    failed = Some(index);
                    outcomes.push(Outcome::Refused(refusal));
                    break;
                }
            }
        }
        if let Some(index) = failed {
            // Nothing of the chain is kept; the others name the one that failed.
            let refusal = outcomes
                .pop()
                .unwrap_or(Outcome::Refused(Refusal::LinkedEventFailed));
            return (0..chain.len())
                .map(|i| {
                    if i == index {
                        refusal.clone()
                    } else {
                        Outcome::Refused(Refusal::LinkedEventFailed)
                    }
                })
                .collect();
        }
        self.accounts.extend(draft.accounts);
        for transfer in draft.transfers {
            self.created.push(transfer.id.clone());
            self.transfers.insert(transfer.id.clone(), transfer);
        }
        for (id, state) in draft.resolved {
            if let Some(pending) = self.transfers.get_mut(&id) {
                pending.state = Some(state);
            }
            self.resolved.insert(id, state);
        }
        outcomes
    }

    /// An account as the draft or the book has it.
    fn account(&self, draft: &Draft, id: &AccountId) -> Result<Account, Refusal> {
        draft
            .accounts
            .get(id)
            .or_else(|| self.accounts.get(id))
            .cloned()
            .ok_or_else(|| Refusal::AccountNotFound {
                account: id.clone(),
            })
    }

    /// A transfer as the draft or the book knows it.
    fn known<'a>(&'a self, draft: &'a Draft, id: &TransferId) -> Option<Transfer> {
        let mut found = draft
            .transfers
            .iter()
            .find(|t| &t.id == id)
            .or_else(|| self.transfers.get(id))
            .cloned()?;
        if let Some((_, state)) = draft.resolved.iter().rev().find(|(r, _)| r == id) {
            found.state = Some(*state);
        }
        Some(found)
    }

    fn apply_one(
        &self,
        draft: &mut Draft,
        new: &NewTransfer,
        now: i64,
        actor: Option<&str>,
    ) -> Result<Outcome, Refusal> {
        if let Some(existing) = self.known(draft, &new.id) {
            return match existing.differs_from(new) {
                Some(field) => Err(Refusal::ExistsWithDifferent { field }),
                None => Ok(Outcome::Exists),
            };
        }
        if new.debit == new.credit {
            return Err(Refusal::SameAccount);
        }
        let mut debit = self.account(draft, &new.debit)?;
        let mut credit = self.account(draft, &new.credit)?;
        if debit.currency != credit.currency {
            return Err(Refusal::CurrencyMismatch {
                debit: debit.currency,
                credit: credit.currency,
            });
        }
        let amount = match &new.phase {
            Phase::Single | Phase::Pending { .. } => {
                if new.amount <= 0 {
                    return Err(Refusal::AmountNotPositive);
                }
                reserve(&mut debit, &mut credit, new.amount)?;
                let d = &mut debit.balances;
                let c = &mut credit.balances;
                if matches!(new.phase, Phase::Single) {
                    add(&mut d.debits_posted, new.amount)?;
                    add(&mut c.credits_posted, new.amount)?;
                } else {
                    add(&mut d.debits_pending, new.amount)?;
                    add(&mut c.credits_pending, new.amount)?;
                }
                new.amount
            }
            Phase::Post { pending } | Phase::Void { pending } => {
                let held = self.open_pending(draft, pending, new, now)?;
                let posting = matches!(new.phase, Phase::Post { .. });
                let amount = if new.amount == 0 {
                    held.amount
                } else {
                    new.amount
                };
                if new.amount < 0 || amount > held.amount {
                    return Err(if posting {
                        Refusal::PostExceedsPending {
                            amount: new.amount,
                            pending_amount: held.amount,
                        }
                    } else {
                        Refusal::VoidAmount {
                            pending_amount: held.amount,
                        }
                    });
                }
                if !posting && amount != held.amount {
                    return Err(Refusal::VoidAmount {
                        pending_amount: held.amount,
                    });
                }
                let d = &mut debit.balances;
                let c = &mut credit.balances;
                sub(&mut d.debits_pending, held.amount)?;
                sub(&mut c.credits_pending, held.amount)?;
                let state = if posting {
                    add(&mut d.debits_posted, amount)?;
                    add(&mut c.credits_posted, amount)?;
                    PendingState::Posted
                } else {
                    PendingState::Voided
                };
                draft.resolved.push((pending.clone(), state));
                amount
            }
        };
        let state = matches!(new.phase, Phase::Pending { .. }).then_some(PendingState::Pending);
        draft.transfers.push(Transfer {
            seq: 0,
            id: new.id.clone(),
            debit: new.debit.clone(),
            credit: new.credit.clone(),
            amount,
            currency: debit.currency,
            code: new.code,
            phase: new.phase.clone(),
            state,
            cause_kind: new.cause.as_ref().map(|c| c.kind.to_owned()),
            cause_id: new.cause.as_ref().map(|c| c.id.clone()),
            actor: actor.map(str::to_owned),
            at: now,
        });
        draft.accounts.insert(debit.id.clone(), debit);
        draft.accounts.insert(credit.id.clone(), credit);
        Ok(Outcome::Created)
    }

    /// The pending transfer a post or void resolves, if it still may be.
    fn open_pending(
        &self,
        draft: &Draft,
        pending: &TransferId,
        new: &NewTransfer,
        now: i64,
    ) -> Result<Transfer, Refusal> {
        let held = self
            .known(draft, pending)
            .ok_or_else(|| Refusal::PendingNotFound {
                pending: pending.clone(),
            })?;
        let Phase::Pending { timeout_at } = held.phase else {
            return Err(Refusal::NotAPendingTransfer {
                pending: pending.clone(),
            });
        };
        match held.state {
            Some(PendingState::Pending) => {}
            Some(state) => {
                return Err(Refusal::PendingNotPending {
                    pending: pending.clone(),
                    state,
                });
            }
            None => {
                return Err(Refusal::NotAPendingTransfer {
                    pending: pending.clone(),
                });
            }
        }
        if timeout_at.is_some_and(|t| t <= now) {
            return Err(Refusal::PendingExpired {
                pending: pending.clone(),
            });
        }
        if held.debit != new.debit || held.credit != new.credit {
            return Err(Refusal::PendingDifferentAccounts {
                pending: pending.clone(),
            });
        }
        Ok(held)
    }

    /// Releases pending transfers whose timeout passed (they become
    /// `Expired`); returns how many.
    pub fn expire(&mut self, ids: &[TransferId], now: i64) -> Result<usize, Refusal> {
        let mut expired = 0;
        for id in ids {
            let Some(held) = self.transfers.get(id).cloned() else {
                continue;
            };
            let due = matches!(held.phase, Phase::Pending { timeout_at: Some(t) } if t <= now);
            if !due || held.state != Some(PendingState::Pending) {
                continue;
            }
            for (account, debit_side) in [(&held.debit, true), (&held.credit, false)] {
                let account =
                    self.accounts
                        .get_mut(account)
                        .ok_or_else(|| Refusal::AccountNotFound {
                            account: account.clone(),
                        })?;
                let side = if debit_side {
                    &mut account.balances.debits_pending
                } else {
                    &mut account.balances.credits_pending
                };
                sub(side, held.amount)?;
            }
            if let Some(t) = self.transfers.get_mut(id) {
                t.state = Some(PendingState::Expired);
            }
            self.resolved.insert(id.clone(), PendingState::Expired);
            expired += 1;
        }
        Ok(expired)
    }

    /// The invariants over what this book changed: every account within
    /// its flags and never negative, and per currency the debits it added
    /// equal the credits it added, pending and posted alike.
    pub fn check(&self) -> Result<(), String> {
        let mut sums: BTreeMap<&str, [i128; 4]> = BTreeMap::new();
        for (id, account) in &self.accounts {
            if let Some(broken) = account.balances.breaks(account.flags) {
                return Err(format!("{id}: {broken}"));
            }
            let before = self.before.get(id).copied().unwrap_or_default();
            let now = account.balances;
            let sum = sums.entry(account.currency.code()).or_default();
            sum[0] += i128::from(now.debits_pending) - i128::from(before.debits_pending);
            sum[1] += i128::from(now.credits_pending) - i128::from(before.credits_pending);
            sum[2] += i128::from(now.debits_posted) - i128::from(before.debits_posted);
            sum[3] += i128::from(now.credits_posted) - i128::from(before.credits_posted);
        }
        for (currency, [dp, cp, dpost, cpost]) in sums {
            if dp != cp || dpost != cpost {
                return Err(format!(
                    "{currency}: the batch added debits {dp} pending / {dpost} posted \
                     but credits {cp} pending / {cpost} posted"
                ));
            }
        }
        Ok(())
    }

    /// What changed: new transfers numbered from `first_seq`, the pending
    /// transfers resolved, and the accounts whose balances moved.
    pub fn into_changes(self, first_seq: u64) -> Changes {
        let Self {
            accounts,
            before,
            mut transfers,
            created,
            resolved,
        } = self;
        let mut new = Vec::with_capacity(created.len());
        for (offset, id) in created.iter().enumerate() {
            if let Some(mut t) = transfers.remove(id) {
                t.seq = first_seq + offset as u64;
                new.push(t);
            }
        }
        // A pending transfer created in this batch is written with its
        // final state; only those loaded from storage need an update.
        let resolved = resolved
            .into_iter()
            .filter(|(id, _)| transfers.contains_key(id))
            .collect();
        let mut moved: Vec<Account> = accounts
            .into_values()
            .filter(|a| before.get(&a.id) != Some(&a.balances))
            .collect();
        moved.sort_by(|a, b| a.id.cmp(&b.id));
        Changes {
            transfers: new,
            resolved,
            accounts: moved,
        }
    }

    /// How many transfers the batch created so far.
    pub fn created(&self) -> usize {
        self.created.len()
    }
}

/// Refuses a new debit or credit that the accounts' flags forbid.
fn reserve(debit: &mut Account, credit: &mut Account, amount: i64) -> Result<(), Refusal> {
    let d = debit.balances;
    if debit.flags.debits_must_not_exceed_credits {
        let total = d
            .debits_pending
            .checked_add(d.debits_posted)
            .and_then(|v| v.checked_add(amount))
            .ok_or(Refusal::Overflow)?;
        if total > d.credits_posted {
            return Err(Refusal::ExceedsCredits {
                account: debit.id.clone(),
            });
        }
    }
    let c = credit.balances;
    if credit.flags.credits_must_not_exceed_debits {
        let total = c
            .credits_pending
            .checked_add(c.credits_posted)
            .and_then(|v| v.checked_add(amount))
            .ok_or(Refusal::Overflow)?;
        if total > c.debits_posted {
            return Err(Refusal::ExceedsDebits {
                account: credit.id.clone(),
            });
        }
    }
    Ok(())
}

fn add(balance: &mut i64, amount: i64) -> Result<(), Refusal> {
    *balance = balance.checked_add(amount).ok_or(Refusal::Overflow)?;
    Ok(())
}

fn sub(balance: &mut i64, amount: i64) -> Result<(), Refusal> {
    *balance = balance.checked_sub(amount).ok_or(Refusal::Overflow)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lastmile_shared::money::Currency;
    use proptest::prelude::*;

    use super::*;
    use crate::ledger::account::AccountKind;
    use crate::ledger::transfer::{TransferCode, TransferId};

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    /// Two currencies, four accounts each: a funding source, a budget, a
    /// flagged obligations account and a flagged merchant payable.
    fn accounts() -> Vec<Account> {
        let mut out = Vec::new();
        for code in ["XOF", "EUR"] {
            for kind in [
                AccountKind::Funding,
                AccountKind::Budget,
                AccountKind::Obligations,
                AccountKind::MerchantPayable,
            ] {
                out.push(Account::open(kind, &["P"], currency(code), Some("P")).unwrap());
            }
        }
        out
    }

    fn id(text: &str) -> TransferId {
        TransferId::parse(text).unwrap()
    }

    fn single(name: &str, debit: usize, credit: usize, amount: i64) -> NewTransfer {
        let all = accounts();
        NewTransfer {
            id: id(name),
            debit: all[debit].id.clone(),
            credit: all[credit].id.clone(),
            amount,
            code: TransferCode::Adjust,
            phase: Phase::Single,
            linked: false,
            cause: None,
        }
    }

    #[test]
    fn a_retry_changes_nothing_and_a_different_one_is_refused() {
        let mut book = Book::new(accounts(), Vec::new());
        let fund = single("fund-1", 0, 1, 500);
        assert_eq!(
            book.apply(std::slice::from_ref(&fund), 1, None),
            [Outcome::Created]
        );
        assert_eq!(
            book.apply(std::slice::from_ref(&fund), 2, None),
            [Outcome::Exists]
        );
        let other = single("fund-1", 0, 1, 501);
        assert_eq!(
            book.apply(&[other], 3, None),
            [Outcome::Refused(Refusal::ExistsWithDifferent {
                field: "amount"
            })]
        );
        book.check().unwrap();
        let changes = book.into_changes(10);
        assert_eq!(changes.transfers.len(), 1);
        assert_eq!(changes.transfers[0].seq, 10);
        let budget = changes
            .accounts
            .iter()
            .find(|a| a.kind == AccountKind::Budget)
            .unwrap();
        assert_eq!(budget.balances.credits_posted, 500);
    }

    #[test]
    fn a_flagged_account_refuses_to_hand_on_more_than_it_holds() {
        let mut book = Book::new(accounts(), Vec::new());
        // Budget → obligations 300, then obligations → merchant 301.
        let outcomes = book.apply(
            &[
                single("c", 1, 2, 300),
                single("r", 2, 3, 301),
                single("r2", 2, 3, 300),
            ],
            1,
            None,
        );
        assert_eq!(outcomes[0], Outcome::Created);
        assert!(matches!(
            &outcomes[1],
            Outcome::Refused(Refusal::ExceedsCredits { account }) if account.as_str() == "obligations/P/XOF"
        ));
        assert_eq!(outcomes[2], Outcome::Created);
        book.check().unwrap();
    }

    #[test]
    fn a_linked_chain_fails_whole() {
        let mut book = Book::new(accounts(), Vec::new());
        let mut first = single("a", 1, 2, 100);
        first.linked = true;
        let second = single("b", 2, 3, 101);
        let outcomes = book.apply(&[first, second], 1, None);
        assert_eq!(outcomes[0], Outcome::Refused(Refusal::LinkedEventFailed));
        assert!(matches!(
            outcomes[1],
            Outcome::Refused(Refusal::ExceedsCredits { .. })
        ));
        assert_eq!(book.created(), 0);
        let mut open = single("c", 1, 2, 1);
        open.linked = true;
        assert_eq!(
            book.apply(&[open], 1, None),
            [Outcome::Refused(Refusal::LinkedChainOpen)]
        );
    }

    #[test]
    fn a_pending_transfer_posts_part_and_releases_the_rest() {
        let mut book = Book::new(accounts(), Vec::new());
        let mut hold = single("hold", 1, 2, 100);
        hold.phase = Phase::Pending {
            timeout_at: Some(50),
        };
        let mut post = single("post", 1, 2, 60);
        post.phase = Phase::Post {
            pending: id("hold"),
        };
        let mut again = single("post-2", 1, 2, 0);
        again.phase = Phase::Post {
            pending: id("hold"),
        };
        let outcomes = book.apply(&[hold, post, again], 10, None);
        assert_eq!(outcomes[0], Outcome::Created);
        assert_eq!(outcomes[1], Outcome::Created);
        assert!(matches!(
            outcomes[2],
            Outcome::Refused(Refusal::PendingNotPending {
                state: PendingState::Posted,
                ..
            })
        ));
        book.check().unwrap();
        let changes = book.into_changes(1);
        let obligations = changes
            .accounts
            .iter()
            .find(|a| a.kind == AccountKind::Obligations)
            .unwrap();
        assert_eq!(obligations.balances.credits_pending, 0);
        assert_eq!(obligations.balances.credits_posted, 60);
        assert_eq!(changes.transfers[0].state, Some(PendingState::Posted));
    }

    #[test]
    fn an_expired_pending_transfer_can_no_longer_post_and_is_released() {
        let mut hold = single("hold", 1, 2, 100);
        hold.phase = Phase::Pending {
            timeout_at: Some(50),
        };
        let mut book = Book::new(accounts(), Vec::new());
        book.apply(&[hold], 10, None);
        let mut post = single("post", 1, 2, 0);
        post.phase = Phase::Post {
            pending: id("hold"),
        };
        assert!(matches!(
            book.apply(&[post], 50, None)[0],
            Outcome::Refused(Refusal::PendingExpired { .. })
        ));
        assert_eq!(book.expire(&[id("hold")], 50).unwrap(), 1);
        book.check().unwrap();
        let changes = book.into_changes(1);
        assert_eq!(changes.transfers[0].state, Some(PendingState::Expired));
        assert!(
            changes.accounts.is_empty(),
            "the hold and its release cancel out"
        );
    }

    /// One step of a random history.
    #[derive(Debug, Clone)]
    enum Step {
        Single {
            debit: usize,
            credit: usize,
            amount: i64,
            linked: bool,
        },
        Pending {
            debit: usize,
            credit: usize,
            amount: i64,
            timeout: Option<i64>,
        },
        Post {
            of: usize,
            amount: i64,
        },
        Void {
            of: usize,
        },
        Retry {
            of: usize,
        },
        Expire,
    }

    fn step() -> impl Strategy<Value = Step> {
        let account = 0usize..8;
        prop_oneof![
            4 => (account.clone(), account.clone(), -5i64..400, any::<bool>())
                .prop_map(|(debit, credit, amount, linked)| Step::Single { debit, credit, amount, linked }),
            2 => (account.clone(), account, 1i64..400, proptest::option::of(0i64..40))
                .prop_map(|(debit, credit, amount, timeout)| Step::Pending { debit, credit, amount, timeout }),
            2 => (0usize..64, 0i64..500).prop_map(|(of, amount)| Step::Post { of, amount }),
            1 => (0usize..64).prop_map(|of| Step::Void { of }),
            2 => (0usize..64).prop_map(|of| Step::Retry { of }),
            1 => Just(Step::Expire),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random postings, retries, two-phase resolutions, expiries and
        /// failures in random batches never break an invariant; a retried
        /// id never posts twice; and every balance equals the sum of the
        /// transfers that were created.
        #[test]
        fn random_histories_keep_every_invariant(
            steps in proptest::collection::vec(step(), 1..120),
            cuts in proptest::collection::vec(1usize..12, 1..20),
        ) {
            let all = accounts();
            let mut book = Book::new(all.clone(), Vec::new());
            let mut sent: Vec<NewTransfer> = Vec::new();
            let mut pendings: Vec<TransferId> = Vec::new();
            let mut created: HashMap<TransferId, Transfer> = HashMap::new();
            let mut batch: Vec<NewTransfer> = Vec::new();
            let mut cut = cuts.iter().cycle();
            let mut size = *cut.next().unwrap();
            let mut now = 0;
            for (n, step) in steps.iter().enumerate() {
                let name = format!("t{n}");
                let new = match step.clone() {
                    Step::Single { debit, credit, amount, linked } => {
                        let mut t = single(&name, debit, credit, amount);
                        t.linked = linked;
                        Some(t)
                    }
                    Step::Pending { debit, credit, amount, timeout } => {
                        let mut t = single(&name, debit, credit, amount);
                        t.phase = Phase::Pending { timeout_at: timeout.map(|d| now + d) };
                        pendings.push(t.id.clone());
                        Some(t)
                    }
                    Step::Post { of, .. } | Step::Void { of } if !pendings.is_empty() && !sent.is_empty() => {
                        let pending = pendings[of % pendings.len()].clone();
                        let held = sent.iter().find(|t| t.id == pending).cloned();
                        held.map(|held| {
                            let mut t = single(&name, 0, 1, 0);
                            t.debit = held.debit;
                            t.credit = held.credit;
                            if let Step::Post { amount, .. } = step {
                                t.amount = *amount;
                                t.phase = Phase::Post { pending };
                            } else {
                                t.phase = Phase::Void { pending };
                            }
                            t
                        })
                    }
                    Step::Retry { of } if !sent.is_empty() => Some(sent[of % sent.len()].clone()),
                    Step::Expire => {
                        now += 10;
                        let due: Vec<TransferId> = pendings.clone();
                        book.expire(&due, now).unwrap();
                        None
                    }
                    _ => None,
                };
                if let Some(new) = new {
                    sent.push(new.clone());
                    batch.push(new);
                }
                if batch.len() >= size || n + 1 == steps.len() {
                    now += 1;
                    let outcomes = book.apply(&batch, now, Some("tester"));
                    prop_assert_eq!(outcomes.len(), batch.len());
                    for (t, outcome) in batch.iter().zip(&outcomes) {
                        if *outcome == Outcome::Exists {
                            prop_assert!(created.contains_key(&t.id) || batch.iter().filter(|b| b.id == t.id).count() > 1);
                        }
                        if *outcome == Outcome::Created {
                            prop_assert!(!created.contains_key(&t.id), "{} created twice", t.id);
                            created.insert(t.id.clone(), book.transfers[&t.id].clone());
                        }
                    }
                    prop_assert!(book.check().is_ok(), "{:?}", book.check());
                    batch.clear();
                    size = *cut.next().unwrap();
                }
            }
            // Every balance is the sum of the transfers created, with each
            // pending transfer counted while it is still pending.
            let mut expected: HashMap<AccountId, Balances> = HashMap::new();
            for t in book.transfers.values() {
                let (dp, dpost) = match (&t.phase, book.transfers[&t.id].state) {
                    (Phase::Pending { .. }, Some(PendingState::Pending)) => (t.amount, 0),
                    (Phase::Pending { .. }, _) | (Phase::Void { .. }, _) => (0, 0),
                    (Phase::Single | Phase::Post { .. }, _) => (0, t.amount),
                };
                let d = expected.entry(t.debit.clone()).or_default();
                d.debits_pending += dp;
                d.debits_posted += dpost;
                let c = expected.entry(t.credit.clone()).or_default();
                c.credits_pending += dp;
                c.credits_posted += dpost;
            }
            for account in book.accounts.values() {
                let want = expected.get(&account.id).copied().unwrap_or_default();
                prop_assert_eq!(account.balances, want, "{}", account.id);
            }
        }
    }
}
