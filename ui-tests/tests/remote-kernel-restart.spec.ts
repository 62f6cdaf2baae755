import { expect, test } from '@jupyterlab/galata';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

/**
 * A SLURM kernel keeps its state across a server restart (issue 11, "Done means"): in JupyterLab
 * in chromium, `x = 42` runs on the SLURM kernel; the server is stopped (SIGTERM) and started
 * again on the same port; the page reloads, the notebook is on the same kernel, and `print(x)`
 * prints 42. Then the kernel is shut down and no allocation remains (squeue).
 *
 * scripts/ui-tests.sh starts one server for all specs; this one starts its own JupyterLab (same
 * config file, ui-tests/jupyter_server_test_config.py, on a free port, with a root and job root
 * of its own through the environment that config reads) so that it can stop and restart it.
 * Needs the one-node cluster of scripts/slurm-up.sh (JUPYTER_JOBS_SLURM_BASE and SLURM_CONF).
 */
const UI = path.resolve(__dirname, '..');
const KERNEL = 'jupyter-jobs-slurm-default';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

class Lab {
  child: ChildProcess | null = null;
  constructor(
    readonly port: number,
    readonly root: string,
    readonly jobRoot: string,
    readonly log: string
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const out = fs.openSync(this.log, 'a');
    this.child = spawn(
      'jupyter',
      [
        'lab',
        '--allow-root',
        '--no-browser',
        '--config',
        path.join(UI, 'jupyter_server_test_config.py')
      ],
      {
        cwd: this.root,
        env: {
          ...process.env,
          JUPYTER_JOBS_UI_PORT: String(this.port),
          JUPYTER_JOBS_UI_JOB_ROOT: this.jobRoot,
          JUPYTERLAB_GALATA_ROOT_DIR: this.root
        },
        stdio: ['ignore', out, out]
      }
    );
    fs.closeSync(out);
    const deadline = Date.now() + 90000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`JupyterLab exited (${this.child.exitCode}); see ${this.log}`);
      }
      try {
        const r = await fetch(`${this.url}/api/kernelspecs`);
        if (r.ok && KERNEL in (await r.json()).kernelspecs) {
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise(resolve => setTimeout(resolve, 300));
    }
    throw new Error(`JupyterLab did not offer ${KERNEL} within 90 s; see ${this.log}`);
  }

  /** SIGTERM, as a JupyterHub upgrade or culling stops a user's server. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) {
      return;
    }
    const exited = new Promise(resolve => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    await exited;
    clearTimeout(timer);
  }
}

function inQueue(jobId: string): boolean {
  const out = execFileSync('squeue', ['-h', '-j', jobId, '-t', 'PD,R,CG,S,CF', '-o', '%i'], {
    encoding: 'utf8'
  });
  return out.trim() !== '';
}

test.describe('Remote kernel across a server restart', () => {
  test.skip(
    !process.env.JUPYTER_JOBS_SLURM_BASE,
    'no SLURM cluster: set JUPYTER_JOBS_SLURM_BASE (scripts/slurm-up.sh DIR)'
  );
  // our own server: no navigation to the shared one, no kernel bookkeeping against it
  test.use({ autoGoto: false, kernels: null, sessions: null, terminals: null });
  test.setTimeout(240000);

  test('a SLURM kernel keeps x = 42 across a server restart', async ({ page }) => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jupyter-jobs-ui-restart-'));
    const root = path.join(work, 'root');
    fs.mkdirSync(root);
    const notebook = {
      cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: '' }],
      metadata: { kernelspec: { name: KERNEL, display_name: 'Python 3 — SLURM' } },
      nbformat: 4,
      nbformat_minor: 5
    };
    fs.writeFileSync(path.join(root, 'restart.ipynb'), JSON.stringify(notebook));
    const lab = new Lab(
      await freePort(),
      root,
      path.join(work, 'jobs'),
      path.join(work, 'server.log')
    );
    let jobId = '';
    try {
      await lab.start();
      await page.goto(`${lab.url}/lab`);
      expect(await page.notebook.openByPath('restart.ipynb')).toBe(true);
      await page.notebook.activate('restart.ipynb');
      await page.notebook.setCell(
        0,
        'code',
        "import os; x = 42; print('job', os.environ['SLURM_JOB_ID'])"
      );
      await page.notebook.runCell(0);
      const first = page.locator('.jp-Cell').first().locator('.jp-OutputArea-output');
      await expect(first).toContainText(/job \d+/, { timeout: 90000 });
      jobId = ((await first.textContent()) ?? '').match(/job (\d+)/)![1];
      await page.notebook.save();
      const sessions = await (await page.request.get(`${lab.url}/api/sessions`)).json();
      expect(sessions.length).toBe(1);
      const kernelId = sessions[0].kernel.id;

      console.log(`remote-kernel-restart: job ${jobId} runs x = 42; stopping the server`);
      await lab.stop();
      expect(inQueue(jobId)).toBe(true); // the allocation goes on while no server runs
      await lab.start(); // same port, same job root

      await expect
        .poll(async () => (await page.request.get(`${lab.url}/api/kernels/${kernelId}`)).status(), {
          timeout: 60000
        })
        .toBe(200);
      // the restored layout has the notebook and no Launcher (galata's default readiness check)
      await page.reload({ waitForIsReady: false });
      await expect(page.locator('.jp-NotebookPanel')).toBeVisible({ timeout: 60000 });
      await page.notebook.activate('restart.ipynb');
      const again = await (await page.request.get(`${lab.url}/api/sessions`)).json();
      expect(again.map((s: any) => s.kernel.id)).toEqual([kernelId]); // the same kernel
      console.log('remote-kernel-restart: the server is back, the page reloaded');
      await page.notebook.addCell('code', 'print(x)');
      const count = await page.notebook.getCellCount();
      await page.notebook.runCell(count - 1);
      const last = page
        .locator('.jp-Cell')
        .nth(count - 1)
        .locator('.jp-OutputArea-output');
      await expect(last).toHaveText('42', { timeout: 60000 });

      // shut the kernel down: the allocation is released
      const r = await page.request.delete(`${lab.url}/api/sessions/${again[0].id}`);
      expect(r.status()).toBe(204);
      await expect.poll(() => inQueue(jobId), { timeout: 30000 }).toBe(false);
    } finally {
      await lab.stop();
      if (jobId && inQueue(jobId)) {
        execFileSync('scancel', [jobId]); // ours: never leave an allocation behind
      }
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
