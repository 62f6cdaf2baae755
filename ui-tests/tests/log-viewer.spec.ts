import { expect, test } from '@jupyterlab/galata';

import { openJobs, openRunDialog, row, rowAction, upload } from './helpers';

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
