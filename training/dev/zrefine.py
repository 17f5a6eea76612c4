"""Table: the frame models alone against the frame models + the through-plane refiner
(training/refiner.py) on ../shared/data/mr-3d/eval, thin and thick, drop-2 and drop-4, each
against the best classical method (models/measurements/classical-eval-*.json).

  PYTHONPATH=. /usr/bin/python3 -m training.dev.zrefine --refiner models/interslice-refiner-1.pt [--jsonl OUT]
"""
import argparse
import glob
import json
import os
import numpy as np
import torch

from training.data import keep_slices
from training.evaluate import load_model, rebuild_model, rebuilt_indices, ssim2d
from training.refiner import FRAME_MODELS, load_refiner, refine_rebuilt
from training.volumes import load_volume
from training.dev.zs_table import classical, EVAL


def score(vol, rec):
    R = float(np.percentile(vol, 99.9))
    se = 0.0; cnt = 0; ss = []
    for i in sorted(rec):
        gt = np.clip(vol[i].astype(np.float64), 0, R); pr = np.clip(rec[i].astype(np.float64), 0, R)
        se += float(((gt - pr) ** 2).sum()); cnt += gt.size
        ss.append(ssim2d(gt, pr, R))
    return float(10 * np.log10(R * R / (se / cnt))), float(np.mean(ss))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--refiner", required=True)
    ap.add_argument("--jsonl")
    ap.add_argument("--both", action="store_true", help="also refine the planes along the other image axis and average (2x the cost)")
    ap.add_argument("--only", default="")
    ap.add_argument("--cases", default="thin:4,thin:2,thick:4,thick:2")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    net = load_refiner(a.refiner)
    cls = classical()
    models = {th: load_model(p) for th, p in FRAME_MODELS.items()}
    cases = [(c.split(":")[0] == "thick", int(c.split(":")[1])) for c in a.cases.split(",")]
    out = open(a.jsonl, "a") if a.jsonl else None
    gains = {}
    for path in sorted(glob.glob(os.path.join(EVAL, "*.nii.gz"))):
        name = os.path.basename(path)
        if a.only and a.only not in name:
            continue
        vol = load_volume(path)[0]
        n = vol.shape[0]
        for thick, k in cases:
            kept = keep_slices(vol, k, thick)
            rec = rebuild_model(kept, k, n, models[thick])
            p0, s0 = score(vol, rec)
            ref = refine_rebuilt(net, kept, rec, k, n, thick)
            if a.both:
                other = refine_rebuilt(net, kept.transpose(0, 2, 1), {i: r.T for i, r in rec.items()}, k, n, thick)
                ref = {i: 0.5 * (ref[i] + other[i].T) for i in ref}
            p1, s1 = score(vol, ref)
            L = cls[(name, k, thick, "linear")]; C = cls[(name, k, thick, "cubic")]
            best = max(L[0], C[0]); sbest = max(L[1], C[1])
            gains.setdefault((thick, k), []).append((p0 - best, p1 - best, s1 - sbest, s1 - s0, p1 - p0))
            print("%-30s %-5s d%d  model %.2f/%.4f (%+.2f)  refined %.2f/%.4f (%+.2f)  delta %+.3f dB %+.4f SSIM%s" % (
                name[:-7], "thick" if thick else "thin", k, p0, s0, p0 - best, p1, s1, p1 - best, p1 - p0, s1 - s0,
                "" if s1 > sbest else "  SSIM below a baseline"), flush=True)
            if out:
                out.write(json.dumps({"vol": name, "thick": thick, "drop": k, "model_psnr": p0, "model_ssim": s0,
                                      "refined_psnr": p1, "refined_ssim": s1, "best_classical_psnr": best,
                                      "best_classical_ssim": sbest, "refiner": a.refiner}) + "\n"); out.flush()
    for (thick, k), v in sorted(gains.items()):
        print("%s drop-%d: frame model %+.3f dB -> refined %+.3f dB over the best classical method (worst %+.2f); "
              "refiner %+.3f dB (worst %+.3f), SSIM %+.4f; SSIM above both baselines %d/%d" % (
                  "thick" if thick else "thin", k, np.mean([x[0] for x in v]), np.mean([x[1] for x in v]), min(x[1] for x in v),
                  np.mean([x[4] for x in v]), min(x[4] for x in v), np.mean([x[3] for x in v]), sum(x[2] > 0 for x in v), len(v)))
