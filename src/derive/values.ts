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

/** DA, TM and DT of an instant, in UTC (TimezoneOffsetFromUTC says so). */
export function dicomDateTime(at: Date): { date: string; time: string; dateTime: string } {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`;
  const time = `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}.${pad(at.getUTCMilliseconds(), 3)}`;
  return { date, time, dateTime: `${date}${time}+0000` };
}

/** Absent, null, empty string, empty array: a value with nothing in it. */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0 || v.every((x) => x === '' || x === null || x === undefined);
  return false;
}
