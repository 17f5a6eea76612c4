"""The model card's unseen-scanner and adaptation tables from the measurement files in models/measurements
(training.dev.adapt_exp and training evaluate --json output): python3 -m training.dev.adapt_tables"""
import json
from training.dev.zs_table import classical
cls = classical()
ev = [json.loads(l) for l in open('models/measurements/adapt-eval-2026-12-01.jsonl')]
tr = [json.loads(l) for l in open('models/measurements/adapt-train-2026-12-01.jsonl')]
name = lambda r: r['vol'].replace('.nii.gz', '')
var = lambda r: '%s drop-%d' % ('thick' if r['thick'] else 'thin', r['drop'])
out = []
P = out.append
P('| volume | variant | linear | cubic | interslice-v2 | gain over best classical (PSNR; SSIM above both?) |')
P('|---|---|---|---|---|---|')
gains = {}
for r in ev:
    key = (r['vol'], r['drop'], r['thick'])
    L = cls[key + ('linear',)]; C = cls[key + ('cubic',)]
    g = r['base_psnr'] - max(L[0], C[0])
    gains.setdefault(var(r), []).append(g)
    P('| %s | %s | %.2f / %.4f | %.2f / %.4f | %.2f / %.4f | %+.2f dB; %s |' % (name(r), var(r), L[0], L[1], C[0], C[1], r['base_psnr'], r['base_ssim'], g, 'yes' if r['base_ssim'] > max(L[1], C[1]) else '**no**'))
P('')
P('Mean gain over the best classical method: ' + '; '.join('%s %+.2f dB (%d volumes)' % (k, sum(v) / len(v), len(v)) for k, v in sorted(gains.items())) + '.')
P('')
def rule(g, R):
    dp = g['gain_db']; ds = g['ssim_after'] - g['ssim_before']
    return (dp >= 0.05 and ds >= 0) if R == 1 else (dp >= 0.1 and ds >= 0.002)
def table(rows, title):
    P('| %s | variant | zero-shot | adapted | true change | held-out (skip-one) change | rule 1 | rule 2 |' % title)
    P('|---|---|---|---|---|---|---|---|')
    for r in rows:
        g = r['guard']; d = r['adapted_psnr'] - r['base_psnr']; ds = r['adapted_ssim'] - r['base_ssim']
        P('| %s | %s | %.2f / %.4f | %.2f / %.4f | %+.2f dB / %+.4f | %+.2f dB / %+.4f | %s | %s |' % (name(r), var(r), r['base_psnr'], r['base_ssim'], r['adapted_psnr'], r['adapted_ssim'], d, ds, g['gain_db'], g['ssim_after'] - g['ssim_before'], 'keep' if rule(g, 1) else '-', 'keep' if rule(g, 2) else '-'))
    P('')
table(tr, 'training volume')
table(ev, 'evaluation volume')
for R in (1, 2):
    agg = {}
    for r in ev:
        g = r['guard']; d = r['adapted_psnr'] - r['base_psnr']; ds = r['adapted_ssim'] - r['base_ssim']
        k = rule(g, R)
        agg.setdefault(var(r), []).append((d if k else 0.0, ds if k else 0.0, k))
    P('Rule %d on the evaluation volumes, what the node would deliver (adapted if kept, else zero-shot): ' % R + '; '.join(
        '%s mean %+.3f dB, worst %+.2f dB / SSIM %+.4f, %d of %d kept' % (k, sum(x[0] for x in v) / len(v), min(x[0] for x in v), min(x[1] for x in v), sum(x[2] for x in v), len(v)) for k, v in sorted(agg.items())) + '.')
    P('')
print('\n'.join(out))
