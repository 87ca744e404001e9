//! ESC/POS bytes → the printer emulator's paper: any bytes draw paper or a specific error,
//! within the paper limit, and feeding them in two pieces draws the same paper as in one.
#![no_main]

use lastmile_hardware::emulator::{EMULATOR_PAPER_HEIGHT_DOTS_MAX, Emulator, infer_paper_width, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let paper = infer_paper_width(data);
    let whole = render(data, paper);
    if let Ok(bitmap) = &whole {
        assert!(bitmap.height() <= EMULATOR_PAPER_HEIGHT_DOTS_MAX);
        assert_eq!(bitmap.width(), paper.dots());
    }
    // The parser is incremental: a job split anywhere (as by a TCP read) prints the same.
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut emulator = Emulator::new(paper);
    emulator.feed(&data[..split]);
    emulator.feed(&data[split..]);
    assert_eq!(whole, emulator.finish(), "split at {split}");
});
