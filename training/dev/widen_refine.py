"""A checkpoint with a wider full-resolution refine head (InterpNet refine=C), computing exactly
what the original computes: the new channels' outgoing weights start at zero, so training starts
from the original model's outputs and learns what the extra channels add.

/usr/bin/python3 -m training.dev.widen_refine --ckpt models/interslice-v3.pt --refine 32 --out W.pt
"""
import argparse
import torch

from ..model import build
from ..util import load_ckpt, save_ckpt


def widen(old, new):
    """Copies old's weights into new (same architecture except a wider refine head)."""
    sd_new = new.state_dict()  # tensors that share the parameters' storage
    with torch.no_grad():
        for k, v in old.state_dict().items():
            if not k.startswith("refine."):
                sd_new[k].copy_(v)
    o, n = old.refine, new.refine
    c = old.refine_ch
    with torch.no_grad():
        # first conv: old filters first; the new filters keep their random init (their inputs are the images)
        n[0].weight[:c].copy_(o[0].weight); n[0].bias[:c].copy_(o[0].bias)
        # middle conv: old -> old as before; new -> old zero (the old channels are unchanged); x -> new random
        n[2].weight[:c, :c].copy_(o[2].weight); n[2].weight[:c, c:].zero_(); n[2].bias[:c].copy_(o[2].bias)
        # last conv: the new channels' contribution starts at zero
        n[4].weight[:, :c].copy_(o[4].weight); n[4].weight[:, c:].zero_(); n[4].bias.copy_(o[4].bias)
    return new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--refine", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    old, ck = load_ckpt(a.ckpt)
    assert a.refine > old.refine_ch > 0
    cfg = dict(ck["cfg"], refine=a.refine)
    torch.manual_seed(0)
    new = widen(old.eval(), build(cfg).eval())
    x = [torch.rand(2, 1, 64, 80) for _ in range(4)]
    t = torch.tensor([0.3, 0.5])
    with torch.no_grad():
        d = (old(x[0], x[1], t, x[2], x[3]) - new(x[0], x[1], t, x[2], x[3])).abs().max().item()
    assert d < 1e-6, d
    save_ckpt(a.out, new, cfg, ck.get("history", []))
    print("refine %d -> %d, max |diff| of outputs %.2e, wrote %s" % (old.refine_ch, a.refine, d, a.out))


if __name__ == "__main__":
    main()
