import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import { execFileSync } from 'child_process';

import { openJobs, screenshotPath } from './helpers';

const SESSIONS_URL = /\/jupyter-jobs\/api\/remote-sessions(\?|$)/;
const SLURM_KERNEL = 'jupyter-jobs-slurm-default';
const BLOCKER_NAME = 'jupyter-jobs-ui-queue-blocker';

/** SLURM's state of a job ('' once it left squeue's list). */
function slurmState(id: string): string {
  try {
    return execFileSync('squeue', ['-h', '-j', id, '-o', '%T'], { stdio: 'pipe' })
      .toString()
      .trim();
  } catch {
    return ''; // an id squeue no longer knows
  }
}

/**
 * Submit a SLURM job of ours that takes every CPU of the one node (so a kernel job waits behind
 * it) and return its id. No time limit: SLURM puts the next job's start a year ahead.
 */
function fillTheNode(): string {
  const cpus = execFileSync('sinfo', ['-h', '-o', '%c']).toString().trim().split(/\s+/)[0];
  return execFileSync('sbatch', [
    '--parsable',
    '-J',
    BLOCKER_NAME,
    '-c',
    cpus,
    '-o',
    '/dev/null',
    '--wrap',
    'sleep 900'
  ])
    .toString()
    .trim();
}

/** Write an empty notebook whose kernel is the SLURM one at `path` and open it. */
async function openSlurmNotebook(page: IJupyterLabPageFixture, path: string): Promise<void> {
  await page.contents.uploadContent(
    JSON.stringify({
      cells: [],
      metadata: {
        kernelspec: { name: SLURM_KERNEL, display_name: 'Python 3 — SLURM', language: 'python' }
      },
      nbformat: 4,
      nbformat_minor: 5
    }),
    'text',
    path
  );
  await page.evaluate(
    (p: string) => (window as any).jupyterapp.commands.execute('docmanager:open', { path: p }),
    path
  );
}

/** The Remote sessions section of the Jobs sidebar and its accordion title. */
function section(page: Page) {
  const sidebar = page.locator('#jp-jobs-sidebar');
  return {
    title: sidebar.locator('.lm-AccordionPanel-title', { hasText: 'Remote sessions' }),
    body: sidebar.locator('#jp-jobs-section-remote-sessions'),
    jobs: sidebar.locator('#jp-jobs-section-jobs')
  };
}

test.describe('Remote sessions section', () => {
  test('opens when its title is clicked and says what is missing or how to start a kernel', async ({
    page
  }) => {
    await openJobs(page);
    const { title, body, jobs } = section(page);
    await expect(title).toHaveAttribute('aria-expanded', 'false');
    await title.click();
    await expect(title).toHaveAttribute('aria-expanded', 'true');
    const empty = body.locator('.jp-JobsSessions-empty');
    await expect(empty).toBeVisible();
    if (process.env.JUPYTER_JOBS_SLURM_BASE) {
      await expect(empty).toHaveText(
        'No remote kernels running. Start one from the Launcher: Python 3 — SLURM.'
      );
    } else {
      await expect(empty).toHaveText(/^No remote kernels are offered: /);
    }
    // the section has room for its text, and the jobs list keeps most of the sidebar
    const box = (await body.boundingBox())!;
    const text = (await empty.boundingBox())!;
    const list = (await jobs.boundingBox())!;
    expect(box.height).toBeGreaterThanOrEqual(text.height);
    expect(box.height).toBeLessThan(text.height + 60); // what its text needs, not half the sidebar
    expect(text.y + text.height).toBeLessThanOrEqual(box.y + box.height + 1);
    expect(list.height).toBeGreaterThan(box.height);
    await page.screenshot({ path: screenshotPath('remote-sessions-empty.png') });

    // closed and opened again: the size it had
    await title.click();
    await expect(body).toBeHidden();
    await title.click();
    await expect(empty).toBeVisible();
    expect(Math.round((await body.boundingBox())!.height)).toBe(Math.round(box.height));
  });

  test('asks the server for remote sessions at most once in a minute of idle', async ({ page }) => {
    test.setTimeout(150000);
    const seen: string[] = [];
    page.on('request', request => {
      if (request.url().includes('/jupyter-jobs/api/')) {
        seen.push(request.url());
      }
    });
    await page.reload();
    await page.locator('#jp-jobs-sidebar').waitFor({ state: 'attached' });
    const start = seen.length;
    await page.waitForTimeout(60000);
    const sessions = seen.filter(url => SESSIONS_URL.test(url));
    expect(seen.length).toBeGreaterThan(0); // the listener sees our requests (the jobs list)
    expect(start).toBeGreaterThan(0);
    expect(sessions.length).toBeLessThanOrEqual(1);
  });
});

/**
 * A real SLURM queue: a job of ours takes every CPU of the one node, so the notebook's kernel job
 * waits behind it; everything is cancelled at the end. Needs the cluster of scripts/slurm-up.sh.
 */
