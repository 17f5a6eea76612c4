"""The through-plane refiner: a small 2D network run after the frame model.

The frame model (model.py) synthesises each missing slice on its own from four kept slices.
Reformatted across the slices, its output can disagree from one synthesised slice to the next.
The refiner looks at the finished stack on the planes that cross the slices (slice axis x image
columns, one plane per image row), so it sees many kept slices at once, and adds a residual to
the synthesised rows only: the kept (acquired) rows pass through unchanged.

Inputs of the exported graph (normalised like the frame model: divided by the 99.9th percentile
of the input stack):
  plane [N,1,Z,W]  the stack's output rows crossed by one image row each (Z output slices, W columns)
  dist  [N,1,Z,1]  per output slice, its distance to the nearest acquired slice in units of the
                   acquired spacing (0 for acquired slices, 0.5 midway)
  thick [N]        1 when the stack was synthesised by the thick-slice model, else 0
Output: out [N,1,Z,W], equal to plane wherever dist is 0.

Training (`python3 -m training refiner`): the frame models' own output on the training volumes
(every axis, thin and thick kept slices, drop-2 to drop-6), against the full volume; L1 on the
synthesised rows.
"""
import glob
import json
import os
import time
import numpy as np
import torch
import torch.nn as nn

from .data import keep_slices
from .evaluate import rebuild_model, rebuilt_indices
from .volumes import load_volume, norm_scale

TRAIN_DIR = "../shared/data/mr-3d/train"
FRAME_MODELS = {False: "models/interslice-v3-thin.pt", True: "models/interslice-v3-thick.pt"}
DILATIONS = (1, 2, 4, 8, 4, 2, 1)


