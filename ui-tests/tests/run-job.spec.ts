import { expect, test } from '@jupyterlab/galata';

import {
  openJobs,
  openRunDialog,
  parameterNotebook,
  row,
  rowAction,
  screenshotPath,
  script,
  upload
} from './helpers';

test.describe('Run as Background Job', () => {
  test('a script runs from the file browser, streams its log and notifies when done', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/stream_me.py`, script(8, 0.5));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'stream_me.py');
    await expect(dialog.locator('input[name="name"]')).toHaveValue('stream_me.py');
    await dialog.locator('input[name="name"]').fill('stream me');
    await dialog.locator('input[name="args"]').fill('--flag "two words"');
    await page.screenshot({ path: screenshotPath('run-dialog.png') });
    // Enter submits
    await dialog.locator('input[name="name"]').press('Enter');
    await expect(dialog).toBeHidden();

    const r = row(page, 'stream me');
    await expect(r).toHaveAttribute('data-status', /pending|queued|running/);
    await expect(r).toHaveAttribute('data-status', 'running');
    await expect(r.locator('.jp-JobsRow-where')).toHaveText('This server · Default');

    await r.click();
    const viewer = page.locator('.jp-JobsLogViewer').last();
    await expect(viewer.locator('.jp-JobsLog-text')).toContainText('step 2 working');
    // rendermime's ANSI handling, the theme's colours
    await expect(viewer.locator('.jp-JobsLog-text .ansi-green-fg').first()).toHaveText('step 0');
    expect(
      await viewer
        .locator('.jp-JobsLog-text .ansi-green-fg')
        .first()
        .evaluate(el => getComputedStyle(el).color)
    ).not.toBe(await viewer.locator('.jp-JobsLog-text').evaluate(el => getComputedStyle(el).color));
    await expect(viewer.locator('[data-fact="command"]')).toContainText('two words');
    await expect(viewer.locator('.jp-JobsLog-progressText')).toContainText('%');

    await expect(r).toHaveAttribute('data-status', 'completed', { timeout: 60000 });
    await expect(viewer.locator('.jp-JobsLog-text')).toContainText('all done');
    await expect(viewer.locator('.jp-JobsLog-text .ansi-red-fg')).toHaveText('all done');
    await expect(viewer.locator('[data-fact="exit-code"]')).toHaveText('0');
    await expect(viewer.locator('.jp-JobsUsage-chart polyline.jp-JobsUsage-cpu')).toHaveAttribute(
      'points',
      /\d/
    );
    // the chart legend stays on one line
    const legend = viewer.locator('.jp-JobsUsage-legend');
    const keys = legend.locator('.jp-JobsUsage-key');
    await expect(keys).toHaveCount(2);
    const [cpuBox, memBox] = [
      (await keys.nth(0).boundingBox())!,
      (await keys.nth(1).boundingBox())!
    ];
    expect(Math.abs(cpuBox.y - memBox.y)).toBeLessThan(2);
    // the log of a finished job cannot be cancelled
    const cancel = page.locator('.jp-MainAreaWidget:visible .jp-JobsLog-cancel');
    await expect(cancel).toHaveAttribute('aria-disabled', 'true');
    // Follow is a toolbar toggle, shaded while pressed
    const follow = page.locator('.jp-MainAreaWidget:visible .jp-JobsLog-follow');
    await expect(follow).toHaveAttribute('aria-pressed', 'true');
    expect(await follow.evaluate(el => getComputedStyle(el).boxShadow)).not.toBe('none');

    const toast = page.locator('.Toastify__toast', { hasText: 'Job “stream me” completed' });
    await expect(toast).toBeVisible();
    await expect(toast.locator('button:has-text("Show log")')).toBeVisible();

    await page.screenshot({ path: screenshotPath('log-viewer.png') });
    await page
      .locator('#jp-jobs-sidebar')
      .screenshot({ path: screenshotPath('jobs-sidebar-stream.png') });
  });

  test('a failing script shows its exit code and an error notification', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/fails.py`, script(1, 0.1, 3));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'fails.py');
    await dialog.locator('input[name="name"]').fill('fails on purpose');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    const r = row(page, 'fails on purpose');
    await expect(r).toHaveAttribute('data-status', 'failed', { timeout: 60000 });
    await expect(r.locator('.jp-JobsRow-detail')).toContainText('3');
    const toast = page.locator('.Toastify__toast', { hasText: 'fails on purpose' });
    await expect(toast).toBeVisible();
    await toast.locator('button:has-text("Show log")').click();
    await expect(page.locator('.jp-JobsLogViewer .jp-JobsLog-text').last()).toContainText(
      'all done'
    );
  });

  test('a notebook runs with a changed parameter and its executed copy opens', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/greet.ipynb`, parameterNotebook('hello'));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'greet.ipynb');
    const greeting = dialog.locator('input[name="parameters.greeting"]');
    await expect(greeting).toHaveValue('"hello"');
    await expect(dialog.locator('input[name="parameters.repeat"]')).toHaveValue('2');
    await greeting.fill('"bonjour"');
    await dialog.locator('input[name="name"]').fill('greet in french');
    await page.screenshot({ path: screenshotPath('run-dialog-notebook.png') });
    await greeting.press('Enter');
    const r = row(page, 'greet in french');
    await expect(r).toHaveAttribute('data-status', 'completed', { timeout: 90000 });
    await rowAction(page, 'greet in french', 'output');
    const notebook = page.locator('.jp-NotebookPanel').last();
    await expect(notebook).toBeVisible();
    await expect(notebook.locator('.jp-OutputArea-output').first()).toContainText(
      'bonjour from the job'
    );
  });

  test('the dialog remembers the last choices for a file, but not its name', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/again.py`, script(1, 0.1));
    await openJobs(page);
    let dialog = await openRunDialog(page, 'again.py');
    await expect(dialog.locator('.jp-JobsDialog-remembered')).toBeHidden();
    await dialog.locator('input[name="name"]').fill('remembered run');
    await dialog.locator('select[name="profile"]').selectOption('large');
    await dialog.locator('input[name="args"]').fill('-v');
    await dialog.locator('input[name="args"]').press('Enter');
    await expect(dialog).toBeHidden();
    dialog = await openRunDialog(page, 'again.py');
    await expect(dialog.locator('input[name="name"]')).toHaveValue('again.py');
    await expect(dialog.locator('select[name="profile"]')).toHaveValue('large');
    await expect(dialog.locator('input[name="args"]')).toHaveValue('-v');
    const note = dialog.locator('.jp-JobsDialog-remembered');
    await expect(note).toContainText('from your last run');
    await note.locator('button:has-text("Reset")').click();
    await expect(dialog.locator('input[name="args"]')).toHaveValue('');
    await expect(note).toBeHidden();
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();
  });

  test('notebook parameters always come from the parameters cell on disk', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/fresh.ipynb`, parameterNotebook('hello'));
    await openJobs(page);
    let dialog = await openRunDialog(page, 'fresh.ipynb');
    await dialog.locator('input[name="parameters.greeting"]').fill('"from the dialog"');
    await dialog.locator('input[name="name"]').fill('fresh params');
    await dialog.locator('input[name="name"]').press('Enter');
    await expect(dialog).toBeHidden();
    await expect(row(page, 'fresh params')).toBeVisible();
    // the user edits the cell; the next dialog shows the cell, not the last run's value
    await upload(page, `${tmpPath}/fresh.ipynb`, parameterNotebook('edited'));
    dialog = await openRunDialog(page, 'fresh.ipynb');
    await expect(dialog.locator('input[name="parameters.greeting"]')).toHaveValue('"edited"');
    await expect(dialog.locator('input[name="name"]')).toHaveValue('fresh.ipynb');
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();
  });

  test('the dialog uses the window height and scrolls to a lower field with an error', async ({
    page,
    tmpPath
  }) => {
    await page.setViewportSize({ width: 1400, height: 850 });
    await upload(page, `${tmpPath}/tall.ipynb`, parameterNotebook('hi'));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'tall.ipynb');
    const content = dialog.locator('.jp-Dialog-content');
    const box = await content.boundingBox();
    expect(box!.height).toBeGreaterThan(600);
    // the working directory is visible without scrolling
    await expect(dialog.locator('input[name="cwd"]')).toBeInViewport();
    await dialog.locator('input[name="cwd"]').fill('no/such/dir');
    // in a short window the working directory is below the fold of the scrolling body
    await page.setViewportSize({ width: 1400, height: 520 });
    await dialog.locator('.jp-Dialog-body').evaluate(n => (n.scrollTop = 0));
    await expect(dialog.locator('input[name="cwd"]')).not.toBeInViewport();
    await dialog.locator('input[name="name"]').press('Enter');
    const error = dialog.locator('.jp-JobsDialog-error[data-field="cwd"]');
    await expect(error).toContainText('no/such/dir');
    await expect(dialog.locator('input[name="cwd"]')).toBeFocused();
    await expect(dialog.locator('input[name="cwd"]')).toBeInViewport();
    await page.screenshot({ path: screenshotPath('run-dialog-cwd-error.png') });
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();
  });

  test('a server validation error appears next to its field and the dialog stays open', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/toobig.py`, script(1, 0.1));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'toobig.py');
    await dialog.locator('input[name="resources.cpus"]').fill('64');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    const error = dialog.locator('.jp-JobsDialog-error[data-field="resources.cpus"]');
    await expect(error).toBeVisible();
    // in the user's words, not the request's field name
    await expect(error).toContainText('CPUs: 64');
    await expect(dialog).toBeVisible();
    await page.screenshot({ path: screenshotPath('run-dialog-error.png') });
    // fixing the field submits
    await dialog.locator('input[name="resources.cpus"]').fill('1');
    await dialog.locator('input[name="name"]').fill('fixed cpus');
    await dialog.locator('input[name="name"]').press('Enter');
    await expect(dialog).toBeHidden();
    await expect(row(page, 'fixed cpus')).toBeVisible();
  });

  test('a bad memory value is refused in the user’s words at the Memory field', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/lots.py`, script(1, 0.1));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'lots.py');
    await dialog.locator('input[name="resources.memory"]').fill('lots');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    const error = dialog.locator('.jp-JobsDialog-error[data-field="resources.memory"]');
    await expect(error).toHaveText("Memory: 'lots' is not a size (try 4G or 512M)");
    // at the Memory field, not at the top nor another field
    const field = dialog.locator(
      '.jp-JobsDialog-resource:has(.jp-JobsDialog-error[data-field="resources.memory"])'
    );
    await expect(field.locator('input[name="resources.memory"]')).toHaveAttribute(
      'aria-invalid',
      'true'
    );
    await expect(field).toContainText('Memory');
    await expect(dialog.locator('.jp-JobsDialog-error[data-field=""]')).toBeHidden();
    await expect(dialog).toBeVisible();
    // the dialog's own checks are worded the same way, at their field
    await dialog.locator('input[name="resources.memory"]').fill('512M');
    await dialog.locator('input[name="args"]').fill('--name "unclosed');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    await expect(dialog.locator('.jp-JobsDialog-error[data-field="args"]')).toHaveText(
      /^Arguments: a " quote is not closed/
    );
    await expect(error).toBeHidden();
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();
  });

  test('unavailable backends are listed greyed out with the reason', async ({ page, tmpPath }) => {
    await upload(page, `${tmpPath}/where.py`, script(1, 0.1));
    const dialog = await openRunDialog(page, 'where.py');
    const options = dialog.locator('select[name="backend"] option');
    await expect(options.first()).toHaveAttribute('value', 'local');
    const unavailable = dialog.locator('select[name="backend"] option[disabled]');
    expect(await unavailable.count()).toBeGreaterThan(0);
    await expect(unavailable.first()).toContainText('unavailable');
    // a short reason in the menu, the detail (or the reason again) on hover
    const reasons = dialog.locator('.jp-JobsDialog-backendReason');
    await expect(reasons.first()).toBeVisible();
    expect(await reasons.count()).toBe(await unavailable.count());
    for (let i = 0; i < (await reasons.count()); i++) {
      const reason = reasons.nth(i);
      expect((await reason.getAttribute('title'))!.length).toBeGreaterThan(0);
      // short: the tool's raw output is not in the menu
      expect(((await reason.textContent()) ?? '').length).toBeLessThan(120);
    }
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();
  });

  test('the notebook toolbar and the command palette offer the run command', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/tool.ipynb`, parameterNotebook('hi'));
    await page.filebrowser.open('tool.ipynb');
    const button = page.locator(
      '.jp-NotebookPanel-toolbar [data-command="jupyter-jobs:run-current"]'
    );
    await expect(button).toBeVisible();
    await expect(button).toContainText('Run as job');
    await button.click();
    const dialog = page.locator('.jp-JobsSubmitDialog');
    await expect(dialog).toBeVisible();
    await expect(dialog.locator('input[name="parameters.greeting"]')).toHaveValue('"hi"');
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();

    await page.locator('.jp-NotebookPanel .jp-Cell').first().click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+C');
    const search = page.locator('.lm-CommandPalette-input');
    await expect(search).toBeVisible();
    await search.fill('Run as Background Job');
    // the same label as in the file browser's context menu
    const item = page.locator('.lm-CommandPalette-item', { hasText: 'Run as Background Job…' });
    await expect(item.first()).toHaveClass(/lm-mod-active/);
    await page.keyboard.press('Enter');
    await expect(page.locator('.jp-JobsSubmitDialog')).toBeVisible();
    await page.locator('.jp-Dialog-footer button:has-text("Cancel")').click();
  });
});
