"""Headless Chromium for tests: find or install it, screenshot a page, dump its DOM, read PNGs.

Chromium is Debian's ``chromium`` package at ``/usr/bin/chromium``, installed by
``scripts/install-chromium.sh`` (which ``make test`` runs). Tests call
``require_chromium()``: it runs the script once when the binary is missing and skips the
test, with the script's reason, only when installation is impossible.

PNGs are decoded here with ``zlib`` and numpy (both already present), so the suite needs
no imaging library; Pillow is used instead when it happens to be installed.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("OKX_JOURNAL_CHROMIUM", "/usr/bin/chromium"))
INSTALL_SCRIPT = REPO / "scripts" / "install-chromium.sh"

_install_failure: str | None = None


def require_chromium() -> Path:
    """The Chromium binary; installs it once if missing, else skips the calling test."""
    global _install_failure
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if _install_failure is None:
        try:
            done = subprocess.run(
                ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600
            )
            reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        _install_failure = "" if CHROMIUM.is_file() else reason
    if CHROMIUM.is_file():
        return CHROMIUM
    pytest.skip(f"headless Chromium unavailable ({CHROMIUM}): {_install_failure}")


def _base_args(user_data_dir: Path) -> list[str]:
    return [
        str(require_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
    ]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 2000, timeout: float = 40) -> Path:
    """Render ``page`` (a local file) and write a PNG of the window."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = _run(
            [*_base_args(Path(profile)), f"--screenshot={png}", f"--window-size={width},{height}",
             page.resolve().as_uri()],
            timeout,
        )
    if not png.is_file():
        raise AssertionError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    return png


def dump_dom(page: Path, *, timeout: float = 40) -> str:
    """The DOM after Chromium parsed and laid out ``page``, serialised."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = _run([*_base_args(Path(profile)), "--dump-dom", page.resolve().as_uri()], timeout)
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"chromium --dump-dom failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rgb: np.ndarray  # shape (height, width, 3), uint8

    def count_colour(self, hex_colour: str, tolerance: int = 24) -> int:
        """Pixels within ``tolerance`` (per channel) of ``#rrggbb``."""
        target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
        diff = np.abs(self.rgb.astype(np.int16) - target)
        return int(np.count_nonzero(np.all(diff <= tolerance, axis=2)))

    def distinct_colours(self) -> int:
        flat = self.rgb.reshape(-1, 3).astype(np.uint32)
        return int(np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]).size)

    def non_background(self, background: tuple[int, int, int] = (255, 255, 255)) -> int:
        return int(np.count_nonzero(np.any(self.rgb != np.array(background, dtype=np.uint8), axis=2)))


def read_png(path: Path) -> Image:
    """Decode an 8-bit RGB/RGBA/grey PNG (what Chromium writes) to RGB."""
    try:
        from PIL import Image as PILImage  # optional
    except ImportError:
        return _decode_png(path.read_bytes())
    with PILImage.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return Image(rgb.shape[1], rgb.shape[0], rgb)


def _decode_png(data: bytes) -> Image:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat = 8, bytearray()
    width = height = bit_depth = colour_type = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, bit_depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if bit_depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: depth {bit_depth}, colour type {colour_type}, interlace {interlace}")
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        filt, line = int(rows[y, 0]), rows[y, 1:]
        if filt == 0:
            cur = line.copy()
        elif filt == 1:  # Sub: running sum per channel, modulo 256
            cur = np.cumsum(line.reshape(width, channels), axis=0, dtype=np.uint8).reshape(stride)
        elif filt == 2:  # Up
            cur = line + prev
        else:  # Average, Paeth: sequential along the row
            cur = _unfilter_slow(filt, line, prev, channels)
        out[y] = cur
        prev = cur
    pixels = out.reshape(height, width, channels)
    if channels == 1 or channels == 2:
        rgb = np.repeat(pixels[:, :, :1], 3, axis=2)
    else:
        rgb = pixels[:, :, :3]
    return Image(width, height, np.ascontiguousarray(rgb))


def _unfilter_slow(kind: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    cur = bytearray(line.tobytes())
    up = prev.tobytes()
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 0xFF
        elif kind == 4:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            cur[i] = (cur[i] + pred) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {kind}")
    return np.frombuffer(bytes(cur), dtype=np.uint8)


