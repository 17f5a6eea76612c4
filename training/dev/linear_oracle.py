"""How far can any *linear* filter along the slice axis go on an evaluation volume?

For each drop-k case, fit least-squares weights over the 2, 4, 6 or 8 nearest kept slices
(one weight set per fractional position t, fitted on the rebuilt slices of the very volume being
scored -- an oracle no real method has) and score the fit with the protocol's PSNR. If the best
8-tap oracle is no better than the natural cubic spline, no z-only filter can beat cubic there,
and any gain has to come from in-plane structure (what the model adds).

  /usr/bin/python3 -m training.dev.linear_oracle [--case ch2:2,4] [--case siemens:2,4[:thick]]
"""
import argparse
import numpy as np
from training.data import keep_slices
from training.dev.cases import VOLS, parse_case
from training.evaluate import evaluate, rebuilt_indices
from training.volumes import load_volume


def oracle_psnr(vol, kept, k, taps):
    n = vol.shape[0]; m = kept.shape[0]; h = taps // 2
    R = float(np.percentile(vol, 99.9))
    se = 0.0; cnt = 0
    by_t = {}
    for i in rebuilt_indices(n, k):
        a = i // k
        by_t.setdefault(i - a * k, []).append((i, a))
    for _, rows in sorted(by_t.items()):
        X = np.concatenate([np.stack([kept[min(max(a + d, 0), m - 1)].reshape(-1) for d in range(1 - h, h + 1)], -1)
                            for _, a in rows]).astype(np.float64)
        Y = np.concatenate([vol[i].reshape(-1) for i, _ in rows]).astype(np.float64)
        w, *_ = np.linalg.lstsq(X, Y, rcond=None)
        se += float(((np.clip(X @ w, 0, R) - np.clip(Y, 0, R)) ** 2).sum()); cnt += Y.size
    return 10 * np.log10(R * R / (se / cnt))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", default=None, help="volkey:k1,k2[:thick]")
    a = ap.parse_args()
    print("| volume | k | cubic | oracle 2 | oracle 4 | oracle 6 | oracle 8 |")
    print("|---|---|---|---|---|---|---|")
    for case in a.case or ["siemens:2,4", "siemens:2,4:thick", "ch2:2,4", "ch2:2,4:thick"]:
        vk, ks, thick = parse_case(case)
        vol = load_volume(VOLS[vk])[0]
        for k in ks:
            kept = keep_slices(vol, k, thick)
            cubic = evaluate(VOLS[vk], k, "cubic", vol_cache=vol, thick=thick)["psnr"]
            cells = " | ".join("%.2f" % oracle_psnr(vol, kept, k, t) for t in (2, 4, 6, 8))
            print("| %s%s | %d | %.2f | %s |" % (vk, " thick" if thick else "", k, cubic, cells), flush=True)
