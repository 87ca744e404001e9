#!/usr/bin/env bash
# The long crash test: SIGKILLs the terminal binary at random moments during
# bursts of redemptions, RUNS times (default 300), then checks that every
# redemption it reported as done is in the log exactly once and that the
# chain verifies. CI runs a short version (30 runs) as part of `cargo test`.
#
#   scripts/crash-test.sh [RUNS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export LASTMILE_CRASH_RUNS="${1:-300}"
if [[ -n "${2:-}" ]]; then export LASTMILE_CRASH_SEED="$2"; fi
cargo test --release -p lastmile-terminal --test terminal crash:: -- --nocapture
