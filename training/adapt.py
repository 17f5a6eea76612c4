"""Per-series adaptation (stage 3 at inference time): fine-tune a copy of the model on one
thick-slice stack, from its own slices only, and keep the result only if a held-out check says
it helps.

Why in-plane frames: at inference every frame the model sees is an in-plane slice, fine in both
axes. The older stage-3 sampler (data.SelfSampler) trains on planes that contain the thick axis,
a different kind of image, and moved the model away from what it does at inference. Here the
training pairs are the stack's own slices one gap further apart: a = K[i], b = K[i+2], the
target K[i+1] at t = 0.5, context K[i-2], K[i+4] (repeating a / b at the ends, as the node
does). Same kind of frame, twice the gap.

The guard holds out a block of slices (never a target, input or context in training) and scores
the same skip-one task on it (PSNR against the held-out middle slice, full slices); the adapted
weights are kept only if that PSNR gain is at least `min_gain_db` and the SSIM gain at least
`min_ssim_gain`. Both margins were raised (from 0.05 dB and 0) after measuring against truth:
on a training volume (seg3d, drop-2) a +0.08 dB held-out gain came with a true loss of 0.11 dB,
and on an evaluation volume (stroke T2, drop-4) +0.30 dB held-out with an unchanged SSIM came
with a true loss of 0.19 dB (models/MODEL_CARD.md, "Per-series adaptation").
"""
import copy
import time
import numpy as np
import torch

from .data import context_indices
from .evaluate import ssim2d
from .util import charbonnier, device as default_device
from .volumes import norm_scale


def skip_one(lo, hi):
    """Triplet start indices i with i, i+1, i+2 inside [lo, hi): a = i, target = i+1, b = i+2."""
    return [i for i in range(lo, hi - 2)]


def split_blocks(n, frac=0.25):
    """Held-out block [v0, v1): a central run of slices (at least 5, so it holds a triplet
    with context); training uses [0, v0) and [v1, n)."""
    nval = max(5, int(round(n * frac)))
    v0 = (n - nval) // 2
    return v0, v0 + nval


def shrink_inplane(K, f):
    """Average f x f pixel blocks of every slice. With the gap doubled (skip-one) and the pixels
    doubled too, anatomy moves between the frames by as many pixels as it does between the real
    neighbours at inference: the training pairs look like the task, only coarser."""
    n, H, W = K.shape
    H2, W2 = H // f, W // f
    return K[:, :H2 * f, :W2 * f].reshape(n, H2, f, W2, f).mean(axis=(2, 4)).astype(np.float32)


def skip_one_tuples(lo, hi):
    """The skip-one task inside [lo, hi) as (a, b, p, q, target, t) indices into K (inputs and
    target from the same stack)."""
    out = []
    for i in skip_one(lo, hi):
        pi, qi = context_indices(i, 2, lo, hi)  # the skip-one gap is 2 slices
        out.append((i, i + 2, pi, qi, i + 1, 0.5))
    return out


def coarse_stack(K):
    """Averages of neighbouring slice pairs, C[j] = (K[2j] + K[2j+1]) / 2: slabs twice as thick at
    twice the spacing, centred at 2j + 0.5."""
    m = len(K) // 2
    return ((K[0:2 * m:2] + K[1:2 * m:2]) * 0.5).astype(np.float32)


def coarse_tuples(lo, hi, n):
    """The coarse task for C-indices [lo, hi): inputs C[j], C[j+1] (centres 2j+0.5, 2j+2.5),
    targets the acquired slices K[2j+1] (t = 0.25) and K[2j+2] (t = 0.75). The target is half as
    thick as the inputs: sharper than them, as at inference, where the skip-one target of a thick
    stack is as thick as its inputs."""
    out = []
    for j in range(lo, hi - 1):
        pj, qj = context_indices(j, 1, lo, hi)
        for tgt, t in ((2 * j + 1, 0.25), (2 * j + 2, 0.75)):
            if tgt < n:
                out.append((j, j + 1, pj, qj, tgt, t))
    return out


def _batch_t(Kin, Kt, tuples):
    f = lambda idx, A: torch.from_numpy(np.ascontiguousarray(np.stack([A[i] for i in idx]), dtype=np.float32))[:, None]
    cols = list(zip(*tuples))
    return (f(cols[0], Kin), f(cols[1], Kin), f(cols[4], Kt), torch.tensor(cols[5], dtype=torch.float32),
            f(cols[2], Kin), f(cols[3], Kin))


def profile_offsets(width, n=4):
    """Midpoint offsets in t that sample a box slab `width` wide (t units) around a target's
    centre; none for a thin target (width 0)."""
    return [0.0] if width <= 0 else [width * ((j + 0.5) / n - 0.5) for j in range(n)]


