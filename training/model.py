"""Inter-slice interpolation network.

Inputs: two neighbouring slices a, b of shape (N,1,H,W) (intensity-normalised, see
NORMALISATION) and t of shape (N,) -- fractional position of the wanted slice between a (t=0)
and b (t=1). Output: (N,1,H,W).

Two variants:
  * "unet": a small U-Net predicting a residual over linear blending (1-t)a + t b.
  * "flow": the same U-Net predicting two backward flows, a blend mask and a residual
    (IFRNet-style): out = m*warp(a, Fa) + (1-m)*warp(b, Fb) + r, with the mask logit offset so
    that a freshly initialised network equals linear blending.
Any H, W works (stride-2 convolutions + size-driven upsampling; no padding needed by callers).
"""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True))


class Block(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.c1 = conv(cin, cout, stride)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.act = nn.LeakyReLU(0.1, inplace=True)
        self.skip = None if (cin == cout and stride == 1) else nn.Conv2d(cin, cout, 1, stride, 0)

    def forward(self, x):
        y = self.c2(self.c1(x))
        s = x if self.skip is None else self.skip(x)
        return self.act(y + s)


class InterpNet(nn.Module):
    def __init__(self, variant="flow", ch=(32, 48, 72, 112, 160)):
        super().__init__()
        assert variant in ("unet", "flow")
        self.variant = variant
        self.ch = tuple(ch)
        cin = 5  # a, b, linear blend, |b-a| signed diff, t map
        self.enc = nn.ModuleList()
        prev = cin
        for i, c in enumerate(ch):
            self.enc.append(Block(prev, c, 1 if i == 0 else 2))
            prev = c
        self.dec = nn.ModuleList()
        for i in range(len(ch) - 1, 0, -1):
            self.dec.append(Block(ch[i] + ch[i - 1] + 1, ch[i - 1]))
        nout = 6 if variant == "flow" else 1
        self.head = nn.Conv2d(ch[0], nout, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @staticmethod
    def warp(img, flow):
        # img (N,1,H,W), flow (N,2,H,W) in pixels (dx, dy); backward warp with border padding
        n, _, h, w = img.shape
        ys = torch.arange(h, dtype=img.dtype, device=img.device)
        xs = torch.arange(w, dtype=img.dtype, device=img.device)
        gx = xs.view(1, 1, 1, -1) + flow[:, 0:1]
        gy = ys.view(1, 1, -1, 1) + flow[:, 1:2]
        gx = gx * (2.0 / (w - 1.0)) - 1.0
        gy = gy * (2.0 / (h - 1.0)) - 1.0
        grid = torch.cat([gx, gy], 1).permute(0, 2, 3, 1)
        return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)

    def forward(self, a, b, t):
        t4 = t.reshape(-1, 1, 1, 1).to(a.dtype)
        lin = a + t4 * (b - a)
        tmap = torch.ones_like(a) * t4
        x = torch.cat([a, b, lin, b - a, tmap], 1)
        feats = []
        for e in self.enc:
            x = e(x)
            feats.append(x)
        x = feats[-1]
        for j, d in enumerate(self.dec):
            skip = feats[-2 - j]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            tm = torch.ones_like(skip[:, :1]) * t4
            x = d(torch.cat([x, skip, tm], 1))
        y = self.head(x)
        if self.variant == "unet":
            return lin + y
        fa = y[:, 0:2] * 4.0
        fb = y[:, 2:4] * 4.0
        tc = t4.clamp(1e-3, 1 - 1e-3)
        m = torch.sigmoid(y[:, 4:5] + torch.log((1 - tc) / tc))
        wa = self.warp(a, fa)
        wb = self.warp(b, fb)
        return m * wa + (1 - m) * wb + y[:, 5:6]


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def build(cfg):
    net = InterpNet(variant=cfg.get("variant", "flow"), ch=tuple(cfg.get("ch", (32, 48, 72, 112, 160))))
    return net


def with_tta(net):
    return TTA(net)


class TTA(nn.Module):
    """Test-time augmentation wrapper: mean over identity, horizontal flip, vertical flip and the
    time-reversed pair (b, a, 1-t). 4x the compute; exported as one graph when --tta is given."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    @staticmethod
    def _flip(x, dim):
        return torch.flip(x, [dim])

    def forward(self, a, b, t):
        n = a.shape[0]
        A = torch.cat([a, self._flip(a, 3), self._flip(a, 2), b], 0)
        B = torch.cat([b, self._flip(b, 3), self._flip(b, 2), a], 0)
        T = torch.cat([t, t, t, 1 - t], 0)
        y = self.net(A, B, T)
        y0, y1, y2, y3 = y[:n], y[n:2 * n], y[2 * n:3 * n], y[3 * n:]
        return (y0 + self._flip(y1, 3) + self._flip(y2, 2) + y3) * 0.25
