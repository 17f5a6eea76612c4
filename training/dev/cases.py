"""The evaluation volumes the dev scripts know by key, and their `volkey:k1,k2[:thick]` case syntax."""

VOLS = {"siemens": "../shared/data/mr/siemens-t1-sagittal-2mm-isotropic",
        "ch2": "/usr/share/mricron/templates/ch2.nii.gz"}


def parse_case(case):
    """'ch2:2,4:thick' -> ('ch2', [2, 4], True)"""
    parts = case.split(":")
    return parts[0], [int(k) for k in parts[1].split(",")], len(parts) > 2 and parts[2] == "thick"
