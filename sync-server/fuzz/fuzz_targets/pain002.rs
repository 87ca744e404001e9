//! Any bytes through the pain.002 reader: a report and its lines, or a
//! specific error, never a panic; and no more lines than the limit.
#![no_main]

use lastmile_server::rails::iso20022::status::{self, STATUS_RECORDS_MAX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = status::identify(data);
    let mut lines = 0_u64;
    let _ = status::read_pain002(data, |line| {
        lines += 1;
        assert!(line.end_to_end_id.chars().count() <= 35);
        assert!(line.detail.as_ref().is_none_or(|d| d.chars().count() <= 140));
        assert!(line.amount.is_none_or(|amount| !amount.is_negative()));
        Ok::<_, ()>(())
    });
    assert!(lines <= STATUS_RECORDS_MAX);
});
