"""Volume I/O shared by training and evaluation.

A volume is returned as float32 numpy array [slices, rows, cols] sorted along the slice normal
with Rescale Slope/Intercept applied, plus spacing (slice, row, col) in mm.
NIfTI: array [k, j, i] = data[i, j, k] (slices along the third voxel axis, which is axial for
the mricron templates; the slice plane is stored rows=j, cols=i exactly as in the file).
"""
import os
import glob
import numpy as np


def _is_nifti(p):
    return p.endswith(".nii") or p.endswith(".nii.gz")


def load_nifti(path):
    import nibabel as nib
    img = nib.load(path)
    data = np.asarray(img.get_fdata(dtype=np.float32))
    while data.ndim > 3:
        data = data[..., 0]
    zooms = img.header.get_zooms()[:3]
    vol = np.ascontiguousarray(data.transpose(2, 1, 0)).astype(np.float32)
    return vol, (float(zooms[2]), float(zooms[1]), float(zooms[0]))


def dicom_stacks(folder):
    """Group the DICOM files of a folder into stacks; return list of (vol, spacing, label)."""
    import pydicom
    files = sorted(f for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True) if os.path.isfile(f))
    groups = {}
    for f in files:
        try:
            ds = pydicom.dcmread(f)
        except Exception:
            continue
        if "PixelData" not in ds or "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            continue
        if getattr(ds, "SamplesPerPixel", 1) != 1:
            continue
        if int(getattr(ds, "NumberOfFrames", 1) or 1) != 1:
            continue
        iop = np.array([float(v) for v in ds.ImageOrientationPatient])
        key = (str(getattr(ds, "SeriesInstanceUID", "")), tuple(np.round(iop, 3)),
               str(getattr(ds, "EchoNumbers", "")), "\\".join(getattr(ds, "ImageType", [])),
               int(ds.Rows), int(ds.Columns))
        groups.setdefault(key, []).append(ds)
    out = []
    for key, dss in groups.items():
        iop = np.array(key[1])
        normal = np.cross(iop[:3], iop[3:])
        items = []
        for ds in dss:
            pos = float(np.dot(np.array([float(v) for v in ds.ImagePositionPatient]), normal))
            items.append((pos, int(getattr(ds, "InstanceNumber", 0) or 0), ds))
        items.sort(key=lambda x: (x[0], x[1]))
        # repeated positions (time series): keep the first volume only
        uniq = []
        for it in items:
            if uniq and abs(it[0] - uniq[-1][0]) < 1e-3:
                continue
            uniq.append(it)
        if len(uniq) < 3:
            continue
        sl = []
        for _, _, ds in uniq:
            arr = ds.pixel_array.astype(np.float32)
            slope = float(getattr(ds, "RescaleSlope", 1) or 1)
            icpt = float(getattr(ds, "RescaleIntercept", 0) or 0)
            sl.append(arr * slope + icpt)
        vol = np.stack(sl).astype(np.float32)
        pos = np.array([u[0] for u in uniq])
        dz = float(np.median(np.diff(pos)))
        ps = [float(v) for v in uniq[0][2].PixelSpacing]
        out.append((vol, (dz, ps[0], ps[1]), "%s[%s]" % (os.path.basename(folder.rstrip("/")), key[3])))
    out.sort(key=lambda x: -x[0].shape[0])
    return out


def load_volume(path):
    if _is_nifti(path):
        return load_nifti(path)
    st = dicom_stacks(path)
    if not st:
        raise ValueError("no usable DICOM stack in %s" % path)
    return st[0][0], st[0][1]


def find_volumes(path):
    """A NIfTI file, a DICOM folder, or a folder of those -> list of (vol, spacing, label)."""
    if os.path.isfile(path):
        v, s = load_nifti(path)
        return [(v, s, os.path.basename(path))]
    res = []
    st = dicom_stacks(path) if any(os.path.isfile(os.path.join(path, f)) and not _is_nifti(f) for f in os.listdir(path)) else []
    res.extend(st)
    for f in sorted(os.listdir(path)):
        p = os.path.join(path, f)
        if os.path.isfile(p) and _is_nifti(p):
            v, s = load_nifti(p)
            res.append((v, s, f))
        elif os.path.isdir(p):
            res.extend(find_volumes(p))
    return res


def norm_scale(vol):
    """Intensity normalisation used by the model: divide by the 99.9th percentile
    (numpy 'linear' percentile) of the input stack; the output is multiplied back."""
    s = float(np.percentile(vol, 99.9))
    return s if s > 0 else float(np.max(vol)) or 1.0
