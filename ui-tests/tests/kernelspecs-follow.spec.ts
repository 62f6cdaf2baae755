import { expect, test } from '@jupyterlab/galata';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

/**
 * Kernel specs follow the backends: the Launcher gains "Python 3 — Kubernetes" when credentials
 * appear and loses it when the API server goes away, with no reload. scripts/ui-tests.sh starts
 * JupyterLab with KUBECONFIG pointing at a file that does not exist yet; this test starts the
 * loopback fake API server (tests/k8s/fake_api.py), which writes it. Skipped without that setup.
 */
const KUBE_DIR = process.env.JUPYTER_JOBS_UI_KUBE_DIR;
const REPO = path.resolve(__dirname, '..', '..');

function startFakeKube(): Promise<ChildProcess> {
  const child = spawn('python', [path.join(REPO, 'tests', 'k8s', 'fake_api.py')], {
    cwd: KUBE_DIR,
    stdio: ['ignore', 'pipe', 'inherit']
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fake API server did not start')), 30000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('fake Kubernetes API on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', code => reject(new Error(`the fake API server exited (${code})`)));
  });
}

test.describe('Kernel specs follow the backends', () => {
  test.skip(!KUBE_DIR, 'needs scripts/ui-tests.sh (JUPYTER_JOBS_UI_KUBE_DIR)');

  test('the Launcher gains and loses the Kubernetes kernel without a reload', async ({ page }) => {
    const card = page
      .locator('.jp-LauncherCard[data-category="Notebook"]')
      .filter({ hasText: 'Python 3 — Kubernetes' });
    await expect(page.locator('.jp-Launcher').first()).toBeVisible();
    await expect(card).toHaveCount(0);
    await page.evaluate(() => ((window as any).__notReloaded = true));

    let kube: ChildProcess | null = await startFakeKube();
    try {
      // the server's next check connects, its kernelspecs event makes JupyterLab refresh (its
      // own poll would take 61 s)
      await expect(card).toHaveCount(1, { timeout: 30000 });
      kube.kill('SIGTERM');
      kube = null;
      await expect(card).toHaveCount(0, { timeout: 30000 });
      expect(await page.evaluate(() => (window as any).__notReloaded)).toBe(true);
    } finally {
      kube?.kill('SIGTERM');
    }
  });
});
