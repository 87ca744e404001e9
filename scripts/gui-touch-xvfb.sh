#!/usr/bin/env bash
# Real X pointer events against the real binary: the terminal window under
# Xvfb (winit, software renderer) at 800x480 in English, tapped with xdotool
# as a finger on a touch screen would, and judged by what the terminal's
# database says afterwards (`status --json`), never by the window's insides.
#
#   1. one tap on the other operator, then one tap per PIN key and OK: logged
#      in as that operator (a tap that only drew a focus ring would leave the
#      first operator chosen, or a digit short);
#   2. one tap per tile, button and keypad key: a cash float of KES 10,000 open;
#   3. a scanned voucher, then a quick double tap on "Redeem KES 1,250.00":
#      the second tap lands on "Confirm payment" but pays nothing; one more
#      tap, after reading, pays.
#
# The tap positions are the controls' centres as the window lays them out at
# 800x480 in English (what `App::centre_of` in terminal/tests/support/gui.rs
# reports; terminal/tests/terminal/gui_touch.rs taps the same controls by position in
# every language and size).
#
# Usage: scripts/gui-touch-xvfb.sh      Needs: xvfb, xdotool, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${LASTMILE_TERMINAL_BIN:-target/debug/lastmile-terminal}
[[ -x "$bin" ]] || cargo build -p lastmile-terminal --bin lastmile-terminal
work="$(mktemp -d)"
cleanup() {
    [[ -n "${app:-}" ]] && kill "$app" 2>/dev/null || true
    [[ -n "${xvfb:-}" ]] && kill "$xvfb" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 800x480x24 -nolisten tcp &
xvfb=$!
sleep 0.5
DISPLAY="$display" SLINT_BACKEND=winit-software "$bin" \
    --data-dir "$work/terminal" gui --demo --size 800x480 --quit-after-ms 120000 2>"$work/stderr" &
app=$!
window=""
for _ in $(seq 100); do
    window="$(DISPLAY="$display" xdotool search --name '^Lastmile$' 2>/dev/null | head -1 || true)"
    [[ -n "$window" ]] && break
    sleep 0.1
done
[[ -n "$window" ]] || { cat "$work/stderr"; echo "the window did not appear" >&2; exit 1; }
sleep 1
good="$(sed -n 's/^  good voucher: *//p' "$work/stderr")"
[[ -n "$good" ]] || { cat "$work/stderr"; echo "no demo voucher printed" >&2; exit 1; }

# One finger tap at (x, y), then time for the frame that follows.
tap() {
    DISPLAY="$display" xdotool mousemove --window "$window" "$1" "$2" click 1
    sleep 0.5
}
# A value from the terminal's own status, read from its database.
status() {
    env -u DISPLAY "$bin" --data-dir "$work/terminal" --json status |
        python3 -c "import json, sys; s = json.load(sys.stdin); print($1)"
}
failures=0
check() {
    if [[ "$2" == "$3" ]]; then
        echo "PASS $1"
    else
        echo "FAIL $1: expected $3, got $2"
        failures=$((failures + 1))
    fi
}

# 1. Operator chooser and PIN pad (Daniel Kiprop, PIN 5678).
tap 291 201
tap 588 184
tap 719 184
tap 457 296
tap 588 296
tap 719 408
check "one tap chose the operator, one tap per key logged in" \
    "$(status "(s['operator'] or {}).get('operator')")" "op-2"

# 2. Cash payout tile, "Open float", 1 0 0 0 0 on its keypad, "Open float".
tap 663 162
tap 700 90
tap 507 110
for _ in 1 2 3 4; do tap 622 422; done
tap 224 442
check "one tap per tile, button and key opened a float of 10,000.00" \
    "$(status "(s['cash_session'] or {}).get('float', {}).get('minor')")" "1000000"

# 3. Back home, scan voucher (typed in one burst, as a keyboard-wedge
#    scanner does), double tap on Redeem.
tap 52 26
tap 136 162
DISPLAY="$display" xdotool windowfocus "$window" 2>/dev/null || true
DISPLAY="$display" xdotool type --delay 5 "$good"
DISPLAY="$display" xdotool key Return
sleep 1
before="$(status "s['pending_count']")"
DISPLAY="$display" xdotool mousemove --window "$window" 597 442 click --repeat 2 --delay 120 1
sleep 1.5
check "a double tap on Redeem paid nothing" "$(status "s['pending_count']")" "$before"
tap 530 442
sleep 0.5
check "one tap on Confirm payment, after reading, paid" \
    "$(status "s['pending_count']")" "$((before + 1))"

if [[ $failures -gt 0 ]]; then
    echo "--- terminal's stderr"; cat "$work/stderr"
    exit 1
fi
echo "all taps acted once, on real X pointer events"
