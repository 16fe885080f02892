#!/usr/bin/python3
"""gen_day.py - one synthetic ASTER "day" of L0 raw data, with its truth.

usage: gen_day.py [--scale tiny|demo|large] [--seed N] OUTDIR

Writes OUTDIR/l0/setK/ (K = 1..3: three 8-hour sets) with the L0 files of
each set's observations (15 bands each: VNIR 1, 2, 3N, 3B; SWIR 4-9; TIR
10-14; aster/l0.py documents the format), OUTDIR/l0/set1/OSF.txt (the
observation schedule file, for the whole day), and OUTDIR/truth/OBS.npy:
each observation's true elevation (metres, float32, VNIR grid) against
which DTMSOFT's DEM is judged.

The ground is a fractal terrain (spectral synthesis, 1/f^2.6) with a
surface reflectance of its own (cover texture times hill shading). Each
band sees that reflectance with its own spectral mix and noise; 3N looks
straight down, 3B backwards, so that a ground point of elevation h appears
K_ALONG * h rows further along the track in 3B than in 3N (the stereo
pair); every band also carries a cross-track relief displacement of up to
A_CROSS * h columns at the swath edges. SWIR and TIR are block means at 2x
and 6x coarser grids. DN = (radiance - OFFSET) / GAIN, with per-band
coefficients in the header.

Scales: tiny (tests: 6 observations of 2 scenes of 96 x 96, 1.3 MB of L0),
demo (6 x 3 scenes of 768 x 768, about 120 MB of L0, 640 MB of L1A), large
(6 x 16 scenes of 2048 x 2048, about 4 GB of L0). Deterministic for a given
seed.
"""
import argparse
import datetime
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import l0  # noqa: E402
from grid import sample  # noqa: E402

SCALES = {  # cols (= scene rows), scenes per observation, relief (m)
    "tiny": (96, 2, 250.0),
    "demo": (768, 3, 1000.0),
    "large": (2048, 16, 1500.0),
}
PIXEL_M = 15.0
K_ALONG = 0.04     # 3B parallax, pixels per metre (B/H 0.6 at 15 m)
A_CROSS = 0.004    # cross-track displacement at the edge, pixels per metre
OBS_PER_SET = 2


