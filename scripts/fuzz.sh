#!/usr/bin/env bash
# Runs the fuzz targets — shared/fuzz (lastmile-shared's decoders), hardware/fuzz (the
# ESC/POS printer emulator of lastmile-hardware) and sync-server/fuzz (the beneficiary
# importer and the amounts-file upload, on a real SQLite file) — for SECONDS each (default 60):
#   scripts/fuzz.sh [SECONDS [TARGET...]]     (no TARGET: every one)
# Needs cargo-fuzz (`cargo install cargo-fuzz`); uses the stable toolchain
# with RUSTC_BOOTSTRAP=1 for the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
((${#targets[@]})) || targets=(voucher trust_list id_card log_entry sync_message payee escpos_render beneficiary_import amounts_file)
export RUSTC_BOOTSTRAP=1
# A target dir of its own, so seeding never waits for another build.
CARGO_TARGET_DIR=target/fuzz-seeds cargo run -q -p lastmile-shared --example fuzz_seeds
# The emulator starts from the pinned receipts (raster and native QR, styles, cut).
mkdir -p hardware/fuzz/corpus/escpos_render
cp docs/receipt-58mm.bin docs/receipt-80mm.bin hardware/fuzz/corpus/escpos_render/
for target in "${targets[@]}"; do
  crate=shared
  [[ $target == escpos_render ]] && crate=hardware
  [[ $target == beneficiary_import || $target == amounts_file ]] && crate=sync-server
  cd "$crate"
  echo "== $target: ${seconds}s"
  cargo fuzz run -O "$target" -- -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY|thread|panicked)' || true
  [[ -z "$(ls fuzz/artifacts/$target 2>/dev/null)" ]] || { echo "crash found in $target: $crate/fuzz/artifacts/$target" >&2; exit 1; }
  cd ..
done
