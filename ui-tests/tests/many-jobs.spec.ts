/**
 * The Jobs sidebar with 10,000 jobs in the store (issue 14, points 7 and 11).
 *
 * This spec starts a JupyterLab of its own (same config as scripts/ui-tests.sh's, another port,
 * another root and job root) on a job root that scripts/seed_jobs.py filled with 10,000 finished
 * jobs (directories and index, a few seconds), so the other specs keep their small store. It
 * stops that server at the end.
 */
import { expect, test } from '@jupyterlab/galata';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { openJobs, rows } from './helpers';

const REPO = path.resolve(__dirname, '..', '..');
const N = 10000;
const PYTHON = process.env.PYTHON || 'python';
// the page fixtures need the URL when this file loads: pick a free port now
const PORT = Number(
  execFileSync(PYTHON, [
    '-c',
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  ])
    .toString()
    .trim()
);
const BASE_URL = `http://127.0.0.1:${PORT}`;
const LIST = /\/jupyter-jobs\/api\/jobs(\?|$)/;

let server: ChildProcess | null = null;
let work = '';

test.use({ baseURL: BASE_URL });
test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(240000);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jupyter-jobs-many-'));
  const root = path.join(work, 'root');
  const jobRoot = path.join(work, 'jobs');
  fs.mkdirSync(root);
  const seeded = execFileSync(PYTHON, [
    path.join(REPO, 'scripts', 'seed_jobs.py'),
    jobRoot,
    `${N}`
  ]);
  console.log(`many-jobs: seeded ${seeded.toString().trim()}`);
  const log = fs.openSync(path.join(REPO, 'test-artifacts', 'ui-tests-many-jobs-server.log'), 'w');
  server = spawn(
    'jupyter',
    [
      'lab',
      '--allow-root',
      '--no-browser',
      '--config',
      path.join(REPO, 'ui-tests', 'jupyter_server_test_config.py')
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        JUPYTERLAB_GALATA_ROOT_DIR: root,
        JUPYTER_JOBS_UI_JOB_ROOT: jobRoot,
        JUPYTER_JOBS_UI_PORT: `${PORT}`
      },
      stdio: ['ignore', log, log]
    }
  );
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      const r = await fetch(`${BASE_URL}/jupyter-jobs/api/backends`);
      if (r.ok) {
        break;
      }
    } catch {
      // not up yet
    }
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the many-jobs server did not start (exit ${server.exitCode}); see its log`);
    }
    await new Promise(resolve => setTimeout(resolve, 500));
  }
});

test.afterAll(async () => {
  const proc = server;
  server = null;
  if (proc && proc.exitCode === null) {
    const exited = new Promise(resolve => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 15000))]);
    if (proc.exitCode === null) {
      proc.kill('SIGKILL');
    }
  }
  if (work) {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('10,000 jobs: one page when the sidebar opens, all reachable, searched and filtered by the server', async ({
  page
}) => {
  test.setTimeout(360000); // 20 pages while scrolling, on a busy machine
  const answers: { url: string; bytes: number; jobs: number; total: number }[] = [];
  page.on('response', async response => {
    const request = response.request();
    if (request.method() !== 'GET' || !LIST.test(response.url())) {
      return;
    }
    try {
      const body = await response.body();
      const data = JSON.parse(body.toString());
      answers.push({
        url: response.url(),
        bytes: body.length,
        jobs: data.jobs.length,
        total: data.total
      });
    } catch {
      answers.push({ url: response.url(), bytes: -1, jobs: -1, total: -1 });
    }
  });
  // a fresh start of JupyterLab with the sidebar closed: no page of the list yet
  await page.goto();
  await expect(page.locator('.jp-JobsStatusItem')).toHaveText('0 jobs running');
  // at start: the active jobs and counts (status=...), maybe a changed_since catch-up; no page
  const isPage = (a: { url: string }) => {
    const query = new URL(a.url).searchParams;
    return !query.has('status') && !query.has('changed_since');
  };
  console.log(
    `many-jobs: at start: ${answers.map(a => `${a.jobs} jobs in ${a.bytes} bytes (${a.url})`).join('; ')}`
  );
  expect(answers.filter(isPage)).toEqual([]);
  const before = answers.length;

  const sidebar = await openJobs(page);
  const summary = sidebar.locator('.jp-JobsFilter-summary');
  await expect(summary).toHaveText('10000 jobs'); // from the counts the status bar asked for
  // the first page: its rows drawn, its answer read (the listener reads bodies asynchronously)
  await expect(sidebar.locator('.jp-JobsRow').first()).toBeVisible();
  await expect.poll(() => answers.slice(before).filter(isPage).length).toBeGreaterThan(0);
  const firstOpen = answers.slice(before).filter(isPage);
  console.log(
    `many-jobs: first open: ${firstOpen.length} GET jobs, ` +
      firstOpen.map(a => `${a.jobs} jobs in ${a.bytes} bytes (${a.url})`).join('; ')
  );
  expect(firstOpen).toHaveLength(1);
  expect(firstOpen[0].jobs).toBe(100);
  expect(firstOpen[0].total).toBe(N);
  expect(new URL(firstOpen[0].url).searchParams.get('limit')).toBe('100');
  // the newest first, and only a window of rows in the DOM
  await expect(sidebar.locator('.jp-JobsRow-name').first()).toHaveText('sweep-09999.py');
  expect(await sidebar.locator('.jp-JobsRow').count()).toBeLessThan(60);

  // scroll to the oldest job: more pages come as the list scrolls
  const outer = sidebar.locator('.jp-JobsList .jp-WindowedPanel-outer');
  const oldest = rows(page, 'sweep-00000.py');
  for (let i = 0; i < 200 && (await oldest.count()) === 0; i++) {
    await outer.evaluate(el => {
      el.scrollTop = el.scrollHeight;
    });
    await page.waitForTimeout(200);
  }
  await expect(oldest).toBeVisible();
  const pages = answers.slice(before).filter(a => new URL(a.url).searchParams.has('cursor'));
  console.log(`many-jobs: scrolled to the oldest job with ${pages.length} more pages`);
  expect(pages.length).toBeGreaterThan(0);
  expect(await sidebar.locator('.jp-JobsRow').count()).toBeLessThan(60);

  // search one old job by name: the server finds it
  const search = sidebar.locator('.jp-JobsFilter-search');
  await search.fill('sweep-00042');
  await expect(summary).toHaveText('1 of 10000 jobs');
  await expect(rows(page, 'sweep-00042.py')).toHaveCount(1);
  expect(answers.some(a => new URL(a.url).searchParams.get('q') === 'sweep-00042')).toBe(true);

  // failed: the exact count of the store, not of what was loaded
  await search.fill('');
  await sidebar.locator('.jp-JobsFilter-status').selectOption('failed');
  await expect(summary).toHaveText('1000 of 10000 jobs');
  await expect(sidebar.locator('.jp-JobsRow[data-status="failed"]').first()).toBeVisible();

  // lost jobs: their own icon and what lost means
  await sidebar.locator('.jp-JobsFilter-status').selectOption('lost');
  await expect(summary).toHaveText('200 of 10000 jobs');
  const lostIcon = sidebar.locator('.jp-JobsRow[data-status="lost"] .jp-JobsRow-status').first();
  await expect(lostIcon).toHaveAttribute(
    'title',
    'Lost: the runner stopped reporting; the job may still be running on seed-host'
  );
  const glyph = await lostIcon.evaluate(el => getComputedStyle(el, '::before').content);
  expect(glyph).not.toContain('✕');

  // back to all: the summary again, and Reload asks for the first page only
  await sidebar.locator('.jp-JobsFilter-status').selectOption('all');
  await expect(summary).toHaveText('10000 jobs');
  const beforeReload = answers.length;
  await sidebar.getByTitle('Reload the job list').first().click();
  await expect.poll(() => answers.length).toBeGreaterThan(beforeReload);
  const reload = answers.slice(beforeReload);
  expect(reload.every(a => !new URL(a.url).searchParams.has('cursor'))).toBe(true);
  expect(reload[0].jobs).toBe(100);
});
