import { expect, test } from '@jupyterlab/galata';

import { openJobs, screenshotPath } from './helpers';

/**
 * "Python 3 — SLURM" in the Launcher: a notebook whose kernel runs inside a SLURM job. Needs the
 * one-node cluster of scripts/slurm-up.sh and a JupyterLab started with its SLURM_CONF; skipped
 * when JUPYTER_JOBS_SLURM_BASE is unset.
 */
test.describe('Remote kernel on SLURM', () => {
  test.skip(
    !process.env.JUPYTER_JOBS_SLURM_BASE,
    'no SLURM cluster: set JUPYTER_JOBS_SLURM_BASE (scripts/slurm-up.sh DIR)'
  );

  test('picking the SLURM kernel in the Launcher runs cells inside the allocation', async ({
    page
  }) => {
    const card = page
      .locator('.jp-LauncherCard[data-category="Notebook"]')
      .filter({ hasText: 'SLURM' })
      .first();
    await expect(card).toBeVisible();
    await expect(card).toContainText('Python 3 — SLURM');
    await card.click();
    await page.locator('.jp-NotebookPanel').last().waitFor();
    await expect(
      page.locator('.jp-Notebook-ExecutionIndicator, .jp-KernelStatus').first()
    ).toBeVisible();

    await page.notebook.setCell(0, 'code', "import os; print('job', os.environ['SLURM_JOB_ID'])");
    await page.notebook.runCell(0);
    const output = page.locator('.jp-Cell').first().locator('.jp-OutputArea-output');
    await expect(output).toContainText(/job \d+/, { timeout: 60000 });
    const jobId = ((await output.textContent()) ?? '').match(/job (\d+)/)![1];

    const sidebar = await openJobs(page);
    const session = sidebar.locator('.jp-JobsSessions-row').first();
    await expect(session.locator('[data-field="job"]')).toHaveText(`SLURM job ${jobId}`);
    await expect(session.locator('[data-field="backend"]')).toHaveText('SLURM · Cluster defaults');
    await expect(session.locator('[data-field="notebook"]')).toHaveText(/^Untitled\d*\.ipynb$/);
    await expect(session).toHaveAttribute('data-status', 'running');
    await page.screenshot({ path: screenshotPath('remote-session.png') });

    // closing the notebook shuts its kernel down: the job leaves the queue
    await page.notebook.close(true);
    await expect(sidebar.locator('.jp-JobsSessions-row')).toHaveCount(0, {
      timeout: 30000
    });
    const jobs = await page.request.get('jupyter-jobs/api/jobs?kind=kernel');
    const kernelJobs = (await jobs.json()).jobs.filter((j: any) => j.backend_ref === jobId);
    expect(kernelJobs.length).toBe(1);
    await expect
      .poll(
        async () => {
          const r = await page.request.get(`jupyter-jobs/api/jobs/${kernelJobs[0].id}`);
          return (await r.json()).status;
        },
        { timeout: 30000 }
      )
      .toMatch(/completed|cancelled/);
  });
});
