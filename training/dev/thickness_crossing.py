"""Where the standard and the thick-slice model cross: the eval volumes' kept slices averaged over a
box FRAC of the kept spacing wide (training.data.box_blur0; FRAC 1 is the protocol's --thick), both
models and the classical baselines, one JSON line per volume and drop.
  python3 -m training.dev.thickness_crossing --frac 0.5 --frac 0.75 --frac 0.875 > OUT.jsonl"""
import argparse
import glob
import json
import os
import torch
import training.evaluate as E
from training.data import box_blur0
from training.volumes import load_volume

EVAL = os.environ.get("EVAL_DIR", "../shared/data/mr-3d/eval")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--frac", type=float, action="append", required=True)
    ap.add_argument("--model", action="append", default=None, help="LABEL=checkpoint (default: v3 and thick)")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    specs = a.model or ["v3=models/interslice-v3.pt", "thick=models/interslice-v3-thick.pt"]
    models = [(s.split("=", 1)[0], E.load_model(s.split("=", 1)[1])) for s in specs]
    for frac in a.frac:
        def keep(vol, drop, thick=False, frac=frac):
            idx = list(range(0, vol.shape[0], drop))
            return box_blur0(vol, frac * drop)[idx] if thick else vol[idx]
        E.keep_slices = keep  # evaluate() keeps slices through this name
        for path in sorted(glob.glob(os.path.join(EVAL, "*.nii.gz"))):
            vol = load_volume(path)[0]
            for k in (4, 2):
                if frac * k < 1.01:  # narrower than one slice: the thin variant
                    continue
                row = {"vol": os.path.basename(path), "drop": k, "frac": frac}
                for m in ("linear", "cubic"):
                    r = E.evaluate(path, k, m, thick=True, vol_cache=vol)
                    row[m] = (round(r["psnr"], 3), round(r["ssim"], 4))
                for lab, mod in models:
                    r = E.evaluate(path, k, "model", model=mod, thick=True, vol_cache=vol)
                    row[lab] = (round(r["psnr"], 3), round(r["ssim"], 4))
                print(json.dumps(row), flush=True)
