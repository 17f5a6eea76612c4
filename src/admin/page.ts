// The status page: server-rendered HTML with a little inline CSS, refreshed by the browser every
// few seconds. No script, no external resources (the admin port may be on an isolated network).
import type { JobView, StackView } from './jobs-view.js';
import type { PictureState } from './pictures.js';
import { PICTURE_KINDS, type PictureKind } from './render.js';
import type { DeadLetterView, SupersededView } from './node-view.js';

export interface PageInput {
  jobs: JobView[];
  /** Picture state per "<job key>/<stack index>". */
  pictures: Map<string, PictureState>;
  depth: Record<string, { queued: number; leased: number; dead: number }>;
  outbox: Record<string, number>;
  /** Series jobs in the dead letter (requeue: `interslice jobs retry KEY`). */
  deadLetters?: DeadLetterView[];
  /** Derived series replaced by a later one. */
  superseded?: SupersededView[];
  refreshSeconds: number;
  now: Date;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:0}
.meta{color:#666;margin-bottom:1em}.job{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin:0 0 1em}
.state{display:inline-block;padding:0 .5em;border-radius:3px;font-weight:600;font-size:.85em;text-transform:uppercase}
.done{background:#d9f2dc;color:#1d6b2a}.failed{background:#f8d7da;color:#8a1c25}.running{background:#dbe8fb;color:#1f4f96}.waiting{background:#eee;color:#555}
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left;vertical-align:top}
.uid{font-family:ui-monospace,monospace;font-size:.85em;color:#555}
.pics{display:grid;grid-template-columns:auto auto auto;gap:.4em 1em;justify-content:start;margin-top:.5em}
figure{margin:0}figcaption{font-size:.85em;color:#555}img{background:#000;display:block;max-width:360px;height:auto}
.wl{grid-column:1/-1;font-size:.85em;color:#555}
.note{color:#8a5a00}`;

function pictures(job: JobView, s: StackView, state: PictureState | undefined): string {
  if (!s.pictures) return '';
  if (!state || state.state === 'none') return '<p class="note">Pictures are being rendered; they appear on the next refresh.</p>';
  if (state.state === 'failed') return `<p class="note">No pictures: ${escapeHtml(state.error)}</p>`;
  const cells = state.pairs.flatMap((pair) => {
    const urls = s.pictures!.find((p) => p.cut === pair.cut)!;
    const fig = (which: PictureKind) => {
      const pic = pair[which];
      const caption = `${CAPTIONS[which]}: ${pair.plane} reformat`;
      // Shown at twice the rendered size (CSS keeps the aspect ratio when max-width bites).
      return `<figure><img src="${escapeHtml(urls[which])}" width="${pic.width * 2}" height="${pic.height * 2}" alt="${escapeHtml(caption)}" data-plane="${pair.plane}" data-which="${which}"><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
    };
    return PICTURE_KINDS.map(fig);
  });
  const w = state.pairs[0]?.window;
  const wl = w
    ? `<p class="wl">One window for all pictures: ${fmt(w.low)} to ${fmt(w.high)} (level ${fmt((w.low + w.high) / 2)}, width ${fmt(w.high - w.low)}), the 1st to 99th percentile of the acquired values in these cuts.</p>`
    : '';
  return `<div class="pics">${cells.join('')}${wl}</div>`;
}

const CAPTIONS: Record<PictureKind, string> = {
  source: 'As acquired (nearest source slice)',
  viewer: 'What a viewer shows (linear between source slices)',
  derived: 'Derived series',
};

/** A window value: whole numbers as they are, others to 3 significant digits. */
function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

function stackRow(s: StackView): string {
  const derived = s.derived
    ? `${s.derived.sliceCount} slices at ${s.derived.spacingMm.toFixed(2)} mm<br><span class="uid">${escapeHtml(s.derived.seriesInstanceUid)}</span>` +
      s.derived.deliveries.map((d) => `<br>${escapeHtml(d.destination ?? 'destination')}: ${escapeHtml(d.state)}${d.lastError ? ` (${escapeHtml(d.lastError)})` : ''}`).join('')
    : '';
  return `<tr><td>${escapeHtml(s.label)}</td><td>${s.slices}${s.volumes > 1 ? ` x ${s.volumes} volumes` : ''}</td><td><b>${escapeHtml(s.decision.action)}</b> (${escapeHtml(s.decision.code)}): ${escapeHtml(s.decision.reason)}${s.error ? `<br><span class="note">${escapeHtml(s.error)}</span>` : ''}</td><td>${derived}</td><td>${s.seconds !== undefined ? `${s.seconds.toFixed(1)} s` : ''}</td></tr>`;
}

function jobSection(job: JobView, input: PageInput): string {
  const timing = [job.startedAt ? `started ${job.startedAt}` : '', job.seconds !== undefined ? `took ${job.seconds.toFixed(1)} s` : ''].filter(Boolean).join(', ');
  const table = job.stacks.length
    ? `<table><tr><th>stack</th><th>slices</th><th>decision</th><th>derived series</th><th>time</th></tr>${job.stacks.map(stackRow).join('')}</table>`
    : '';
  const pics = job.stacks.map((s) => pictures(job, s, input.pictures.get(`${job.key}/${s.index}`))).join('');
  return `<section class="job" data-job="${job.key}" data-state="${job.state}">
<h2><span class="state ${job.state}">${job.state}</span> series <span class="uid">${escapeHtml(job.seriesInstanceUid)}</span></h2>
<div class="meta">${job.instances} instances${timing ? `; ${escapeHtml(timing)}` : ''}${job.unplaced ? `; ${job.unplaced} instances not placed in a stack` : ''}${job.error ? `<br><span class="note">${escapeHtml(job.error)}</span>` : ''}</div>
${table}${pics}</section>`;
}

function deadSection(dead: DeadLetterView[]): string {
  if (!dead.length) return '';
  const rows = dead
    .map((d) => `<tr><td class="uid">${escapeHtml(d.key)}</td><td class="uid">${escapeHtml(d.seriesInstanceUid)}</td><td>${d.attempts}</td><td>${escapeHtml(d.error ?? '')}</td></tr>`)
    .join('');
  return `<section class="dead"><h2>Dead letter: ${dead.length} series job(s)</h2>
<p>Requeue with <code>interslice jobs retry KEY</code> once the cause is fixed.</p>
<table><tr><th>key</th><th>series</th><th>attempts</th><th>reason</th></tr>${rows}</table></section>`;
}

function supersededSection(list: SupersededView[]): string {
  if (!list.length) return '';
  const rows = list
    .slice(0, 50)
    .map((d) => `<tr><td class="uid">${escapeHtml(d.seriesInstanceUid)}</td><td>${d.seriesNumber}</td><td class="uid">${escapeHtml(d.supersededBy)}</td><td>${escapeHtml(d.reason ?? '')}</td></tr>`)
    .join('');
  return `<section class="superseded"><h2>Superseded derived series</h2>
<table><tr><th>series</th><th>number</th><th>replaced by</th><th>why</th></tr>${rows}</table></section>`;
}

export function statusPage(input: PageInput): string {
  const depth = Object.entries(input.depth)
    .map(([kind, d]) => `${escapeHtml(kind)}: ${d.queued} queued, ${d.leased} running, ${d.dead} dead`)
    .join('; ');
  const outbox = Object.entries(input.outbox)
    .map(([state, n]) => `${n} ${escapeHtml(state)}`)
    .join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${input.refreshSeconds}">
<title>Interslice status</title><style>${CSS}</style></head>
<body><h1>Interslice</h1>
<div class="meta">Jobs: ${depth || 'none queued'}. Outbox: ${outbox || 'empty'}. Updated ${escapeHtml(input.now.toISOString())}.</div>
${deadSection(input.deadLetters ?? [])}
${input.jobs.length ? input.jobs.map((j) => jobSection(j, input)).join('\n') : '<p>No series received yet.</p>'}
${supersededSection(input.superseded ?? [])}
</body></html>`;
}
