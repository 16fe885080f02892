#!/usr/bin/python3
"""dtmsoft.py - DTMSOFT: one L1A scene -> a DEM and ortho-rectified L3A.

usage: dtmsoft.py L1A OUTDIR

1. Stereo matching of 3N against 3B (block correlation): for every pixel,
   the along-track shift d in 0..DMAX (DMAX = K_ALONG x ELEV_MAX, the L1A's
   bound of the elevation, as a coarse reference DEM gives it) that
   maximizes the normalized cross-correlation of a 15 x 15 window of 3B with
   3N shifted by d, refined to a fraction of a pixel by a parabola through
   the best score and its neighbours. The last DMAX rows of a scene have no
   3N rows to match in the scene; they take the nearest matched row's
   values (the DEM's metadata item VALID_ROWS says how many rows are
   matched).
2. Parallax -> DEM: h = d / K_ALONG metres, a 3 x 3 median against outliers.
3. Ortho-rectification of every band but 3B with that DEM: the sensor saw
   ground column x at image column c = (x - A h) / (1 - A h / cx) (A =
   A_CROSS, cx the swath's centre column); each band is resampled onto the
   ground grid (bilinear).

Writes its intermediate files (each band calibrated, the correlation
scores in groups of shifts, the parallax, the raw DEM) into
OUTDIR/.work-SCENE/ and deletes them at the end, as the real DTMSOFT does;
keeps 11 L3A files per scene: OUTDIR/SCENE.DEM.tif (float32 metres) and
OUTDIR/SCENE.B{1,2,3N,4..9}.tif and OUTDIR/SCENE.TIR.tif (bands 10-14),
GeoTIFF float32 with the L1A's georeferencing. Prints "bytes IN OUT".
"""
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grid import sample  # noqa: E402
from l0 import BANDS  # noqa: E402

KEEP = ["1", "2", "3N", "4", "5", "6", "7", "8", "9"]
W = 7  # half window
SHIFT_GROUP = 8


def die(msg):
    print("dtmsoft: " + msg, file=sys.stderr)
    sys.exit(1)


def boxmean(a):
    c = np.cumsum(np.cumsum(np.pad(a, ((W + 1, W), (W + 1, W)), mode="edge"), 0), 1)
    n = 2 * W + 1
    return (c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]) / (n * n)


def match(n3, b3, dmax, tmpdir):
    """Per-pixel along-track shift of 3B against 3N (see the docstring)."""
    rows = n3.shape[0]
    mb = boxmean(b3)
    vb = boxmean(b3 * b3) - mb * mb
    best = np.full(n3.shape, -2.0)
    arg = np.zeros(n3.shape, dtype=np.int32)
    scores = []
    for d in range(dmax + 1):
        ns = np.concatenate([n3[d:], np.repeat(n3[-1:], d, 0)], 0) if d else n3
        ms = boxmean(ns)
        vs = boxmean(ns * ns) - ms * ms
        ncc = (boxmean(ns * b3) - ms * mb) / np.sqrt(np.maximum(vs * vb, 1e-12))
        better = ncc > best
        best[better] = ncc[better]
        arg[better] = d
        scores.append(ncc.astype(np.float32))
        if len(scores) == SHIFT_GROUP or d == dmax:  # the score volume, on disk
            np.save(os.path.join(tmpdir, "ncc-%03d.npy" % (d - len(scores) + 1)),
                    np.array(scores))
            scores = []
    # sub-pixel: a parabola through the neighbours' scores (read back)
    # the scores at arg - 1, arg and arg + 1, from the volumes on disk (each
    # read once)
    ks = [np.clip(arg + o, 0, dmax) for o in (-1, 0, 1)]
    lo, mid, hi = (np.empty(n3.shape, dtype=np.float32) for _ in range(3))
    for g in range(0, dmax + 1, SHIFT_GROUP):
        vol = np.load(os.path.join(tmpdir, "ncc-%03d.npy" % g))
        for kk, out in zip(ks, (lo, mid, hi)):
            sel = (kk >= g) & (kk < g + len(vol))
            if sel.any():
                idx = np.clip(kk - g, 0, len(vol) - 1)
                out[sel] = np.take_along_axis(vol, idx[None], 0)[0][sel]
    den = lo - 2 * mid + hi
    with np.errstate(divide="ignore", invalid="ignore"):
        sub = np.where((arg > 0) & (arg < dmax) & (np.abs(den) > 1e-9),
                       0.5 * (lo - hi) / den, 0)
    disp = arg + np.clip(sub, -0.5, 0.5)
    valid = rows - dmax - W
    if valid > 0:
        disp[valid:] = disp[valid - 1]
    return disp.astype(np.float32)


