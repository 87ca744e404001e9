//! Decode + verify throughput for voucher credentials, one at a time and in
//! batches. Run: `cargo bench -p lastmile-shared --bench verify`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lastmile_shared::id::VoucherId;
use lastmile_shared::voucher;
use std::hint::black_box;

fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut c = claims();
            c.id = VoucherId::parse(&format!("V-2026-{i:06}")).unwrap();
            voucher::encode(&c, &kid("ke-2026a"), &key(2))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let store = trust_store();
    let now = T0 + DAY;
    let one = texts(1).remove(0);
    let mut group = c.benchmark_group("voucher");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode", |b| {
        b.iter(|| voucher::decode(black_box(&one)).unwrap())
    });
    group.bench_function("decode_and_verify", |b| {
        b.iter(|| voucher::verify(black_box(&one), &store, now).unwrap())
    });
    for batch in [16usize, 64, 256] {
        let many = texts(batch);
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("verify_batch_{batch}"), |b| {
            b.iter_batched(
                || refs.clone(),
                |r| voucher::verify_batch(&r, &store, now),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
