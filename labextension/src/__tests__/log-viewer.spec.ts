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

  it("follows a redrawn bar in place, renders finished lines once, with the theme's colours", async () => {
    const server = new FakeJobsServer();
    const job = makeJob({ status: 'running' });
    server.jobs = [job];
    const model = new JobsModel({
      client: new JobsClient(server.settings()),
      stream: new Stream<any, any>({}),
      connection: connected()
    });
    await model.ready;
    const viewer = new LogViewer({ jobId: job.id, model });
    Widget.attach(viewer, document.body);
    let offset = 0;
    const send = (data: string) => {
      offset += new TextEncoder().encode(data).length;
      (viewer as any)._onMessage(JSON.stringify({ type: 'data', data, next_offset: offset }));
    };
    const output = viewer.node.querySelector('.jp-JobsLog-output') as HTMLElement;
    expect(output.classList).toContain('jp-RenderedText');
    send('\x1b[32mstarting\x1b[0m\n');
    const first = viewer.node.querySelector('.jp-JobsLog-chunk') as HTMLElement;
    expect(first.querySelector('.ansi-green-fg')!.textContent).toBe('starting');
    for (const pct of ['  0%', ' 50%', '100%']) {
      send(`\r${pct}|bar|`);
      expect(viewer.text).toBe(`starting\n${pct}|bar|`);
    }
    send('\r');
    send('\nnext print\n');
    expect(viewer.text).toBe('starting\n100%|bar|\nnext print\n');
    // the first chunk is the same node: finished lines are not rendered again
    expect(viewer.node.querySelector('.jp-JobsLog-chunk')).toBe(first);
    const chunks = Array.from(viewer.node.querySelectorAll<HTMLElement>('.jp-JobsLog-chunk'));
    expect(chunks.map(c => [c.dataset.offset, c.dataset.next])).toEqual([
      ['0', String(first.dataset.next)],
      [String(first.dataset.next), String(offset)]
    ]);
    // a colour set in one chunk goes on in the next
    send('\x1b[31mred starts\n');
    send('and goes on\n');
    const last = viewer.node.querySelectorAll('.jp-JobsLog-chunk');
    expect(last[last.length - 1].querySelector('.ansi-red-fg')!.textContent).toBe('and goes on\n');
    viewer.dispose();
    model.dispose();
  });

  it('asks for usage once when a log opens, and once more only when its running job ends', async () => {
    const server = new FakeJobsServer();
    const done = makeJob({ id: 'done1', status: 'completed' });
    const running = makeJob({ id: 'run1', status: 'running', finished_at: null });
    server.jobs = [done, running];
    const stream = new Stream<any, any>({});
    const model = new JobsModel({
      client: new JobsClient(server.settings()),
      stream,
      connection: connected()
    });
    await model.ready;
    const settle = () => new Promise(r => setTimeout(r, 50));
    const open = async (id: string) => {
      const viewer = new LogViewer({ jobId: id, model });
      (viewer as any)._connect = () => undefined; // the log stream is played by hand below
      Widget.attach(viewer, document.body);
      await viewer.start();
      await settle();
      return viewer;
    };
    const usage = (id: string) => server.count('GET', `jobs/${id}/usage`);

    const a = await open(done.id);
    (a as any)._onMessage(JSON.stringify({ type: 'end', next_offset: 0 }));
    await settle();
    expect(usage(done.id)).toBe(1);
    a.dispose();

    const b = await open(running.id);
    expect(usage(running.id)).toBe(1);
    const ended = {
      ...running,
      status: 'completed' as const,
      finished_at: new Date().toISOString()
    };
    server.jobs = [done, ended];
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'updated', job_id: ended.id, job: ended });
    (b as any)._onMessage(JSON.stringify({ type: 'end', next_offset: 0 }));
    await settle();
    expect(usage(running.id)).toBe(2);
    b.dispose();
    model.dispose();
  });
});
