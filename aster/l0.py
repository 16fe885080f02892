"""l0.py - the synthetic ASTER L0 format, read and written (aster/README.md).

An L0 file is one band of one observation:

    a 512-byte header: ASCII "KEY=VALUE" lines, then "END", padded with
    newlines to 512 bytes;
    then ROWS x COLS little-endian uint16 digital numbers (DN), row-major;
    rows run along the track, columns across it.

Header keys (all required):
    MAGIC    ASTERL0SIM1
    OBS      observation id (also the OSF's)
    BAND     1, 2, 3N, 3B (VNIR, 15 m), 4..9 (SWIR, 30 m), 10..14 (TIR, 90 m)
    ROWS, COLS
    GAIN, OFFSET   radiometric coefficients: radiance = GAIN * DN + OFFSET
    PIXEL_M  ground sample distance in metres
    K_ALONG  3B only: along-track parallax in pixels per metre of elevation
    ELEV_MAX 3B only: a bound of the ground's elevation (metres), as a coarse
             reference DEM gives: DTMSOFT's search range
    A_CROSS  cross-track relief displacement, pixels per metre at the swath
             edge (every band; DTMSOFT's ortho-rectification removes it)
    START    the observation's start time (ISO 8601, UTC)
    CRC32    of the data bytes (zlib.crc32): a damaged file is told apart
             from a good one

The observation schedule file (OSF) is text, one line per observation:
    OBS id SET n START iso ROWS r COLS c SCENES s UL lat,lon LR lat,lon
"""
import zlib

import numpy as np

MAGIC = "ASTERL0SIM1"
HEADER = 512
VNIR = ["1", "2", "3N", "3B"]
SWIR = [str(b) for b in range(4, 10)]
TIR = [str(b) for b in range(10, 15)]
BANDS = VNIR + SWIR + TIR


class L0Error(Exception):
    """A file that is not a whole, intact L0 file."""


def band_scale(band):
    """How many VNIR pixels one pixel of band spans, per axis."""
    if band in VNIR:
        return 1
    if band in SWIR:
        return 2
    return 6


def write(path, meta, dn):
    """Write dn (uint16 array) with header keys meta to path."""
    data = np.ascontiguousarray(dn, dtype="<u2").tobytes()
    keys = dict(meta)
    keys["MAGIC"] = MAGIC
    keys["ROWS"], keys["COLS"] = dn.shape
    keys["CRC32"] = "%08x" % zlib.crc32(data)
    text = "".join("%s=%s\n" % (k, v) for k, v in keys.items()) + "END\n"
    if len(text) > HEADER:
        raise ValueError("header too long")
    with open(path, "wb") as f:
        f.write(text.encode().ljust(HEADER, b"\n"))
        f.write(data)


def read_header(f, path):
    raw = f.read(HEADER)
    if len(raw) < HEADER:
        raise L0Error("%s: shorter than its header" % path)
    text = raw.decode("ascii", "replace")
    if "END\n" not in text:
        raise L0Error("%s: no header end" % path)
    meta = {}
    for line in text.split("END\n", 1)[0].splitlines():
        k, sep, v = line.partition("=")
        if not sep:
            raise L0Error("%s: bad header line %r" % (path, line))
        meta[k] = v
    if meta.get("MAGIC") != MAGIC:
        raise L0Error("%s: not an L0 file (magic %r)" % (path, meta.get("MAGIC")))
    for k in ("OBS", "BAND", "ROWS", "COLS", "GAIN", "OFFSET", "PIXEL_M", "CRC32"):
        if k not in meta:
            raise L0Error("%s: header lacks %s" % (path, k))
    return meta


def read(path):
    """(meta, dn) of an L0 file; L0Error for a truncated or damaged one."""
    with open(path, "rb") as f:
        meta = read_header(f, path)
        rows, cols = int(meta["ROWS"]), int(meta["COLS"])
        data = f.read(rows * cols * 2 + 1)
    if len(data) != rows * cols * 2:
        raise L0Error("%s: %d data bytes, the header says %d x %d x 2 = %d (truncated?)"
                      % (path, len(data), rows, cols, rows * cols * 2))
    if "%08x" % zlib.crc32(data) != meta["CRC32"]:
        raise L0Error("%s: data fails its CRC32 (damaged)" % path)
    return meta, np.frombuffer(data, dtype="<u2").reshape(rows, cols)


def radiance(meta, dn):
    """Apply the radiometric coefficients: float32 radiance."""
    return (dn.astype(np.float32) * np.float32(meta["GAIN"])
            + np.float32(meta["OFFSET"]))


def parse_osf(path):
    """{obs id: dict} of an OSF file."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if len(w) % 2 or w[0] != "OBS":
                raise L0Error("%s:%d: not an OSF line" % (path, n))
            d = dict(zip(w[0::2], w[1::2]))
            out[d["OBS"]] = d
    return out
