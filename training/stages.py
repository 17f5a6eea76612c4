"""The three training stages and the shared training loop."""
import os
import time
import json
import copy
import numpy as np
import torch

from .model import build, count_params
from .util import Logger, seed_all, device, save_ckpt, load_ckpt, charbonnier, ssim_loss
from .data import VideoSampler, MRSampler, SelfSampler, keep_slices
from .volumes import find_volumes

DEFAULT_ARCH = {"variant": "flow", "ch": [24, 40, 64, 96, 128], "context": 4, "half_res": True, "refine": 16}


def _tensors(batch, dev):
    """(A, B, G, T, P, Q) numpy -> a, b, gt, t, p, q tensors; p and q are the context slices."""
    A, B, G, T, P, Q = batch
    f = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None].to(dev)
    return f(A), f(B), f(G), torch.from_numpy(T).to(dev), f(P), f(Q)


def train_loop(model, sampler, args, log, stage, history, val=None, rng=None):
    dev = device()
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.steps
    budget = args.minutes * 60 if args.minutes else None
    t0 = time.time()
    ema = None
    done = 0
    for step in range(1, steps + 1):
        frac = (step - 1) / steps
        if budget:
            frac = max(frac, (time.time() - t0) / budget)
        lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        a, b, gt, t, p, q = _tensors(sampler.sample(rng, args.batch, args.patch), dev)
        out = model(a, b, t, p, q)
        loss = charbonnier(out, gt)
        if getattr(args, "ssim_weight", 0):
            loss = loss + args.ssim_weight * ssim_loss(out, gt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        done = step
        if step % args.log_every == 0 or step == steps:
            extra = "loss %.5f lr %.2e" % (ema, lr)
            if val is not None and (step % (args.log_every * 5) == 0 or step == steps):
                extra += " val %.5f" % val(model)
                model.train()
            log.progress(step, steps, extra, deadline=budget)
            history.append({"stage": stage, "step": step, "loss": ema})
        if budget and time.time() - t0 > budget:
            log("time budget of %.1f min reached at step %d/%d" % (args.minutes, step, steps))
            break
    return done


def _start(args, stage):
    seed_all(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    log = Logger(os.path.join(args.out, "train.log"))
    log("stage %s args %s" % (stage, json.dumps(vars(args), default=str)))
    if getattr(args, "init", None):
        model, ck = load_ckpt(args.init)
        cfg = ck["cfg"]; history = list(ck.get("history", []))
        log("init from %s (%d params)" % (args.init, count_params(model)))
    else:
        cfg = dict(DEFAULT_ARCH)
        if getattr(args, "variant", None):
            cfg["variant"] = args.variant
        if getattr(args, "ch", None):
            cfg["ch"] = [int(c) for c in args.ch.split(",")]
        cfg["stages"] = []
        model = build(cfg); history = []
        log("new model %s, %d params" % (cfg, count_params(model)))
    cfg = copy.deepcopy(cfg)
    cfg.setdefault("stages", [])
    return model, cfg, history, log, np.random.default_rng(args.seed)


def _val_fn(batches):
    dev = device()

    @torch.no_grad()
    def f(model):
        model.eval()
        tot = 0.0; n = 0
        for bt in batches:
            a, b, gt, t, p, q = _tensors(bt, dev)
            tot += (model(a, b, t, p, q) - gt).abs().mean().item() * len(t); n += len(t)
        return tot / max(n, 1)
    return f


def _train_and_save(args, stage, model, cfg, history, log, rng, sampler, data_paths, val_batches, val_note="", record=None):
    """The supervised stages' common tail: a fixed validation set, the training loop, the
    stage record in the checkpoint's config, the checkpoint."""
    vrng = np.random.default_rng(args.seed + 1000)
    val = _val_fn([sampler.sample(vrng, 16, args.patch) for _ in range(val_batches)])
    log("val L1 before %.5f%s" % (val(model), val_note))
    n = train_loop(model, sampler, args, log, stage, history, val=val, rng=rng)
    cfg["stages"].append({"stage": stage, "data": [os.path.basename(os.path.normpath(p)) for p in data_paths],
                          "steps": n, "batch": args.batch, "patch": args.patch, "seed": args.seed, **(record or {})})
    save_ckpt(os.path.join(args.out, "model.pt"), model.cpu(), cfg, history)
    log("saved %s" % os.path.join(args.out, "model.pt"))


def pretrain_video(args):
    model, cfg, history, log, rng = _start(args, "pretrain-video")
    sampler = VideoSampler(args.video, scale=args.scale, max_frames=args.max_frames, max_gap=args.max_gap,
                           log=log, max_clips=args.max_clips)
    _train_and_save(args, "pretrain-video", model, cfg, history, log, rng, sampler, args.video, val_batches=2,
                    val_note=" (the untrained model: a fixed blend of its candidates)")


def finetune_mr(args):
    model, cfg, history, log, rng = _start(args, "finetune-mr")
    sampler = MRSampler(args.mr, resolutions=[float(r) for r in args.resolutions.split(",")],
                        max_gap=args.max_gap, p_thick=args.p_thick,
                        p_dark=args.p_dark, magnitude_noise=args.magnitude_noise,
                        noise_first=args.noise_first, log=log)
    _train_and_save(args, "finetune-mr", model, cfg, history, log, rng, sampler, args.mr, val_batches=4,
                    record={k: getattr(args, k) for k in ("lr", "resolutions", "p_thick", "p_dark", "magnitude_noise",
                                                          "noise_first", "ssim_weight")})


def finetune_self(args):
    t_start = time.time()
    model, cfg, history, log, rng = _start(args, "finetune-self")
    targets = []
    for p in args.target:
        for vol, sp, label in find_volumes(p):
            if vol.shape[0] < 3:
                continue
            if args.drop and args.drop > 1:
                vol = keep_slices(vol, args.drop, args.thick)
                sp = (sp[0] * args.drop, sp[1], sp[2])
                label += " drop-%d%s kept slices only" % (args.drop, " thick" if args.thick else "")
            targets.append((vol, sp, label))
    if not targets:
        raise SystemExit("no target series found")
    sampler = SelfSampler(targets, log=log, val_frac=args.val_frac, input_slab=args.input_slab)
    val = _val_fn(sampler.val_batches())
    replay = guard = None
    if args.replay:
        # replay of stage-2 data against forgetting, and a guard set that refuses weights which
        # lose more than --guard-tol on general high-resolution MR triplets
        replay = MRSampler(args.replay, resolutions=[float(r) for r in args.replay_resolutions.split(",")],
                           log=log)
        grng = np.random.default_rng(args.seed + 2000)
        guard = _val_fn([replay.sample(grng, 16, args.replay_patch) for _ in range(3)])
    start_state = copy.deepcopy(model.state_dict())
    before = val(model)
    log("held-out self-supervised L1 before: %.5f" % before)
    g_before = guard(model) if guard else None
    if guard:
        log("guard (general MR) L1 before: %.5f (tolerance +%.1f%%)" % (g_before, 100 * args.guard_tol))
    best = (before, start_state, 0)
    dev = device()
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    budget = args.minutes * 60
    t0 = time.time(); ema = None; step = 0
    for step in range(1, args.steps + 1):
        a, b, gt, t, p, q = _tensors(sampler.sample(rng, args.batch), dev)
        loss = charbonnier(model(a, b, t, p, q), gt)
        if replay is not None:
            ra, rb, rg, rt, rp, rq = _tensors(replay.sample(rng, max(1, int(args.batch * args.replay_frac)), args.replay_patch), dev)
            loss = loss + charbonnier(model(ra, rb, rt, rp, rq), rg)
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % args.eval_every == 0 or step == args.steps:
            v = val(model)
            gv = guard(model) if guard else None
            model.train()
            ok = gv is None or gv <= g_before * (1 + args.guard_tol)
            if v < best[0] and ok:
                best = (v, copy.deepcopy(model.state_dict()), step)
            log.progress(step, args.steps, "train %.5f held-out %.5f%s (best %.5f @%d)" % (
                ema, v, "" if gv is None else " guard %.5f%s" % (gv, "" if ok else " REJECTED"), best[0], best[2]),
                deadline=budget)
        if time.time() - t0 > budget:
            log("time budget %.1f min reached at step %d" % (args.minutes, step)); break
    improved = best[0] < before * (1 - args.min_rel_gain)
    if improved:
        model.load_state_dict(best[1]); after = best[0]
        log("held-out L1 after: %.5f (before %.5f, %.1f%% better) -> keeping step %d"
            % (after, before, 100 * (1 - after / before), best[2]))
    else:
        model.load_state_dict(start_state); after = before
        log("held-out L1 did not improve enough (best %.5f vs before %.5f): FALLING BACK to the starting weights"
            % (best[0], before))
    cfg["stages"].append({"stage": "finetune-self", "data": [l for _, _, l in targets], "steps": step,
                          "kept_step": best[2] if improved else 0, "heldout_before": before, "heldout_after": after,
                          "fell_back": not improved, "seed": args.seed, "input_slab": args.input_slab,
                          "replay": [os.path.basename(os.path.normpath(p)) for p in args.replay],
                          "guard_tol": args.guard_tol if args.replay else None})
    save_ckpt(os.path.join(args.out, "model.pt"), model.cpu(), cfg, history)
    res = {"heldout_before": before, "heldout_after": after, "fell_back": not improved,
           "steps": step, "seconds": round(time.time() - t_start, 1)}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    log("finetune-self done in %.1fs: %s" % (time.time() - t_start, json.dumps(res)))