test.describe('A queued SLURM kernel', () => {
  test.skip(
    !process.env.JUPYTER_JOBS_SLURM_BASE,
    'no SLURM cluster: set JUPYTER_JOBS_SLURM_BASE (scripts/slurm-up.sh DIR)'
  );

  let blocker: string | null = null;

  test.afterEach(async ({ request }) => {
    if (blocker) {
      execFileSync('scancel', [blocker]);
      blocker = null;
    }
    // no kernel job of this test outlives it
    const r = await request.get('jupyter-jobs/api/jobs?kind=kernel');
    for (const job of (await r.json()).jobs) {
      if (['pending', 'queued', 'running'].includes(job.status)) {
        await request.post(`jupyter-jobs/api/jobs/${job.id}/cancel`);
      }
    }
  });

  test('is listed with its notebook, expected start and SLURM job, here and in the Running panel', async ({
    page
  }) => {
    test.setTimeout(300000);
    blocker = fillTheNode();
    await expect.poll(() => slurmState(blocker!), { timeout: 30000 }).toBe('RUNNING');

    const path = 'remote/queued-kernel.ipynb';
    await openSlurmNotebook(page, path);
    await page.locator('.jp-NotebookPanel').last().waitFor();

    const sidebar = await openJobs(page);
    const { title } = section(page);
    const row = sidebar.locator('.jp-JobsSessions-row').first();
    await expect(row).toBeVisible({ timeout: 60000 }); // the section opened with the kernel
    await expect(title).toHaveAttribute('aria-expanded', 'true');
    await expect(row).toHaveAttribute('data-status', 'queued');
    await expect(row.locator('[data-field="notebook"]')).toHaveText('queued-kernel.ipynb');
    await expect(row.locator('[data-field="job"]')).toHaveText(/^SLURM job \d+$/);
    await expect(row.locator('[data-field="backend"]')).toHaveText(/^SLURM · /);
    await expect(row.locator('[data-field="state"]')).toContainText('Resources');

    // SLURM's estimate behind a job without a time limit is a year ahead: "unknown"
    const ref = ((await row.locator('[data-field="job"]').textContent()) ?? '').split(' ').pop()!;
    const kernelJob = async () => {
      const r = await page.request.get('jupyter-jobs/api/jobs?kind=kernel');
      return (await r.json()).jobs.find((j: any) => j.backend_ref === ref);
    };
    await expect
      .poll(async () => (await kernelJob())?.expected_start ?? null, { timeout: 90000 })
      .not.toBeNull();
    const estimate = Date.parse((await kernelJob()).expected_start);
    expect(estimate - Date.now()).toBeGreaterThan(300 * 86400 * 1000);
    await expect(row.locator('[data-field="expected-start"]')).toHaveText('expected start unknown');
    await page.screenshot({ path: screenshotPath('remote-session-queued.png') });

    // the blocker gets a time limit: SLURM's estimate becomes real, and the row follows it
    execFileSync('scontrol', ['update', `JobId=${blocker}`, 'TimeLimit=15']);
    await expect(row.locator('[data-field="expected-start"]')).toHaveText(
      /^expected start .*\d{1,2}:\d{2}/,
      { timeout: 90000 }
    );

    // clicking the row brings its notebook up
    await page.activity.activateTab('Launcher');
    await expect.poll(() => page.activity.isTabActive('queued-kernel.ipynb')).toBe(false);
    await row.locator('[data-field="notebook"]').click();
    await expect.poll(() => page.activity.isTabActive('queued-kernel.ipynb')).toBe(true);

    // the Running panel lists it too, with the queue reason
    await page.sidebar.openTab('jp-running-sessions');
    const item = page.locator('.jp-RunningSessions-item.jp-JobsRunning-remoteKernel');
    await expect(item).toHaveCount(1);
    await expect(item.locator('.jp-RunningSessions-itemLabel')).toHaveText('queued-kernel.ipynb');
    await expect(item.locator('.jp-RunningSessions-itemDetail')).toHaveText('queued');
    await expect(item.locator('.jp-RunningSessions-itemLabel')).toHaveAttribute(
      'title',
      /Resources/
    );
    await page.screenshot({ path: screenshotPath('running-panel-remote-kernel.png') });

    // the node frees: the kernel starts inside its SLURM job
    execFileSync('scancel', [blocker]);
    blocker = null;
    await expect(item.locator('.jp-RunningSessions-itemDetail')).toHaveText(/^SLURM job \d+$/, {
      timeout: 90000
    });
    await page.notebook.setCell(0, 'code', "import os; print('job', os.environ['SLURM_JOB_ID'])");
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-Cell').first().locator('.jp-OutputArea-output')).toContainText(
      `job ${ref}`,
      { timeout: 60000 }
    );

    // shut down from the Running panel: the kernel and its job end, both lists empty
    await item.hover();
    await item.locator('.jp-RunningSessions-itemShutdown').click();
    await expect(item).toHaveCount(0, { timeout: 30000 });
    await openJobs(page);
    await expect(sidebar.locator('.jp-JobsSessions-row')).toHaveCount(0, { timeout: 30000 });
    await expect
      .poll(async () => (await kernelJob())?.status, { timeout: 30000 })
      .toMatch(/completed|cancelled/);
    await page.notebook.close(true);
  });
  test('closing its notebook while the kernel waits takes the job out of the queue', async ({
    page
  }) => {
    test.setTimeout(180000);
    blocker = fillTheNode();
    await expect.poll(() => slurmState(blocker!), { timeout: 30000 }).toBe('RUNNING');
    const path = 'closed-while-queued.ipynb';
    await openSlurmNotebook(page, path);
    const sidebar = await openJobs(page);
    const row = sidebar.locator('.jp-JobsSessions-row', { hasText: path });
    await expect(row).toHaveAttribute('data-status', 'queued', { timeout: 60000 });
    const ref = ((await row.locator('[data-field="job"]').textContent()) ?? '').split(' ').pop()!;

    await page.notebook.close(true);
    await expect(row).toHaveCount(0, { timeout: 30000 });
    const r = await page.request.get('jupyter-jobs/api/jobs?kind=kernel');
    const job = (await r.json()).jobs.find((j: any) => j.backend_ref === ref);
    expect(job.status).toMatch(/cancelled|cancelling/);
    await expect.poll(() => slurmState(ref), { timeout: 30000 }).toBe('');
  });
});
