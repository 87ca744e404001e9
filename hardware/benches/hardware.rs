//! Criterion benchmarks: QR decode per camera frame, receipt encoding, emulator rendering.
//! The comparison with zxing-cpp is `scripts/bench-qr-decode.sh`.

#[path = "../tests/support/corpus.rs"]
#[allow(dead_code)] // Shared with the tests, which use more of it.
mod corpus;
#[path = "../tests/support/sample_receipt.rs"]
mod sample_receipt;

use criterion::{Criterion, criterion_group, criterion_main};
use lastmile_hardware::emulator;
use lastmile_hardware::escpos::{PaperWidth, QrMode};
use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::QrDecoder;

fn qr_decode(c: &mut Criterion) {
    let decoder = QrDecoder::default();
    for index in [0, 1] {
        let sample = corpus::frame(20_261_129, index);
        let frame = GrayFrame::from_image(sample.frame).expect("corpus frame");
        let name = format!("qr_decode_{}x{}", frame.width(), frame.height());
        c.bench_function(&name, |b| b.iter(|| decoder.decode(&frame)));
    }
}

fn receipts(c: &mut Criterion) {
    c.bench_function("receipt_encode_80mm", |b| {
        b.iter(|| sample_receipt::sample_receipt(PaperWidth::Mm80, QrMode::Native))
    });
    let bytes =
        sample_receipt::sample_receipt(PaperWidth::Mm58, QrMode::Raster).expect("sample receipt");
    c.bench_function("emulator_render_58mm", |b| {
        b.iter(|| emulator::render(&bytes, PaperWidth::Mm58))
    });
}

criterion_group!(benches, qr_decode, receipts);
criterion_main!(benches);
