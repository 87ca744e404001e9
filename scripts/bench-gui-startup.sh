#!/usr/bin/env bash
# Cold start to first frame, and resident memory, of the terminal GUI
# (release build, software renderer, under Xvfb). Goal: ≤ 1 s and ≤ 80 MB.
#
#   scripts/bench-gui-startup.sh [RUNS]     # default 5 runs at 800x480 and 1280x800
#
# The terminal is a demo terminal set up headless first (`demo --headless`),
# so the GUI opens on a real enrolled store. Measured, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
command -v Xvfb >/dev/null || scripts/install-deps.sh
cargo build --release -p lastmile-terminal >&2
bin=$PWD/target/release/lastmile-terminal
work=$(mktemp -d /tmp/lastmile-gui-bench.XXXXXX)
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
(cd "$work" && env -u DISPLAY "$bin" demo --headless --listen 127.0.0.1:0 </dev/null >/dev/null 2>&1)
terminal_dir=$work/lastmile-demo/terminal

for size in 800x480 1280x800; do
  for run in $(seq "$runs"); do
    log=$work/run.log
    DISPLAY=$display LASTMILE_GUI_REPORT_STARTUP=1 \
      "$bin" --data-dir "$terminal_dir" gui --size "$size" --quit-after-ms 4000 2>"$log" &
    pid=$!
    sleep 3
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")
    wait "$pid" || true
    first=$(sed -n 's/^gui: first frame after \([0-9]*\) ms.*/\1/p' "$log")
    echo "$size run $run: first frame ${first:-?} ms after start; resident ${rss} kB after 3 s"
  done
done
