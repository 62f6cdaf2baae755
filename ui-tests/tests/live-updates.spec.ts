import { expect, test } from '@jupyterlab/galata';

import { openJobs, openRunDialog, row, rows, script, upload } from './helpers';

test('the list follows the event stream without polling, and resyncs after a reconnect', async ({
  page,
  tmpPath
}) => {
  await upload(page, `${tmpPath}/live.py`, script(3, 0.3));
  await openJobs(page);
  let listRequests = 0;
  page.on('request', request => {
    if (request.method() === 'GET' && /\/jupyter-jobs\/api\/jobs(\?|$)/.test(request.url())) {
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

  // drop the events socket, delete the job while it is down: its "deleted" event is lost
  const id = await row(page, 'live job').getAttribute('data-id');
  await page.evaluate(async jobId => {
    const events = (window as any).jupyterapp.serviceManager.events;
    events._socket.close();
    await fetch(`/jupyter-jobs/api/jobs/${jobId}`, { method: 'DELETE' });
  }, id);
  // after the reconnect, one GET jobs brings the list up to date
  await expect(rows(page, 'live job')).toHaveCount(0);
  expect(listRequests).toBeGreaterThanOrEqual(1);
});
