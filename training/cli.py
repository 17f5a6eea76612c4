"""python3 -m training <stage> ...   (Debian's /usr/bin/python3 with python3-torch)."""
import argparse
import json
import sys


def _common(p, steps, batch, patch, lr, minutes=None):
    p.add_argument("--out", required=True, help="run folder: model.pt and train.log are written here")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--patch", type=int, default=patch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--minutes", type=float, default=minutes,
                   help="wall-clock cap; the run stops early if hit (then not bit-reproducible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=50)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m training")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("pretrain-video", help="stage 1: frame interpolation on video")
    _common(p, 1500, 12, 96, 4e-4)
    p.add_argument("--video", action="append", required=True,
                   help="folder of video files (decoded with ffmpeg) or Vimeo-90K/REDS image-sequence folders; repeatable")
    p.add_argument("--variant", choices=["flow", "unet"], default="flow")
    p.add_argument("--ch", default=None, help="channels per level, e.g. 24,40,64,96,128")
    p.add_argument("--scale", type=float, default=0.5, help="spatial downscale of decoded frames")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--max-clips", type=int, default=None)
    p.add_argument("--max-gap", type=int, default=6)

    p = sub.add_parser("finetune-mr", help="stage 2: slice triplets from high-resolution MR")
    _common(p, 3000, 12, 96, 2e-4)
    p.add_argument("--init", required=True)
    p.add_argument("--mr", action="append", required=True, help="NIfTI file, DICOM folder or folder of them; repeatable")
    p.add_argument("--resolutions", default="1.0,1.5,2.0,2.5,3.0", help="isotropic mm the volumes are resampled to")
    p.add_argument("--max-gap", type=int, default=6)
    p.add_argument("--p-thick", type=float, default=0.25, help="probability of slab-averaged (thick) inputs")
    p.add_argument("--p-dark", type=float, default=0.1, help="share of mostly-background target patches kept")
    p.add_argument("--magnitude-noise", action="store_true",
                   help="noise as in a magnitude image (Rician floor in the background) instead of zero-mean Gaussian")
    p.add_argument("--noise-first", action="store_true",
                   help="thick inputs: noise on the thin slices before the slab average, so the slabs share the target's noise")
    p.add_argument("--ssim-weight", type=float, default=0.0, help="loss = Charbonnier + this x (1 - SSIM), 7x7 window")

    p = sub.add_parser("finetune-self", help="stage 3: self-supervised on the target thick-slice data")
    p.add_argument("--init", required=True)
    p.add_argument("--target", action="append", required=True, help="DICOM series folder, NIfTI, or folder of them")
    p.add_argument("--drop", type=int, default=0, help="use only the kept slices of drop-K (evaluation volumes)")
    p.add_argument("--thick", action="store_true", help="with --drop: kept slices are thick-averaged")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--minutes", type=float, default=8.0, help="hard wall-clock cap for the training loop")
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--val-frac", type=float, default=0.25)
    p.add_argument("--replay", action="append", default=[],
                   help="high-resolution MR (as for finetune-mr) replayed each step against forgetting, also used as a "
                        "guard set: weights that lose more than --guard-tol on it are never kept")
    p.add_argument("--replay-frac", type=float, default=0.5)
    p.add_argument("--replay-patch", type=int, default=64)
    p.add_argument("--replay-resolutions", default="1.5,2.0,3.0")
    p.add_argument("--guard-tol", type=float, default=0.01)
    p.add_argument("--input-slab", type=float, default=0.0,
                   help="thick-slice profile of the inputs, as a fraction of the slice spacing (0 = sharp inputs; "
                        "~thickness/spacing for real thick-slice targets; 1 with --drop K --thick)")
    p.add_argument("--min-rel-gain", type=float, default=0.005, help="keep the result only if held-out L1 improves by this fraction")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)

    p = sub.add_parser("adapt-series", help="the node's per-series adaptation (self-supervised on one stack, guarded)")
    p.add_argument("--init", required=True, help="checkpoint .pt or exported .onnx to start from")
    p.add_argument("--stack", required=True, help="raw float32 file: the stack's slices [n, rows, cols], stack units")
    p.add_argument("--shape", required=True, help="n,rows,cols")
    p.add_argument("--out", required=True, help="folder: report.json, and model.onnx when the adapted weights are kept")
    p.add_argument("--seconds", type=float, default=60.0, help="wall-clock budget, export included")
    p.add_argument("--export-seconds", type=float, default=8.0)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--l2sp", type=float, default=1e-2)
    p.add_argument("--version", default=None)
    p.add_argument("--name", default="interslice", help="the base model's name, kept by the adapted one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--thickness", type=float, default=None, help="the stack's slice thickness over its slice spacing")
    p.add_argument("--max-thickness", type=float, default=None,
                   help="do not adapt a stack thicker than this (or of unknown thickness): see training/adapt.py")
    p.add_argument("--always-export", action="store_true",
                   help="also write the adapted weights the guard did not keep, as adapted-not-kept.onnx "
                        "(for `interslice eval --adapt`, which validates the guard against truth)")

    p = sub.add_parser("refiner", help="train the through-plane refiner (training/refiner.py) and export it")
    p.add_argument("--out", required=True, help="checkpoint .pt; the ONNX is written beside it")
    p.add_argument("--ch", type=int, default=16)
    p.add_argument("--kw", type=int, default=3, help="inner layers' kernel width across the plane (1: along the slices only)")
    p.add_argument("--sep", action="store_true", help="inner layers depthwise + pointwise")
    p.add_argument("--rel", action="store_true", help="loss: each patch's L1 relative to the frame model's")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--ks", default="2,3,4,5,6", help="drop factors of the training stacks")
    p.add_argument("--axes", default="0,1,2", help="axes of the training volumes taken as the slice axis")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default="/tmp/interslice-refiner-cache", help="the frame models' output on the training volumes")
    p.add_argument("--name", default="interslice-refiner")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--threads", type=int, default=2)

    p = sub.add_parser("export", help="export a checkpoint to ONNX with metadata")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", default="interslice")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--tta", action="store_true", help="bake flip/time-reversal test-time augmentation into the graph")

    p = sub.add_parser("evaluate", help="the evaluation protocol (docs/evaluation-protocol.md)")
    p.add_argument("volume")
    p.add_argument("--factor", type=int, action="append", required=True)
    p.add_argument("--method", action="append", choices=["model", "linear", "cubic"], default=None)
    p.add_argument("--model", default=None, help="checkpoint .pt or exported .onnx")
    p.add_argument("--thick", action="store_true")
    p.add_argument("--refiner", default=None, help="through-plane refiner .pt or .onnx run after the model (training/refiner.py)")
    p.add_argument("--tta", action="store_true", help="with a .pt checkpoint: test-time augmentation")
    p.add_argument("--json", action="store_true")
    p.add_argument("--threads", type=int, default=2)

    p = sub.add_parser("infer", help="run a model on raw float32 files (used by the parity test)")
    p.add_argument("--model", required=True)
    p.add_argument("--a", required=True); p.add_argument("--b", required=True)
    p.add_argument("--p", default=None, help="context slice before a (4-slice models; default a)")
    p.add_argument("--q", default=None, help="context slice after b (4-slice models; default b)")
    p.add_argument("--rows", type=int, required=True); p.add_argument("--cols", type=int, required=True)
    p.add_argument("--t", required=True, help="comma-separated t values")
    p.add_argument("--out", required=True)
    p.add_argument("--tta", action="store_true")

    args = ap.parse_args(argv)
    if args.cmd == "pretrain-video":
        from .stages import pretrain_video; pretrain_video(args)
    elif args.cmd == "finetune-mr":
        from .stages import finetune_mr; finetune_mr(args)
    elif args.cmd == "finetune-self":
        from .stages import finetune_self; finetune_self(args)
    elif args.cmd == "adapt-series":
        from .adapt import adapt_series_cli; adapt_series_cli(args)
    elif args.cmd == "refiner":
        from .refiner import refiner_cli; refiner_cli(args)
    elif args.cmd == "export":
        from .export import export; export(args)
    elif args.cmd == "evaluate":
        import torch
        torch.set_num_threads(args.threads)
        from .evaluate import evaluate, load_model
        from .volumes import load_volume
        vol = load_volume(args.volume)[0]
        model = load_model(args.model, tta=args.tta) if args.model else None
        refiner = None
        if args.refiner:
            from .refiner import load_refiner
            refiner = load_refiner(args.refiner)
        methods = args.method or (["linear", "cubic", "model"] if model else ["linear", "cubic"])
        res = []
        for k in args.factor:
            for m in methods:
                r = evaluate(args.volume, k, m, model=model, thick=args.thick, vol_cache=vol,
                             refiner=refiner if m == "model" else None)
                if m == "model":
                    r["model"] = args.model
                    if refiner is not None:
                        r["refiner"] = args.refiner
                res.append(r)
                if not args.json:
                    print("%-60s k=%d %-6s %s PSNR %.2f dB  SSIM %.4f" % (args.volume, k, m, "thick" if args.thick else "     ", r["psnr"], r["ssim"]), flush=True)
        if args.json:
            print(json.dumps(res if len(res) > 1 else res[0], indent=1))
    elif args.cmd == "infer":
        import numpy as np, torch
        from .evaluate import load_model
        m = load_model(args.model, tta=args.tta)
        ts = [float(v) for v in args.t.split(",")]
        a = torch.from_numpy(np.fromfile(args.a, np.float32).reshape(1, 1, args.rows, args.cols)).repeat(len(ts), 1, 1, 1)
        b = torch.from_numpy(np.fromfile(args.b, np.float32).reshape(1, 1, args.rows, args.cols)).repeat(len(ts), 1, 1, 1)
        rd = lambda f, d: d if f is None else torch.from_numpy(np.fromfile(f, np.float32).reshape(1, 1, args.rows, args.cols)).repeat(len(ts), 1, 1, 1)
        with torch.no_grad():
            y = m(a, b, torch.tensor(ts, dtype=torch.float32), rd(args.p, a), rd(args.q, b))
        y.numpy().astype(np.float32).tofile(args.out)


if __name__ == "__main__":
    main()
