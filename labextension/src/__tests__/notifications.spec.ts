import { Notification } from '@jupyterlab/apputils';
import { Signal, Stream } from '@lumino/signaling';

import { JobsClient } from '../api';
import { JobsModel } from '../model';
import { connectNotifications } from '../notifications';
import { EVENT_SCHEMA_ID, IJob } from '../tokens';
import { FakeJobsServer, makeJob } from './fake-server';

async function setup(enabled: boolean) {
  const server = new FakeJobsServer();
  const stream = new Stream<any, any>({});
  const connection: any = { connected: true, dispose: () => undefined };
  connection.connectionChanged = new Signal(connection);
  const model = new JobsModel({ client: new JobsClient(server.settings()), stream, connection });
  await model.ready;
  const shown: IJob[] = [];
  const disconnect = connectNotifications({
    model,
    enabled: () => enabled,
    showLog: job => shown.push(job)
  });
  const finish = (status: string) => {
    const job = makeJob({ name: `n-${status}`, status: 'running' });
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'created', job_id: job.id, job });
    const done = { ...job, status, exit_code: status === 'failed' ? 1 : 0 };
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'updated', job_id: job.id, job: done });
    return done;
  };
  return { model, finish, shown, disconnect };
}

const ours = () => Notification.manager.notifications.filter(n => n.message.includes('“n-'));

describe('job notifications', () => {
  beforeEach(() => Notification.manager.dismiss());

  it('announce success and failure with a Show log action', async () => {
    const { finish, shown, model, disconnect } = await setup(true);
    const done = finish('completed');
    finish('failed');
    const [failed, completed] = ours();
    expect(completed.type).toBe('success');
    expect(completed.message).toContain('n-completed');
    expect(failed.type).toBe('error');
    const action = completed.options.actions![0];
    expect(action.label).toBe('Show log');
    action.callback(new MouseEvent('click'));
    expect(shown.map(j => j.id)).toEqual([done.id]);
    disconnect();
    model.dispose();
  });

  it('offer "Open output" as a button like "Show log" for a notebook job', async () => {
    const server = new FakeJobsServer();
    const stream = new Stream<any, any>({});
    const connection: any = { connected: true, dispose: () => undefined };
    connection.connectionChanged = new Signal(connection);
    const model = new JobsModel({ client: new JobsClient(server.settings()), stream, connection });
    await model.ready;
    const opened: string[] = [];
    const disconnect = connectNotifications({
      model,
      enabled: () => true,
      showLog: () => undefined,
      openOutput: job => opened.push(job.id)
    });
    const job = makeJob({ name: 'n-notebook', kind: 'notebook', status: 'running' });
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'created', job_id: job.id, job });
    const done = { ...job, status: 'completed', exit_code: 0, outputs: ['out.ipynb'] };
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'updated', job_id: job.id, job: done });
    const [note] = ours();
    const [showLog, openOutput] = note.options.actions!;
    expect(openOutput.label).toBe('Open output');
    expect(openOutput.displayType ?? 'default').toBe(showLog.displayType ?? 'default');
    openOutput.callback(new MouseEvent('click'));
    expect(opened).toEqual([job.id]);
    disconnect();
    model.dispose();
  });

  it('stay quiet when the setting turns them off', async () => {
    const { finish, model, disconnect } = await setup(false);
    finish('completed');
    expect(ours()).toHaveLength(0);
    disconnect();
    model.dispose();
  });
});
