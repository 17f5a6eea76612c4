// STOW-RS (PS3.18 10.5) client: Part-10 files POSTed as multipart/related; type="application/dicom",
// batchSize instances per request, over HTTP or HTTPS (BCP 195 suites). The response's
// ReferencedSOPSequence / FailedSOPSequence becomes one StoreResult per file, in the shape the
// DIMSE SCU gives (status = the C-STORE status the origin server reports: 0, a warning reason,
// a failure reason), so the outbox retries only what was not acknowledged. Network errors and
// HTTP errors without a per-instance answer fail the batch's files (never a throw).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { failpoint } from '../core/failpoints.js';
import { bcp195Options, type TlsMaterial } from '../core/tls-profile.js';
import { readFileMeta } from './file-dataset.js';
import type { StoreResult } from './scu.js';

/** Where a secret comes from: the value itself, a file (trimmed) or an environment variable. */
export type StowAuth =
  | { type: 'bearer'; token?: string; tokenFile?: string; tokenEnv?: string }
  | { type: 'basic'; username: string; password?: string; passwordFile?: string; passwordEnv?: string };

export interface StowDestination {
  /** The STOW-RS endpoint, e.g. http://pacs:8042/dicom-web/studies. */
  url: string;
  auth?: StowAuth | null;
  /** HTTPS: the server's certificate must chain to ca; cert/key when it wants ours. */
  tls?: TlsMaterial;
  /** Instances per request. */
  batchSize: number;
}

function secret(value: string | undefined, file: string | undefined, env: string | undefined, what: string): string {
  if (value !== undefined) return value;
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new Error(`${what}: cannot read the secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const v = env !== undefined ? process.env[env] : undefined;
  if (!v) throw new Error(`${what}: environment variable ${env ?? '(none)'} is not set`);
  return v;
}

/**
 * The Authorization header for a destination (read now: a rotated token file is picked up on
 * the next request). Throws, naming the source but never the secret, when it cannot be read.
 */
export function authorizationHeader(auth: StowAuth | null | undefined, what = 'auth'): string | undefined {
  if (!auth) return undefined;
  if (auth.type === 'bearer') return `Bearer ${secret(auth.token, auth.tokenFile, auth.tokenEnv, what)}`;
  const password = secret(auth.password, auth.passwordFile, auth.passwordEnv, what);
  return `Basic ${Buffer.from(`${auth.username}:${password}`, 'utf8').toString('base64')}`;
}

interface HttpReply {
  status: number;
  contentType: string;
  body: Buffer;
}

function request(dest: StowDestination, method: string, headers: Record<string, string | number>, body: Buffer | undefined, timeoutMs: number): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const url = new URL(dest.url);
    const auth = authorizationHeader(dest.auth);
    const opts: https.RequestOptions = { method, headers: { ...headers, ...(auth ? { Authorization: auth } : {}) }, timeout: timeoutMs };
    const req =
      url.protocol === 'https:'
        ? https.request(url, { ...opts, ...(dest.tls ? bcp195Options(dest.tls) : {}), rejectUnauthorized: true })
        : http.request(url, opts);
    req.on('timeout', () => req.destroy(new Error(`no response in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
    });
    req.end(body);
  });
}

type DicomJson = Record<string, { vr?: string; Value?: unknown[] }>;

/** Per SOP Instance UID: the status the origin server reports (PS3.18 Table 10.5.3-1). */
export function parseStowResponse(body: Buffer): Map<string, { ok: boolean; status: number }> {
  const out = new Map<string, { ok: boolean; status: number }>();
  let json: DicomJson | DicomJson[];
  try {
    json = JSON.parse(body.toString('utf8')) as DicomJson | DicomJson[];
  } catch {
    return out;
  }
  const ds = Array.isArray(json) ? json[0] : json;
  if (!ds || typeof ds !== 'object') return out;
  const items = (tag: string) => (ds[tag]?.Value ?? []) as DicomJson[];
  const first = (item: DicomJson, tag: string) => item[tag]?.Value?.[0];
  for (const item of items('00081199')) {
    const uid = first(item, '00081155');
    const warning = first(item, '00081196');
    if (typeof uid === 'string') out.set(uid, { ok: true, status: typeof warning === 'number' ? warning : 0 });
  }
  for (const item of items('00081198')) {
    const uid = first(item, '00081155');
    const reason = first(item, '00081197');
    if (typeof uid === 'string') out.set(uid, { ok: false, status: typeof reason === 'number' ? reason : 0xc000 });
  }
  return out;
}

