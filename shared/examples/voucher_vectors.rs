//! Prints the voucher test vectors as JSON:
//! `cargo run -p lastmile-shared --example voucher_vectors > shared/tests/vectors/voucher-vectors.json`

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let vectors = common::vectors::build();
    println!(
        "{}",
        serde_json::to_string_pretty(&vectors).expect("JSON values always serialise")
    );
}
