"""The measurement protocol of ../shared/docs/evaluation-protocol.md.

1. load sorted along the slice normal, rescale applied (volumes.load_volume)
2. drop-k: keep slices 0, k, 2k, ...  (--thick: each kept slice i is first replaced by the mean
   over a slab k slices thick centred on i: offsets |d| < k/2 weight 1, |d| = k/2 weight 1/2,
   clipped to the volume and renormalised -- data.slab)
3. rebuild dropped slices from the kept slices alone
4. score rebuilt slices strictly between the first and last kept slice: clip truth and
   prediction to [0, R], R = 99.9th percentile (numpy linear) of the whole volume;
   PSNR over all rebuilt voxels; SSIM = mean over rebuilt slices of 2D SSIM (7x7 uniform window,
   K1=0.01, K2=0.03, sample covariance, data range R, border of 3 px cropped = skimage defaults).
"""
import json
import time
import numpy as np
import torch
from scipy import ndimage
from scipy.interpolate import CubicSpline

from .volumes import load_volume, norm_scale
from .data import keep_slices


SSIM_WIN = 7


def ssim_terms(x, y, R):
    """The two factors of the SSIM map: luminance (local means) and contrast-structure (local
    variances and covariance); their product is the SSIM map (uncropped)."""
    x = x.astype(np.float64); y = y.astype(np.float64)
    NP = SSIM_WIN * SSIM_WIN; cov_norm = NP / (NP - 1.0)
    f = lambda z: ndimage.uniform_filter(z, size=SSIM_WIN)
    ux, uy = f(x), f(y)
    uxx, uyy, uxy = f(x * x), f(y * y), f(x * y)
    vx = cov_norm * (uxx - ux * ux); vy = cov_norm * (uyy - uy * uy); vxy = cov_norm * (uxy - ux * uy)
    C1 = (0.01 * R) ** 2; C2 = (0.03 * R) ** 2
    return (2 * ux * uy + C1) / (ux ** 2 + uy ** 2 + C1), (2 * vxy + C2) / (vx + vy + C2)


def ssim2d(x, y, R):
    lum, cs = ssim_terms(x, y, R)
    p = (SSIM_WIN - 1) // 2
    return float((lum * cs)[p:-p, p:-p].mean())


def rebuilt_indices(n, k):
    last = ((n - 1) // k) * k
    return [i for i in range(last + 1) if i % k != 0]


def rebuild_linear(kept, k, n):
    out = {}
    for i in rebuilt_indices(n, k):
        a = i // k; t = (i - a * k) / k
        out[i] = (1 - t) * kept[a] + t * kept[a + 1]
    return out


def rebuild_cubic(kept, k, n):
    pos = np.arange(kept.shape[0]) * k
    cs = CubicSpline(pos, kept.astype(np.float64), axis=0, bc_type="natural")
    idx = rebuilt_indices(n, k)
    vals = cs(np.array(idx, float))
    return {i: vals[m].astype(np.float32) for m, i in enumerate(idx)}


@torch.no_grad()
def rebuild_model(kept, k, n, model, bs=16):
    scale = norm_scale(kept)
    kn = torch.from_numpy(np.ascontiguousarray(kept / scale, dtype=np.float32))
    jobs = [(i, i // k, (i - (i // k) * k) / k) for i in rebuilt_indices(n, k)]
    out = {}
    for s in range(0, len(jobs), bs):
        ch = jobs[s:s + bs]
        last = kn.shape[0] - 1
        a = torch.stack([kn[q] for _, q, _ in ch])[:, None]
        b = torch.stack([kn[q + 1] for _, q, _ in ch])[:, None]
        # context slices one kept slice further out, repeating a / b at the ends (as the node does)
        p = torch.stack([kn[max(q - 1, 0)] for _, q, _ in ch])[:, None]
        qq = torch.stack([kn[min(q + 2, last)] for _, q, _ in ch])[:, None]
        t = torch.tensor([tt for _, _, tt in ch], dtype=torch.float32)
        y = model(a, b, t, p, qq)[:, 0].numpy() * scale
        for m, (i, _, _) in enumerate(ch):
            out[i] = y[m]
    return out


def load_model(path, tta=False):
    """A training checkpoint (.pt) or the exported ONNX (weights read back into PyTorch)."""
    from .util import load_ckpt
    from .model import with_tta
    if path.endswith(".onnx"):
        import onnx
        from onnx import numpy_helper
        from .model import build
        mp = onnx.load(path)
        meta = {p.key: p.value for p in mp.metadata_props}
        arch = json.loads(meta["architecture"])
        m = build(arch)
        if arch.get("tta"):
            m = with_tta(m)
        inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in mp.graph.initializer}
        sd = m.state_dict()
        missing = [k for k in sd if k not in inits]
        if missing:
            raise ValueError("ONNX initialisers missing %s" % missing[:5])
        m.load_state_dict({k: inits[k] for k in sd})
        return m.eval()
    m, _ = load_ckpt(path)
    return (with_tta(m) if tta else m).eval()


def evaluate(volume, factor, method, model=None, thick=False, vol_cache=None, refiner=None):
    t0 = time.time()
    vol = vol_cache if vol_cache is not None else load_volume(volume)[0]
    n = vol.shape[0]
    k = int(factor)
    kept = keep_slices(vol, k, thick)
    if method == "linear":
        rec = rebuild_linear(kept, k, n)
    elif method == "cubic":
        rec = rebuild_cubic(kept, k, n)
    elif method == "model":
        if isinstance(model, str):
            model = load_model(model)
        rec = rebuild_model(kept, k, n, model)
        if refiner is not None:
            # the through-plane refiner, flagged thick as the node flags a stack the thick model made
            from .refiner import refine_rebuilt, load_refiner
            if isinstance(refiner, str):
                refiner = load_refiner(refiner)
            rec = refine_rebuilt(refiner, kept, rec, k, n, thick)
    else:
        raise ValueError(method)
    R = float(np.percentile(vol, 99.9))
    se = 0.0; cnt = 0; ss = []
    for i in sorted(rec):
        gt = np.clip(vol[i].astype(np.float64), 0, R)
        pr = np.clip(rec[i].astype(np.float64), 0, R)
        se += float(((gt - pr) ** 2).sum()); cnt += gt.size
        ss.append(ssim2d(gt, pr, R))
    mse = se / cnt
    psnr = float(10 * np.log10(R * R / mse)) if mse > 0 else float("inf")
    return {"volume": volume, "factor": k, "method": method, "thick": bool(thick), "psnr": psnr,
            "ssim": float(np.mean(ss)), "R": R, "slices": n, "rebuilt": len(rec),
            "seconds": round(time.time() - t0, 2)}
