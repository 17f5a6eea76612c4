// Structured JSON logging (winston). Log calls pass identifiers (UIDs, AE titles, counts), never
// patient attributes: `scrub` below is a last line of defence, not the policy.
import winston from 'winston';

export type Logger = winston.Logger;

/** Keys whose values are patient data and must never reach a log line. */
const PHI_KEYS = /^(patient|patientname|patientid|patientbirthdate|birthdate|otherpatient|patientaddress|name)$/i;

const scrub = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (PHI_KEYS.test(key) || /^Patient/.test(key)) info[key] = '[removed]';
  }
  return info;
});

let root: winston.Logger | undefined;

export interface LogOptions {
  level?: string;
  /** Extra file to append JSON lines to (besides stdout). */
  file?: string;
  /** Suppress console output (CLI tools that print their own results). */
  silent?: boolean;
}

export function createLogger(opts: LogOptions = {}): winston.Logger {
  const transports: winston.transport[] = [];
  if (!opts.silent) transports.push(new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] }));
  if (opts.file) transports.push(new winston.transports.File({ filename: opts.file }));
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  root = winston.createLogger({
    level: opts.level ?? process.env.INTERSLICE_LOG_LEVEL ?? 'info',
    format: winston.format.combine(scrub(), winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: 'interslice' },
    transports,
  });
  return root;
}

/** The process logger; a child carries the stage name in every line. */
export function logger(stage?: string): winston.Logger {
  root ??= createLogger();
  return stage ? root.child({ stage }) : root;
}
