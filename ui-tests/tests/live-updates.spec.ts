import { expect, test } from '@jupyterlab/galata';

import { openJobs, openRunDialog, row, rows, script, upload } from './helpers';

const LIST = /\/jupyter-jobs\/api\/jobs$/;

test('the list follows the event stream without polling, and resyncs after a reconnect', async ({
  page,
  tmpPath
}) => {
  // keep every websocket the page opens, to drop the events ones later
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const sockets: WebSocket[] = [];
    (window as any).__jobsTestSockets = sockets;
    (window as any).WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    };
  });
  await page.goto(`tree/${tmpPath}`);
  await upload(page, `${tmpPath}/live.py`, script(3, 0.3));
  await openJobs(page);
  let listRequests = 0;
  page.on('request', request => {
    if (request.method() === 'GET' && LIST.test(new URL(request.url()).pathname)) {
      listRequests++;
    }
  });

  const dialog = await openRunDialog(page, 'live.py');
  await dialog.locator('input[name="name"]').fill('live job');
  await dialog.locator('input[name="name"]').press('Enter');
  await expect(row(page, 'live job')).toHaveAttribute('data-status', 'running');
  await expect(row(page, 'live job')).toHaveAttribute('data-status', 'completed');
  // every change came through the events websocket
  expect(listRequests).toBe(0);

  // drop the events sockets, delete the job while they are down: its "deleted" event is lost
  const id = await row(page, 'live job').getAttribute('data-id');
  const changedSince: string[] = [];
  page.on('request', request => {
    const url = new URL(request.url());
    if (LIST.test(url.pathname) && url.searchParams.has('changed_since')) {
      changedSince.push(request.url());
    }
  });
  await page.evaluate(async jobId => {
    const sockets: WebSocket[] = (window as any).__jobsTestSockets;
    const events = sockets.filter(s => s.url.includes('api/events/subscribe'));
    if (!events.length) {
      throw new Error('no events websocket was opened');
    }
    for (const socket of events) {
      socket.close();
    }
    await fetch(`/jupyter-jobs/api/jobs/${jobId}`, { method: 'DELETE' });
  }, id);
  // after the reconnect, one GET jobs?changed_since brings the list up to date
  await expect(rows(page, 'live job')).toHaveCount(0);
  expect(changedSince.length).toBeGreaterThanOrEqual(1);
});
