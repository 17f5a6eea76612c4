"""The model card's unseen-scanner and adaptation tables from the measurement files in
models/measurements (training.dev.zs_table, training.dev.adapt_exp and `training evaluate --json`
output):  python3 -m training.dev.adapt_tables [--zeroshot FILE] [--adapt-eval FILE] [--adapt-train FILE]"""
import argparse
import json
from training.dev.zs_table import classical

ap = argparse.ArgumentParser()
ap.add_argument("--zeroshot", default="models/measurements/zeroshot-eval-2026-12-01.jsonl")
ap.add_argument("--models", default="interslice-v2,interslice-v3")
ap.add_argument("--adapt-eval", default="models/measurements/adapt-eval-v3-2026-12-01.jsonl")
ap.add_argument("--adapt-train", default=None)
ap.add_argument("--label", default="interslice-v3")
a = ap.parse_args()
cls = classical()
name = lambda r: r['vol'].replace('.nii.gz', '')
var = lambda r: '%s drop-%d' % ('thick' if r['thick'] else 'thin', r['drop'])
out = []
P = out.append
if a.zeroshot:
    labels = a.models.split(",")
    zs = {}
    for l in open(a.zeroshot):
        r = json.loads(l)
        zs.setdefault((r['vol'], r['drop'], r['thick']), {})[r['model']] = r
    P('| volume | variant | linear | cubic | ' + ' | '.join(labels) + ' | gain over best classical (PSNR; SSIM above both?) |')
    P('|---|---|---|---|' + '---|' * len(labels) + '---|')
    gains = {}
    for key in sorted(zs, key=lambda k: (k[2], -k[1], k[0])):
        L = cls[key + ('linear',)]; C = cls[key + ('cubic',)]
        row = zs[key]; r0 = row[labels[0]]
        cells = []
        for lab in labels:
            g = row[lab]['psnr'] - max(L[0], C[0])
            gains.setdefault((lab, var(r0)), []).append((g, row[lab]['ssim'] > max(L[1], C[1])))
            cells.append('%+.2f dB; %s' % (g, 'yes' if row[lab]['ssim'] > max(L[1], C[1]) else '**no**'))
        P('| %s | %s | %.2f / %.4f | %.2f / %.4f | ' % (name(r0), var(r0), L[0], L[1], C[0], C[1]) +
          ' | '.join('%.2f / %.4f' % (row[lab]['psnr'], row[lab]['ssim']) for lab in labels) + ' | ' + ' -> '.join(cells) + ' |')
    P('')
    for lab in labels:
        P('Mean gain over the best classical method, %s: ' % lab + '; '.join(
            '%s %+.2f dB (worst %+.2f; SSIM above both on %d/%d)' % (v, sum(x[0] for x in g) / len(g), min(x[0] for x in g),
                                                                  sum(x[1] for x in g), len(g))
            for (l, v), g in sorted(gains.items()) if l == lab) + '.')
    P('')


MAX_THICKNESS = 0.75  # the node's pipeline.adaptMaxThickness default


def rule(r, R):
    """Rule 1: the first guard; rule 2: the shipped held-out guard; rule 3: rule 2 on stacks no
    thicker than MAX_THICKNESS of their spacing (a thin kept slice is 1/k of it, a thick one 1)."""
    g = r['guard']
    dp = g['gain_db']; ds = g['ssim_after'] - g['ssim_before']
    if R == 1:
        return dp >= 0.05 and ds >= 0
    thin_enough = (1.0 if r['thick'] else 1.0 / r['drop']) <= MAX_THICKNESS
    return dp >= 0.1 and ds >= 0.002 and (R == 2 or thin_enough)


def table(rows, title):
    P('| %s | variant | zero-shot | adapted | true change | held-out (skip-one) change | rule 1 | rule 2 | rule 3 |' % title)
    P('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        g = r['guard']; d = r['adapted_psnr'] - r['base_psnr']; ds = r['adapted_ssim'] - r['base_ssim']
        P('| %s | %s | %.2f / %.4f | %.2f / %.4f | %+.2f dB / %+.4f | %+.2f dB / %+.4f | %s | %s | %s |' % (name(r), var(r), r['base_psnr'], r['base_ssim'], r['adapted_psnr'], r['adapted_ssim'], d, ds, g['gain_db'], g['ssim_after'] - g['ssim_before'], *('keep' if rule(r, R) else '-' for R in (1, 2, 3))))
    P('')


if a.adapt_train:
    table([json.loads(l) for l in open(a.adapt_train)], 'training volume (%s)' % a.label)
if a.adapt_eval:
    ev = [json.loads(l) for l in open(a.adapt_eval)]
    table(ev, 'evaluation volume (%s)' % a.label)
    allv = {}
    for r in ev:
        allv.setdefault(var(r), []).append(r['adapted_psnr'] - r['base_psnr'])
    P('Adapted weights whatever the guard says, true PSNR change: ' + '; '.join(
        '%s mean %+.3f dB (from %+.2f to %+.2f)' % (k, sum(v) / len(v), min(v), max(v)) for k, v in sorted(allv.items())) + '.')
    P('')
    for R in (1, 2, 3):
        agg = {}
        for r in ev:
            g = r['guard']; d = r['adapted_psnr'] - r['base_psnr']; ds = r['adapted_ssim'] - r['base_ssim']
            k = rule(r, R)
            agg.setdefault(var(r), []).append((d if k else 0.0, ds if k else 0.0, k))
        P('Rule %d on the evaluation volumes, what the node would deliver (adapted if kept, else zero-shot): ' % R + '; '.join(
            '%s mean %+.3f dB, worst %+.2f dB / SSIM %+.4f, %d of %d kept' % (k, sum(x[0] for x in v) / len(v), min(x[0] for x in v), min(x[1] for x in v), sum(x[2] for x in v), len(v)) for k, v in sorted(agg.items())) + '.')
        P('')
print('\n'.join(out))
