#!/usr/bin/env bash
# Runs every test of the workspace against real parts: installs missing
# Debian packages, fetches the ISO 20022 schemas (once, into a cache),
# starts a throwaway PostgreSQL server, runs the tests, stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
LASTMILE_ISO20022_XSD_DIR="$(scripts/iso20022-schemas.sh)"
export LASTMILE_ISO20022_XSD_DIR
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop "$LASTMILE_PG_DIR"' EXIT

cargo nextest run --workspace --no-fail-fast "$@"
