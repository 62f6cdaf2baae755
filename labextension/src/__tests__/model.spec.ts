import { Signal, Stream } from '@lumino/signaling';

import { JobsClient } from '../api';
import { IConnectionMonitor } from '../connection';
import { JobsModel, LIST_KINDS } from '../model';
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
      fallbackInterval,
      syncDelay: 10
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

/** `n` finished jobs, one minute apart, newest last; every 10th failed. */
function history(n: number): IJob[] {
  const start = Date.parse('2026-01-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) =>
    makeJob({
      id: `h${String(i).padStart(5, '0')}`,
      name: `sweep-${String(i).padStart(5, '0')}.py`,
      status: i % 10 === 3 ? 'failed' : 'completed',
      created_at: new Date(start + i * 60000).toISOString(),
      finished_at: new Date(start + i * 60000 + 30000).toISOString()
    })
  );
}

const tick = () => new Promise(resolve => setTimeout(resolve, 0));
const lists = (server: FakeJobsServer) => server.requests.filter(r => r.path === 'jobs');

describe('JobsModel', () => {
  it('asks only for the active jobs and the counts at start, not for the list', async () => {
    const { server, make } = setup();
    server.jobs = [...history(30), makeJob({ status: 'running' }), makeJob({ status: 'queued' })];
    const model = make();
    await model.ready;
    const [start] = lists(server);
    expect(lists(server)).toHaveLength(1);
    expect(start.query.get('status')).toBe('pending,queued,running,cancelling');
    expect(start.query.get('kind')).toBe(LIST_KINDS.join(','));
    expect(model.counts).toMatchObject({ completed: 27, failed: 3, running: 1, queued: 1 });
    expect(model.size).toBe(32);
    expect(model.jobs).toHaveLength(0);
    expect(model.opened).toBe(false);
    model.dispose();
  });

  it('opens with one page, loads more on demand, and reaches every job (no cap)', async () => {
    const { server, make } = setup();
    const all = history(1234);
    server.jobs = all;
    const model = make();
    await model.ready;
    await model.open();
    expect(lists(server)).toHaveLength(2);
    expect(lists(server)[1].query.get('limit')).toBe('100');
    expect(model.jobs).toHaveLength(100);
    expect(model.jobs[0].id).toBe(all[all.length - 1].id); // newest first
    expect(model.total).toBe(1234);
    expect(model.hasMore).toBe(true);
    await model.open(); // once
    expect(lists(server)).toHaveLength(2);
    while (model.hasMore) {
      await model.loadMore();
    }
    expect(model.jobs.map(j => j.id)).toEqual(all.map(j => j.id).reverse());
    expect(lists(server)).toHaveLength(2 + 3); // 100 + 500 + 500 + 134
    model.dispose();
  });

  it('asks the server for search and filters, and shows its exact total', async () => {
    const { server, make } = setup();
    server.jobs = history(1000);
    const model = make();
    await model.ready;
    await model.open();
    await model.setFilter({ statuses: ['failed'] });
    const asked = lists(server)[lists(server).length - 1];
    expect(asked.query.get('status')).toBe('failed');
    expect(asked.query.get('kind')).toBe(LIST_KINDS.join(','));
    expect(model.total).toBe(100);
    expect(model.jobs.every(j => j.status === 'failed')).toBe(true);
    // a search for one old job by name, ignoring case
    await model.setFilter({ search: '  SWEEP-00007 ' });
    expect(lists(server)[lists(server).length - 1].query.get('q')).toBe('SWEEP-00007');
    expect(model.jobs.map(j => j.name)).toEqual(['sweep-00007.py']);
    expect(model.total).toBe(1);
    // the summary's counts stay those of the whole store
    expect(model.size).toBe(1000);
    model.dispose();
  });

  it('keeps only the answer of the latest filter when several are in flight', async () => {
    const { server, make } = setup();
    server.jobs = history(50);
    const model = make();
    await model.open();
    const first = model.setFilter({ search: 'sweep-0001' });
    const second = model.setFilter({ search: 'sweep-00042' });
    await Promise.all([first, second]);
    expect(model.jobs.map(j => j.name)).toEqual(['sweep-00042.py']);
    model.dispose();
  });

  it('applies created, updated and deleted events to rows, counts and total without asking', async () => {
    const { server, stream, make } = setup();
    server.jobs = history(5);
    const model = make();
    await model.open();
    const before = lists(server).length;
    const job = makeJob({ status: 'queued', created_at: '2027-01-01T00:00:00Z' });
    stream.emit(event('created', job));
    expect(model.jobs[0].id).toBe(job.id);
    expect(model.counts?.queued).toBe(1);
    expect(model.total).toBe(6);
    stream.emit(event('updated', { ...job, status: 'running', progress: { fraction: 0.5 } }));
    expect(model.get(job.id)?.progress?.fraction).toBe(0.5);
    expect(model.counts).toMatchObject({ queued: 0, running: 1 });
    stream.emit(event('deleted', null, job.id));
    expect(model.get(job.id)).toBeUndefined();
    expect(model.jobs.map(j => j.id)).not.toContain(job.id);
    expect(model.counts?.running).toBe(0);
    expect(model.total).toBe(5);
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(lists(server)).toHaveLength(before);
    model.dispose();
  });

  it('drops a row that leaves the filter and adds one that enters it', async () => {
    const { server, stream, make } = setup();
    const running = makeJob({ status: 'running', created_at: '2027-01-01T00:00:00Z' });
    const queued = makeJob({ status: 'queued', created_at: '2027-01-02T00:00:00Z' });
    server.jobs = [...history(20), running, queued];
    const model = make();
    await model.ready;
    await model.open();
    await model.setFilter({ statuses: ['running'] });
    expect(model.jobs.map(j => j.id)).toEqual([running.id]);
    // the running job fails: it leaves the view; the queued one starts: it enters it
    stream.emit(event('updated', { ...running, status: 'failed', exit_code: 1 }));
    expect(model.jobs).toHaveLength(0);
    expect(model.total).toBe(0);
    stream.emit(event('updated', { ...queued, status: 'running' }));
    expect(model.jobs.map(j => j.id)).toEqual([queued.id]);
    expect(model.total).toBe(1);
    expect(model.counts).toMatchObject({ failed: 3, running: 1, queued: 0 });
    model.dispose();
  });

  it('ignores events of other schemas and of remote kernels in the list and counts', async () => {
    const { stream, make } = setup();
    const model = make();
    await model.open();
    stream.emit({ ...event('created', makeJob()), schema_id: 'https://events.jupyter.org/other' });
    stream.emit(event('created', makeJob({ kind: 'kernel', status: 'running' })));
    expect(model.jobs).toHaveLength(0);
    expect(model.counts?.running).toBe(0);
    model.dispose();
  });

  it('asks what changed (changed_since) once for an event it cannot place', async () => {
    const { server, stream, make } = setup();
    const old = history(300);
    server.jobs = old;
    const model = make();
    await model.open();
    // a job beyond the first page changes (rerun by another client's API call, say)
    const changed = { ...old[3], status: 'completed' as const, exit_code: 0 };
    server.jobs = server.jobs.map(j => (j.id === changed.id ? changed : j));
    server.touch(changed.id);
    stream.emit(event('updated', changed));
    stream.emit(event('updated', { ...changed, log_size: 5 }));
    await new Promise(resolve => setTimeout(resolve, 50));
    const syncs = lists(server).filter(r => r.query.has('changed_since'));
    expect(syncs).toHaveLength(1);
    expect(model.counts).toMatchObject({ failed: 29, completed: 271 });
    model.dispose();
  });

  it('after a reconnect asks only for what changed: changes and deletions are caught up', async () => {
    const { server, connection, make } = setup();
    const kept = makeJob({ status: 'running', created_at: '2026-06-01T00:00:00Z' });
    const gone = makeJob({ status: 'completed', created_at: '2026-05-01T00:00:00Z' });
    server.jobs = [...history(10), kept, gone];
    const model = make();
    await model.ready;
    await model.open();
    connection.set(false);
    server.jobs = server.jobs.map(j => (j.id === kept.id ? { ...kept, status: 'completed' } : j));
    server.touch(kept.id);
    server.forget(gone.id);
    const before = lists(server).length;
    connection.set(true);
    await model.sync(); // the one in flight
    const after = lists(server).slice(before);
    expect(after).toHaveLength(1);
    expect(after[0].query.get('changed_since')).toMatch(/^abcd0123-\d+$/);
    expect(model.get(gone.id)).toBeUndefined();
    expect(model.jobs.map(j => j.id)).not.toContain(gone.id);
    expect(model.get(kept.id)?.status).toBe('completed');
    expect(model.total).toBe(11);
    expect(model.counts).toMatchObject({ running: 0 });
    model.dispose();
  });

  it('starts over from the first page when its token is too old (reload)', async () => {
    const { server, connection, make } = setup();
    server.jobs = history(10);
    const model = make();
    await model.open();
    connection.set(false);
    server.floor = 1000; // the server forgot the deletions since our token
    server.forget(server.jobs[0].id);
    const before = lists(server).length;
    connection.set(true);
    await model.sync();
    await tick();
    const after = lists(server).slice(before);
    expect(after.map(r => r.query.has('changed_since'))).toEqual([true, false]);
    expect(model.jobs).toHaveLength(9);
    model.dispose();
  });

  it('polls what changed while disconnected and stops once reconnected', async () => {
    jest.useFakeTimers();
    try {
      const { server, connection, make } = setup(false, 1000);
      const model = make();
      await jest.advanceTimersByTimeAsync(3500);
      const whileDown = lists(server).length;
      expect(whileDown).toBeGreaterThanOrEqual(3);
      expect(lists(server)[whileDown - 1].query.has('changed_since')).toBe(true);
      connection.set(true);
      await jest.advanceTimersByTimeAsync(10000);
      // exactly one catch-up for the reconnect, then nothing
      expect(lists(server).length).toBe(whileDown + 1);
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not poll while the event stream is connected', async () => {
    jest.useFakeTimers();
    try {
      const { server, make } = setup(true, 1000);
      const model = make();
      await jest.runOnlyPendingTimersAsync();
      jest.advanceTimersByTime(60000);
      await jest.runOnlyPendingTimersAsync();
      expect(lists(server)).toHaveLength(1);
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('Reload asks for the first page again', async () => {
    const { server, make } = setup();
    server.jobs = history(300);
    const model = make();
    await model.open();
    await model.loadMore();
    expect(model.jobs).toHaveLength(300);
    const before = lists(server).length;
    await model.refresh();
    expect(lists(server)).toHaveLength(before + 1);
    expect(lists(server)[before].query.has('cursor')).toBe(false);
    expect(model.jobs).toHaveLength(100);
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
    await model.open();
    expect(model.jobs).toHaveLength(1);
    expect(ended).toHaveLength(0);
    model.dispose();
  });

  it('an event that arrives while a page travels wins over the older page', async () => {
    const { server, stream, make } = setup();
    const job = makeJob({ status: 'running' });
    server.jobs = [job];
    const model = make();
    const opening = model.open();
    // the page is in flight: an event arrives meanwhile
    stream.emit(event('updated', { ...job, status: 'completed', exit_code: 0 }));
    await opening;
    await tick();
    expect(model.get(job.id)?.status).toBe('completed');
    expect(model.jobs[0].status).toBe('completed');
    model.dispose();
  });

  it('submit and remove update the list right away; the deleted event is no news', async () => {
    const { server, stream, make } = setup();
    const model = make();
    await model.open();
    const job = await model.submit({ path: 'a.py', name: 'a' });
    expect(model.get(job.id)?.name).toBe('a');
    expect(model.jobs[0].id).toBe(job.id);
    expect(model.total).toBe(1);
    server.jobs = server.jobs.map(j => ({ ...j, status: 'completed' as const }));
    await model.remove(job.id);
    expect(model.get(job.id)).toBeUndefined();
    expect(model.total).toBe(0);
    expect(server.count('DELETE', `jobs/${job.id}`)).toBe(1);
    const before = lists(server).length;
    stream.emit(event('deleted', null, job.id));
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(lists(server)).toHaveLength(before);
    model.dispose();
  });
});
