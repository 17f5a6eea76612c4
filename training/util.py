import os
import sys
import time
import json
import random
import numpy as np
import torch

from .model import build, count_params


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Logger:
    def __init__(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.f = open(path, "a")
        self.t0 = time.time()

    def __call__(self, msg):
        line = "[%s +%6.1fs] %s" % (time.strftime("%H:%M:%S"), time.time() - self.t0, msg)
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()

    def progress(self, step, total, extra="", deadline=None):
        el = time.time() - self.t0
        frac = step / max(total, 1)
        if deadline is not None:
            frac = max(frac, el / max(deadline, 1e-9))
        eta = el / max(frac, 1e-9) - el
        self("step %d/%d %s elapsed %.0fs ETA %.0fs" % (step, total, extra, el, eta))


def save_ckpt(path, model, cfg, history):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"cfg": cfg, "state": model.state_dict(), "history": history,
                "params": count_params(model)}, path)


def load_ckpt(path, map_location="cpu"):
    ck = torch.load(path, map_location=map_location)
    m = build(ck["cfg"])
    m.load_state_dict(ck["state"])
    return m, ck


def charbonnier(x, y, eps=1e-3):
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


def ssim_loss(x, y, R=1.0, win=7):
    """1 - mean SSIM (the protocol's 7x7 uniform window, K1 0.01, K2 0.03, data range R; no border
    crop) of two batches [N,1,H,W]: differentiable, for training."""
    f = lambda z: torch.nn.functional.avg_pool2d(z, win, 1)
    ux, uy = f(x), f(y)
    cn = win * win / (win * win - 1.0)
    vx = cn * (f(x * x) - ux * ux); vy = cn * (f(y * y) - uy * uy); vxy = cn * (f(x * y) - ux * uy)
    C1 = (0.01 * R) ** 2; C2 = (0.03 * R) ** 2
    S = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))
    return 1.0 - S.mean()