def fractal(rng, rows, cols, beta):
    """A 1/f^beta random field, scaled to [0, 1]."""
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.rfftfreq(cols)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = (rng.standard_normal((rows, cols // 2 + 1))
            + 1j * rng.standard_normal((rows, cols // 2 + 1))) / f ** (beta / 2.0)
    spec[0, 0] = 0
    z = np.fft.irfft2(spec, s=(rows, cols))
    z -= z.min()
    return (z / z.max()).astype(np.float32)


def block_mean(img, k):
    rows, cols = img.shape[0] // k * k, img.shape[1] // k * k
    return img[:rows, :cols].reshape(rows // k, k, cols // k, k).mean(axis=(1, 3))


def coefficients(band):
    """(gain, offset) of a band: distinct per band, as real sensors have."""
    i = l0.BANDS.index(band)
    return 0.0004 + 0.00005 * i, -0.5 + 0.07 * i


def observation(rng, obs, start, cols, scenes, hmax, setdir, truthdir):
    rows = cols * scenes
    margin = int(hmax * K_ALONG) + 4
    grows = rows + margin          # ground rows: 3B looks beyond the strip
    elev = fractal(rng, grows, cols, 2.6) * hmax
    cover = fractal(rng, grows, cols, 1.3)
    gy, gx = np.gradient(elev / PIXEL_M)
    shade = np.clip(0.7 + 0.3 * (-gx - gy) / np.sqrt(1 + gx * gx + gy * gy), 0.2, 1.0)
    base = (0.15 + 0.6 * cover) * shade   # reflectance, 0..1
    # vegetation: bright in the near infrared (3N/3B), dark in the red (2),
    # so that false-colour browse images show it red, as ASTER's do
    veg = np.clip(fractal(rng, grows, cols, 2.0) * 2.2 - 0.9, 0, 1)
    np.save(os.path.join(truthdir, obs + ".npy"), elev[:rows].astype(np.float32))

    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cx = (cols - 1) / 2.0
    h = elev[:rows]
    xcross = c - A_CROSS * h * (c - cx) / cx   # where each image column looks
    meta = {"OBS": obs, "PIXEL_M": "%g" % PIXEL_M, "A_CROSS": "%g" % A_CROSS,
            "START": start.isoformat() + "Z"}
    for band in l0.BANDS:
        i = l0.BANDS.index("3N" if band == "3B" else band)  # 3B: 3N's band, backwards
        mix = 0.6 + 0.4 * np.sin(i * 1.7) * cover + 0.05 * i
        mix = mix * {"1": 1 - 0.3 * veg, "2": 1 - 0.6 * veg, "3N": 0.7 + 1.2 * veg}.get(
            "3N" if band == "3B" else band, 1 - 0.2 * veg)
        refl = base * mix
        if band == "3B":
            # the backward view: image row r sees ground row r + K h, and
            # that ground point's cross-track displacement
            yb = r + K_ALONG * h
            hg = sample(elev, yb, c)
            img = sample(refl, yb, c - A_CROSS * hg * (c - cx) / cx)
        elif band in ("1", "2", "3N"):
            img = sample(refl, r, xcross)
        else:
            img = block_mean(sample(refl, r, xcross), l0.band_scale(band))
        rad = img * 100.0 + rng.normal(0, 0.2, img.shape).astype(np.float32)
        gain, offset = coefficients(band)
        dn = np.clip(np.rint((rad - offset) / gain), 0, 65535).astype(np.uint16)
        m = dict(meta, BAND=band, GAIN="%.8g" % gain, OFFSET="%.8g" % offset)
        if band == "3B":
            m["K_ALONG"] = "%g" % K_ALONG
            # a coarse bound of the ground's elevation, as a reference DEM
            # gives real processing: DTMSOFT's search range
            m["ELEV_MAX"] = "%g" % (hmax * 1.2)
        l0.write(os.path.join(setdir, "%s_B%s.L0" % (obs, band)), m, dn)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="tiny")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("outdir")
    a = ap.parse_args()
    if a.seed < 0:
        ap.error("--seed %d: a seed is 0 or more" % a.seed)
    cols, scenes, hmax = SCALES[a.scale]
    rng = np.random.default_rng(a.seed)
    truthdir = os.path.join(a.outdir, "truth")
    os.makedirs(truthdir, exist_ok=True)
    day = datetime.datetime(2007, 2, 27)
    osf = ["# OSF: observation schedule, one synthetic day (gen_day.py --scale %s --seed %d)"
           % (a.scale, a.seed)]
    lat0, lon0 = 35.0, 139.0
    for s in range(3):
        setdir = os.path.join(a.outdir, "l0", "set%d" % (s + 1))
        os.makedirs(setdir, exist_ok=True)
        for k in range(OBS_PER_SET):
            n = s * OBS_PER_SET + k
            start = day + datetime.timedelta(hours=8 * s, minutes=47 * k + 5)
            obs = "AST%s%02d" % (start.strftime("%Y%m%d%H%M"), n)
            rows = observation(rng, obs, start, cols, scenes, hmax, setdir, truthdir)
            ul = (lat0 - 3 * n, lon0 + 2 * n)
            lr = (ul[0] - rows * PIXEL_M / 111000.0, ul[1] + cols * PIXEL_M / 91000.0)
            osf.append("OBS %s SET %d START %sZ ROWS %d COLS %d SCENES %d UL %.6f,%.6f "
                       "LR %.6f,%.6f" % (obs, s + 1, start.isoformat(), rows, cols, scenes,
                                         ul[0], ul[1], lr[0], lr[1]))
            print("%s: set %d, %d x %d, %d scenes" % (obs, s + 1, rows, cols, scenes),
                  flush=True)
    with open(os.path.join(a.outdir, "l0", "set1", "OSF.txt"), "w") as f:
        f.write("\n".join(osf) + "\n")


if __name__ == "__main__":
    main()
