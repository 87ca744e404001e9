"""Decode a qr_corpus directory with zxing-cpp; print decode rate and ms per frame.

Used by scripts/bench-qr-decode.sh. Images are loaded before timing starts.
"""
import sys
import time
from pathlib import Path

import zxingcpp
from PIL import Image

corpus = Path(sys.argv[1])
rows = [line.split("\t") for line in (corpus / "manifest.tsv").read_text().splitlines() if line]
frames = [(name, payload, Image.open(corpus / name).convert("L")) for name, payload, *_ in rows]
for _, _, image in frames:
    image.load()

decoded = wrong = 0
per_size = {}
started = time.perf_counter()
for name, payload, image in frames:
    t0 = time.perf_counter()
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    ms = (time.perf_counter() - t0) * 1000
    size = image.size
    count, ok, total = per_size.get(size, (0, 0, 0.0))
    hit = bool(results) and results[0].text == payload
    if results and not hit:
        wrong += 1
        print(f"WRONG {name}: {results[0].text!r}", file=sys.stderr)
    decoded += hit
    per_size[size] = (count + 1, ok + hit, total + ms)
total_ms = (time.perf_counter() - started) * 1000
n = max(len(frames), 1)
print(f"zxing-cpp {zxingcpp.__version__ if hasattr(zxingcpp, '__version__') else ''}: "
      f"decoded {decoded}/{len(frames)} ({100 * decoded / n:.1f} %), wrong {wrong}, {total_ms / n:.2f} ms/frame")
for (w, h), (count, ok, total) in sorted(per_size.items()):
    print(f"  {w}x{h}: decoded {ok}/{count}, {total / count:.2f} ms/frame")
