"""Zero-shot table on ../shared/data/mr-3d/eval: every volume, thin and thick, drop-2 and drop-4,
against the classical baselines measured once (models/measurements/classical-eval-*.json).
  python3 -m training.dev.zs_table --model v3=models/interslice-v3.pt [--jsonl OUT] [--only stroke]"""
import argparse
import glob
import json
import os
import numpy as np
import torch
from training.evaluate import evaluate, load_model
from training.volumes import load_volume

EVAL = os.environ.get("EVAL_DIR", "../shared/data/mr-3d/eval")


def classical():
    cls = {}
    for f in sorted(glob.glob("models/measurements/classical-eval-*.json")):
        txt = open(f).read(); dec = json.JSONDecoder(); i = 0
        while (j := txt.find("[", i)) >= 0:
            obj, i = dec.raw_decode(txt, j)
            for r in obj:
                cls[(os.path.basename(r["volume"]), r["factor"], r["thick"], r["method"])] = (r["psnr"], r["ssim"])
    return cls


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--jsonl")
    ap.add_argument("--only", default="")
    ap.add_argument("--tta", default="", help="comma-separated TTA modes for every model: hflip,vflip,rev")
    ap.add_argument("--cases", default="thin:4,thin:2,thick:4,thick:2")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    cls = classical()
    models = [(s.split("=", 1)[0], load_model(s.split("=", 1)[1])) for s in a.model]
    if a.tta:
        from training.model import with_tta
        models = [(lab + "+tta:" + a.tta, with_tta(m, tuple(a.tta.split(","))).eval()) for lab, m in models]
    cases = [(c.split(":")[0] == "thick", int(c.split(":")[1])) for c in a.cases.split(",")]
    gains = {}
    out = open(a.jsonl, "a") if a.jsonl else None
    for path in sorted(glob.glob(os.path.join(EVAL, "*.nii.gz"))):
        name = os.path.basename(path)
        if a.only and a.only not in name:
            continue
        vol = load_volume(path)[0]
        for thick, k in cases:
            L = cls[(name, k, thick, "linear")]; C = cls[(name, k, thick, "cubic")]
            best = max(L[0], C[0]); sbest = max(L[1], C[1])
            line = "%-32s %-5s d%d  best-classical %.2f/%.4f" % (name[:-7], "thick" if thick else "thin", k, best, sbest)
            for lab, m in models:
                r = evaluate(path, k, "model", model=m, thick=thick, vol_cache=vol)
                g = r["psnr"] - best
                gains.setdefault((lab, thick, k), []).append((g, r["ssim"] - sbest))
                line += " | %s %.2f/%.4f %+.2f %s" % (lab, r["psnr"], r["ssim"], g, "ok" if r["ssim"] > sbest else "SSIM<")
                if out:
                    out.write(json.dumps({"model": lab, "vol": name, "drop": k, "thick": thick, "psnr": r["psnr"], "ssim": r["ssim"],
                                          "best_classical_psnr": best, "best_classical_ssim": sbest}) + "\n"); out.flush()
            print(line, flush=True)
    for (lab, thick, k), v in sorted(gains.items()):
        print("%s %s drop-%d: mean gain %+.3f dB, worst %+.2f dB, SSIM above both on %d/%d" % (
            lab, "thick" if thick else "thin", k, np.mean([x[0] for x in v]), min(x[0] for x in v), sum(x[1] > 0 for x in v), len(v)))
