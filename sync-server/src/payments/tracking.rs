//! Where every payment is: its timeline of events, lists by batch, cycle,
//! state or the exception queue, and totals by state and currency for a
//! batch, a cycle, a programme or everything.

use serde::Serialize;

use super::{PaymentError, TIMELINE_EVENTS_MAX};
use crate::storage::Storage;
use crate::storage::payments::{self as table, EventRow, PaymentFilter, PaymentRow, StateTotal};
use crate::storage::sql::Page;

/// A payment with its timeline.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    #[serde(flatten)]
    pub row: PaymentRow,
    pub timeline: Vec<EventRow>,
}

pub fn get(storage: &Storage, key: &str) -> Result<PaymentView, PaymentError> {
    storage.transaction(|tx| {
        let row = table::payment(tx.sql(), key)?
            .ok_or_else(|| PaymentError::UnknownPayment(key.to_owned()))?;
        let timeline = table::events(tx.sql(), key, TIMELINE_EVENTS_MAX)?;
        Ok(PaymentView { row, timeline })
    })
}

pub fn list(
    storage: &Storage,
    filter: &PaymentFilter,
    page: Page,
) -> Result<Vec<PaymentRow>, PaymentError> {
    Ok(storage.transaction(|tx| table::payments(tx.sql(), filter, page))?)
}

/// Counts and amounts by state and currency.
pub fn totals(
    storage: &Storage,
    programme: Option<&str>,
    cycle: Option<i64>,
    batch: Option<i64>,
) -> Result<Vec<StateTotal>, PaymentError> {
    Ok(storage.transaction(|tx| table::state_totals(tx.sql(), programme, cycle, batch))?)
}

/// The newest events of all payments (for the console's live view).
pub fn recent(storage: &Storage, most: i64) -> Result<Vec<EventRow>, PaymentError> {
    Ok(storage.transaction(|tx| table::recent_events(tx.sql(), most.clamp(1, 200)))?)
}
