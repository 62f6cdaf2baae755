import { expect, test } from '@jupyterlab/galata';

import { openJobs, openRunDialog, row, rowAction, screenshotPath, upload } from './helpers';

/** ~600 KB of numbered lines, more than the viewer shows first (256 KiB), then it waits. */
const BIG = [
  'import time',
  'for i in range(6000):',
  '    print(f"line {i:04d} " + "x" * 90)',
  'print("end of burst", flush=True)',
  'time.sleep(600)',
  ''
].join('\n');

test('a large log shows its tail first, loads earlier parts on demand, and follow stops on scroll', async ({
  page,
  tmpPath
}) => {
  await upload(page, `${tmpPath}/big.py`, BIG);
  await openJobs(page);
  const dialog = await openRunDialog(page, 'big.py');
  await dialog.locator('input[name="name"]').fill('big log');
  await dialog.locator('input[name="name"]').press('Enter');
  await expect(dialog).toBeHidden();
  await expect(row(page, 'big log')).toHaveAttribute('data-status', 'running');
  await expect(row(page, 'big log')).toHaveAttribute('aria-label', /big log/);

  // wait until the whole burst is written, then open the log
  await expect
    .poll(async () =>
      page.evaluate(async () => {
        const r = await fetch('/jupyter-jobs/api/jobs?limit=50');
        const { jobs } = await r.json();
        return jobs.find((j: any) => j.name === 'big log')?.log_size ?? 0;
      })
    )
    .toBeGreaterThan(600000);
  await row(page, 'big log').click();
  const viewer = page.locator('.jp-JobsLogViewer').last();
  const text = viewer.locator('.jp-JobsLog-text');
  await expect(text).toContainText('end of burst');
  await expect(text).not.toContainText('line 0000 ');
  // the tail starts at a line boundary
  expect(await text.evaluate(el => (el.textContent ?? '').startsWith('line '))).toBe(true);
  // following: the view sits at the end
  await expect(viewer).toHaveClass(/jp-mod-following/);

  // scrolling up stops following; the toolbar toggle shows it
  await viewer.locator('.jp-JobsLog-scroller').evaluate(el => {
    el.scrollTop = 0;
    el.dispatchEvent(new Event('scroll'));
  });
  await expect(viewer).not.toHaveClass(/jp-mod-following/);

  const earlier = viewer.locator('.jp-JobsLog-earlier');
  await expect(earlier).toBeVisible();
  for (let i = 0; i < 5 && (await earlier.isVisible()); i++) {
    await earlier.click();
    // disabled while the request is in flight
    await expect(earlier).toBeEnabled();
  }
  await expect(earlier).toBeHidden();
  await expect(text).toContainText('line 0000 ');
  expect(await text.evaluate(el => (el.textContent ?? '').startsWith('line 0000 '))).toBe(true);
  // nothing repeated or lost at the seams
  const lines = await text.evaluate(el =>
    (el.textContent ?? '').split('\n').filter(l => l.startsWith('line '))
  );
  expect(lines.length).toBe(6000);

  await rowAction(page, 'big log', 'cancel');
  await expect(row(page, 'big log')).toHaveAttribute('data-status', 'cancelled');
});

/** Two tqdm bars (to stderr, one redraw per step), prints around them, some memory held. */
const TQDM = [
  'import time',
  'from tqdm import tqdm',
  'print("before the bars", flush=True)',
  'for name in ("first", "second"):',
  '    for _ in tqdm(range(6), desc=name, mininterval=0, ascii=True):',
  '        time.sleep(0.4)',
  'print("after the bars", flush=True)',
  'held = bytearray(64 * 1024 * 1024)',
  'time.sleep(3)',
  ''
].join('\n');

