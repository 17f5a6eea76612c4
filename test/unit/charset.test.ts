// Decoding text in every Specific Character Set (src/dicom/charset.ts), checked against values
// the standard and pydicom give, never against this code's own output:
// - PS3.5 Annex H (Japanese), I (Korean), J (UTF-8, GB18030), K (GB 2312) examples;
// - pydicom's test expectations (pydicom/tests/test_charset.py: ENCODED_NAMES,
//   FILE_PATIENT_NAMES, the JIS X 0212 and nested-sequence cases) and its charset_files.
// Then the dcmjs wrapper on those files: every one parses, in any transfer syntax, and the
// names come out as pydicom's tests expect them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { asciiCompatible, decodeText, findCharsetElements } from '../../src/dicom/charset.js';
import { parsePart10, SopClass, writePart10, type NaturalDataset } from '../../src/dicom/dcmjs.js';
import { parseFlatHeader } from '../../src/dicom/flat-header.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const hex = (s: string) => Buffer.from(s.replace(/0x|\s/g, ''), 'hex');

describe('decodeText: PS3.5 annexes', () => {
  it('H.3.1: ISO 2022 IR 87 after an empty value 1 (Yamada^Tarou)', () => {
    const raw = bytes('Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B');
    assert.equal(decodeText(raw, ['', 'ISO 2022 IR 87'], 'PN'), 'Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  it('H.3.2: value 1 ISO 2022 IR 13 (half-width katakana in G1, JIS X 0201 Romaji after the kanji)', () => {
    const raw = bytes('\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J');
    assert.equal(decodeText(raw, ['ISO 2022 IR 13', 'ISO 2022 IR 87'], 'PN'), 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
  });

  it('I.2: Korean, KS X 1001 designated to G1 in each component', () => {
    const raw = bytes('Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf');
    assert.equal(decodeText(raw, ['', 'ISO 2022 IR 149'], 'PN'), 'Hong^Gildong=洪^吉洞=홍^길동');
  });

  it('J.2 and J.3: UTF-8 and GB18030 need no code extensions', () => {
    assert.equal(decodeText(bytes('Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1='), ['ISO_IR 192'], 'PN'), 'Wang^XiaoDong=王^小東=');
    const gb = hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d cd f5 5e d0 a1 b6 ab 3d');
    assert.equal(decodeText(gb, ['GB18030'], 'PN'), 'Wang^XiaoDong=王^小东=');
    assert.equal(decodeText(gb, ['GBK'], 'PN'), 'Wang^XiaoDong=王^小东=');
  });

  it('K.3: Long Text in GB 2312 (ISO 2022 IR 58), G1 designated on every line', () => {
    const raw = hex(`0x31 0x2e 0x1B 0x24 0x29 0x41 0xB5 0xDA 0xD2 0xBB 0xD0 0xD0 0xCE 0xC4 0xD7 0xD6 0xA1 0xA3 0x0D 0x0A
      0x32 0x2e 0x1B 0x24 0x29 0x41 0xB5 0xDA 0xB6 0xFE 0xD0 0xD0 0xCE 0xC4 0xD7 0xD6 0xA1 0xA3 0x0D 0x0A
      0x33 0x2e 0x1B 0x24 0x29 0x41 0xB5 0xDA 0xC8 0xFD 0xD0 0xD0 0xCE 0xC4 0xD7 0xD6 0xA1 0xA3 0x0D 0x0A`);
    assert.equal(decodeText(raw, ['', 'ISO 2022 IR 58'], 'LT'), '1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n');
  });
});

describe('decodeText: pydicom test expectations', () => {
  // pydicom/tests/test_charset.py ENCODED_NAMES: each after 'ASCII+', with ['', term].
  const ENCODED_NAMES: [string, string, string][] = [
    ['ISO 2022 IR 13', 'ﾔﾏﾀﾞ^ﾀﾛｳ', '\x1b\x29\x49\xd4\xcf\xc0\xde\x5e\x1b\x29\x49\xc0\xdb\xb3'],
    ['ISO 2022 IR 100', 'Buc^Jérôme', '\x1b\x2d\x41\x42\x75\x63\x5e\x1b\x2d\x41\x4a\xe9\x72\xf4\x6d\x65'],
    ['ISO 2022 IR 101', 'Wałęsa', '\x1b\x2d\x42\x57\x61\xb3\xea\x73\x61'],
    ['ISO 2022 IR 109', 'antaŭnomo', '\x1b\x2d\x43\x61\x6e\x74\x61\xfd\x6e\x6f\x6d\x6f'],
    ['ISO 2022 IR 110', 'vārds', '\x1b\x2d\x44\x76\xe0\x72\x64\x73'],
    ['ISO 2022 IR 127', 'قباني^لنزار', '\x1b\x2d\x47\xe2\xc8\xc7\xe6\xea\x5e\x1b\x2d\x47\xe4\xe6\xd2\xc7\xd1'],
    ['ISO 2022 IR 126', 'Διονυσιος', '\x1b\x2d\x46\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2'],
    ['ISO 2022 IR 138', 'שרון^דבורה', '\x1b\x2d\x48\xf9\xf8\xe5\xef\x5e\x1b\x2d\x48\xe3\xe1\xe5\xf8\xe4'],
    ['ISO 2022 IR 144', 'Люкceмбypг', '\x1b\x2d\x4c\xbb\xee\xda\x63\x65\xdc\xd1\x79\x70\xd3'],
    ['ISO 2022 IR 148', 'Çavuşoğlu', '\x1b\x2d\x4d\xc7\x61\x76\x75\xfe\x6f\xf0\x6c\x75'],
    ['ISO 2022 IR 166', 'นามสกุล', '\x1b\x2d\x54\xb9\xd2\xc1\xca\xa1\xd8\xc5'],
  ];
  for (const [term, decoded, raw] of ENCODED_NAMES) {
    it(`single-byte code extension ${term}`, () => {
      assert.equal(decodeText(bytes(`ASCII+${raw}`), ['', term], 'PN'), `ASCII+${decoded}`);
    });
  }

  it('a G1 set ends at a component delimiter (then bytes above 0x7F read as Latin-1)', () => {
    assert.equal(decodeText(bytes('ASCII+\x1b\x29\x49\xd4\xcf\xc0\xde\x5e\xc0\xdb\xb3'), ['', 'ISO 2022 IR 13'], 'PN'), 'ASCII+ﾔﾏﾀﾞ^ÀÛ³');
  });

  it('JIS X 0212 (ISO 2022 IR 159) beside JIS X 0208', () => {
    const raw = hex(`4d 6f 72 69 5e 4f 67 61 69 3d 1b 24 42 3f 39 1b 28 42 5e 1b 24 28 44 6c 3f 1b 24 42 33 30 1b 28 42
      3d 1b 24 42 24 62 24 6a 1b 28 42 5e 1b 24 42 24 2a 24 26 24 2c 24 24 1b 28 42`);
    assert.equal(decodeText(raw, ['ISO 2022 IR 6', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], 'PN'), 'Mori^Ogai=森^鷗外=もり^おうがい');
  });

  it('Romaji, katakana, kanji and JIS X 0212 in one value (value 1 ISO 2022 IR 13)', () => {
    const raw = bytes('\x1b$B$"\x1b(Ja\x1b)I\xb1\x1b$B%"\x1b$(DmN\x1b(J');
    assert.equal(decodeText(raw, ['ISO 2022 IR 13', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], 'LO'), 'あaｱア齩');
  });

  it('several values, each in its own set; value 1 a single-byte set', () => {
    const raw = bytes('Buc^J\xe9r\xf4me\\\x1b\x2d\x46\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2\\\x1b\x2d\x4C\xbb\xee\xda\x63\x65\xdc\xd1\x79\x70\xd3');
    const terms = ['ISO 2022 IR 100', 'ISO 2022 IR 144', 'ISO 2022 IR 126'];
    assert.deepEqual(decodeText(raw, terms, 'PN').split('\\'), ['Buc^Jérôme', 'Διονυσιος', 'Люкceмбypг']);
    assert.equal(decodeText(bytes('Dionysios is \x1b\x2d\x46\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2'), ['ISO 2022 IR 100', 'ISO 2022 IR 126'], 'LO'), 'Dionysios is Διονυσιος');
    assert.equal(decodeText(bytes('R\xf6ntgenaufnahme'), ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'LO'), 'Röntgenaufnahme');
  });

  it('UTF-8 as value 1 ignores the code extensions after it', () => {
    assert.equal(decodeText(bytes('Buc^J\xc3\xa9r\xc3\xb4me'), ['ISO_IR 192', 'ISO 2022 IR 100', 'ISO 2022 IR 144'], 'PN'), 'Buc^Jérôme');
  });
});

describe('flat header reader and character sets', () => {
  const file = (charset: string | string[]) =>
    writePart10({ SpecificCharacterSet: charset, SOPClassUID: SopClass.MRImageStorage, SOPInstanceUID: '1.2.3', StudyDescription: 'Knee~1' }, { sopClassUid: SopClass.MRImageStorage, sopInstanceUid: '1.2.3' });

  it('reads a single set with an ASCII G0, declines several and JIS X 0201 Romaji (0x7E is an overline there)', () => {
    assert.equal(parseFlatHeader(file('ISO_IR 100'))?.dataset.StudyDescription, 'Knee~1');
    assert.equal(parseFlatHeader(file(['', 'ISO 2022 IR 149'])), undefined);
    assert.equal(parseFlatHeader(file('ISO_IR 13')), undefined);
    // ... which the dcmjs path then reads in that set.
    assert.equal(parsePart10(file('ISO_IR 13')).dataset.StudyDescription, 'Knee\u203e1');
    assert.equal(parsePart10(file(['', 'ISO 2022 IR 149'])).dataset.StudyDescription, 'Knee~1');
  });

  it('a term no standard defines stays unreadable (as dcmjs had it), except in a lenient read', () => {
    assert.equal(parseFlatHeader(file('ISO 2022 IR 999')), undefined);
    assert.throws(() => parsePart10(file('ISO 2022 IR 999')), /Unsupported character set: ISO 2022 IR 999/);
    assert.equal(parsePart10(file(['', 'ISO 2022 IR 999']), { lenient: true }).dataset.StudyDescription, 'Knee~1');
  });
});

describe('decodeText: the rest of PS3.3 C.12.1.1.2', () => {
  it('single-byte sets without code extensions read their upper half as ISO 8859 (not windows-125x)', () => {
    // ISO 8859-15: A4 euro sign, BD oe ligature. ISO 8859-1: 80-9F are C1 controls, not windows-1252.
    assert.equal(decodeText(bytes('c\xbdur 5\xa4'), ['ISO_IR 203'], 'LO'), 'cœur 5€');
    assert.equal(decodeText(bytes('\x80\x9f\xe9'), ['ISO_IR 100'], 'LT'), '\u0080\u009fé');
    assert.equal(decodeText(bytes('\xbb\xee\xda\x63\x65\xdc\xd1\x79\x70\xd3'), ['ISO_IR 144'], 'PN'), 'Люкceмбypг');
    assert.equal(decodeText(bytes('\xb9\xd2\xc1\xca\xa1\xd8\xc5'), ['ISO_IR 166'], 'PN'), 'นามสกุล');
  });

  it('ISO_IR 13: JIS X 0201 (Romaji in G0: 0x5C is the yen sign in text, the delimiter between values)', () => {
    assert.equal(decodeText(bytes('\xd4\xcf\xc0\xde 100\x5c'), ['ISO_IR 13'], 'LT'), 'ﾔﾏﾀﾞ 100¥');
    assert.equal(decodeText(bytes('\xd4\xcf\\\xc0\xde'), ['ISO_IR 13'], 'LO'), 'ﾔﾏ\\ﾀﾞ');
  });

  it('a kanji whose second byte is "=" stays one character (the delimiter counts only in a single-byte G0)', () => {
    // Python's iso2022_jp codec: '表' is ESC $ B 0x49 0x3D ESC ( B, '太郎' is ESC $ B B@O: ESC ( B.
    const raw = bytes('Hyou^Taro=\x1b$BI=\x1b(B^\x1b$BB@O:\x1b(B');
    assert.equal(decodeText(raw, ['', 'ISO 2022 IR 87'], 'PN'), 'Hyou^Taro=表^太郎');
  });

  it('which sets the flat header reader may read as ASCII', () => {
    for (const t of [[''], ['ISO_IR 100'], ['ISO_IR 192'], ['GB18030'], ['ISO 2022 IR 149'], ['ISO_IR 166']]) assert.equal(asciiCompatible(t), true, t.join('\\'));
    for (const t of [['ISO_IR 13'], ['ISO 2022 IR 13', 'ISO 2022 IR 87']]) assert.equal(asciiCompatible(t), false, t.join('\\'));
  });
});

// pydicom's own files and the names its tests expect from them (FILE_PATIENT_NAMES).
const CHARSET_FILES = '/usr/lib/python3/dist-packages/pydicom/data/charset_files';
const PYTHON = '/usr/bin/python3';
const FILE_PATIENT_NAMES: [string, string][] = [
  ['chrArab', 'قباني^لنزار'],
  ['chrFren', 'Buc^Jérôme'],
  ['chrFrenMulti', 'Buc^Jérôme'],
  ['chrGerm', 'Äneas^Rüdiger'],
  ['chrGreek', 'Διονυσιος'],
  ['chrH31', 'Yamada^Tarou=山田^太郎=やまだ^たろう'],
  ['chrH32', 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'],
  ['chrHbrw', 'שרון^דבורה'],
  ['chrI2', 'Hong^Gildong=洪^吉洞=홍^길동'],
  ['chrJapMulti', 'やまだ^たろう'],
  ['chrJapMultiExplicitIR6', 'やまだ^たろう'],
  ['chrKoreanMulti', '김희중'],
  ['chrRuss', 'Люкceмбypг'],
  ['chrX1', 'Wang^XiaoDong=王^小東'],
  ['chrX2', 'Wang^XiaoDong=王^小东'],
];
const NESTED_NAME = 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'; // chrSQEncoding(1): the item's PatientName
const haveFiles = existsSync(CHARSET_FILES);
const havePydicom = haveFiles && existsSync(PYTHON);

/** dcmjs's PN object as the DICOM string pydicom shows (empty trailing groups dropped). */
function pn(v: unknown): string {
  const o = (Array.isArray(v) ? v[0] : v) as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  return [o.Alphabetic ?? '', o.Ideographic ?? '', o.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

function checkNames(read: (name: string) => NaturalDataset, label: string): void {
  for (const [name, expected] of FILE_PATIENT_NAMES) {
    const ds = read(name);
    assert.equal(pn(ds.PatientName), expected, `${label} ${name}`);
    assert.equal(ds.SpecificCharacterSet, 'ISO_IR 192', `${label} ${name}`);
  }
  for (const name of ['chrSQEncoding', 'chrSQEncoding1']) {
    const item = read(name).RequestedProcedureCodeSequence[0];
    assert.equal(pn(item.PatientName), NESTED_NAME, `${label} ${name}`);
  }
}

describe('parsePart10 on pydicom charset_files', { skip: !haveFiles && `no ${CHARSET_FILES} (Debian python3-pydicom)` }, () => {
  const read = (name: string) => parsePart10(readFileSync(join(CHARSET_FILES, `${name}.dcm`))).dataset;

  it('every file parses, names as pydicom expects, also in sequence items with their own character set', () => {
    checkNames(read, 'Explicit VR LE');
  });

  it('other multi-valued text: LO, LT and PN values, several values each', () => {
    const jap = read('chrJapMulti');
    assert.equal(jap.AdditionalPatientHistory, 'たろう');
    assert.deepEqual(jap.OtherPatientNames.map(pn), ['やまだ^たろう', 'やまだ^たろう']);
    const kor = read('chrKoreanMulti');
    assert.equal(pn(kor.OperatorsName), '김희중');
    assert.equal(kor.AdditionalPatientHistory, '김희중');
    assert.deepEqual(read('chrFrenMulti').OtherPatientIDs, ['eggs', 'spam']);
  });

  it('what it read writes back as UTF-8 under ISO_IR 192 and reads the same', () => {
    for (const name of ['chrH31', 'chrH32', 'chrI2', 'chrX2', 'chrSQEncoding1']) {
      const ds = read(name);
      const again = parsePart10(writePart10(ds, { sopClassUid: SopClass.SecondaryCaptureImageStorage, sopInstanceUid: '1.2.3' })).dataset;
      assert.equal(again.SpecificCharacterSet, 'ISO_IR 192');
      assert.equal(pn(again.PatientName ?? again.RequestedProcedureCodeSequence[0].PatientName), pn(ds.PatientName ?? ds.RequestedProcedureCodeSequence[0].PatientName));
    }
  });

  it('finds the character set of the dataset and of a sequence item', () => {
    const buf = readFileSync(join(CHARSET_FILES, 'chrSQEncoding.dcm'));
    const metaEnd = 144 + buf.readUInt32LE(140);
    const found = findCharsetElements(buf.subarray(metaEnd), true, true, () => undefined);
    assert.deepEqual(
      found.map((f) => [f.path, f.terms]),
      [['', ['ISO_IR 192']], ['00321064.0/', ['ISO 2022 IR 13', 'ISO 2022 IR 87']]],
    );
  });
});

describe('parsePart10 in other transfer syntaxes', { skip: !havePydicom && 'needs Debian python3-pydicom at /usr/bin/python3' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'interslice-charset-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // pydicom rewrites each file in Implicit VR LE, Explicit VR BE and Deflated Explicit VR LE,
  // leaving the text bytes as they were (raw elements are written back unchanged).
  const script = `
import sys, glob, os, pydicom
from pydicom.uid import ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian
out = sys.argv[1]
for path in sorted(glob.glob(os.path.join(sys.argv[2], '*.dcm'))):
    name = os.path.basename(path)[:-4]
    for ts, implicit, little in [(ImplicitVRLittleEndian, True, True), (ExplicitVRBigEndian, False, False), (DeflatedExplicitVRLittleEndian, False, True)]:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = ts
        if 'PixelData' in ds: del ds.PixelData
        ds.is_implicit_VR, ds.is_little_endian = implicit, little
        ds.save_as(os.path.join(out, f'{name}.{ts}.dcm'), write_like_original=False)
`;
  const made = havePydicom ? (execFileSync(PYTHON, ['-c', script, dir, CHARSET_FILES], { stdio: ['ignore', 'ignore', 'pipe'] }), true) : false;

  for (const [ts, label] of [
    ['1.2.840.10008.1.2', 'Implicit VR LE'],
    ['1.2.840.10008.1.2.2', 'Explicit VR BE'],
    ['1.2.840.10008.1.2.1.99', 'Deflated Explicit VR LE'],
  ]) {
    it(label, { skip: !made }, () => {
      checkNames((name) => parsePart10(readFileSync(join(dir, `${name}.${ts}.dcm`))).dataset, label);
    });
  }
});