const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** One multipart/related request; fills results[i] for the batch's files. Returns false to stop. */
async function postBatch(dest: StowDestination, batch: { i: number; file: string; uid: string }[], results: StoreResult[], timeoutMs: number): Promise<boolean> {
  const boundary = `interslice-${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const b of batch) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1'), readFileSync(b.file), Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  const body = Buffer.concat(parts);
  let reply: HttpReply;
  try {
    reply = await request(
      dest,
      'POST',
      {
        'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        'Content-Length': body.length,
        Accept: 'application/dicom+json',
      },
      body,
      timeoutMs,
    );
  } catch (e) {
    const error = `STOW-RS request failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    for (const b of batch) results[b.i] = { file: b.file, ok: false, error };
    return false;
  }
  // Parsed whatever the Content-Type says: Orthanc's 409 comes without one.
  const answers = reply.body.length > 0 && !/html|xml/i.test(reply.contentType) ? parseStowResponse(reply.body) : new Map<string, { ok: boolean; status: number }>();
  const httpOk = reply.status >= 200 && reply.status < 300;
  // 409 answers per instance too: PS3.18 means "none stored", but Orthanc sends it when any
  // failed and lists the ones it stored in ReferencedSOPSequence (they are in its database).
  const perInstance = httpOk || reply.status === 409;
  for (const b of batch) {
    const a = answers.get(b.uid);
    if (a && (a.ok ? perInstance : true)) {
      results[b.i] = { file: b.file, status: a.status, ok: a.ok };
      if (!a.ok) results[b.i].error = `STOW-RS failure reason ${hex(a.status)} (HTTP ${reply.status})`;
      else failpoint('mid-send');
    } else {
      results[b.i] = { file: b.file, ok: false, error: `HTTP ${reply.status}${httpOk ? ': instance not in the STOW-RS response' : ''}` };
    }
  }
  // After per-instance answers the next batch may fare better; other errors (401, 404, 5xx)
  // will not change for the next batch of this attempt.
  return perInstance || answers.size > 0;
}

/** Sends files to a STOW-RS endpoint; one result per file, in order (never throws). */
export async function stowFiles(dest: StowDestination, files: string[], o: { timeoutMs?: number } = {}): Promise<StoreResult[]> {
  const results: StoreResult[] = files.map((file) => ({ file, ok: false }));
  const readable: { i: number; file: string; uid: string }[] = [];
  files.forEach((file, i) => {
    try {
      readable.push({ i, file, uid: readFileMeta(file).sopInstanceUid });
    } catch (e) {
      results[i].error = `cannot read: ${(e as Error).message}`;
    }
  });
  for (let k = 0; k < readable.length; k += dest.batchSize) {
    const batch = readable.slice(k, k + dest.batchSize);
    let goOn: boolean;
    try {
      goOn = await postBatch(dest, batch, results, o.timeoutMs ?? 60_000);
    } catch (e) {
      // A file unreadable at send time, or an unreadable secret: the whole batch waits for a retry.
      for (const b of batch) results[b.i] = { file: b.file, ok: false, error: (e as Error).message };
      goOn = false;
    }
    if (!goOn) {
      const why = results[batch[0].i].error;
      for (const b of readable.slice(k + dest.batchSize)) results[b.i].error = `not sent (an earlier request failed: ${why})`;
      break;
    }
  }
  return results;
}

/** Readiness probe: an OPTIONS request; any answer but 401/403/5xx means the endpoint is there. */
export async function probeStow(dest: StowDestination, timeoutMs = 10_000): Promise<{ ok: boolean; error?: string }> {
  try {
    const r = await request(dest, 'OPTIONS', {}, undefined, timeoutMs);
    return r.status === 401 || r.status === 403 || r.status >= 500 ? { ok: false, error: `HTTP ${r.status}` } : { ok: true };
  } catch (e) {
    return { ok: false, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}
