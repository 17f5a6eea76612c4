// Small DICOM value formatters for the attributes we write ourselves.

/** A Decimal String value that fits the 16-character limit. */
export function ds(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  if (Object.is(x, -0) || Math.abs(x) < 1e-10) return '0';
  for (let p = 15; p >= 1; p--) {
    const s = Number(x.toPrecision(p)).toString();
    if (s.length <= 16) return s;
  }
  return x.toExponential(6);
}

export function dsList(xs: number[]): string[] {
  return xs.map(ds);
}

/** Minutes east of UTC from a TimezoneOffsetFromUTC value ("+hhmm" / "-hhmm"), if valid. */
export function parseUtcOffset(v: unknown): number | undefined {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(String(v ?? '').trim());
  if (!m) return undefined;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/**
 * DA and TM of an instant at a UTC offset (minutes east; default the host's local time, the
 * DICOM convention when the dataset gives no TimezoneOffsetFromUTC), and a DT in UTC with an
 * explicit "+0000" so that it never depends on the offset.
 */
export function dicomDateTime(at: Date, offsetMinutes = -at.getTimezoneOffset()): { date: string; time: string; dateTime: string } {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const fmt = (t: Date) => ({
    date: `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}`,
    time: `${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}`,
  });
  const local = fmt(new Date(at.getTime() + offsetMinutes * 60000));
  const utc = fmt(at);
  return { ...local, dateTime: `${utc.date}${utc.time}+0000` };
}

/** Absent, null, empty string, empty array: a value with nothing in it. */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0 || v.every((x) => x === '' || x === null || x === undefined);
  return false;
}
