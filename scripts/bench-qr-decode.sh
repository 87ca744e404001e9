#!/usr/bin/env bash
# Compare Lastmile's QR decoder with zxing-cpp on the same camera-like frames.
#
# Generates a corpus (hardware/examples/qr_corpus.rs: voucher-sized payloads on 640x480 and
# 1280x720 frames, rotated, tilted, blurred, unevenly lit, low contrast, JPEG, cluttered),
# decodes it with Lastmile (release build, hardware/examples/qr_bench.rs) and with zxing-cpp
# from a Python venv under target/, and prints decode rate and ms per frame for both.
# Both sides load all images first and time only the decoding, one frame at a time.
#
# Usage: scripts/bench-qr-decode.sh [COUNT] [SEED]      (defaults: 200 frames, seed 20261129)
set -euo pipefail

count="${1:-200}"
seed="${2:-20261129}"
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
corpus="$target/qr-corpus-$seed-$count"
venv="$target/qr-bench-venv"

cd "$root"
cargo build --release --quiet -p lastmile-hardware --example qr_corpus --example qr_bench

if [ ! -f "$corpus/manifest.tsv" ]; then
    "$target/release/examples/qr_corpus" "$corpus" "$count" "$seed"
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check zxing-cpp pillow

echo "corpus: $count frames, seed $seed, $corpus"
"$target/release/examples/qr_bench" "$corpus"
"$venv/bin/python" "$root/scripts/qr-zxing-cpp.py" "$corpus"
