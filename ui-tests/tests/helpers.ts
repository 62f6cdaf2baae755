import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

/** Where screenshots go (git-ignored); one is copied into docs/ for the README. */
export const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'test-artifacts', 'screenshots');
fs.mkdirSync(SCREENSHOTS, { recursive: true });

export function screenshotPath(name: string): string {
  return path.join(SCREENSHOTS, name);
}

/** A script that prints coloured lines, reports progress and ends with `exitCode`. */
export function script(lines: number, delay: number, exitCode = 0): string {
  return [
    'import sys, time',
    'import jupyter_jobs',
    `for i in range(${lines}):`,
    '    print(f"\\x1b[32mstep {i}\\x1b[0m working", flush=True)',
    `    jupyter_jobs.progress((i + 1) / ${lines}, f"step {i + 1} of ${lines}")`,
    `    time.sleep(${delay})`,
    'print("\\x1b[31mall done\\x1b[0m", flush=True)',
    `sys.exit(${exitCode})`,
    ''
  ].join('\n');
}

/** A notebook whose `parameters` cell sets `greeting`; the next cell prints it. */
export function parameterNotebook(greeting: string): string {
  const cell = (source: string, tags: string[] = []) => ({
    cell_type: 'code',
    execution_count: null,
    metadata: { tags },
    outputs: [],
    source
  });
  return JSON.stringify({
    cells: [
      cell(`greeting = "${greeting}"\nrepeat = 2`, ['parameters']),
      cell('for _ in range(repeat):\n    print(f"{greeting} from the job")')
    ],
    metadata: {
      kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

export async function upload(page: IJupyterLabPageFixture, filePath: string, content: string) {
  await page.contents.uploadContent(content, 'text', filePath);
  await page.filebrowser.refresh();
}

export async function openJobs(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab('jp-jobs-sidebar');
  const sidebar = page.locator('#jp-jobs-sidebar');
  await sidebar.waitFor({ state: 'visible' });
  return sidebar;
}

/** Right-click a file in the file browser and pick "Run as Background Job…". */
export async function openRunDialog(page: IJupyterLabPageFixture, name: string): Promise<Locator> {
  await page.sidebar.openTab('filebrowser');
  const item = page.locator(`.jp-DirListing-item:has-text("${name}")`).first();
  await item.waitFor();
  await item.click({ button: 'right' });
  await page.locator('.lm-Menu-item:has-text("Run as Background Job")').click();
  const dialog = page.locator('.jp-JobsSubmitDialog');
  await dialog.waitFor({ state: 'visible' });
  return dialog;
}

/** Every row of jobs called `name`, newest first. */
export function rows(page: IJupyterLabPageFixture, name: string): Locator {
  return page.locator(`#jp-jobs-sidebar .jp-JobsRow:has(.jp-JobsRow-name:text-is("${name}"))`);
}

/** The newest row of jobs called `name`. */
export function row(page: IJupyterLabPageFixture, name: string): Locator {
  return rows(page, name).first();
}

/** Click a row action (they show on hover, like the file browser's). */
export async function rowAction(page: IJupyterLabPageFixture, name: string, action: string) {
  const r = row(page, name);
  await r.hover();
  await r.locator(`[data-action="${action}"]`).click();
}
