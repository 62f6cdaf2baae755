import { expect, test } from '@jupyterlab/galata';

import { openJobs, parameterNotebook, row, screenshotPath, script, upload } from './helpers';

/**
 * The README's picture of the Jobs sidebar (docs/screenshots/jobs-sidebar.png, copied by
 * scripts/ui-tests.sh): realistic jobs in every state. Runs last (file name) and clears the job
 * list of the other tests first.
 */

/** POST/DELETE through the page, with JupyterLab's XSRF cookie. */
async function api(page: any, method: string, path: string, body?: unknown): Promise<any> {
  return page.evaluate(
    async ({ method, path, body }: { method: string; path: string; body?: unknown }) => {
      const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? '';
      const r = await fetch(`/jupyter-jobs/api/${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-XSRFToken': xsrf },
        body: body === undefined ? undefined : JSON.stringify(body)
      });
      return r.status === 204 ? null : r.json();
    },
    { method, path, body }
  );
}

test('the Jobs sidebar with jobs in every state (README screenshot)', async ({ page, tmpPath }) => {
  // a clean list: cancel what still runs, delete everything
  const { jobs } = await api(page, 'GET', 'jobs?limit=500');
  for (const job of jobs) {
    if (!['completed', 'failed', 'cancelled', 'lost'].includes(job.status)) {
      await api(page, 'POST', `jobs/${job.id}/cancel`);
    }
  }
  await expect
    .poll(async () => {
      const r = await api(page, 'GET', 'jobs?limit=500');
      return r.jobs.filter(
        (j: any) => !['completed', 'failed', 'cancelled', 'lost'].includes(j.status)
      ).length;
    })
    .toBe(0);
  for (const job of (await api(page, 'GET', 'jobs?limit=500')).jobs) {
    await api(page, 'DELETE', `jobs/${job.id}`);
  }

  const dir = tmpPath;
  await upload(page, `${dir}/long-run.py`, script(600, 1));
  await upload(
    page,
    `${dir}/prepare-data.sh`,
    'echo "reading raw/2024-*.csv"\necho "missing raw/2024-03.csv" >&2\nexit 2\n'
  );
  await upload(page, `${dir}/analysis.ipynb`, parameterNotebook('hello'));
  await upload(page, `${dir}/train.py`, script(600, 1));
  await upload(page, `${dir}/evaluate.py`, script(600, 1));
  await upload(page, `${dir}/fine-tune.py`, script(600, 1));
  await upload(page, `${dir}/render-report.py`, script(600, 1));
  await upload(page, `${dir}/sweep-lr.py`, script(600, 1));
  const submit = (body: Record<string, unknown>) => api(page, 'POST', 'jobs', body);
  const sidebar = await openJobs(page);

  const long = await submit({ path: `${dir}/long-run.py`, kind: 'script', name: 'long-run.py' });
  await expect(row(page, 'long-run.py')).toHaveAttribute('data-status', 'running');
  await expect(row(page, 'long-run.py').locator('.jp-JobsRow-detail')).toContainText(
    /step \d+ of 600/
  );
  await api(page, 'POST', `jobs/${long.id}/cancel`);
  await expect(row(page, 'long-run.py')).toHaveAttribute('data-status', 'cancelled');
  await submit({ path: `${dir}/prepare-data.sh`, kind: 'script', name: 'prepare-data.sh' });
  await expect(row(page, 'prepare-data.sh')).toHaveAttribute('data-status', 'failed');
  await submit({
    path: `${dir}/analysis.ipynb`,
    kind: 'notebook',
    name: 'analysis.ipynb',
    parameters: { greeting: 'bonjour' }
  });
  await expect(row(page, 'analysis.ipynb')).toHaveAttribute('data-status', 'completed', {
    timeout: 90000
  });
  for (const name of ['evaluate.py', 'fine-tune.py', 'render-report.py']) {
    await submit({ path: `${dir}/${name}`, kind: 'script', name });
  }
  await submit({
    path: `${dir}/train.py`,
    kind: 'script',
    name: 'train.py',
    args: ['--epochs', '20']
  });
  // the local backend runs 4 jobs at once (ui-tests config): the fifth waits
  await submit({ path: `${dir}/sweep-lr.py`, kind: 'script', name: 'sweep-lr.py' });
  await expect(row(page, 'train.py')).toHaveAttribute('data-status', 'running');
  await expect(row(page, 'sweep-lr.py')).toHaveAttribute('data-status', /queued|pending/);
  await expect(row(page, 'train.py').locator('.jp-JobsRow-progress')).toBeVisible();
  await expect(row(page, 'train.py').locator('.jp-JobsRow-detail')).toContainText(
    /step \d+ of 600/
  );
  await page.mouse.move(900, 600);
  await sidebar.screenshot({ path: screenshotPath('jobs-sidebar.png') });

  for (const job of (await api(page, 'GET', 'jobs?limit=50')).jobs) {
    if (!['completed', 'failed', 'cancelled', 'lost'].includes(job.status)) {
      await api(page, 'POST', `jobs/${job.id}/cancel`);
    }
  }
});
