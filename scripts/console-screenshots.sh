#!/usr/bin/env bash
# Screenshots of every HQ console page, in headless Chromium, into
# docs/console/ (or the directory given): the console's browser tests,
# run with LASTMILE_CONSOLE_SCREENSHOTS set.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-docs/console}")"
scripts/install-deps.sh
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop "$LASTMILE_PG_DIR"' EXIT
LASTMILE_CONSOLE_SCREENSHOTS="$out" cargo nextest run -p lastmile-server -E 'test(/console/)'
ls "$out"
