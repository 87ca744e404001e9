#!/usr/bin/env bash
# Pictures of the terminal's touch interface, for docs/screenshots/.
#
# 1. Every main screen in en, fr, sw and ar at 800x480, some at 1280x800 and in
#    the high-contrast theme: the real window over a demo terminal, rendered by
#    Slint's software renderer (tests/terminal/gui_screenshots.rs).
# 2. The real binary under Xvfb (winit + software renderer), driven with
#    xdotool: the login screen, then a PIN typed on the keyboard, then the home
#    screen. This proves the X11 path, keyboard operation and the start-up.
#
# Usage: scripts/gui-screenshots.sh [OUT_DIR]   (default docs/screenshots)
# Needs: xvfb, xdotool, imagemagick (import).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-docs/screenshots}")"
mkdir -p "$out"

LASTMILE_SCREENSHOTS="$out" cargo test -p lastmile-terminal --test terminal gui_screenshots:: -- --ignored --test-threads=1

cargo build --workspace --release --bin lastmile-terminal
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
DISPLAY="$display" SLINT_BACKEND=winit-software ./target/release/lastmile-terminal \
    --data-dir "$work/terminal" gui --demo --size 800x480 --quit-after-ms 20000 2>"$work/stderr" &
app=$!
window=""
for _ in $(seq 50); do
    window="$(DISPLAY="$display" xdotool search --name '^Lastmile$' 2>/dev/null | head -1 || true)"
    [[ -n "$window" ]] && break
    sleep 0.1
done
[[ -n "$window" ]] || { cat "$work/stderr"; echo "the window did not appear" >&2; exit 1; }
sleep 0.5
DISPLAY="$display" import -window "$window" "$out/xvfb-800x480-en-login.png"
# Touch: tap "1" on the keypad (which also gives the window keyboard focus
# on an X server without a window manager); keyboard: type the rest and Enter.
DISPLAY="$display" xdotool mousemove --window "$window" 457 72 click 1
DISPLAY="$display" xdotool windowfocus "$window" 2>/dev/null || true
sleep 0.3
DISPLAY="$display" xdotool type --delay 150 234 2>/dev/null
DISPLAY="$display" xdotool key Return 2>/dev/null
sleep 0.8
DISPLAY="$display" import -window "$window" "$out/xvfb-800x480-en-home.png"
echo "pictures in $out"
