"""Where does a model lose SSIM? Protocol SSIM (evaluate.ssim2d) split into background and
foreground pixels of the truth, each also split into its luminance and contrast-structure factors,
with the mean signed error and the RMSE (both in units of R).
  python3 -m training.dev.ssim_split --vol V --drop 4 [--thick] --model label=path ..."""
import argparse
import json
import numpy as np
import torch
from scipy import ndimage
from training.evaluate import load_model, rebuild_model, rebuild_linear, rebuild_cubic, ssim_terms, SSIM_WIN
from training.volumes import load_volume
from training.data import keep_slices


def split(vol, rec, R, bg_frac):
    acc = {"fg": [], "bg": []}
    for i in sorted(rec):
        gt = np.clip(vol[i], 0, R); pr = np.clip(rec[i], 0, R)
        L, C = ssim_terms(gt, pr, R)
        S = L * C
        sm = ndimage.uniform_filter(gt.astype(np.float64), SSIM_WIN)
        fg = sm > bg_frac * R
        p = (SSIM_WIN - 1) // 2
        sl = (slice(p, -p), slice(p, -p))
        for key, m in (("fg", fg[sl]), ("bg", ~fg[sl])):
            if m.sum():
                e = (pr - gt)[sl][m]
                acc[key].append((S[sl][m].sum(), L[sl][m].sum(), C[sl][m].sum(), m.sum(), e.sum(), (e ** 2).sum()))
    out = {}
    tot = sum(a[3] for k in acc for a in acc[k])
    for key in acc:
        a = np.array(acc[key]); n = a[:, 3].sum()
        out[key] = {"share": round(n / tot, 3), "ssim": round(a[:, 0].sum() / n, 4), "lum": round(a[:, 1].sum() / n, 4),
                    "cs": round(a[:, 2].sum() / n, 4), "bias": round(a[:, 4].sum() / n / R, 5),
                    "rmse": round(float(np.sqrt(a[:, 5].sum() / n)) / R, 5)}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--vol", required=True)
    ap.add_argument("--drop", type=int, default=4)
    ap.add_argument("--thick", action="store_true")
    ap.add_argument("--bg", type=float, default=0.05, help="background: 7x7 local mean of truth below this x R")
    ap.add_argument("--model", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(2)
    vol = load_volume(a.vol)[0]; n = vol.shape[0]; k = a.drop
    R = float(np.percentile(vol, 99.9))
    kept = keep_slices(vol, k, a.thick)
    res = {"linear": rebuild_linear(kept, k, n), "cubic": rebuild_cubic(kept, k, n)}
    for spec in a.model:
        lab, path = spec.split("=", 1)
        res[lab] = rebuild_model(kept, k, n, load_model(path))
    for lab, rec in res.items():
        print(json.dumps({"model": lab, "vol": a.vol.split("/")[-1], "k": k, "thick": a.thick, **split(vol, rec, R, a.bg)}), flush=True)
