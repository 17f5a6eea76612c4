#!/bin/sh
# Rebuild models/interslice-v3.onnx and the two shipped models built from it, interslice-v3-thin.onnx and
# interslice-v3-thick.onnx, from scratch (run from the repository root).
# Debian packages: python3-torch python3-numpy python3-scipy python3-nibabel python3-pydicom
# python3-onnx ffmpeg mricron-data. Times are for a 2-core CPU; a GPU is used when present.
# Architecture (training/model.py DEFAULT_ARCH): 4 input slices (p, a, b, q) with a Catmull-Rom
# candidate, U-Net at half resolution, 16-channel full-resolution refinement head.
set -eu
PY=${PY:-/usr/bin/python3}
RUNS=${RUNS:-training/runs/v2}
T=/usr/share/mricron/templates
MR=../shared/data/mr
# stage 1: video frame interpolation (~15-25 min)
nice -n 10 $PY -m training pretrain-video --video ../shared/data/video --out $RUNS/s1 --steps 2400 --batch 12 --patch 128 \
  --minutes 30 --seed 0
# stage 2: high-resolution MR slice triplets (with their context slices), all three axes, random gaps (~25-45 min)
nice -n 10 $PY -m training finetune-mr --init $RUNS/s1/model.pt --mr $T/ch2.nii.gz --mr $T/ch2better.nii.gz \
  --out $RUNS/s2 --steps 4000 --minutes 50 --batch 12 --patch 128 --seed 0
# stage 3: self-supervised on real thick-slice series (never the Siemens isotropic volume) (7-min cap)
nice -n 10 $PY -m training finetune-self --init $RUNS/s2/model.pt \
  --target $MR/siemens-asl-6mm-thick-7.5mm-spacing --target $MR/philips-pcasl-oblique-4mm \
  --target $MR/canon-axial-oblique-36deg --target $MR/canon-sagittal-oblique-28deg \
  --replay $T/ch2.nii.gz --replay $T/ch2better.nii.gz \
  --out $RUNS/s3 --steps 300 --minutes 7 --seed 0
# (interslice-v2 was exported here: $PY -m training export --ckpt $RUNS/s3/model.pt --out models/interslice-v2.onnx --version 2.0.0)
# interslice-v3: stage 2 continued on broader real MR (the three volumes of ../shared/data/mr-3d/train plus ch2 and
# ch2better; never ../shared/data/mr-3d/eval), in three runs (~12, ~18 and ~15 min): first with more slab-averaged inputs,
# then with more still, magnitude (Rician) noise and more background patches (models/MODEL_CARD.md says why)
TR=../shared/data/mr-3d/train
nice -n 10 $PY -m training finetune-mr --init $RUNS/s3/model.pt --mr $TR --mr $T/ch2.nii.gz --mr $T/ch2better.nii.gz \
  --p-thick 0.5 --out $RUNS/s2b --steps 2000 --batch 12 --patch 128 --lr 1e-4 --seed 0
nice -n 10 $PY -m training finetune-mr --init $RUNS/s2b/model.pt --mr $TR --mr $T/ch2.nii.gz --mr $T/ch2better.nii.gz \
  --p-thick 0.6 --p-dark 0.3 --magnitude-noise --out $RUNS/s2c --steps 3000 --batch 12 --patch 128 --lr 1e-4 --seed 0
# third run (~15 min): slab inputs get their noise before the slab average, and an SSIM term in the loss
nice -n 10 $PY -m training finetune-mr --init $RUNS/s2c/model.pt --mr $TR --mr $T/ch2.nii.gz --mr $T/ch2better.nii.gz \
  --p-thick 0.6 --p-dark 0.3 --magnitude-noise --noise-first --ssim-weight 0.2 --out $RUNS/s2d --steps 2000 --batch 12 \
  --patch 128 --lr 5e-5 --seed 0
$PY -m training export --ckpt $RUNS/s2d/model.pt --out models/interslice-v3.onnx --version 3.0.0
cp $RUNS/s2d/model.pt models/interslice-v3.pt
# interslice-v3-thick, the model for thick stacks (pipeline.thickModelPath): v3 trained on with 95 % slab-averaged
# inputs (~15 min); the node uses it for stacks whose slices are thicker than pipeline.thickModelAbove of their spacing
nice -n 10 $PY -m training finetune-mr --init $RUNS/s2d/model.pt --mr $TR --mr $T/ch2.nii.gz --mr $T/ch2better.nii.gz \
  --p-thick 0.95 --p-dark 0.3 --magnitude-noise --noise-first --ssim-weight 0.2 --out $RUNS/s2k --steps 2000 --batch 12 \
  --patch 128 --lr 1e-4 --seed 0
$PY -m training export --ckpt $RUNS/s2k/model.pt --out models/interslice-v3-thick.onnx --name interslice-thick --version 3.0.0
cp $RUNS/s2k/model.pt models/interslice-v3-thick.pt
# interslice-v3-thin, the standard model (pipeline.modelPath): v3 trained on with 5 % slab-averaged inputs (~14 min)
nice -n 10 $PY -m training finetune-mr --init $RUNS/s2d/model.pt --mr $TR --mr $T/ch2.nii.gz --mr $T/ch2better.nii.gz \
  --p-thick 0.05 --p-dark 0.3 --magnitude-noise --noise-first --ssim-weight 0.2 --out $RUNS/s2t --steps 2000 --batch 12 \
  --patch 128 --lr 1e-4 --seed 0
$PY -m training export --ckpt $RUNS/s2t/model.pt --out models/interslice-v3-thin.onnx --name interslice-thin --version 3.0.0
cp $RUNS/s2t/model.pt models/interslice-v3-thin.pt
# interslice-refiner-1, the through-plane refiner (pipeline.refinerPath; training/refiner.py): trained on the two
# models' own output on the three training volumes (every axis, thin and thick, drop-2 to drop-6) against the full
# volumes, 4000 steps (~6 min, plus ~8 min to cache the models' output once); writes the .pt and the .onnx
nice -n 10 $PY -m training refiner --out models/interslice-refiner-1.pt --ch 16 --steps 4000 --ks 2,3,4,5,6 --seed 0
# interslice-refiner-short-1, first in pipeline.refinerPath: the same data at drop-2 and drop-4 only, 32 channels
# convolving along the slices only (--kw 1), 3000 steps (~7 min); the node uses it where a stack has 2 or 4 output
# steps per acquired gap (src/interpolate/refine/choose.ts)
nice -n 10 $PY -m training refiner --out models/interslice-refiner-short-1.pt --ch 32 --kw 1 --steps 3000 --ks 2,4 --seed 0 \
  --name interslice-refiner-short
