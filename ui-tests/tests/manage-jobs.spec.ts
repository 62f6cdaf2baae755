import { expect, test } from '@jupyterlab/galata';

import {
  openJobs,
  openRunDialog,
  row,
  rowAction,
  rows,
  screenshotPath,
  script,
  upload
} from './helpers';

async function submit(page: any, file: string, name: string) {
  const dialog = await openRunDialog(page, file);
  await dialog.locator('input[name="name"]').fill(name);
  await dialog.locator('input[name="name"]').press('Enter');
  await expect(dialog).toBeHidden();
}

test.describe('Managing jobs', () => {
  test('cancel stops a long job', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/long.py`, script(600, 1));
    await openJobs(page);
    await submit(page, 'long.py', 'long one');
    const r = row(page, 'long one');
    await expect(r).toHaveAttribute('data-status', 'running');
    // elapsed time ticks while it runs
    const elapsed = r.locator('.jp-JobsRow-elapsed');
    const first = await elapsed.textContent();
    await expect(elapsed).not.toHaveText(first ?? '');
    await rowAction(page, 'long one', 'cancel');
    await expect(r).toHaveAttribute('data-status', 'cancelled', { timeout: 60000 });
  });

  test('rerun starts a new job with the same settings', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/twice.py`, script(1, 0.1));
    await openJobs(page);
    await submit(page, 'twice.py', 'run twice');
    await expect(row(page, 'run twice')).toHaveAttribute('data-status', 'completed', {
      timeout: 60000
    });
    await rowAction(page, 'run twice', 'rerun');
    // the job ran a pinned copy of its file: rerun asks which to run (the same run again here)
    await page.locator('.jp-Dialog-footer button:has-text("Pinned copy")').click();
    await expect(rows(page, 'run twice')).toHaveCount(2);
    // newest first: the new run is on top and completes too
    await expect(row(page, 'run twice')).toHaveAttribute('data-status', 'completed', {
      timeout: 60000
    });
  });

  test('delete asks first, then removes the job', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/gone.py`, script(1, 0.1));
    await openJobs(page);
    await submit(page, 'gone.py', 'to delete');
    const r = row(page, 'to delete');
    await expect(r).toHaveAttribute('data-status', 'completed', { timeout: 60000 });
    await rowAction(page, 'to delete', 'delete');
    const confirm = page.locator('.jp-Dialog', { hasText: 'Delete job?' });
    await expect(confirm).toBeVisible();
    const id = (await r.getAttribute('data-id'))!.slice(0, 8);
    await expect(confirm).toContainText(`Delete to delete (${id}, completed) and its log?`);
    await confirm.locator('button:has-text("Cancel")').click();
    await expect(rows(page, 'to delete')).toHaveCount(1);
    await rowAction(page, 'to delete', 'delete');
    await page.locator('.jp-Dialog-footer button:has-text("Delete")').click();
    await expect(rows(page, 'to delete')).toHaveCount(0);
  });

  test('filter by status and search by name', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/ok.py`, script(1, 0.1));
    await upload(page, `${tmpPath}/bad.py`, script(1, 0.1, 1));
    const sidebar = await openJobs(page);
    await submit(page, 'ok.py', 'filter ok');
    await submit(page, 'bad.py', 'filter bad');
    await expect(row(page, 'filter bad')).toHaveAttribute('data-status', 'failed', {
      timeout: 60000
    });
    await expect(row(page, 'filter ok')).toHaveAttribute('data-status', 'completed', {
      timeout: 60000
    });
    await sidebar.locator('.jp-JobsFilter-status').selectOption('failed');
    await expect(rows(page, 'filter bad')).toHaveCount(1);
    await expect(rows(page, 'filter ok')).toHaveCount(0);
    await sidebar.locator('.jp-JobsFilter-status').selectOption('all');
    await sidebar.locator('.jp-JobsFilter-search').fill('filter o');
    await expect(rows(page, 'filter ok')).toHaveCount(1);
    await expect(rows(page, 'filter bad')).toHaveCount(0);
    await sidebar.locator('.jp-JobsFilter-search').fill('');
  });

  test('one tab per job log, and log tabs come back after a reload', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/tabs.py`, script(2, 0.1));
    await openJobs(page);
    await submit(page, 'tabs.py', 'tab job');
    const r = row(page, 'tab job');
    await expect(r).toHaveAttribute('data-status', 'completed', { timeout: 60000 });
    // the layout is saved (to the workspace) after the tab opens; reload after that
    const saved = page.waitForRequest(
      req => req.url().includes('/api/workspaces') && req.method() === 'PUT'
    );
    await r.click();
    await r.click();
    await saved;
    const tabs = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'tab job' });
    await expect(tabs).toHaveCount(1);
    // galata's default readiness check wants the Launcher on top; here the log tab is
    await page.reload({ waitForIsReady: false });
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'tab job' })
    ).toHaveCount(1);
    await expect(page.locator('.jp-JobsLogViewer .jp-JobsLog-text').last()).toContainText(
      'all done'
    );
  });

  test('the status bar counts running jobs and opens the panel', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/counted.py`, script(600, 1));
    await openJobs(page);
    await submit(page, 'counted.py', 'counted');
    const item = page.locator('.jp-JobsStatusItem');
    await expect(item).toContainText(/[1-9]\d* jobs? running/);
    await page.sidebar.close('left');
    await item.click();
    await expect(page.locator('#jp-jobs-sidebar')).toBeVisible();
    await rowAction(page, 'counted', 'cancel');
    await expect(row(page, 'counted')).toHaveAttribute('data-status', 'cancelled', {
      timeout: 60000
    });
  });

  test('the filter menus are as high as the search box and show their whole label', async ({
    page
  }) => {
    const sidebar = await openJobs(page);
    const search = (await sidebar.locator('.jp-JobsFilter-search').boundingBox())!;
    for (const cls of ['.jp-JobsFilter-status', '.jp-JobsFilter-backend']) {
      const select = sidebar.locator(cls);
      expect(Math.abs((await select.boundingBox())!.height - search.height)).toBeLessThan(1);
      // the selected label fits between the paddings (the arrow is in the right padding)
      const fits = await select.evaluate((el: HTMLSelectElement) => {
        const style = getComputedStyle(el);
        const probe = document.createElement('span');
        probe.style.font = style.font;
        probe.style.whiteSpace = 'pre';
        probe.textContent = el.selectedOptions[0].textContent;
        document.body.appendChild(probe);
        const width = probe.getBoundingClientRect().width;
        probe.remove();
        const room =
          el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return width <= room;
      });
      expect(fits).toBe(true);
    }
  });

  test('without remote kernels the jobs section gets the whole sidebar', async ({ page }) => {
    const sidebar = await openJobs(page);
    // collapsed to its title line
    const title = sidebar.locator('.jp-AccordionPanel-title:has-text("Remote sessions")');
    await expect(title).toHaveAttribute('aria-expanded', 'false');
    await expect(sidebar.locator('#jp-jobs-section-remote-sessions')).toBeHidden();
    const whole = (await sidebar.boundingBox())!.height;
    const jobs = (await sidebar.locator('#jp-jobs-section-jobs').boundingBox())!.height;
    expect(jobs).toBeGreaterThan(whole * 0.8);
    // a click opens it with its hint
    await title.click();
    await expect(sidebar.locator('.jp-JobsSessions-empty')).toBeVisible();
    await title.click();
  });

  test('the sidebar stays readable in the dark theme', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/dark.py`, script(1, 0.1, 2));
    await openJobs(page);
    await submit(page, 'dark.py', 'dark theme job');
    await expect(row(page, 'dark theme job')).toHaveAttribute('data-status', 'failed', {
      timeout: 60000
    });
    await page.theme.setDarkTheme();
    const color = await row(page, 'dark theme job')
      .locator('.jp-JobsRow-name')
      .evaluate(el => getComputedStyle(el).color);
    // light text on the dark background
    const [r, g, b] = color.match(/\d+/g)!.map(Number);
    expect((r + g + b) / 3).toBeGreaterThan(150);
    await page
      .locator('#jp-jobs-sidebar')
      .screenshot({ path: screenshotPath('jobs-sidebar-dark.png') });
    await page.theme.setLightTheme();
  });
});
