"""Dev check (needs python3-skimage, not a runtime dependency): our SSIM equals scikit-image's."""
import numpy as np
from skimage.metrics import structural_similarity
from training.evaluate import ssim2d
from training.volumes import load_volume
import sys

vol = load_volume(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mr/siemens-t1-sagittal-2mm-isotropic")[0]
R = float(np.percentile(vol, 99.9))
rng = np.random.default_rng(0)
worst = 0
for i in range(10, vol.shape[0] - 10, 7):
    a = np.clip(vol[i], 0, R).astype(np.float64)
    b = np.clip(vol[i + 1] + rng.normal(0, 10, a.shape), 0, R)
    ours = ssim2d(a, b, R)
    ref = structural_similarity(a, b, data_range=R)
    worst = max(worst, abs(ours - ref))
print("max |ours - skimage| = %.3g" % worst)
assert worst < 1e-9