def predict(model, a, b, t, p, q, width=0.0):
    """The model's slice at t, or, for a target acquired as a slab `width` wide (t units), the
    mean of its thin slices across that slab: the acquired slice is compared with what a slab
    through the model's output would show, so adapting on a thick stack does not teach the model
    to output slabs."""
    offs = profile_offsets(width)
    return sum(model(a, b, t + o, p, q) for o in offs) / len(offs)


@torch.no_grad()
def score_tuples(model, Kin, Kt, tuples, width=0.0):
    """PSNR (over all voxels, data range 1 after normalisation, clipped to [0, 1]) and mean SSIM
    of the reconstructions of `tuples`' targets."""
    model.eval()
    dev = next(model.parameters()).device
    se = 0.0; cnt = 0; ss = []
    for s in range(0, len(tuples), 8):
        a, b, g, t, p, q = _batch_t(Kin, Kt, tuples[s:s + 8])
        y = predict(model, *(z.to(dev) for z in (a, b, t, p, q)), width).clamp(0, 1).cpu().numpy()[:, 0]
        gt = g.clamp(0, 1).numpy()[:, 0]
        se += float(((y - gt) ** 2).sum()); cnt += gt.size
        ss += [ssim2d(gt[m], y[m], 1.0) for m in range(len(y))]
    mse = se / max(cnt, 1)
    return float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf"), float(np.mean(ss))


def heldout_score(model, K, v0, v1):
    """The skip-one task's score on the held-out block [v0, v1)."""
    return score_tuples(model, K, K, skip_one_tuples(v0, v1))


def adapt(model, kept, steps=400, seconds=120.0, lr=5e-5, batch=8, patch=96, l2sp=1e-2,
          min_gain_db=0.1, min_ssim_gain=0.002, val_frac=0.25, seed=0, train="dec,head,refine", shrink=2, log=print,
          task="skip-one", thickness=None, max_thickness=None, profile=False, device=None):
    """Adapt a copy of `model` to the stack `kept` [n, rows, cols] (raw intensities, the
    stack's own slices only). Returns (model to use, report dict, the adapted weights whether
    kept or not -- the last for validating the guard against truth).
    task: "skip-one" (the node's) or "coarse" (coarse_tuples: an experiment for thick stacks,
    training/dev/adapt_exp --task coarse).
    thickness: the stack's slice thickness over its spacing (None: unknown).
    max_thickness: when set, a stack thicker than this (or of unknown thickness) is not adapted:
    its skip-one targets are slabs, and adapting on them lowered true PSNR on 9 of the 10 thick
    evaluation cases, by up to 0.19 dB (models/MODEL_CARD.md, "Per-series adaptation").
    device: where to train and score ("cuda", "cpu"; default: CUDA when PyTorch sees a GPU). The
    returned models are on the CPU, as the caller's was.
    profile: an experiment for thick stacks (training/dev/adapt_exp --profile): the target slab
    spans thickness / 2 of the doubled gap and predictions are averaged across it (predict())."""
    t0 = time.time()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    report = {"slices": int(len(kept)), "kept": False, "steps": 0, **({"thickness": round(thickness, 3)} if thickness is not None else {})}
    # Decided before the stack is normalised and shrunk: a refused stack costs nothing more.
    if max_thickness is not None and (thickness is None or thickness > max_thickness):
        report["reason"] = ("slice thickness unknown" if thickness is None else "slice thickness %.2f x the spacing, above %.2f"
                            % (thickness, max_thickness)) + ": thick stacks are not adapted"
        log("adapt: " + report["reason"])
        return model, report, model
    K = (kept / norm_scale(kept)).astype(np.float32)
    if shrink > 1:
        K = shrink_inplane(K, shrink)
    n, H, W = K.shape
    Kin = coarse_stack(K) if task == "coarse" else K
    tuples_in = (lambda lo, hi: coarse_tuples(lo, hi, n)) if task == "coarse" else skip_one_tuples
    m_in = len(Kin)
    if m_in < 9:
        report["reason"] = "too few slices to hold a block out (%d < 9)" % m_in
        return model, report, model
    v0, v1 = split_blocks(m_in, val_frac)
    train_ranges = [r for r in ((0, v0), (v1, m_in)) if r[1] - r[0] >= 3]
    items = [x for r in train_ranges for x in tuples_in(*r)]
    if not items:
        report["reason"] = "no training triplets outside the held-out block"
        return model, report, model
    held = tuples_in(v0, v1)
    width = thickness / 2.0 if profile and task == "skip-one" and thickness else 0.0
    dev = torch.device(device) if device else default_device()
    m = copy.deepcopy(model).to(dev)
    before = score_tuples(m, Kin, K, held, width)  # still the base model's weights
    params = [p for name, p in m.named_parameters() if train == "all" or any(name.startswith(x) for x in train.split(","))]
    for name, p in m.named_parameters():
        p.requires_grad_(any(p is q for q in params))
    ref = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=lr)
    m.train()
    ph, pw = min(patch, H), min(patch, W)
    step = 0
    for step in range(1, steps + 1):
        pick = rng.integers(0, len(items), batch)
        a, b, g, t, p, q = _batch_t(Kin, K, [items[k] for k in pick])
        y0 = int(rng.integers(0, H - ph + 1)); x0 = int(rng.integers(0, W - pw + 1))
        crop = lambda z: z[..., y0:y0 + ph, x0:x0 + pw]
        a, b, g, p, q = map(crop, (a, b, g, p, q))
        a, b, g, t, p, q = (z.to(dev) for z in (a, b, g, t, p, q))
        if rng.random() < 0.5:
            a, b, g, p, q = [torch.flip(z, [-1]) for z in (a, b, g, p, q)]
        if rng.random() < 0.5:  # time reversal: the same task seen from the other side
            a, b, p, q = b, a, q, p
        loss = charbonnier(predict(m, a, b, t, p, q, width), g)
        if l2sp:
            loss = loss + l2sp * sum(((x - r) ** 2).sum() for x, r in zip(params, ref))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if time.time() - t0 > seconds:
            break
    m.eval()
    after = score_tuples(m, Kin, K, held, width)
    m = m.cpu()
    gain = after[0] - before[0]
    keep = gain >= min_gain_db and after[1] - before[1] >= min_ssim_gain
    report.update({"steps": step, "heldout": [int(v0), int(v1)], "psnr_before": before[0], "psnr_after": after[0],
                   "ssim_before": before[1], "ssim_after": after[1], "gain_db": gain, "kept": bool(keep),
                   "seconds": round(time.time() - t0, 1), "device": dev.type, **({"task": task} if task != "skip-one" else {}),
                   **({"profile_width": width} if width else {}),
                   "reason": "held-out %s PSNR %+.3f dB, SSIM %+.4f" % (task, gain, after[1] - before[1])})
    log("adapt: %d steps in %.1fs, held-out %.3f -> %.3f dB, SSIM %.4f -> %.4f: %s"
        % (step, report["seconds"], before[0], after[0], before[1], after[1], "kept" if keep else "base model kept"))
    return (m if keep else model), report, m


