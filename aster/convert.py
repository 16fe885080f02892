#!/usr/bin/python3
"""convert.py - CONVERT: browse images of a scene, and the day's index page.

usage: convert.py scene L3ADIR SCENE OUTDIR
       convert.py index WORKDIR TITLE

scene: reads SCENE's ortho-rectified bands 3N, 2 and 1 (L3ADIR/SCENE.B*.tif)
and writes a false-colour browse image (3N as red, 2 as green, 1 as blue:
vegetation shows red, as ASTER browse images do), each channel stretched
linearly between its 2nd and 98th percentile, as OUTDIR/SCENE.png and
OUTDIR/SCENE.jpg (quality 90), and OUTDIR/SCENE.txt: the scene's
metadata and DEM statistics for the index.

index: writes WORKDIR/index.html (temporary name, then renamed), a page
showing every scene's browse image (PNG) linked to its JPEG, with its
observation, start time and elevation range, grouped by observation.
"""
import glob
import html
import os
import sys

import numpy as np


def die(msg):
    print("convert: " + msg, file=sys.stderr)
    sys.exit(1)


def stretch(a):
    lo, hi = np.percentile(a, [2, 98])
    if hi <= lo:
        hi = lo + 1
    return (np.clip((a - lo) / (hi - lo), 0, 1) * 255 + 0.5).astype(np.uint8)


def scene(l3a, name, outdir):
    from osgeo import gdal
    from PIL import Image
    gdal.UseExceptions()
    os.makedirs(outdir, exist_ok=True)
    outs = [os.path.join(outdir, name + e) for e in (".png", ".jpg", ".txt")]
    if all(os.path.exists(p) for p in outs):
        print("bytes 0 %d" % sum(os.path.getsize(p) for p in outs))
        return 0
    chans, nin = [], 0
    for b in ("3N", "2", "1"):
        p = os.path.join(l3a, "%s.B%s.tif" % (name, b))
        try:
            ds = gdal.Open(p)
        except RuntimeError as e:
            die("%s: %s" % (p, e))
        chans.append(stretch(ds.GetRasterBand(1).ReadAsArray()))
        nin += os.path.getsize(p)
    demp = os.path.join(l3a, name + ".DEM.tif")
    try:
        dds = gdal.Open(demp)
    except RuntimeError as e:
        die("%s: %s" % (demp, e))
    dem = dds.GetRasterBand(1).ReadAsArray()
    md = dds.GetMetadata()
    img = Image.fromarray(np.dstack(chans), "RGB")
    for p, kw in ((outs[0], {}), (outs[1], {"quality": 90})):
        img.save(p + ".tmp", format="PNG" if p.endswith(".png") else "JPEG", **kw)
        os.rename(p + ".tmp", p)
    with open(outs[2] + ".tmp", "w") as f:
        f.write("OBS=%s\nSCENE=%s\nSTART=%s\nELEV_MIN=%.0f\nELEV_MAX=%.0f\nSIZE=%dx%d\n"
                % (md.get("OBS", "?"), md.get("SCENE", "?"), md.get("START", "?"),
                   float(dem.min()), float(dem.max()), img.width, img.height))
    os.rename(outs[2] + ".tmp", outs[2])
    print("bytes %d %d" % (nin + os.path.getsize(demp), sum(os.path.getsize(p) for p in outs)))
    return 0


def index(work, title):
    rows = []
    for txt in sorted(glob.glob(os.path.join(work, "obs", "*", "browse", "*.txt"))):
        with open(txt) as f:
            d = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
        rel = os.path.relpath(txt, work)[:-4]
        rows.append((d.get("OBS", "?"), d, rel))
    if not rows:
        die("%s: no browse images to index" % work)
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
           "<title>%s</title>" % html.escape(title),
           "<style>body{font-family:sans-serif;background:#111;color:#ddd}"
           "figure{display:inline-block;margin:6px}img{width:192px;border:1px solid #444}"
           "h2{font-size:15px;margin:14px 0 2px}</style></head><body>",
           "<h1>%s</h1>" % html.escape(title),
           "<p>%d scenes; false colour: 3N red, 2 green, 1 blue. Click for the JPEG.</p>"
           % len(rows)]
    last = None
    for obs, d, rel in rows:
        if obs != last:
            out.append("<h2>%s &mdash; %s</h2>" % (html.escape(obs), html.escape(d.get("START", ""))))
            last = obs
        out.append("<figure><a href='%s.jpg'><img src='%s.png' alt='%s scene %s'></a>"
                   "<figcaption>scene %s, %s&ndash;%s m</figcaption></figure>"
                   % (html.escape(rel), html.escape(rel), html.escape(obs),
                      html.escape(d.get("SCENE", "")), html.escape(d.get("SCENE", "")),
                      html.escape(d.get("ELEV_MIN", "")), html.escape(d.get("ELEV_MAX", ""))))
    out.append("</body></html>")
    p = os.path.join(work, "index.html")
    with open(p + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    os.rename(p + ".tmp", p)
    print("bytes 0 %d" % os.path.getsize(p))
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "scene":
        return scene(argv[2], argv[3], argv[4])
    if len(argv) == 4 and argv[1] == "index":
        return index(argv[2], argv[3])
    die("usage: convert.py scene L3ADIR SCENE OUTDIR | convert.py index WORKDIR TITLE")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
