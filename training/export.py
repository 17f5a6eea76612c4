"""Export a checkpoint to ONNX (opset >= 16, dynamic batch/height/width) with metadata_props."""
import json
import os
import torch
import onnx

from .util import load_ckpt
from .model import count_params, with_tta

NORMALISATION = ("Per input stack: s = 99.9th percentile (numpy 'linear' interpolation) of all voxel values "
                 "of the stack the node received (rescale slope/intercept applied); inputs a,b = value / s "
                 "(not clipped); output * s gives the synthesised slice in the stack's units.")


def export(args):
    model, ck = load_ckpt(args.ckpt)
    export_model(model, ck["cfg"], args.out, name=args.name, version=args.version, opset=args.opset, tta=args.tta)


def export_model(model, cfg, out, name="interslice", version="1.0.0", opset=17, tta=False, quiet=False):
    """Writes `model` (a PyTorch InterpNet and its config) to the ONNX file `out`, metadata included."""
    if tta:
        model = with_tta(model)
    model.eval()
    context = int(cfg.get("context", 2))
    a = torch.rand(2, 1, 64, 80); b = torch.rand(2, 1, 64, 80); t = torch.tensor([0.25, 0.5])
    inputs, names = (a, b, t), ["a", "b", "t"]
    if context == 4:
        inputs, names = (a, b, t, torch.rand(2, 1, 64, 80), torch.rand(2, 1, 64, 80)), names + ["p", "q"]
    image = {0: "batch", 2: "height", 3: "width"}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.onnx.export(model, inputs, out, opset_version=opset,
                      input_names=names, output_names=["out"],
                      dynamic_axes=dict({n: image for n in names if n != "t"}, t={0: "batch"}, out=image),
                      do_constant_folding=False, export_params=True)
    m = onnx.load(out)
    arch = {"variant": cfg["variant"], "ch": list(cfg["ch"]), "tta": bool(tta), "context": context,
            "half_res": bool(cfg.get("half_res", False)), "refine": int(cfg.get("refine", 0))}
    meta = {
        "name": name,
        "version": version,
        "architecture": json.dumps(arch),
        "parameters": str(count_params(model)),
        "stages": json.dumps(cfg.get("stages", [])),
        "normalisation": NORMALISATION,
        "normalisation_percentile": "99.9",
        "inputs": json.dumps(dict({"a": "float32 [N,1,H,W] slice at t=0 (normalised)",
                                   "b": "float32 [N,1,H,W] slice at t=1 (normalised)",
                                   "t": "float32 [N] fractional position in (0,1) of the slice to synthesise"},
                                  **({"p": "float32 [N,1,H,W] the source slice before a (a itself at the start of a stack)",
                                      "q": "float32 [N,1,H,W] the source slice after b (b itself at the end of a stack)"}
                                     if context == 4 else {}))),
        "context": str(context),
        "outputs": json.dumps({"out": "float32 [N,1,H,W] synthesised slice (normalised)"}),
        "padding": "none needed: any H,W >= 2 works (size-driven upsampling inside the model)",
        "output_kind": "INTERPOLATED, not acquired",
        "opset": str(opset),
        "test_time_augmentation": ("mean over identity, horizontal flip, vertical flip and (b,a,1-t); 4x compute"
                                   if tta else "none"),
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add(); p.key = k; p.value = v
    m.producer_name = "interslice-training"
    onnx.checker.check_model(m)
    onnx.save(m, out)
    if quiet:
        return meta
    print("exported %s (%d params, %.2f MB, opset %d)" % (out, count_params(model), os.path.getsize(out) / 1e6, opset))
    print(json.dumps(meta, indent=1))
    return meta
