"""Training-pair samplers: video frames, high-resolution MR slices, self-supervised target data."""
import os
import glob
import subprocess
import numpy as np
from scipy import ndimage

from .volumes import find_volumes, norm_scale

VIDEO_EXT = (".mp4", ".mkv", ".avi", ".mov", ".webm")
IMG_EXT = (".png", ".jpg", ".jpeg", ".bmp")


def _probe_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", path],
                         check=True, capture_output=True, text=True).stdout.strip().split("\n")[0]
    w, h = [int(v) for v in out.split(",")[:2]]
    return w, h


def decode_video(path, scale=0.5, max_frames=None, pattern=False):
    """Decode a clip (or an image-sequence glob) to grayscale uint8 frames via an ffmpeg pipe."""
    if pattern:
        first = sorted(glob.glob(path))[0]
        w, h = _probe_size(first)
        inp = ["-f", "image2", "-pattern_type", "glob", "-i", path]
    else:
        w, h = _probe_size(path)
        inp = ["-i", path]
    ow, oh = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
    cmd = ["ffmpeg", "-v", "error", "-nostdin"] + inp + ["-vf", "scale=%d:%d:flags=area,format=gray" % (ow, oh)]
    if max_frames:
        cmd += ["-frames:v", str(max_frames)]
    cmd += ["-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    n = len(raw) // (ow * oh)
    return np.frombuffer(raw[: n * ow * oh], np.uint8).reshape(n, oh, ow)


def find_clips(root):
    """Video files anywhere under root, plus image-sequence folders (Vimeo-90K septuplet:
    sequences/XXXXX/YYYY/im1..im7.png; REDS: train_sharp/NNN/00000000.png)."""
    clips = []
    for dp, dn, fn in os.walk(root):
        dn.sort()
        imgs = sorted(f for f in fn if f.lower().endswith(IMG_EXT))
        if len(imgs) >= 3:
            ext = os.path.splitext(imgs[0])[1]
            clips.append(("seq", os.path.join(dp, "*" + ext)))
        for f in sorted(fn):
            if f.lower().endswith(VIDEO_EXT):
                clips.append(("video", os.path.join(dp, f)))
    return clips


def context_indices(i, g, lo, hi):
    """Indices of the context slices p (one gap before a=i) and q (one gap after b=i+g); outside
    [lo, hi) they repeat a and b, as the node does at the ends of a stack."""
    p = i - g if i - g >= lo else i
    q = i + 2 * g if i + 2 * g < hi else i + g
    return p, q


def unpack(stacks, ts):
    """(P, A, G, B, Q) stacks [n,5,h,w] -> the batch tuple (A, B, G, T, P, Q)."""
    s = np.stack(stacks)
    return s[:, 1], s[:, 3], s[:, 2], np.array(ts, np.float32), s[:, 0], s[:, 4]


class VideoSampler:
    def __init__(self, roots, scale=0.5, max_frames=None, max_gap=6, log=print, max_clips=None):
        self.clips = []
        for root in roots:
            found = find_clips(root)
            if max_clips:
                found = found[:max_clips]
            for kind, p in found:
                fr = decode_video(p, scale=scale, max_frames=max_frames, pattern=(kind == "seq"))
                if len(fr) >= 3:
                    self.clips.append(fr)
                    log("video: %s -> %d frames %dx%d" % (p, fr.shape[0], fr.shape[2], fr.shape[1]))
        if not self.clips:
            raise ValueError("no video clips found under %s" % roots)
        self.w = np.array([len(c) for c in self.clips], float)
        self.w /= self.w.sum()
        self.max_gap = max_gap

    def sample(self, rng, n, patch):
        S, T = [], []
        while len(S) < n:
            c = self.clips[rng.choice(len(self.clips), p=self.w)]
            F, H, W = c.shape
            g = int(rng.integers(2, min(self.max_gap, F - 1) + 1))
            j = int(rng.integers(1, g))
            i = int(rng.integers(0, F - g))
            ph, pw = min(patch, H), min(patch, W)
            best = None
            for _ in range(4):  # prefer patches with motion
                y = int(rng.integers(0, H - ph + 1)); x = int(rng.integers(0, W - pw + 1))
                a = c[i, y:y + ph, x:x + pw]; b = c[i + g, y:y + ph, x:x + pw]
                score = np.abs(a.astype(np.int16) - b).mean()
                if best is None or score > best[0]:
                    best = (score, y, x)
            _, y, x = best
            pi, qi = context_indices(i, g, 0, F)
            tri = c[[pi, i, i + j, i + g, qi], y:y + ph, x:x + pw].astype(np.float32) / 255.0
            tri = augment(rng, tri)
            t = j / g
            if rng.random() < 0.5:
                tri = tri[::-1]; t = 1 - t
            tri = pad_to(tri, patch)
            S.append(tri); T.append(t)
        return unpack(S, T)


def augment(rng, tri):
    if rng.random() < 0.5:
        tri = tri[:, :, ::-1]
    if rng.random() < 0.5:
        tri = tri[:, ::-1, :]
    if rng.random() < 0.5 and tri.shape[1] == tri.shape[2]:
        tri = tri.transpose(0, 2, 1)
    return np.ascontiguousarray(tri)


def pad_to(tri, patch):
    _, h, w = tri.shape
    if h < patch or w < patch:
        tri = np.pad(tri, ((0, 0), (0, max(0, patch - h)), (0, max(0, patch - w))), mode="reflect" if min(h, w) > patch // 2 else "edge")
    return tri


def resample_iso(vol, spacing, target):
    """Resample a volume to isotropic `target` mm (Gaussian anti-alias, linear interpolation)."""
    f = np.array(spacing) / target
    sig = [0.4 / fi if fi < 1 else 0 for fi in f]
    v = ndimage.gaussian_filter(vol, sig) if any(s > 0 for s in sig) else vol
    return ndimage.zoom(v, f, order=1).astype(np.float32)


class MRSampler:
    """Slice triplets along all three axes of high-resolution volumes with random gaps."""

    def __init__(self, paths, resolutions=(1.0, 1.5, 2.0, 2.5, 3.0), max_gap=6, p_thick=0.25,
                 p_noise=0.5, p_dark=0.1, magnitude_noise=False, noise_first=False, log=print):
        """p_dark: share of patches whose target is mostly background that are kept (the rest are
        drawn again). magnitude_noise: noise is added as in a magnitude image (Rician: |x + n1 + i n2|,
        each slice its own draw), so background becomes a positive noise floor as in real scans,
        instead of zero-mean Gaussian noise around an exactly zero background. noise_first: for thick
        inputs, noise is added to the thin slices before the slab average (else to the slabs)."""
        self.vols = []
        for p in paths:
            for vol, sp, label in find_volumes(p):
                vol = vol / norm_scale(vol)
                for r in resolutions:
                    if r < min(sp) * 0.99:
                        continue
                    v = resample_iso(vol, sp, r)
                    if min(v.shape) < max_gap + 3:
                        continue
                    self.vols.append(v)
                    log("mr: %s %s @%.1fmm -> %s" % (label, tuple(round(s, 2) for s in sp), r, v.shape))
        if not self.vols:
            raise ValueError("no MR volumes in %s" % paths)
        self.max_gap = max_gap
        self.p_thick = p_thick
        self.p_noise = p_noise
        self.p_dark = p_dark
        self.magnitude_noise = magnitude_noise
        self.noise_first = noise_first

    def _photometric(self, rng, tri):
        """Gamma, scale and noise (one draw of each per sample; the noise independent per slice)."""
        if rng.random() < 0.5:
            gam = float(np.exp(rng.uniform(-0.3, 0.3)))
            tri = np.clip(tri, 0, None) ** gam
        tri = tri * float(rng.uniform(0.85, 1.15))
        if rng.random() < self.p_noise:
            sd = rng.uniform(0, 0.03)
            if self.magnitude_noise:
                tri = np.sqrt((np.clip(tri, 0, None) + rng.normal(0, sd, tri.shape)) ** 2
                              + rng.normal(0, sd, tri.shape) ** 2).astype(np.float32)
            else:
                tri = tri + rng.normal(0, sd, tri.shape).astype(np.float32)
        return tri

    def sample(self, rng, n, patch):
        S, T = [], []
        while len(S) < n:
            v = self.vols[int(rng.integers(len(self.vols)))]
            ax = int(rng.integers(3))
            vv = np.moveaxis(v, ax, 0)
            S_, H, W = vv.shape
            g = int(rng.integers(2, min(self.max_gap, S_ - 1) + 1))
            j = int(rng.integers(1, g))
            i = int(rng.integers(0, S_ - g))
            ph, pw = min(patch, H), min(patch, W)
            y = int(rng.integers(0, H - ph + 1)); x = int(rng.integers(0, W - pw + 1))
            gt = vv[i + j, y:y + ph, x:x + pw]
            if gt.mean() < 0.05 and rng.random() < 1.0 - self.p_dark:
                continue
            pi, qi = context_indices(i, g, 0, S_)
            thick = rng.random() < self.p_thick
            if thick and self.noise_first:
                # the thin slices the slabs span get the intensity changes and the noise first, so a thick
                # input shares the noise of the target slice it contains (as in the evaluation's thick variant)
                lo = max(0, min(pi, i) - g // 2); hi = min(S_, max(qi, i + g) + g // 2 + 1)
                sub = self._photometric(rng, vv[lo:hi, y:y + ph, x:x + pw].astype(np.float32))
                ins = [slab(sub, k - lo, g) for k in (pi, i, i + g, qi)]
                tri = np.stack([ins[0], ins[1], sub[i + j - lo], ins[2], ins[3]]).astype(np.float32)
            else:
                if thick:
                    sub = vv[:, y:y + ph, x:x + pw]
                    ins = [slab(sub, k, g) for k in (pi, i, i + g, qi)]
                else:
                    ins = [vv[k, y:y + ph, x:x + pw] for k in (pi, i, i + g, qi)]
                tri = self._photometric(rng, np.stack([ins[0], ins[1], gt, ins[2], ins[3]]).astype(np.float32))
            tri = augment(rng, tri)
            t = j / g
            if rng.random() < 0.5:
                tri = tri[::-1]; t = 1 - t
            tri = pad_to(np.ascontiguousarray(tri), patch)
            S.append(tri); T.append(t)
        return unpack(S, T)


def slab(vol, i, k):
    """Thick slice centred on slice i: mean over a slab k slices thick (offsets |d| < k/2 weight 1,
    |d| == k/2 weight 1/2 -- so an even k is centred too), clipped to the volume and renormalised."""
    n = vol.shape[0]
    acc = None; wsum = 0.0
    for d in range(-(k // 2), k // 2 + 1):
        j = i + d
        if j < 0 or j >= n:
            continue
        w = 0.5 if 2 * abs(d) == k else 1.0
        acc = vol[j].astype(np.float64) * w if acc is None else acc + vol[j].astype(np.float64) * w
        wsum += w
    return (acc / wsum).astype(np.float32)


def keep_slices(vol, drop, thick=False):
    """The kept slices of an evaluation volume at drop-k (optionally thick: see slab())."""
    if not drop or drop <= 1:
        return vol
    n = vol.shape[0]
    idx = list(range(0, n, drop))
    if not thick:
        return vol[idx]
    return np.stack([slab(vol, i, drop) for i in idx])


class SelfSampler:
    """Self-supervised pairs from one thick-slice target: frames along an in-plane axis, resampled
    so that the frame gap equals the physical slice spacing. Images are (slices x other in-plane
    axis). Positions along the in-plane axis are split into train / held-out blocks."""

    def __init__(self, targets, log=print, val_frac=0.25, input_slab=0.0):
        """input_slab: if > 0, the input frames (not the target frame) are averaged along the
        in-plane axis over a box input_slab*gap frames wide, mimicking thick slices (0 = sharp)."""
        self.items = []  # (frames array [X, S, H'], gap)
        for vol, sp, label in targets:
            vol = vol / norm_scale(vol)
            dz, dy, dx = sp
            for axis, d in ((2, dx), (1, dy)):
                g = max(2, int(round(dz / d)))
                newd = dz / g
                fr = np.moveaxis(vol, axis, 0)  # [X, S, other]
                f = d / newd
                if abs(f - 1) > 1e-3:
                    fr = ndimage.zoom(fr, (f, 1, 1), order=3).astype(np.float32)
                X = fr.shape[0]
                fin = box_blur0(fr, input_slab * g) if input_slab > 0 else fr
                nval = max(g + 1, int(round(X * val_frac)))
                # held-out: a contiguous central block of positions
                v0 = (X - nval) // 2
                self.items.append(dict(fr=fr, fin=fin, g=g, val=(v0, v0 + nval), label=label, axis=axis))
                log("self: %s axis %d: %d frames of %dx%d, gap %d (spacing %.2f mm over %.2f mm pixels)"
                    % (label, axis, X, fr.shape[1], fr.shape[2], g, dz, d))

    def _context(self, it, i, split):
        """Context indices that stay inside the same split (held-out frames never feed training)."""
        X = it["fr"].shape[0]; g = it["g"]; v0, v1 = it["val"]
        if split == "val":
            return context_indices(i, g, v0, v1)
        lo, hi = (0, v0) if i + g < v0 else (v1, X)
        return context_indices(i, g, lo, hi)

    def _triplets(self, it, split):
        X = it["fr"].shape[0]; g = it["g"]; v0, v1 = it["val"]
        out = []
        for i in range(0, X - g):
            inval = v0 <= i and i + g < v1
            intrain = (i + g < v0) or (i >= v1)
            if (split == "val" and inval) or (split == "train" and intrain):
                for j in range(1, g):
                    out.append((i, j))
        return out

    def val_batches(self, bs=32):
        res = []
        for it in self.items:
            tr = self._triplets(it, "val")
            for s in range(0, len(tr), bs):
                ch = tr[s:s + bs]
                fr, fin, g = it["fr"], it["fin"], it["g"]
                ctx = [self._context(it, i, "val") for i, j in ch]
                res.append(unpack([np.stack([fin[c[0]], fin[i], fr[i + j], fin[i + g], fin[c[1]]])
                                   for (i, j), c in zip(ch, ctx)], [j / g for i, j in ch]))
        return res

    def sample(self, rng, n, patch=None):
        it = self.items[int(rng.integers(len(self.items)))]
        tr = self._triplets(it, "train")
        fr, fin, g = it["fr"], it["fin"], it["g"]
        S, T = [], []
        for k in rng.integers(0, len(tr), n):
            i, j = tr[k]
            pi, qi = self._context(it, i, "train")
            tri = np.stack([fin[pi], fin[i], fr[i + j], fin[i + g], fin[qi]])
            if rng.random() < 0.5:
                tri = tri[:, :, ::-1]
            if rng.random() < 0.5:
                tri = tri[:, ::-1]
            t = j / g
            if rng.random() < 0.5:
                tri = tri[::-1]; t = 1 - t
            S.append(np.ascontiguousarray(tri)); T.append(t)
        return unpack(S, T)


def box_blur0(fr, width):
    """Average along axis 0 over a centred box `width` frames wide (fractional edge weights,
    renormalised at the borders); width == k reproduces slab(.., k)."""
    X = fr.shape[0]
    r = int(np.ceil(width / 2.0))
    out = np.zeros_like(fr, dtype=np.float64); wsum = np.zeros(X)
    for d in range(-r, r + 1):
        w = min(d + 0.5, width / 2.0) - max(d - 0.5, -width / 2.0)
        w = max(0.0, min(1.0, w))
        if w <= 0:
            continue
        lo, hi = max(0, -d), min(X, X - d)
        out[lo:hi] += w * fr[lo + d:hi + d]
        wsum[lo:hi] += w
    return (out / wsum[:, None, None]).astype(np.float32)
