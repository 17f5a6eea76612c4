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

Options of the "flow" variant (defaults reproduce interslice-v1):
  * context=4: two more inputs, p (the slice before a) and q (the slice after b; callers repeat a
    and b at the ends of a stack). A Catmull-Rom estimate c(t) from p, a, b, q is an input
    channel and a third candidate: out = w*c + (1-w)*(m*warp(a) + (1-m)*warp(b)) + r. On smooth
    anatomy a 4-slice cubic beats anything built from 2 slices; the network learns where warping
    does better.
  * half_res: the U-Net runs on 2x-downsampled inputs and its flows, masks and residual are
    upsampled; warping stays at full resolution (~4x fewer operations, for CPU inference).
  * refine=C: a small full-resolution head (3 convolutions of C channels) adds a residual from
    a, b, both warps, the cubic estimate and the blend, restoring detail the half-resolution
    path cannot.
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
    def __init__(self, variant="flow", ch=(32, 48, 72, 112, 160), context=2, half_res=False, refine=0):
        super().__init__()
        assert variant in ("unet", "flow")
        assert context in (2, 4)
        assert variant == "flow" or (context == 2 and not half_res and not refine)
        self.variant = variant
        self.ch = tuple(ch)
        self.context = context
        self.half_res = bool(half_res)
        self.refine_ch = int(refine)
        cin = 5  # a, b, linear blend, |b-a| signed diff, t map
        if context == 4:
            cin += 3  # p, q, Catmull-Rom estimate
        self.enc = nn.ModuleList()
        prev = cin
        for i, c in enumerate(ch):
            self.enc.append(Block(prev, c, 1 if i == 0 else 2))
            prev = c
        self.dec = nn.ModuleList()
        for i in range(len(ch) - 1, 0, -1):
            self.dec.append(Block(ch[i] + ch[i - 1] + 1, ch[i - 1]))
        nout = (7 if context == 4 else 6) if variant == "flow" else 1
        self.head = nn.Conv2d(ch[0], nout, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.refine = None
        if self.refine_ch:
            c = self.refine_ch
            self.refine = nn.Sequential(nn.Conv2d(6, c, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True),
                                        nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True),
                                        nn.Conv2d(c, 1, 3, 1, 1))
            nn.init.zeros_(self.refine[-1].weight)
            nn.init.zeros_(self.refine[-1].bias)

    def arch(self):
        return {"variant": self.variant, "ch": list(self.ch), "context": self.context,
                "half_res": self.half_res, "refine": self.refine_ch}

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

    @staticmethod
    def catmull_rom(p, a, b, q, t4):
        t2 = t4 * t4
        t3 = t2 * t4
        return (a + 0.5 * t4 * (b - p) + t2 * (p - 2.5 * a + 2.0 * b - 0.5 * q)
                + t3 * (1.5 * a - 1.5 * b + 0.5 * q - 0.5 * p))

    def forward(self, a, b, t, p=None, q=None):
        t4 = t.reshape(-1, 1, 1, 1).to(a.dtype)
        lin = a + t4 * (b - a)
        tmap = torch.ones_like(a) * t4
        parts = [a, b, lin, b - a, tmap]
        cub = None
        if self.context == 4:
            p = a if p is None else p
            q = b if q is None else q
            cub = self.catmull_rom(p, a, b, q, t4)
            parts += [p, q, cub]
        x = torch.cat(parts, 1)
        h, w = a.shape[-2], a.shape[-1]
        if self.half_res:
            x = F.interpolate(x, size=((h + 1) // 2, (w + 1) // 2), mode="bilinear", align_corners=False)
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
        fscale = 4.0
        if self.half_res:
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
            fscale = 8.0
        fa = y[:, 0:2] * fscale
        fb = y[:, 2:4] * fscale
        tc = t4.clamp(1e-3, 1 - 1e-3)
        m = torch.sigmoid(y[:, 4:5] + torch.log((1 - tc) / tc))
        wa = self.warp(a, fa)
        wb = self.warp(b, fb)
        out = m * wa + (1 - m) * wb
        if cub is not None:
            wc = torch.sigmoid(y[:, 6:7])
            out = wc * cub + (1 - wc) * out
        out = out + y[:, 5:6]
        if self.refine is not None:
            out = out + self.refine(torch.cat([a, b, wa, wb, lin if cub is None else cub, out], 1))
        return out


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def build(cfg):
    return InterpNet(variant=cfg.get("variant", "flow"), ch=tuple(cfg.get("ch", (32, 48, 72, 112, 160))),
                     context=int(cfg.get("context", 2)), half_res=bool(cfg.get("half_res", False)),
                     refine=int(cfg.get("refine", 0)))


def with_tta(net, modes=("hflip", "vflip", "rev")):
    return TTA(net, modes)


class TTA(nn.Module):
    """Test-time augmentation wrapper: mean over the identity and `modes` -- "hflip", "vflip"
    (the slices mirrored, the output mirrored back) and "rev" (the time-reversed pair b, a at
    1 - t). (1 + len(modes))x the compute in one batch; exported as one graph when --tta is given."""

    # the image axes each mode mirrors (none for "rev", which swaps the pair instead)
    FLIP_DIMS = {"hflip": [3], "vflip": [2], "rev": []}

    def __init__(self, net, modes=("hflip", "vflip", "rev")):
        super().__init__()
        assert all(m in self.FLIP_DIMS for m in modes), modes
        self.net = net
        self.modes = tuple(modes)

    def forward(self, a, b, t, p=None, q=None):
        n = a.shape[0]
        p = a if p is None else p
        q = b if q is None else q
        dims = self.FLIP_DIMS
        fl = lambda x, d: torch.flip(x, d) if d else x
        A, B, P, Q, T = [a], [b], [p], [q], [t]
        for m in self.modes:
            d = dims[m]
            if m == "rev":
                A.append(b); B.append(a); P.append(q); Q.append(p); T.append(1 - t)
            else:
                A.append(fl(a, d)); B.append(fl(b, d)); P.append(fl(p, d)); Q.append(fl(q, d)); T.append(t)
        y = self.net(torch.cat(A, 0), torch.cat(B, 0), torch.cat(T, 0), torch.cat(P, 0), torch.cat(Q, 0))
        out = y[:n]
        for j, m in enumerate(self.modes, 1):
            out = out + fl(y[j * n:(j + 1) * n], dims[m])
        return out / (1 + len(self.modes))
