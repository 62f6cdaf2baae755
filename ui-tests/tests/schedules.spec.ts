/**
 * Issue 12 in the browser, against the real server and the local backend: the run dialog's
 * "On a schedule" (preset, the browser's time zone, the preview the server words), the Jobs
 * sidebar's Definitions section (next run, pause, resume, run now, the run's history, its HTML
 * report, delete), and the rerun choice between the pinned copy and the current file.
 */
import { expect, test } from '@jupyterlab/galata';

import { openJobs, openRunDialog, parameterNotebook, row, rows, upload } from './helpers';

// the browser's time zone is the dialog's default
test.use({ timezoneId: 'Europe/Berlin' });

const WEEKDAY_AT_6 =
  /^every weekday at 06:00 Europe\/Berlin — next: (Mon|Tue|Wed|Thu|Fri) \d{1,2} [A-Z][a-z]{2} 06:00$/;

test.describe('Schedules', () => {
  test('a notebook on a schedule: preview, Definitions section, pause, resume, run now, report, delete', async ({
    page,
    tmpPath
  }) => {
    const name = 'weekday report';
    await upload(page, `${tmpPath}/sched_report.ipynb`, parameterNotebook('Guten Morgen'));
    const sidebar = await openJobs(page);
    const dialog = await openRunDialog(page, 'sched_report.ipynb');
    await dialog.locator('input[name="name"]').fill(name);
    // outputs: the executed notebook and an HTML report
    await dialog.locator('input[name="report_html"]').check();
    await expect(dialog.locator('.jp-JobsSchedule')).toBeHidden();
    await dialog.locator('input[value="schedule"]').check();
    const box = dialog.locator('.jp-JobsSchedule');
    await expect(box).toBeVisible();
    await expect(box.locator('input[name="timezone"]')).toHaveValue('Europe/Berlin');
    await box.locator('select[name="preset"]').selectOption('weekdays');
    await box.locator('input[name="time"]').fill('06:00');
    const preview = box.locator('[data-field="preview"]');
    await expect(preview).toHaveText(WEEKDAY_AT_6);
    // a bad custom schedule: the server's words in the preview
    await box.locator('select[name="preset"]').selectOption('custom');
    await box.locator('input[name="cron"]').fill('61 6 * * *');
    await expect(preview).toContainText('minute 61 is out of range');
    await expect(preview).toHaveClass(/jp-mod-invalid/);
    await box.locator('input[name="cron"]').fill('0 6 * * 1-5');
    await expect(preview).toHaveText(WEEKDAY_AT_6);
    const previewed = (await preview.textContent()) ?? '';
    const next = previewed.split('next: ')[1];

    await dialog.locator('.jp-Dialog-footer button.jp-mod-accept').click();
    await expect(dialog).toBeHidden();
    await expect(page.locator('.Toastify__toast').filter({ hasText: name })).toContainText(
      `every weekday at 06:00 — next run ${next}`
    );

    await openJobs(page); // the dialog was opened from the file browser
    const section = sidebar.locator('#jp-jobs-section-definitions');
    const def = section.locator('.jp-JobsDefinitions-row').filter({
      has: page.locator(`[data-field="name"]:text-is("${name}")`)
    });
    await expect(def).toBeVisible();
    await expect(def.locator('[data-field="schedule"]')).toHaveText(
      'every weekday at 06:00 (Europe/Berlin)'
    );
    await expect(def.locator('[data-field="next"]')).toHaveText(`next: ${next}`);
    await expect(def.locator('[data-field="last"]')).toHaveText('no runs yet');
    // the open section has room for its row (not the 0 px of a section never sized)
    expect((await section.boundingBox())?.height ?? 0).toBeGreaterThan(60);

    await def.locator('[data-action="pause"]').click();
    await expect(def).toHaveAttribute('data-active', 'false');
    await expect(def.locator('[data-field="state"]')).toHaveText('paused');
    await expect(def.locator('[data-field="next"]')).toHaveText('paused');
    await def.locator('[data-action="resume"]').click();
    await expect(def).toHaveAttribute('data-active', 'true');
    await expect(def.locator('[data-field="next"]')).toHaveText(`next: ${next}`);

    // run now: the run shows in its history and completes
    await def.locator('[data-action="run"]').click();
    const run = def.locator('.jp-JobsDefinitions-run[data-job-id]');
    await expect(run).toHaveCount(1);
    await expect(run).toHaveAttribute('data-status', 'completed', { timeout: 90000 });
    await expect(def.locator('[data-field="last"]')).toHaveText(/^last: completed /);

    // its HTML report opens in JupyterLab's HTML viewer
    await run.locator('[data-action="report"]').click();
    const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: '.html' });
    await expect(tab).toBeVisible();
    await expect(tab).toContainText('sched_report');
    const frame = page.frameLocator('.jp-HTMLViewer iframe').last();
    await expect(frame.locator('body')).toContainText('Guten Morgen from the job');

    // the run is an ordinary job: its row and its log viewer offer the report too
    const jobRow = row(page, name);
    await expect(jobRow).toHaveAttribute('data-status', 'completed');
    await jobRow.hover();
    await expect(jobRow.locator('[data-action="report"]')).toBeVisible();
    await run.locator('[data-action="log"]').click();
    const report = page.locator('.jp-MainAreaWidget:visible .jp-JobsLog-report');
    await expect(report).toBeVisible();

    // delete, after a question
    await def.locator('[data-action="delete"]').click();
    const confirm = page.locator('.jp-Dialog').filter({ hasText: 'Delete the schedule?' });
    await expect(confirm).toContainText(name);
    await confirm.locator('button.jp-mod-accept').click();
    await expect(def).toHaveCount(0);
    // its run stays in the jobs list
    await expect(rows(page, name)).toHaveCount(1);
  });

  test('rerun offers the pinned copy or the current file', async ({ page, tmpPath }) => {
    const file = `${tmpPath}/pinned_rerun.py`;
    await upload(page, file, 'print("version one")\n');
    await openJobs(page);
    const dialog = await openRunDialog(page, 'pinned_rerun.py');
    await dialog.locator('input[name="name"]').fill('pin me');
    await dialog.locator('.jp-Dialog-footer button.jp-mod-accept').click();
    await expect(dialog).toBeHidden();
    await expect(row(page, 'pin me')).toHaveAttribute('data-status', 'completed', {
      timeout: 60000
    });
    // the file changes after the job ran
    await upload(page, file, 'print("version two")\n');

    const rerun = async (choice: string) => {
      const before = await rows(page, 'pin me').count();
      const r = row(page, 'pin me');
      await r.hover();
      await r.locator('[data-action="rerun"]').click();
      const ask = page.locator('.jp-Dialog').filter({ hasText: 'Rerun “pin me”' });
      await expect(ask).toContainText('pinned_rerun.py');
      await ask.locator(`button:has-text("${choice}")`).click();
      await expect(rows(page, 'pin me')).toHaveCount(before + 1);
      await expect(row(page, 'pin me')).toHaveAttribute('data-status', 'completed', {
        timeout: 60000
      });
      await row(page, 'pin me').click();
      return page.locator('.jp-JobsLogViewer:visible .jp-JobsLog-text');
    };
    // the pinned copy: the file as the first job ran it
    await expect(await rerun('Pinned copy')).toContainText('version one');
    // the current file: as it is now
    await expect(await rerun('Current file')).toContainText('version two');
  });
});