test('a tqdm log shows one final line per bar; the usage chart has axes, a limit line and a tooltip; usage is fetched once', async ({
  page,
  tmpPath
}) => {
  await upload(page, `${tmpPath}/bars.py`, TQDM);
  await openJobs(page);
  const dialog = await openRunDialog(page, 'bars.py');
  await dialog.locator('input[name="name"]').fill('tqdm bars');
  await dialog.locator('input[name="resources.memory"]').fill('512M');
  await dialog.locator('input[name="name"]').press('Enter');
  await expect(dialog).toBeHidden();
  const r = row(page, 'tqdm bars');
  await expect(r).toHaveAttribute('data-status', 'running');

  // followed while the bars redraw: every redraw arrives in a chunk of its own
  await r.click();
  let viewer = page.locator('.jp-JobsLogViewer').last();
  const text = viewer.locator('.jp-JobsLog-text');
  await expect(text).toContainText('first:');
  await expect(r).toHaveAttribute('data-status', 'completed', { timeout: 60000 });
  await expect(text).toContainText('after the bars');
  const shown = async () => (await text.evaluate(el => el.textContent ?? '')).split('\n');
  for (const lines of [await shown()]) {
    // one line per bar, in its final state; the next print on a line of its own
    expect(lines.filter(l => l.includes('first:'))).toHaveLength(1);
    expect(lines.filter(l => l.includes('second:'))).toHaveLength(1);
    expect(lines.find(l => l.includes('first:'))).toMatch(/^first: 100%\|#+\| 6\/6 /);
    expect(lines.find(l => l.includes('second:'))).toMatch(/^second: 100%\|#+\| 6\/6 /);
    expect(lines).toContain('after the bars');
    expect(lines).toContain('before the bars');
  }

  // the chart: time, CPU % and memory axes with units, the 512 MiB limit, a legend that fits
  const chart = viewer.locator('.jp-JobsUsage');
  await expect(chart).toBeVisible();
  await expect(chart.locator('text.jp-JobsUsage-cpuAxis').last()).toHaveText(/^\d+%$/);
  await expect(chart.locator('text.jp-JobsUsage-memAxis').last()).toHaveText(/ (MiB|GiB)$/);
  expect(await chart.locator('text.jp-JobsUsage-timeAxis').count()).toBeGreaterThan(1);
  await expect(chart.locator('text.jp-JobsUsage-timeAxis').first()).toHaveText('0s');
  await expect(chart.locator('.jp-JobsUsage-limit line')).toHaveCount(1);
  await expect(chart.locator('.jp-JobsUsage-limitKey')).toHaveText('limit 512 MiB');
  for (const width of [1400, 900, 620]) {
    await page.setViewportSize({ width, height: 800 });
    const box = (await chart.boundingBox())!;
    const keys = chart.locator('.jp-JobsUsage-key');
    for (let i = 0; i < (await keys.count()); i++) {
      const key = keys.nth(i);
      const k = (await key.boundingBox())!;
      expect(k.x).toBeGreaterThanOrEqual(box.x - 0.5);
      expect(k.x + k.width).toBeLessThanOrEqual(box.x + box.width + 0.5);
      // nothing of the key's text is cut
      expect(await key.evaluate(el => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
    }
    await expect(chart.locator('.jp-JobsUsage-memKey')).toContainText('peak');
  }
  await page.setViewportSize({ width: 1400, height: 800 });
  // a tooltip with the sample under the pointer
  const hit = chart.locator('.jp-JobsUsage-hit');
  const hb = (await hit.boundingBox())!;
  await page.mouse.move(hb.x + hb.width * 0.7, hb.y + hb.height / 2);
  const tooltip = chart.locator('.jp-JobsUsage-tooltip');
  await expect(tooltip).toBeVisible();
  await expect(tooltip).toContainText(/CPU \d+%/);
  await expect(tooltip).toContainText(/Memory [\d.]+ (B|KiB|MiB|GiB)/);
  await expect(tooltip).toContainText(/ in\)/);
  await viewer.locator('.jp-JobsLog-header').screenshot({ path: screenshotPath('log-usage.png') });
  await page.mouse.move(0, 0);
  await expect(tooltip).toBeHidden();

  // the efficiency summary in the header (what the job used against its 512 MiB request)
  const job = await page.evaluate(async name => {
    const r = await fetch('/jupyter-jobs/api/jobs?limit=50');
    return (await r.json()).jobs.find((j: any) => j.name === name);
  }, 'tqdm bars');
  expect(job.efficiency).toBeTruthy();
  const efficiency = viewer.locator('.jp-JobsLog-efficiency');
  await expect(efficiency).toBeVisible();
  await expect(efficiency).toContainText('Used');
  await expect(efficiency.locator('[data-efficiency="memory"]')).toContainText(
    /^memory [\d.]+ (KiB|MiB) of 512 MiB \(\d+%\)$/
  );
  await expect(efficiency.locator('[data-efficiency="time"]')).toContainText(/^time \d+s$/);
  for (const hint of job.efficiency.hints ?? []) {
    await expect(efficiency).toContainText(hint);
  }

  // opened again, the log of the ended job asks for its usage once
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon')
    .click();
  await expect(page.locator('.jp-JobsLogViewer')).toHaveCount(0);
  const usage: string[] = [];
  page.on('request', req => {
    if (/\/jupyter-jobs\/api\/jobs\/[^/]+\/usage/.test(req.url())) {
      usage.push(req.url());
    }
  });
  const jobId = await r.getAttribute('data-id');
  // the viewer asks for the job once more when the log's stream ends; every usage request the
  // viewer makes on opening comes before that
  const endOfOpening = page.waitForResponse(resp =>
    new RegExp(`/jupyter-jobs/api/jobs/${jobId}(\\?|$)`).test(resp.url())
  );
  await r.click();
  viewer = page.locator('.jp-JobsLogViewer').last();
  await expect(viewer).toHaveClass(/jp-mod-ended/);
  await endOfOpening;
  await expect(viewer.locator('.jp-JobsUsage')).toBeVisible();
  expect(usage).toHaveLength(1);
});
