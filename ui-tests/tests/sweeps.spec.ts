import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';

import { openJobs, openRunDialog, row, rowAction, screenshotPath, upload } from './helpers';

/** A notebook whose parameters cell sets lr and seed; the next cell records a value of both. */
function trainNotebook(): string {
  const cell = (source: string, tags: string[] = []) => ({
    cell_type: 'code',
    execution_count: null,
    metadata: { tags },
    outputs: [],
    source
  });
  return JSON.stringify({
    cells: [
      cell('lr = 0.1\nseed = 0', ['parameters']),
      cell(
        'import jupyter_jobs\njupyter_jobs.record(accuracy=round(lr * 10 + seed, 6), tag=f"s{seed}")'
      )
    ],
    metadata: {
      kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

test.describe('Sweeps, results and dependencies', () => {
  test.setTimeout(300000);

  test('sweep over two parameters, its runs, the results table and chart, a job waiting for it', async ({
    page,
    tmpPath
  }) => {
    await upload(page, `${tmpPath}/train.ipynb`, trainNotebook());
    await upload(page, `${tmpPath}/evaluate.py`, 'print("evaluated the sweep", flush=True)\n');
    await openJobs(page);

    // ---- the dialog: the Sweep part, N as typed, a bad value in words, the server's 400 at its field
    const dialog = await openRunDialog(page, 'train.ipynb');
    await dialog.locator('input[name="sweep"]').check();
    const lr = dialog.locator('input[name="grid.lr"]');
    const seed = dialog.locator('input[name="grid.seed"]');
    await expect(lr).toHaveValue('0.1'); // prefilled from the parameters cell
    await expect(seed).toHaveValue('0');
    const count = dialog.locator('.jp-JobsSweep-count');
    await lr.fill('1:0');
    await expect(dialog.locator('[data-field="grid.lr"]')).toContainText('lr: 1:0 has no values');
    await lr.fill('0:9999');
    await seed.fill('0:1');
    await expect(count).toHaveText('20,000 runs');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    // the server's own limit, shown at the grid
    await expect(dialog.locator('.jp-JobsDialog-error[data-field="grid"]')).toContainText(
      'more than a sweep may have'
    );
    await expect(dialog).toBeVisible();
    await lr.fill('0.1, 0.5');
    await expect(count).toHaveText('4 runs');
    await dialog.locator('input[name="throttle"]').fill('2');
    await page.screenshot({ path: screenshotPath('sweep-dialog.png') });
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    await expect(dialog).toBeHidden();

    // ---- one row for the sweep; it expands to its four runs
    const sweep = page.locator('#jp-jobs-sidebar .jp-JobsRow-sweep').first();
    await expect(sweep).toBeVisible();
    await expect(sweep.locator('.jp-JobsRow-name')).toHaveText('train.ipynb');
    await expect(sweep.locator('.jp-JobsRow-detail')).toContainText('4 runs');
    const sweepId = (await sweep.getAttribute('data-id'))!;
    expect(sweepId).toBeTruthy();
    // the runs are not rows of their own in the list
    await expect(page.locator('#jp-jobs-sidebar .jp-JobsRow-child')).toHaveCount(0);
    await sweep.locator('[data-action="expand"]').click();
    const children = page.locator('#jp-jobs-sidebar .jp-JobsRow-child');
    await expect(children).toHaveCount(4);
    await expect(children.nth(0).locator('.jp-JobsRow-name')).toContainText('lr=0.1 seed=0');
    await expect(children.nth(3).locator('.jp-JobsRow-name')).toContainText('lr=0.5 seed=1');

    // ---- a job set to wait for the sweep
    const evaluate = await openRunDialog(page, 'evaluate.py');
    await evaluate.locator('select[name="after"]').selectOption(sweepId);
    await evaluate.locator('select[name="when"]').selectOption('ok');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    await expect(evaluate).toBeHidden();
    const waiting = row(page, 'evaluate.py');
    await expect(waiting.locator('.jp-JobsRow-chain')).toBeVisible();

    // ---- the runs complete, then the sweep, then the job that waited
    await expect(sweep).toHaveAttribute('data-status', 'completed', { timeout: 180000 });
    for (let i = 0; i < 4; i++) {
      await expect(children.nth(i)).toHaveAttribute('data-status', 'completed');
    }
    await expect(sweep.locator('.jp-JobsRow-detail')).toContainText('4 runs · 4 done');
    await expect(waiting).toHaveAttribute('data-status', 'completed', { timeout: 60000 });
    // it started only after every run of the sweep had ended
    const times = await page.evaluate(
      async ({ id }) => {
        const base = (window as any).jupyterapp.serviceManager.serverSettings.baseUrl as string;
        const get = async (path: string) => (await fetch(`${base}jupyter-jobs/api/${path}`)).json();
        const runs = (await get(`jobs?sweep=${id}`)).jobs as { finished_at: string }[];
        const all = (await get('jobs')).jobs as {
          name: string;
          started_at: string;
          after: string[];
        }[];
        const ev = all.find(j => j.name === 'evaluate.py')!;
        return {
          lastRunEnd: Math.max(...runs.map(r => Date.parse(r.finished_at))),
          evalStart: Date.parse(ev.started_at),
          after: ev.after
        };
      },
      { id: sweepId }
    );
    expect(times.after).toEqual([sweepId]);
    expect(times.evalStart).toBeGreaterThanOrEqual(times.lastRunEnd);

    // ---- the results: one row per run, the right parameters and the recorded value
    await rowAction(page, 'train.ipynb', 'results');
    const view = page.locator('.jp-JobsResults').last();
    const table = view.locator('table.jp-JobsResults-table');
    await expect(table.locator('tbody tr')).toHaveCount(4);
    const headers = await table.locator('th').allTextContents();
    const col = (name: string) => headers.findIndex(h => h.trim() === name);
    for (const name of ['index', 'status', 'lr', 'seed', 'accuracy', 'tag']) {
      expect(col(name)).toBeGreaterThanOrEqual(0);
    }
    const cells = async () =>
      (await table
        .locator('tbody tr')
        .evaluateAll(trs =>
          trs.map(tr =>
            Array.from(tr.querySelectorAll('td')).map(td => td.getAttribute('title') ?? '')
          )
        )) as string[][];
    const before = await cells();
    const sets = before.map(r => [Number(r[col('lr')]), Number(r[col('seed')])]);
    expect(sets).toEqual([
      [0.1, 0],
      [0.1, 1],
      [0.5, 0],
      [0.5, 1]
    ]);
    for (const r of before) {
      expect(r[col('status')]).toBe('completed');
      expect(Number(r[col('accuracy')])).toBeCloseTo(
        Number(r[col('lr')]) * 10 + Number(r[col('seed')]),
        6
      );
    }
    // sort by accuracy (numbers as numbers: 1, 2, 5, 6), then the other way
    await table.locator('th', { hasText: 'accuracy' }).click();
    const up = (await cells()).map(r => Number(r[col('accuracy')]));
    expect(up).toEqual([1, 2, 5, 6]);
    await expect(table.locator('th', { hasText: 'accuracy' })).toHaveAttribute(
      'aria-sort',
      'ascending'
    );
    await table.locator('th', { hasText: 'accuracy' }).click();
    expect((await cells()).map(r => Number(r[col('accuracy')]))).toEqual([6, 5, 2, 1]);

    // the chart: accuracy against lr, one point per run
    await expect(view.locator('select[name="y"]')).toHaveValue(String(col('accuracy')));
    await expect(view.locator('select[name="x"]')).toHaveValue(String(col('lr')));
    await expect(view.locator('.jp-JobsResultsChart-point')).toHaveCount(4);
    await view.locator('select[name="x"]').selectOption(String(col('seed')));
    await expect(view.locator('.jp-JobsResultsChart-point')).toHaveCount(4);
    await expect(view.locator('.jp-JobsResultsChart-label').first()).toHaveText('seed');
    await page.screenshot({ path: screenshotPath('sweep-results.png') });

    // CSV download: the rows as shown (sorted), RFC 4180
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page
        .locator(
          '.jp-MainAreaWidget:visible .jp-Toolbar-item[data-jp-item-name="download"] button, .jp-MainAreaWidget:visible jp-button[title="Download the table as CSV"], .jp-MainAreaWidget:visible [title="Download the table as CSV"]'
        )
        .first()
        .click()
    ]);
    expect(download.suggestedFilename()).toBe('train.ipynb-results.csv');
    const csv = fs.readFileSync((await download.path())!, 'utf-8');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(5);
    expect(lines[0].split(',')).toEqual(headers.map(h => h.replace(/ [▲▼]$/, '').trim()));
    const accuracy = lines.slice(1).map(l => Number(l.split(',')[col('accuracy')]));
    expect(accuracy).toEqual([6, 5, 2, 1]);
  });

  test('a script sweep: a failing run, rerun only the failed, one run’s results; cancel a sweep', async ({
    page,
    tmpPath
  }) => {
    await upload(
      page,
      `${tmpPath}/fit.py`,
      [
        'import sys',
        'import jupyter_jobs',
        'seed = int(sys.argv[sys.argv.index("--seed") + 1])',
        'jupyter_jobs.record(loss=seed * 0.5)',
        'sys.exit(1 if seed == 1 else 0)',
        ''
      ].join('\n')
    );
    await upload(page, `${tmpPath}/slow.py`, 'import time\ntime.sleep(120)\n');
    await openJobs(page);

    const dialog = await openRunDialog(page, 'fit.py');
    await dialog.locator('input[name="sweep"]').check();
    const box = dialog.locator('textarea[name="grid"]');
    await box.fill('seed 0:2');
    await expect(dialog.locator('.jp-JobsDialog-error[data-field="grid"]')).toContainText(
      'line 1: write name = values'
    );
    await box.fill('seed = 0:2');
    await expect(dialog.locator('.jp-JobsSweep-count')).toHaveText('3 runs');
    await expect(dialog.locator('select[name="parameters_as"]')).toHaveValue('args');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    await expect(dialog).toBeHidden();

    const sweeps = page.locator('#jp-jobs-sidebar .jp-JobsRow-sweep');
    const sweep = sweeps.first();
    await expect(sweep).toHaveAttribute('data-status', 'failed', { timeout: 120000 });
    await expect(sweep.locator('.jp-JobsRow-detail')).toContainText('3 runs · 2 done · 1 failed');
    // the row itself expands (click), the failed run shows its exit code
    await sweep.locator('.jp-JobsRow-name').click();
    const children = page.locator('#jp-jobs-sidebar .jp-JobsRow-child');
    await expect(children).toHaveCount(3);
    await expect(children.nth(1)).toHaveAttribute('data-status', 'failed');
    // one run's results
    await children.nth(2).hover();
    await children.nth(2).locator('[data-action="results"]').click();
    const one = page.locator('.jp-JobsResults').last();
    await expect(one.locator('tbody tr')).toHaveCount(1);
    await expect(one.locator('th', { hasText: 'loss' })).toBeVisible();
    await expect(one.locator('tbody td[title="1"]')).toHaveCount(1); // loss = 2 * 0.5
    // a run's log opens from its row
    await children.nth(1).locator('.jp-JobsRow-name').click();
    await expect(page.locator('.jp-JobsLogViewer').last()).toBeVisible();

    // rerun only the failed: a new sweep of one run (seed 1)
    await sweep.hover();
    await sweep.locator('[data-action="rerun-failed"]').click();
    await expect(sweeps).toHaveCount(2);
    const rerun = sweeps.first();
    await expect(rerun.locator('.jp-JobsRow-detail')).toContainText('1 run');
    await expect(rerun).toHaveAttribute('data-status', 'failed', { timeout: 120000 });
    await rerun.locator('[data-action="expand"]').click();
    await expect(page.locator(`#jp-jobs-sidebar .jp-JobsRow-child:has-text("seed=1")`)).toHaveCount(
      2
    );

    // cancel a sweep: every run ends cancelled
    const slow = await openRunDialog(page, 'slow.py');
    await slow.locator('input[name="sweep"]').check();
    await slow.locator('textarea[name="grid"]').fill('i = 0:2');
    await slow.locator('select[name="parameters_as"]').selectOption('env');
    await slow.locator('input[name="throttle"]').fill('1');
    await page.locator('.jp-Dialog-footer button:has-text("Run")').click();
    await expect(slow).toBeHidden();
    const slowRow = row(page, 'slow.py');
    await expect(slowRow).toHaveAttribute('data-status', 'running', { timeout: 60000 });
    await rowAction(page, 'slow.py', 'cancel');
    await expect(slowRow).toHaveAttribute('data-status', 'cancelled', { timeout: 60000 });
    await expect(slowRow.locator('.jp-JobsRow-detail')).toContainText('3 cancelled');
  });
});
