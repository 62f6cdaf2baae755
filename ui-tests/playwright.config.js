/**
 * Galata/Playwright configuration: Debian's chromium, a JupyterLab started by
 * scripts/ui-tests.sh (its URL comes in JUPYTER_JOBS_UI_URL), no video or trace (they need
 * Playwright's own ffmpeg download, which this machine cannot fetch).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results',
  timeout: 120000,
  expect: { timeout: 30000 },
  retries: 0,
  workers: 1,
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: 'playwright-report' }],
    ['json', { outputFile: '../test-artifacts/ui-tests-results.json' }]
  ],
  use: {
    ...baseConfig.use,
    baseURL: process.env.JUPYTER_JOBS_UI_URL || 'http://localhost:8888',
    viewport: { width: 1280, height: 800 },
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
    }
  }
};
