"""Render an HTML file in headless Chromium (Debian's package) and read the screenshot back.

`render` returns the screenshot's pixels and Chromium's log; `decode_png` reads an 8-bit RGB(A)
PNG with zlib alone (no Pillow), unfiltering rows with numpy where the filter allows.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(html: Path, png: Path, *, width: int = 1280, height: int = 2000, scale: float = 0.5,
           timeout: float = 90) -> tuple[np.ndarray, str, str]:
    """(pixels H×W×C, Chromium's stderr log, the DOM after load)."""
    assert CHROMIUM, "chromium is not installed"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--window-size={width},{height}",
             f"--force-device-scale-factor={scale}", "--enable-logging=stderr", "--v=0"]
    url = html.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        shot = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}", f"--screenshot={png}", url],
                              capture_output=True, text=True, timeout=timeout)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=timeout)
    return decode_png(png.read_bytes()), shot.stderr + dom.stderr, dom.stdout


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    prev = np.zeros(width * bpp, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:
            row = (line + prev) % 256
        else:  # Average / Paeth depend on the pixel to the left: one pixel at a time
            row = np.zeros_like(line)
            up = prev.astype(np.int32)
            for x in range(0, width * bpp, bpp):
                a = row[x - bpp:x] if x else np.zeros(bpp, dtype=np.int32)
                b = up[x:x + bpp]
                if kind == 3:
                    row[x:x + bpp] = (line[x:x + bpp] + (a + b) // 2) % 256
                else:
                    c = up[x - bpp:x] if x else np.zeros(bpp, dtype=np.int32)
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                    row[x:x + bpp] = (line[x:x + bpp] + pred) % 256
        out[y] = row
        prev = out[y]
    return out.reshape(height, width, bpp)
