import { expect, galata, test } from '@jupyterlab/galata';

import { openJobs, openRunDialog, row, script, upload } from './helpers';

test.describe('with notifications turned off in the settings', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyter-jobs:plugin': { notifications: false, defaultProfile: 'large' }
    }
  });

  test('a finished job shows no toast and the default profile is preselected', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/quiet.py`, script(1, 0.1, 1));
    await openJobs(page);
    const dialog = await openRunDialog(page, 'quiet.py');
    await expect(dialog.locator('select[name="profile"]')).toHaveValue('large');
    await dialog.locator('input[name="name"]').fill('quiet job');
    await dialog.locator('input[name="name"]').press('Enter');
    await expect(row(page, 'quiet job')).toHaveAttribute('data-status', 'failed');
    // the sidebar heard the end through the same event that would have raised the toast
    await expect(page.locator('.Toastify__toast', { hasText: 'quiet job' })).toHaveCount(0);
    await expect(page.locator('.jp-Notification-Status')).toHaveText('0');
  });
});

test('the Settings Editor lists the Jobs settings', async ({ page }) => {
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('settingeditor:open', { query: 'Jobs' })
  );
  await expect(page.getByText('Notify when a job ends')).toBeVisible();
  await expect(page.getByText('Profile preselected for the default backend')).toBeVisible();
});