def load_with_cfg(path):
    """A checkpoint (.pt) or an exported ONNX model -> (PyTorch model, its config with stages)."""
    import json
    from .evaluate import load_model
    from .util import load_ckpt
    if path.endswith(".onnx"):
        import onnx
        meta = {p.key: p.value for p in onnx.load(path).metadata_props}
        cfg = dict(json.loads(meta["architecture"]), stages=json.loads(meta.get("stages", "[]")))
        return load_model(path), cfg, meta.get("version", "0")
    m, ck = load_ckpt(path)
    return m.eval(), ck["cfg"], None


def adapt_series_cli(args):
    """`python3 -m training adapt-series`: the node's per-series trainer. Reads the stack as raw
    float32 [n, rows, cols] (stack units), writes DIR/report.json always and DIR/model.onnx only
    when the guard keeps the adapted weights (with --always-export, the weights it did not keep
    go to DIR/adapted-not-kept.onnx). Exit 0 either way; non-zero only on an error."""
    import json
    import os
    from .export import export_model
    torch.set_num_threads(args.threads)
    n, rows, cols = [int(v) for v in args.shape.split(",")]
    kept = np.fromfile(args.stack, np.float32)
    if kept.size != n * rows * cols:
        raise SystemExit("stack %s holds %d values, not %d x %d x %d" % (args.stack, kept.size, n, rows, cols))
    kept = kept.reshape(n, rows, cols)
    model, cfg, version = load_with_cfg(args.init)
    os.makedirs(args.out, exist_ok=True)
    # The export takes a few seconds: leave it that much of the budget.
    use, rep, adapted = adapt(model, kept, steps=args.steps, seconds=max(1.0, args.seconds - args.export_seconds),
                              lr=args.lr, l2sp=args.l2sp, seed=args.seed, log=lambda s: print(s, flush=True),
                              thickness=args.thickness, max_thickness=args.max_thickness)
    # Where the weights were trained (adapt() says so when it trained; CUDA when PyTorch sees a GPU).
    rep.setdefault("device", "cpu")
    # --always-export: the weights the guard did not keep too (none when no step was trained).
    name = "model.onnx" if rep["kept"] else "adapted-not-kept.onnx" if args.always_export and rep["steps"] > 0 else None
    if name:
        cfg = dict(cfg, stages=list(cfg.get("stages", [])) + [{
            "stage": "adapt-series", "steps": rep["steps"], "heldout_gain_db": round(rep["gain_db"], 3), "seed": args.seed}])
        export_model(adapted.cpu(), cfg, os.path.join(args.out, name), version=(args.version or version or "0") + "+adapted",
                     name=args.name, quiet=True)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(json.dumps(rep), flush=True)