class Refiner(nn.Module):
    """Residual on the synthesised rows of a plane. Dilations along Z only widen the view across
    acquired slices (8 rows either side at the widest layer, 24 in all with the first and last 3x3) at the cost of a 3x3."""

    def __init__(self, ch=16, dil=DILATIONS, kw=3, sep=False):
        super().__init__()
        self.ch = int(ch); self.dil = tuple(dil); self.kw = int(kw); self.sep = bool(sep)
        layers = [nn.Conv2d(3, ch, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True)]
        # kw: the inner layers' width across the plane (1: along the slices only, a third of the cost);
        # sep: each inner layer a depthwise 3 x kw then a pointwise 1x1 (about ch/9 + 1 of the cost)
        for d in dil:
            if sep:
                layers += [nn.Conv2d(ch, ch, (3, kw), 1, (d, kw // 2), dilation=(d, 1), groups=ch),
                           nn.Conv2d(ch, ch, 1), nn.LeakyReLU(0.1, inplace=True)]
            else:
                layers += [nn.Conv2d(ch, ch, (3, kw), 1, (d, kw // 2), dilation=(d, 1)), nn.LeakyReLU(0.1, inplace=True)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, 3, 1, 1)
        # a fresh refiner changes nothing
        nn.init.zeros_(self.head.weight); nn.init.zeros_(self.head.bias)

    def forward(self, plane, dist, thick):
        d = dist.expand_as(plane)
        th = thick.reshape(-1, 1, 1, 1).to(plane.dtype).expand_as(plane)
        r = self.head(self.body(torch.cat([plane, d, th], 1)))
        return plane + r * (d > 0).to(plane.dtype)

    def cfg(self):
        return {"kind": "refiner", "ch": self.ch, "dil": list(self.dil), "kw": self.kw, "sep": self.sep}


def build_refiner(cfg):
    return Refiner(int(cfg["ch"]), tuple(cfg["dil"]), int(cfg.get("kw", 3)), bool(cfg.get("sep", False)))


def stack_estimate(vol, k, thick, model):
    """What the node makes of a drop-k stack of `vol` (axis 0) with the frame model: kept rows as
    kept, the rest synthesised, rows past the last kept slice copying it. Returns (estimate / s,
    per-row distance to the nearest kept row, s, the synthesised row indices), s the stack scale."""
    n = vol.shape[0]
    kept = keep_slices(vol, k, thick)
    rec = rebuild_model(kept, k, n, model)
    scale = norm_scale(kept)
    return assemble_stack(kept, rec, k, n) / scale, row_distances(n, k), scale, rebuilt_indices(n, k)


def assemble_stack(kept, rec, k, n):
    """The n-slice stack of kept slices (every k-th) and rebuilt ones `rec`; rows past the last
    kept slice copy it, as the node's plan never reaches past it."""
    est = np.empty((n,) + kept.shape[1:], np.float32)
    for j in range(kept.shape[0]):
        est[j * k] = kept[j]
    for i, s in rec.items():
        est[i] = s
    last = ((n - 1) // k) * k
    est[last + 1:] = est[last]
    return est


def row_distances(n, k):
    return np.array([min(i % k, k - i % k) / k for i in range(n)], np.float32)


@torch.no_grad()
def refine_stack(net, est, dist, thick, bs=16):
    """est [Z,R,W] normalised; the refiner over the planes est[:, r, :] (one per image row r)."""
    planes = torch.from_numpy(np.ascontiguousarray(est.transpose(1, 0, 2)))[:, None]  # [R,1,Z,W]
    dt = torch.from_numpy(np.asarray(dist, np.float32))[None, None, :, None]
    res = []
    for s in range(0, planes.shape[0], bs):
        p = planes[s:s + bs]
        n = p.shape[0]
        res.append(net(p, dt.expand(n, 1, -1, 1), torch.full((n,), float(thick)))[:, 0].numpy())
    return np.concatenate(res, 0).transpose(1, 0, 2)


def refine_rebuilt(net, kept, rec, k, n, thick):
    """The protocol's rebuilt slices `rec` ({index: slice}) after the refiner, as the node runs
    it: the stack is kept rows + rec, rows past the last kept slice copy it."""
    scale = norm_scale(kept)
    out = refine_stack(net, assemble_stack(kept, rec, k, n) / scale, row_distances(n, k), thick) * scale
    return {i: out[i] for i in rec}


def load_refiner(path):
    """A refiner checkpoint (.pt) or its exported ONNX (weights read back into PyTorch)."""
    if path.endswith(".onnx"):
        import onnx
        from onnx import numpy_helper
        mp = onnx.load(path)
        meta = {p.key: p.value for p in mp.metadata_props}
        net = build_refiner(json.loads(meta["architecture"]))
        inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in mp.graph.initializer}
        net.load_state_dict({k: inits[k] for k in net.state_dict()})
        return net.eval()
    ck = torch.load(path, map_location="cpu")
    net = build_refiner(ck["cfg"])
    net.load_state_dict(ck["state"])
    return net.eval()


def training_stacks(cache, ks, axes=(0, 1, 2), log=print):
    """(estimate, truth / s, dist, thick) for every training volume, axis, thin/thick and k; the
    frame models' output is cached in `cache` (a few seconds per stack to make)."""
    from .evaluate import load_model
    os.makedirs(cache, exist_ok=True)
    models = {}
    out = []
    for path in sorted(glob.glob(os.path.join(TRAIN_DIR, "*.nii.gz"))):
        vol0 = None
        for ax in axes:
            for thick in (False, True):
                for k in ks:
                    f = os.path.join(cache, "%s.ax%d.%s.k%d.npz" % (os.path.basename(path)[:-7], ax, "thick" if thick else "thin", k))
                    if not os.path.exists(f):
                        if vol0 is None:
                            vol0 = load_volume(path)[0]
                        if thick not in models:
                            models[thick] = load_model(FRAME_MODELS[thick])
                        t0 = time.time()
                        vol = np.ascontiguousarray(np.moveaxis(vol0, ax, 0))
                        est, dist, scale, _ = stack_estimate(vol, k, thick, models[thick])
                        np.savez(f, est=est, truth=vol / scale, dist=dist)
                        log("cached %s (%.0f s)" % (f, time.time() - t0))
                    z = np.load(f)
                    out.append((z["est"], z["truth"], z["dist"], thick))
    return out


def sample_batch(data, rng, bs, pz, pw):
    """Random patches of planes crossing the slices, along either image axis, mirrored at random."""
    X, Y, D, T = [], [], [], []
    for _ in range(bs):
        est, truth, dist, thick = data[rng.integers(len(data))]
        Z = est.shape[0]
        across = rng.integers(2)
        e = est if across else est.transpose(0, 2, 1)
        t = truth if across else truth.transpose(0, 2, 1)
        r = rng.integers(e.shape[1])
        z0 = rng.integers(0, max(1, Z - pz)); w0 = rng.integers(0, max(1, e.shape[2] - pw))
        xe = e[z0:z0 + pz, r, w0:w0 + pw]; xt = t[z0:z0 + pz, r, w0:w0 + pw]
        if rng.random() < 0.5:
            xe = xe[:, ::-1]; xt = xt[:, ::-1]
        X.append(np.ascontiguousarray(xe)); Y.append(np.ascontiguousarray(xt)); D.append(dist[z0:z0 + pz]); T.append(thick)
    return (torch.from_numpy(np.stack(X))[:, None], torch.from_numpy(np.stack(Y))[:, None],
            torch.from_numpy(np.stack(D))[:, None, :, None], torch.tensor(T, dtype=torch.float32))


def train_refiner(ch=16, kw=3, sep=False, steps=4000, ks=(2, 3, 4, 5, 6), bs=12, lr=1e-3, pz=64, pw=96, cache="/tmp/interslice-refiner-cache", seed=0,
                  axes=(0, 1, 2), rel=False, log=print):
    torch.manual_seed(seed)
    data = training_stacks(cache, ks, axes, log=log)
    net = Refiner(ch, kw=kw, sep=sep)
    opt = torch.optim.Adam(net.parameters(), lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rng = np.random.default_rng(seed)
    t0 = time.time(); run = 0.0
    for step in range(1, steps + 1):
        x, y, d, th = sample_batch(data, rng, bs, pz, pw)
        m = (d > 0).to(x.dtype).expand_as(x)
        err = ((net(x, d, th) - y).abs() * m).sum((1, 2, 3))
        err0 = ((x - y).abs() * m).sum((1, 2, 3))
        base = err0.sum() / m.sum()
        # rel: each patch's error relative to the frame model's, so wide gaps (large errors) do not
        # drown the narrow ones; floored at 0.01 a pixel so that patches of air do not dominate
        floor = 0.01 * m.sum((1, 2, 3))
        loss = (err / torch.maximum(err0, floor)).mean() * base.detach() if rel else err.sum() / m.sum()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        run = 0.98 * run + 0.02 * float(loss / base)
        if step % 200 == 0 or step == steps:
            log("step %d  L1 over the frame model's %.4f  (%.0f s)" % (step, run / (1 - 0.98 ** step), time.time() - t0))
    data_names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TRAIN_DIR, "*.nii.gz")))
    return net.eval(), {"steps": steps, "ks": list(ks), "axes": list(axes), "batch": bs, "lr": lr, "patch": [pz, pw], "seed": seed,
                        "rel_loss": rel, "seconds": round(time.time() - t0), "data": data_names, "frame_models": FRAME_MODELS}


def export_refiner(net, out, name="interslice-refiner", version="1.0.0", training=None, opset=17):
    import onnx
    net.eval()
    x = torch.rand(2, 1, 40, 48); d = torch.rand(2, 1, 40, 1); th = torch.tensor([0.0, 1.0])
    torch.onnx.export(net, (x, d, th), out, opset_version=opset, input_names=["plane", "dist", "thick"], output_names=["out"],
                      dynamic_axes={"plane": {0: "n", 2: "z", 3: "w"}, "dist": {0: "n", 2: "z"}, "thick": {0: "n"},
                                    "out": {0: "n", 2: "z", 3: "w"}},
                      do_constant_folding=False, export_params=True)
    m = onnx.load(out)
    meta = {
        "name": name, "version": version, "kind": "refiner",
        "architecture": json.dumps(net.cfg()),
        "parameters": str(sum(p.numel() for p in net.parameters())),
        "training": json.dumps(training or {}),
        "normalisation_percentile": "99.9",
        "inputs": json.dumps({"plane": "float32 [N,1,Z,W] output slices crossed by one image row (normalised)",
                              "dist": "float32 [N,1,Z,1] distance of each output slice to the nearest acquired one, in acquired spacings (0 = acquired)",
                              "thick": "float32 [N] 1 when the thick-slice model made the stack"}),
        "outputs": json.dumps({"out": "float32 [N,1,Z,W] refined plane; equal to plane where dist is 0"}),
        "output_kind": "INTERPOLATED, not acquired",
        "opset": str(opset),
    }
    for k, v in meta.items():
        p = m.metadata_props.add(); p.key = k; p.value = v
    m.producer_name = "interslice-training"
    onnx.checker.check_model(m)
    onnx.save(m, out)
    return meta


def refiner_cli(args):
    torch.set_num_threads(args.threads)
    net, info = train_refiner(ch=args.ch, kw=args.kw, sep=args.sep, steps=args.steps, ks=tuple(int(k) for k in args.ks.split(",")), lr=args.lr,
                              cache=args.cache, seed=args.seed, axes=tuple(int(a) for a in args.axes.split(",")), rel=args.rel,
                              log=lambda s: print(s, flush=True))
    torch.save({"cfg": net.cfg(), "state": net.state_dict(), "training": info}, args.out)
    onnx_out = args.out[:-3] + ".onnx" if args.out.endswith(".pt") else args.out + ".onnx"
    export_refiner(net, onnx_out, name=args.name, version=args.version, training=info)
    print("wrote %s and %s (%d parameters, %d s of training)" % (args.out, onnx_out, sum(p.numel() for p in net.parameters()), info["seconds"]))
