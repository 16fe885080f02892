"""grid.py - resampling on the pipeline's image grids (gen_day, dtmsoft)."""
import numpy as np


def sample(img, y, x):
    """img at fractional (y, x) (arrays of one shape), bilinear, clamped to
    the edges; float32."""
    rows, cols = img.shape
    y = np.clip(y, 0, rows - 1.001)
    x = np.clip(x, 0, cols - 1.001)
    y0 = np.floor(y).astype(np.int64)
    x0 = np.floor(x).astype(np.int64)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    a = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    b = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return (a * (1 - fy) + b * fy).astype(np.float32)
