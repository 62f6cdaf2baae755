import { MainAreaWidget } from '@jupyterlab/apputils';
import { framePromise } from '@jupyterlab/testing';
import { Signal, Stream } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { JobsClient } from '../api';
import { addLogToolbar } from '../commands';
import { LogViewer } from '../log-viewer';
import { JobsModel } from '../model';
import { EVENT_SCHEMA_ID, IJob } from '../tokens';
import { FakeJobsServer, makeJob } from './fake-server';

function connected() {
  const c: any = { connected: true, dispose: () => undefined };
  c.connectionChanged = new Signal(c);
  return c;
}

describe('Log viewer', () => {
  it('disables Cancel and says the job ended without output once the job is final', async () => {
    const server = new FakeJobsServer();
    const job = makeJob({ status: 'queued', started_at: null });
    server.jobs = [job];
    const stream = new Stream<any, any>({});
    const model = new JobsModel({
      client: new JobsClient(server.settings()),
      stream,
      connection: connected()
    });
    await model.ready;
    const viewer = new LogViewer({ jobId: job.id, model });
    const widget = new MainAreaWidget({ content: viewer });
    addLogToolbar(widget, { model });
    Widget.attach(widget, document.body);
    const emit = (j: IJob) =>
      stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'updated', job_id: j.id, job: j });
    const cancelButton = async () => {
      // the toolbar button is a React widget (a <jp-button>): it renders asynchronously
      for (let i = 0; i < 50; i++) {
        const b = widget.toolbar.node.querySelector('.jp-JobsLog-cancel');
        if (b) {
          return b as HTMLElement;
        }
        await new Promise(r => setTimeout(r, 10));
      }
      throw new Error('no cancel button');
    };
    const empty = () => viewer.node.querySelector('.jp-JobsLog-empty') as HTMLElement;

    emit({ ...job, reason: 'Resources' });
    await framePromise();
    expect(empty().textContent).toBe('No output yet.');
    expect((await cancelButton()).getAttribute('aria-disabled')).toBe('false');

    emit({ ...job, status: 'cancelled', finished_at: new Date().toISOString() });
    await new Promise(r => setTimeout(r, 50));
    expect(empty().textContent).toBe('The job ended without output.');
    expect((await cancelButton()).getAttribute('aria-disabled')).toBe('true');
    widget.dispose();
    model.dispose();
  });
});
