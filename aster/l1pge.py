#!/usr/bin/python3
"""l1pge.py - L1PGE: an observation's L0 files and the OSF -> L1A scenes.

usage: l1pge.py OSF L0DIR OUTDIR

Reads the 15 L0 files of one observation (L0DIR/OBS_Bxx.L0; OBS is taken
from the files, which must all be of one observation) and the observation's
line of the OSF; checks each file (header, size, CRC32: a truncated or
damaged file is an error naming it), applies the radiometric coefficients
(radiance = GAIN * DN + OFFSET) and cuts the strip into the OSF's SCENES
square scenes along the track. Each scene is one L1A file,
OUTDIR/OBS_Snn.L1A.tif:

  GeoTIFF (GDAL), 15 float32 bands of radiance on the 15 m VNIR grid, in
  the order 1, 2, 3N, 3B, 4..14 (band descriptions say which); SWIR and
  TIR are repeated onto that grid (nearest neighbour), so that one file
  holds the scene; tiled 256 x 256 (scenes of 512 columns or more),
  uncompressed. Georeferenced in
  EPSG:4326 from the OSF's corner coordinates. Metadata items: OBS, SCENE,
  START, PIXEL_M, K_ALONG, A_CROSS, ELEV_MAX (what DTMSOFT needs).

Why GeoTIFF: it is what the field's tools open first (GDAL, QGIS, every
GIS), it carries its georeferencing in the file, and GDAL writes it
without further libraries. (Real ASTER L1A is HDF-EOS, with each subsystem
at its own resolution; one grid per file is the price of GeoTIFF.)

Writes each scene under a temporary name and renames it; prints
"bytes IN OUT" on success. Exit 1 with a one-line reason on bad input.
"""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import l0  # noqa: E402


def die(msg):
    print("l1pge: " + msg, file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) != 4:
        die("usage: l1pge.py OSF L0DIR OUTDIR")
    from osgeo import gdal, osr
    gdal.UseExceptions()
    osf_path, l0dir, outdir = argv[1:]
    files = sorted(f for f in os.listdir(l0dir) if re.match(r"^\w+_B\w+\.L0$", f))
    obs_ids = {f.split("_B")[0] for f in files}
    if len(obs_ids) != 1:
        die("%s: expected the L0 files of one observation, found %s" % (l0dir, sorted(obs_ids)))
    obs = obs_ids.pop()
    try:
        sched = l0.parse_osf(osf_path)
    except (OSError, l0.L0Error) as e:
        die("the OSF: %s" % e)
    if obs not in sched:
        die("%s: no entry in the OSF %s" % (obs, osf_path))
    s = sched[obs]
    rows, cols, nscenes = int(s["ROWS"]), int(s["COLS"]), int(s["SCENES"])
    bytes_in = 0
    bands = {}
    meta3b = None
    for b in l0.BANDS:
        path = os.path.join(l0dir, "%s_B%s.L0" % (obs, b))
        if not os.path.exists(path):
            die("%s: band %s is missing (%s)" % (obs, b, path))
        try:
            m, dn = l0.read(path)
        except (OSError, l0.L0Error) as e:
            die(str(e))
        k = l0.band_scale(b)
        if m["OBS"] != obs or m["BAND"] != b or dn.shape != (rows // k, cols // k):
            die("%s: header says observation %s band %s, %d x %d; the OSF says %d x %d"
                % (path, m["OBS"], m["BAND"], dn.shape[0], dn.shape[1], rows // k, cols // k))
        bytes_in += os.path.getsize(path)
        bands[b] = l0.radiance(m, dn)
        if b == "3B":
            meta3b = m
    ul = [float(v) for v in s["UL"].split(",")]
    lr = [float(v) for v in s["LR"].split(",")]
    dlat, dlon = (lr[0] - ul[0]) / rows, (lr[1] - ul[1]) / cols
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    drv = gdal.GetDriverByName("GTiff")
    os.makedirs(outdir, exist_ok=True)
    bytes_out = 0
    srows = rows // nscenes
    for j in range(nscenes):
        out = os.path.join(outdir, "%s_S%02d.L1A.tif" % (obs, j))
        if os.path.exists(out):
            bytes_out += os.path.getsize(out)
            continue
        tmp = out + ".tmp"
        opts = ["INTERLEAVE=BAND"]
        if cols >= 512:
            opts += ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
        ds = drv.Create(tmp, cols, srows, len(l0.BANDS), gdal.GDT_Float32, opts)
        ds.SetGeoTransform((ul[1], dlon, 0.0, ul[0] + j * srows * dlat, 0.0, dlat))
        ds.SetProjection(srs.ExportToWkt())
        ds.SetMetadata({"OBS": obs, "SCENE": str(j), "START": s["START"],
                        "PIXEL_M": meta3b["PIXEL_M"], "K_ALONG": meta3b["K_ALONG"],
                        "A_CROSS": meta3b["A_CROSS"],
                        "ELEV_MAX": meta3b.get("ELEV_MAX", "1600")})
        for i, b in enumerate(l0.BANDS):
            k = l0.band_scale(b)
            img = bands[b]
            if k > 1:  # onto the VNIR grid; a strip not a multiple of k: edge
                img = np.repeat(np.repeat(img, k, axis=0), k, axis=1)
                img = np.pad(img, ((0, max(0, rows - img.shape[0])),
                                   (0, max(0, cols - img.shape[1]))), mode="edge")
            band = ds.GetRasterBand(i + 1)
            band.SetDescription("B" + b)
            band.WriteArray(img[j * srows:(j + 1) * srows, :cols])
        ds.FlushCache()
        ds = None
        os.rename(tmp, out)
        bytes_out += os.path.getsize(out)
    print("bytes %d %d" % (bytes_in + os.path.getsize(osf_path), bytes_out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