def median3(a):
    p = np.pad(a, 1, mode="edge")
    st = [p[i:i + a.shape[0], j:j + a.shape[1]] for i in range(3) for j in range(3)]
    return np.median(np.array(st), axis=0).astype(np.float32)


def main(argv):
    if len(argv) != 3:
        die("usage: dtmsoft.py L1A OUTDIR")
    from osgeo import gdal
    gdal.UseExceptions()
    src, outdir = argv[1:]
    scene = os.path.basename(src).split(".")[0]
    os.makedirs(outdir, exist_ok=True)
    final = os.path.join(outdir, scene + ".TIR.tif")
    outs = [os.path.join(outdir, "%s.%s.tif" % (scene, n)) for n in ["DEM"] + ["B" + b for b in KEEP]]
    if os.path.exists(final) and all(os.path.exists(p) for p in outs):
        print("bytes 0 %d" % sum(os.path.getsize(p) for p in outs + [final]))
        return 0
    try:
        ds = gdal.Open(src)
    except RuntimeError as e:
        die("%s: %s" % (src, e))
    md = ds.GetMetadata()
    if ds.RasterCount != len(BANDS) or "K_ALONG" not in md:
        die("%s: not an L1A scene (%d bands, metadata %s)" % (src, ds.RasterCount, sorted(md)))
    k, a = float(md["K_ALONG"]), float(md["A_CROSS"])
    gt, proj = ds.GetGeoTransform(), ds.GetProjection()
    tmpdir = os.path.join(outdir, ".work-" + scene)
    shutil.rmtree(tmpdir, ignore_errors=True)
    os.makedirs(tmpdir)
    # every band, calibrated, as an intermediate file (read back when used)
    for i, b in enumerate(BANDS):
        np.save(os.path.join(tmpdir, "B%s.npy" % b), ds.GetRasterBand(i + 1).ReadAsArray())
    ds = None
    n3 = np.load(os.path.join(tmpdir, "B3N.npy")).astype(np.float64)
    b3 = np.load(os.path.join(tmpdir, "B3B.npy")).astype(np.float64)
    dmax = int(np.ceil(k * float(md.get("ELEV_MAX", "1600")))) + 2
    disp = match(n3, b3, dmax, tmpdir)
    np.save(os.path.join(tmpdir, "parallax.npy"), disp)
    dem_raw = disp / np.float32(k)
    np.save(os.path.join(tmpdir, "dem-raw.npy"), dem_raw)
    dem = median3(np.load(os.path.join(tmpdir, "dem-raw.npy")))
    rows, cols = dem.shape
    cx = (cols - 1) / 2.0
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    ah = np.float32(a) * dem
    c = (x - ah) / (1 - ah / np.float32(cx))

    drv = gdal.GetDriverByName("GTiff")

    def write(path, arrays, names):
        tmp = path + ".tmp"
        # 256 x 256 tiles: GDAL then writes in 256 KiB pieces, not a few rows
        # at a time (each write a request on a network file system)
        opts = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"] if cols >= 512 else []
        o = drv.Create(tmp, cols, rows, len(arrays), gdal.GDT_Float32, opts)
        o.SetGeoTransform(gt)
        o.SetProjection(proj)
        o.SetMetadata(md)
        for i, (arr, nm) in enumerate(zip(arrays, names)):
            band = o.GetRasterBand(i + 1)
            band.SetDescription(nm)
            band.WriteArray(arr)
        o.FlushCache()
        o = None
        os.rename(tmp, path)

    md = dict(md, VALID_ROWS=str(max(0, rows - dmax - W)))
    write(outs[0], [dem], ["DEM (m)"])
    for b, path in zip(KEEP, outs[1:]):
        write(path, [sample(np.load(os.path.join(tmpdir, "B%s.npy" % b)), y, c)], ["B" + b])
    tir = [str(t) for t in range(10, 15)]
    write(final, [sample(np.load(os.path.join(tmpdir, "B%s.npy" % t)), y, c) for t in tir],
          ["B" + t for t in tir])
    shutil.rmtree(tmpdir)
    print("bytes %d %d" % (os.path.getsize(src),
                           sum(os.path.getsize(p) for p in outs + [final])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
