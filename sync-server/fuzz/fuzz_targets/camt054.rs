//! Any bytes through the camt.054 reader: a notification and its
//! bookings, or a specific error, never a panic.
#![no_main]

use lastmile_server::rails::iso20022::status::{self, STATUS_RECORDS_MAX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bookings = 0_u64;
    let _ = status::read_camt054(data, |booking| {
        bookings += 1;
        assert!(booking.end_to_end_id.chars().count() <= 35);
        assert!(booking.end_to_end_id != "NOTPROVIDED");
        assert!(!booking.amount.is_negative());
        Ok::<_, ()>(())
    });
    assert!(bookings <= STATUS_RECORDS_MAX);
});
