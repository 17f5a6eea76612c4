// A strict reader of the Prometheus text exposition format (0.0.4), enough to check that /metrics
// parses and to read sample values: every line must be a HELP, a TYPE or a sample.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`;
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL}(?:,|(?=\\})))*)\\})? (\\S+)(?: -?\\d+)?$`);
// Prometheus reads values with Go's strconv.ParseFloat: NaN and Inf in any letter case
// (prom-client writes "Nan" for an empty event-loop-lag sample).
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|nan|[+-]?inf(?:inity)?)$/i;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith('# HELP ')) {
      if (!new RegExp(`^# HELP ${NAME} `).test(line)) throw new Error(`bad HELP, ${where}`);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (!m) throw new Error(`bad TYPE, ${where}`);
      if (types.has(m[1])) throw new Error(`TYPE repeated, ${where}`);
      types.set(m[1], m[2]);
      return;
    }
    if (line.startsWith('#')) return; // other comments are allowed
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample, ${where}`);
    const value = m[m.length - 1];
    if (!VALUE.test(value)) throw new Error(`bad value, ${where}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(new RegExp(LABEL, 'g'))) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: /nan/i.test(value) ? NaN : /inf/i.test(value) ? (value.startsWith('-') ? -Infinity : Infinity) : Number(value) });
  });
  return { types, samples };
}

/** Value of the one sample with this name and (at least) these labels. */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
