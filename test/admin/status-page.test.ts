// The status page in a real browser (Debian's chromium, headless, driven by playwright-core): it
// loads, shows the finished job with its decision, and all twelve pictures load (per cut: as acquired,
// as a viewer shows it, derived), captioned with the one window they share.
// UPDATE_SCREENSHOT=1 also saves docs/status-page.png (the picture in the README).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { createMetrics } from '../../src/admin/metrics.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { createLogger } from '../../src/core/log.js';
import { nodeOver, processFolder, standardJobs } from './fixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/status-page.png');
const TOKEN = 'browser-test-token';

describe('status page in headless chromium', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}` }, () => {
  let dir: string;
  let server: AdminServer;
  let context: BrowserContext;
  let browser: Browser | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-page-'));
    const { jobs, folders } = await standardJobs(join(dir, 'derived'));
    // A brain as well (the README picture): Canon axial DTI b0, 3 mm slices tilted 36 degrees.
    const brain = await processFolder('canon-axial-oblique-36deg', join(dir, 'derived'), 3);
    jobs.push(brain);
    folders.set(brain.id, 'canon-axial-oblique-36deg');
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      node: nodeOver(jobs, folders, { listener: true, model: true, destinations: { pacs: true } }, [
        { state: 'done', seriesId: jobs[0].result!.stacks[0].derived!.seriesInstanceUid, destination: 'pacs', attempts: 1 },
      ]),
      renderDir: join(dir, 'pictures'),
      log: createLogger({ silent: true }),
      metrics: createMetrics({ defaultMetrics: false }),
      refreshSeconds: 3600, // no reload in the middle of the test
    });
    // A fresh profile every run; no network beyond loopback is needed or wanted.
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` },
      viewport: { width: 1200, height: 900 },
    });
    browser = context.browser() ?? undefined;
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows a finished job with before and after pictures, sagittal and coronal', async () => {
    const page = await context.newPage();
    const response = await page.goto(server.url, { waitUntil: 'load' });
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Interslice status');
    assert.equal(await page.locator('section.job[data-state="done"]', { has: page.locator('img') }).count(), 2);
    const job = page.locator('section.job', { hasText: 'ASL ax obl' });
    assert.equal(await job.count(), 1);
    const text = await job.innerText();
    assert.match(text, /process \(thick-slice\)/i);
    assert.match(text, /pacs: done/);
    for (const plane of ['sagittal', 'coronal']) {
      for (const which of ['source', 'viewer', 'derived']) {
        const img = job.locator(`img[data-plane="${plane}"][data-which="${which}"]`);
        assert.equal(await img.count(), 1, `${which} ${plane} picture`);
        await img.scrollIntoViewIfNeeded();
        const size = await img.evaluate(async (el: HTMLImageElement) => {
          await el.decode();
          return { w: el.naturalWidth, h: el.naturalHeight, complete: el.complete };
        });
        assert.ok(size.complete && size.w > 0 && size.h > 0, `${which} ${plane}: ${JSON.stringify(size)}`);
        assert.deepEqual([size.w, size.h], [256, 90], 'true aspect ratio: 256 mm x 90 mm');
      }
    }
    // Every picture on the page loaded (the brain's too).
    const sizes = await page.locator('img').evaluateAll((els) => els.map((el) => (el as HTMLImageElement).naturalWidth));
    assert.equal(sizes.length, 12, 'three pictures per cut: as acquired, as a viewer shows it, derived');
    // The captions say what each picture is and which window all of them share.
    const figs = await job.locator('figcaption').allInnerTexts();
    assert.deepEqual(figs.slice(0, 3), [
      'As acquired (nearest source slice): sagittal reformat',
      'What a viewer shows (linear between source slices): sagittal reformat',
      'Derived series: sagittal reformat',
    ]);
    assert.match(await job.locator('.wl').innerText(), /^One window for all pictures: \S+ to \S+ \(level \S+, width \S+\), the 1st to 99th percentile of the acquired values in these cuts\.$/);
    assert.ok(sizes.every((w) => w > 0), JSON.stringify(sizes));
    // The skipped localizers are listed with their reason.
    assert.match(await page.locator('body').innerText(), /skip \(localizer\): A localizer/);
    if (process.env.UPDATE_SCREENSHOT === '1') {
      await mkdir(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
    await page.close();
  });
});
