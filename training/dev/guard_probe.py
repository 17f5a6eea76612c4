"""Which held-out check predicts the true effect of adaptation? For each case: adapt (as the node
does), then score base and adapted weights on several self-supervised proxies and on truth.

/usr/bin/python3 -m training.dev.guard_probe --case PATH:4 --case PATH:2:thick ...
"""
import argparse
import json
import numpy as np
import torch

from ..adapt import adapt, heldout_score, split_blocks, shrink_inplane
from ..data import keep_slices, SelfSampler
from ..evaluate import evaluate, load_model
from ..stages import _val_fn
from ..volumes import load_volume, norm_scale


def proxies(model, kept, k):
    K1 = (kept / norm_scale(kept)).astype(np.float32)
    K2 = shrink_inplane(K1, 2)
    n = len(K1)
    v0, v1 = split_blocks(n)
    out = {}
    out["heldout_s2"] = heldout_score(model, K2, v0, v1)
    out["heldout_s1"] = heldout_score(model, K1, v0, v1)
    out["all_s1"] = heldout_score(model, K1, 0, n)
    out["all_s2"] = heldout_score(model, K2, 0, n)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", required=True)
    ap.add_argument("--model", default="models/interslice-v3.pt")
    a = ap.parse_args()
    torch.set_num_threads(2)
    base = load_model(a.model)
    for c in a.case:
        parts = c.split(":")
        path, k, thick = parts[0], int(parts[1]), len(parts) > 2
        vol = load_volume(path)[0]
        kept = keep_slices(vol, k, thick)
        _, rep, m = adapt(base, kept, log=lambda s: None)
        sampler = SelfSampler([(kept, (float(k), 1.0, 1.0), "x")], log=lambda s: None)
        perp = _val_fn(sampler.val_batches())
        res = {"case": c.split("/")[-1], "kept_by_guard": rep["kept"]}
        for name, mm in (("base", base), ("adapted", m)):
            p = proxies(mm, kept, k)
            p["perp_l1"] = perp(mm)
            t = evaluate(path, k, "model", model=mm, thick=thick, vol_cache=vol)
            p["truth"] = (t["psnr"], t["ssim"])
            res[name] = p
        d = {key: (np.array(res["adapted"][key]) - np.array(res["base"][key])).round(4).tolist() for key in res["base"]}
        res["delta"] = d
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
