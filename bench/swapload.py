#!/usr/bin/python3
"""bench/swapload.py — the paper's swap workloads, for bench/swap.sh.

usage: swapload.py seq|rand MIB PROCS

PROCS processes share MIB MiB of working set. Each writes a pattern to every
4 KiB page of its part (in order, or in a random order), then reads every
page back in the same kind of order and checks it. Prints the seconds the
slowest process took; exits 1 if any page read back wrong.
"""
import multiprocessing as mp
import sys
import time

import numpy as np

PAGE_WORDS = 512  # int64 per 4 KiB page


def work(args):
    mode, pages, seed = args
    a = np.zeros(pages * PAGE_WORDS, dtype=np.int64)
    rng = np.random.default_rng(seed)
    order = np.arange(pages) if mode == "seq" else rng.permutation(pages)
    t0 = time.monotonic()
    # one page at a time, so that every touch is a fault once swapped
    step = 256
    for i in range(0, pages, step):
        idx = order[i:i + step]
        a[idx * PAGE_WORDS] = idx * 7919 + seed
    order = np.arange(pages) if mode == "seq" else rng.permutation(pages)
    bad = 0
    for i in range(0, pages, step):
        idx = order[i:i + step]
        bad += int(np.count_nonzero(a[idx * PAGE_WORDS] != idx * 7919 + seed))
    return time.monotonic() - t0, bad


def main():
    mode, mib, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pages = mib * 256 // procs
    with mp.Pool(procs) as pool:
        res = pool.map(work, [(mode, pages, s + 1) for s in range(procs)])
    print(f"{max(t for t, _ in res):.3f}")
    sys.exit(1 if any(b for _, b in res) else 0)


if __name__ == "__main__":
    main()
