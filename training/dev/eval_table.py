"""Evaluate several models and the classical baselines with the protocol; print a markdown table
and write JSON.  python3 -m training.dev.eval_table --out runs/table.json \
   --model stage1=training/runs/s1/model.pt --model shipped=models/interslice-v1.onnx \
   --case SIEMENS:2,4 --case ch2:2,4 [--thick]
A model label may be bound to one case/factor with label@volkey:k:thick=path (for per-target stage 3)."""
import argparse
import json
import torch
from training.evaluate import evaluate, load_model
from training.volumes import load_volume
from training.dev.cases import VOLS, parse_case

ap = argparse.ArgumentParser()
ap.add_argument("--model", action="append", default=[])
ap.add_argument("--case", action="append", required=True, help="volkey:k1,k2[:thick]")
ap.add_argument("--out", required=True)
a = ap.parse_args()
torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
models = []
for spec in a.model:
    label, path = spec.split("=", 1)
    bind = None
    if "@" in label:
        label, b = label.split("@"); bind = b
    models.append((label, bind, load_model(path, tta=label.endswith("+tta"))))
rows = []
for case in a.case:
    vk, ks, thick = parse_case(case)
    vol = load_volume(VOLS[vk])[0]
    for k in ks:
        key = "%s:%d:%s" % (vk, k, "thick" if thick else "drop")
        row = {"volume": vk, "k": k, "thick": thick}
        for m in ("linear", "cubic"):
            r = evaluate(VOLS[vk], k, m, vol_cache=vol, thick=thick); row[m] = (r["psnr"], r["ssim"])
        for label, bind, model in models:
            if bind and bind != key:
                continue
            r = evaluate(VOLS[vk], k, "model", model=model, vol_cache=vol, thick=thick)
            row[label] = (r["psnr"], r["ssim"])
        rows.append(row)
        print(json.dumps(row), flush=True)
labels = ["linear", "cubic"] + list(dict.fromkeys(l for l, _, _ in models))
print("| volume | k | " + " | ".join(labels) + " |")
print("|---|---|" + "---|" * len(labels))
for r in rows:
    print("| %s%s | %d | " % (r["volume"], " thick" if r["thick"] else "", r["k"]) +
          " | ".join("%.2f / %.4f" % r[l] if l in r else "" for l in labels) + " |")
json.dump(rows, open(a.out, "w"), indent=1)
