import { Signal, Stream } from '@lumino/signaling';

import { JobsClient } from '../api';
import { IConnectionMonitor } from '../connection';
import { JobsModel } from '../model';
import { EVENT_SCHEMA_ID, IJob } from '../tokens';
import { FakeJobsServer, makeJob } from './fake-server';

class Connection implements IConnectionMonitor {
  constructor(public connected: boolean) {}
  connectionChanged: Signal<IConnectionMonitor, boolean> = new Signal<IConnectionMonitor, boolean>(
    this
  );
  set(connected: boolean) {
    this.connected = connected;
    this.connectionChanged.emit(connected);
  }
  dispose() {}
}

function setup(connected = true, fallbackInterval = 10000) {
  const server = new FakeJobsServer();
  const owner = {};
  const stream = new Stream<any, any>(owner);
  const connection = new Connection(connected);
  const make = () =>
    new JobsModel({
      client: new JobsClient(server.settings()),
      stream,
      connection,
      fallbackInterval
    });
  return { server, stream, connection, make };
}

function event(action: string, job: IJob | null, id?: string) {
  return {
    schema_id: EVENT_SCHEMA_ID,
    action,
    job_id: id ?? job!.id,
    status: job?.status,
    job
  };
}

const tick = () => new Promise(resolve => setTimeout(resolve, 0));

describe('JobsModel', () => {
  it('loads the jobs once at start, newest first', async () => {
    const { server, make } = setup();
    const older = makeJob({ created_at: '2026-01-01T00:00:00Z' });
    const newer = makeJob({ created_at: '2026-02-01T00:00:00Z' });
    server.jobs = [older, newer];
    const model = make();
    await model.ready;
    expect(model.jobs.map(j => j.id)).toEqual([newer.id, older.id]);
    expect(server.count('GET', 'jobs')).toBe(1);
    model.dispose();
  });

  it('applies created, updated and deleted events without asking the server', async () => {
    const { server, stream, make } = setup();
    const model = make();
    await model.ready;
    const job = makeJob({ status: 'queued' });
    stream.emit(event('created', job));
    expect(model.get(job.id)?.status).toBe('queued');
    stream.emit(event('updated', { ...job, status: 'running', progress: { fraction: 0.5 } }));
    expect(model.get(job.id)?.progress?.fraction).toBe(0.5);
    stream.emit(event('deleted', null, job.id));
    expect(model.get(job.id)).toBeUndefined();
    expect(server.count('GET', 'jobs')).toBe(1);
    model.dispose();
  });

  it('ignores events of other schemas', async () => {
    const { stream, make } = setup();
    const model = make();
    await model.ready;
    stream.emit({ ...event('created', makeJob()), schema_id: 'https://events.jupyter.org/other' });
    expect(model.jobs).toHaveLength(0);
    model.dispose();
  });

  it('does not poll while the event stream is connected', async () => {
    jest.useFakeTimers();
    try {
      const { server, make } = setup(true, 1000);
      const model = make();
      await jest.runOnlyPendingTimersAsync();
      jest.advanceTimersByTime(60000);
      await jest.runOnlyPendingTimersAsync();
      expect(server.count('GET', 'jobs')).toBe(1);
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('polls while disconnected and stops once reconnected', async () => {
    jest.useFakeTimers();
    try {
      const { server, connection, make } = setup(false, 1000);
      const model = make();
      await jest.advanceTimersByTimeAsync(3500);
      const whileDown = server.count('GET', 'jobs');
      expect(whileDown).toBeGreaterThanOrEqual(3);
      connection.set(true);
      await jest.advanceTimersByTimeAsync(10000);
      // exactly one resync for the reconnect, then nothing
      expect(server.count('GET', 'jobs')).toBe(whileDown + 1);
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('resyncs once after a reconnect: jobs deleted and changed meanwhile are caught up', async () => {
    const { server, connection, make } = setup();
    const kept = makeJob({ status: 'running' });
    const gone = makeJob();
    server.jobs = [kept, gone];
    const model = make();
    await model.ready;
    connection.set(false);
    server.jobs = [{ ...kept, status: 'completed', exit_code: 0 }];
    connection.set(true);
    await model.refresh();
    expect(model.get(gone.id)).toBeUndefined();
    expect(model.get(kept.id)?.status).toBe('completed');
    model.dispose();
  });

  it('emits jobEnded once when a watched job reaches a final status', async () => {
    const { stream, make } = setup();
    const model = make();
    await model.ready;
    const ended: IJob[] = [];
    model.jobEnded.connect((_, job) => ended.push(job));
    const job = makeJob({ status: 'running' });
    stream.emit(event('created', job));
    stream.emit(event('updated', { ...job, status: 'failed', exit_code: 3 }));
    stream.emit(event('updated', { ...job, status: 'failed', exit_code: 3, log_size: 10 }));
    expect(ended.map(j => [j.id, j.status])).toEqual([[job.id, 'failed']]);
    model.dispose();
  });

  it('does not announce jobs that had ended before the page loaded', async () => {
    const { server, make } = setup();
    server.jobs = [makeJob({ status: 'completed', created_at: '2020-01-01T00:00:00Z' })];
    const model = make();
    const ended: IJob[] = [];
    model.jobEnded.connect((_, job) => ended.push(job));
    await model.ready;
    expect(model.jobs).toHaveLength(1);
    expect(ended).toHaveLength(0);
    model.dispose();
  });

  it('filters by status, backend and name', async () => {
    const { server, make } = setup();
    server.jobs = [
      makeJob({ name: 'train model', status: 'running', backend: 'slurm' }),
      makeJob({ name: 'clean data', status: 'failed', backend: 'local' }),
      makeJob({ name: 'train again', status: 'completed', backend: 'local' })
    ];
    const model = make();
    await model.ready;
    const names = (f: any) =>
      model
        .filtered(f)
        .map(j => j.name)
        .sort();
    expect(names({ search: 'TRAIN' })).toEqual(['train again', 'train model']);
    expect(names({ backend: 'local' })).toEqual(['clean data', 'train again']);
    expect(names({ statuses: ['failed'] })).toEqual(['clean data']);
    expect(names({ statuses: ['running', 'completed'], search: 'again' })).toEqual(['train again']);
    model.dispose();
  });

  it('events that arrive during a resync are applied after it', async () => {
    const { server, stream, make } = setup();
    const job = makeJob({ status: 'running' });
    server.jobs = [job];
    const model = make();
    // the initial GET is in flight: an event arrives meanwhile
    stream.emit(event('updated', { ...job, status: 'completed', exit_code: 0 }));
    await model.ready;
    await tick();
    expect(model.get(job.id)?.status).toBe('completed');
    model.dispose();
  });

  it('submit and remove update the list right away', async () => {
    const { server, make } = setup();
    const model = make();
    await model.ready;
    const job = await model.submit({ path: 'a.py', name: 'a' });
    expect(model.get(job.id)?.name).toBe('a');
    server.jobs = server.jobs.map(j => ({ ...j, status: 'completed' as const }));
    await model.remove(job.id);
    expect(model.get(job.id)).toBeUndefined();
    expect(server.count('DELETE', `jobs/${job.id}`)).toBe(1);
    model.dispose();
  });
});
