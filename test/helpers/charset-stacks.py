"""Test data for test/e2e/charsets.test.ts, made and read with pydicom (the independent oracle).

Run with Debian's python3 (/usr/bin/python3, python3-pydicom). Prints JSON on stdout.

  charset-stacks.py samples SAMPLES_DIR OUT_DIR
      Every pydicom charset sample as an MR Image Storage instance (SOP class in dataset and
      file meta, new UIDs, Modality MR, a small pixel module where it had none); its text
      bytes and character sets, in sequence items too, as they were.
  charset-stacks.py stacks SAMPLES_DIR CARRIER_DIR OUT_DIR NAME[,NAME...]
      Per named sample, the carrier MR series with new Study/Series/SOP UIDs and, in every
      instance, the sample's Specific Character Set and PatientName bytes (from the dataset
      or item that holds the name) and a StudyDescription and SeriesDescription pydicom
      encodes in that character set. Reports each series' values as pydicom decodes them.
  charset-stacks.py decode FILE...
      The listed files' character set and text values as pydicom decodes them.
"""
import json
import warnings
import os
import sys

import pydicom
import pydicom.charset
import pydicom.valuerep
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import generate_uid

MR = '1.2.840.10008.5.1.4.1.1.4'
warnings.filterwarnings('ignore', message='The value length')  # LO is 64 characters, not bytes


def raw(tag, vr, value):
    if len(value) % 2:
        value += b' '
    return RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def samples(src_dir, out_dir):
    out = []
    for name in sorted(f for f in os.listdir(src_dir) if f.endswith('.dcm')):
        ds = pydicom.dcmread(os.path.join(src_dir, name))
        sop = generate_uid()
        ds.file_meta.MediaStorageSOPClassUID = MR
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SOPClassUID = MR
        ds.SOPInstanceUID = sop
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.Modality = 'MR'
        if 'PixelData' not in ds:
            rows, cols = ds.get('Rows', 2), ds.get('Columns', 2)
            ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, 1
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.PhotometricInterpretation = ds.get('PhotometricInterpretation', 'MONOCHROME2')
            ds.PixelData = bytes(rows * cols * 2)
            ds['PixelData'].VR = 'OW'
        path = os.path.join(out_dir, name)
        ds.save_as(path, write_like_original=False)
        out.append({'name': name[:-4], 'path': path, 'seriesInstanceUid': ds.SeriesInstanceUID})
    return out


def holder_of_name(ds, charset_raw=None):
    """(dataset holding PatientName, raw bytes of the character set in scope there)."""
    if 0x00080005 in ds:
        # pydicom decodes (0008,0005) as it reads; its values are ASCII, joined as stored.
        terms = ds.SpecificCharacterSet
        charset_raw = '\\'.join([terms] if isinstance(terms, str) else list(terms)).encode('ascii')
    if 0x00100010 in ds:
        return ds, charset_raw
    for elem in ds:
        if elem.VR == 'SQ':
            for item in elem.value:
                hit = holder_of_name(item, charset_raw)
                if hit:
                    return hit
    return None


def text_of(ds):
    def s(v):
        return None if v is None else str(v)
    return {
        'SpecificCharacterSet': s(ds.get('SpecificCharacterSet')) if not isinstance(ds.get('SpecificCharacterSet'), pydicom.multival.MultiValue) else list(ds.SpecificCharacterSet),
        'PatientName': s(ds.get('PatientName')),
        'StudyDescription': s(ds.get('StudyDescription')),
        'SeriesDescription': s(ds.get('SeriesDescription')),
    }


def stacks(src_dir, carrier_dir, out_dir, names):
    carriers = sorted(os.listdir(carrier_dir))
    out = []
    for name in names:
        sample = pydicom.dcmread(os.path.join(src_dir, name + '.dcm'))
        holder, charset_raw = holder_of_name(sample)
        name_raw = holder.get_item(0x00100010).value
        assert isinstance(name_raw, bytes), 'PatientName already decoded'
        terms = [t.strip() for t in charset_raw.decode('ascii').rstrip('\0 ').split('\\')]
        # Text in the same character set, encoded by pydicom: the name's words, and its last group.
        encodings = pydicom.charset.convert_encodings(terms)
        pn = str(pydicom.valuerep.PersonName(name_raw.rstrip(b' '), encodings))
        words = ' '.join(pn.replace('^', ' ').replace('=', ' ').split())
        last = ' '.join(pn.rstrip('=').split('=')[-1].replace('^', ' ').split())
        study_raw = pydicom.charset.encode_string(words, encodings)
        series_raw = pydicom.charset.encode_string('Serie ' + last, encodings)
        study, series = generate_uid(), generate_uid()
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        for i, f in enumerate(carriers):
            ds = pydicom.dcmread(os.path.join(carrier_dir, f))
            sop = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = sop
            ds.SOPInstanceUID = sop
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = series
            ds[0x00080005] = raw(0x00080005, 'CS', charset_raw)
            ds[0x00100010] = raw(0x00100010, 'PN', name_raw)
            ds[0x00081030] = raw(0x00081030, 'LO', study_raw)
            ds[0x0008103E] = raw(0x0008103E, 'LO', series_raw)
            # Read in this character set from now on: pydicom writes the raw values unchanged.
            ds.read_encoding = encodings
            ds.save_as(os.path.join(folder, '%03d.dcm' % i), write_like_original=False)
        # What pydicom reads back from a written instance is the expectation.
        back = pydicom.dcmread(os.path.join(folder, '000.dcm'), stop_before_pixels=True)
        out.append({'name': name, 'dir': folder, 'files': len(carriers), 'seriesInstanceUid': series, 'source': text_of(back)})
    return out


def decode(files):
    out = []
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        refs = ds.get('ReferencedSeriesSequence')
        rec = text_of(ds)
        rec.update({'path': f, 'referencedSeries': refs[0].SeriesInstanceUID if refs else None})
        out.append(rec)
    return out


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'samples':
        result = samples(sys.argv[2], sys.argv[3])
    elif cmd == 'stacks':
        result = stacks(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(','))
    else:
        result = decode(sys.argv[2:])
    json.dump(result, sys.stdout, ensure_ascii=False)
