"""Adaptation against truth: for each eval volume / drop / thin|thick, the true PSNR and SSIM of
the base model and of the adapted model (adapted on the kept slices only), and what the guard
decided. Prints one JSON line per case.

/usr/bin/python3 -m training.dev.adapt_exp --model models/interslice-v3.pt --vol V --drop 4 [--thick] [--steps ..]
"""
import argparse
import json
import time
import torch

from ..adapt import adapt
from ..data import keep_slices
from ..evaluate import evaluate, load_model
from ..volumes import load_volume


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/interslice-v3.pt")
    ap.add_argument("--vol", action="append", required=True)
    ap.add_argument("--drop", type=int, action="append", required=True)
    ap.add_argument("--thick", action="store_true")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=96)
    ap.add_argument("--l2sp", type=float, default=1e-2)
    ap.add_argument("--train", default="dec,head,refine")
    ap.add_argument("--shrink", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-base", action="store_true")
    ap.add_argument("--profile", action="store_true", help="thick stacks: profile-averaged skip-one target (thickness 1)")
    ap.add_argument("--task", default="skip-one", choices=["skip-one", "coarse"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = load_model(a.model)
    for v in a.vol:
        vol = load_volume(v)[0]
        for k in a.drop:
            t0 = time.time()
            kept = keep_slices(vol, k, a.thick)
            _, rep, m = adapt(base, kept, steps=a.steps, seconds=a.seconds, lr=a.lr, batch=a.batch, patch=a.patch,
                              l2sp=a.l2sp, train=a.train, shrink=a.shrink, log=lambda s: None, task=a.task,
                              thickness=1.0 if a.thick else 1.0 / k, profile=a.profile)
            rb = None if a.no_base else evaluate(v, k, "model", model=base, thick=a.thick, vol_cache=vol)
            ra = evaluate(v, k, "model", model=m, thick=a.thick, vol_cache=vol)
            out = {"vol": v.split("/")[-1], "drop": k, "thick": a.thick, "base_psnr": rb and rb["psnr"], "base_ssim": rb and rb["ssim"],
                   "adapted_psnr": ra["psnr"], "adapted_ssim": ra["ssim"], "guard": rep, "sec": round(time.time() - t0, 1)}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
