#!/usr/bin/env bash
# Installs the Debian packages Lastmile needs to build and test, only when
# something is missing (a fresh Debian 12 machine with Rust has none of them).
set -euo pipefail

packages=(
  pkg-config libclang-dev libudev-dev libfontconfig1-dev   # build: nokhwa, serialport, slint
  socat                                                    # tests: serial pseudo-terminals
  postgresql                                               # tests: throwaway PostgreSQL server
  xvfb xauth xdotool imagemagick x11-apps                  # tests and screenshots: GUI under Xvfb
  chromium chromium-driver                                 # tests and screenshots: HQ console
  fonts-dejavu-core                                        # receipts and GUI text
  python3-cbor2 python3-cryptography                       # scripts/claim169-fixtures.py (independent ID-card encoder)
  libxml2-utils                                            # tests: xmllint validates payment files against ISO 20022 XSDs
  python3-pip                                              # scripts/iso20022-schemas.sh (the XSDs come from PyPI)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
