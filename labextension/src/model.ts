/**
 * JobsModel: the Jobs list as the server pages it, kept live by the jupyter events stream.
 *
 * - At start, one small `GET jobs` of the active jobs: the status bar's counts (`counts`, for the
 *   whole store) and the jobs whose changes events will bring. The list itself is asked for only
 *   when the sidebar first shows it (`open()`): its first page, then more pages as it scrolls
 *   (`loadMore()`); search and filters are answered by the server (`setFilter()`), with the exact
 *   number of matching jobs (`total`).
 * - Events update the rows in view, the counts and the total as they come. Where an event cannot
 *   tell (a job this page never saw changed), and after every reconnect of the events websocket,
 *   one `GET jobs?changed_since=<token>` asks for what changed only. While the stream is
 *   disconnected, the same request polls slowly until it reconnects.
 *
 * Remote kernels (kind `kernel`) are not in the list nor in its counts: their own section shows
 * them.
 */
import type { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { IJobsQuery, JobsClient } from './api';
import { IConnectionMonitor } from './connection';
import {
  EVENT_SCHEMA_ID,
  IJob,
  IJobEvent,
  IJobsReply,
  ISubmitRequest,
  isFinal,
  STATUSES
} from './tokens';

export interface IJobsFilter {
  /** Statuses to show; empty or missing: all. */
  statuses?: string[];
  /** Backend name; empty or missing: all. */
  backend?: string;
  /** Case-insensitive substring of the name or path. */
  search?: string;
}

/** The kinds the Jobs list shows (the scope of its requests). */
export const LIST_KINDS = ['script', 'notebook', 'command', 'sweep'];
const ACTIVE_STATUSES = ['pending', 'queued', 'running', 'cancelling'];

export namespace JobsModel {
  export interface IOptions {
    client: JobsClient;
    /** The events stream (our own events socket's `stream`, see connection.ts). */
    stream: ISignal<unknown, Event.Emission>;
    connection: IConnectionMonitor;
    /** Milliseconds between refreshes while the stream is disconnected. */
    fallbackInterval?: number;
    /** Jobs in the first page (default 100). */
    pageSize?: number;
    /** Jobs in each further page (default 500). */
    morePageSize?: number;
    /** Milliseconds an unexplained event waits before the one catch-up request (default 500). */
    syncDelay?: number;
  }
}

export class JobsModel {
  constructor(options: JobsModel.IOptions) {
    this.client = options.client;
    this._stream = options.stream;
    this._connection = options.connection;
    this._fallbackInterval = options.fallbackInterval ?? 10000;
    this._pageSize = options.pageSize ?? 100;
    this._morePageSize = options.morePageSize ?? 500;
    this._syncDelay = options.syncDelay ?? 500;
    this._stream.connect(this._onEvent, this);
    this._connection.connectionChanged.connect(this._onConnection, this);
    this._ready = this._start();
    if (!this._connection.connected) {
      this._scheduleFallback();
    }
  }

  readonly client: JobsClient;

  /** Emits after any change of the list, its counts or its state. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emits a job that reached a final status while this model watched it. */
  get jobEnded(): ISignal<this, IJob> {
    return this._jobEnded;
  }

  /** Emits a job that changed (status, progress, …). */
  get jobChanged(): ISignal<this, IJob> {
    return this._jobChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether the first request (the counts) finished. */
  get ready(): Promise<void> {
    return this._ready;
  }

  /** The last error of a request, if the last one failed. */
  get lastError(): Error | null {
    return this._lastError;
  }

  /** Number of `GET jobs` requests made. */
  get refreshCount(): number {
    return this._refreshCount;
  }

  get connected(): boolean {
    return this._connection.connected;
  }

  /** Jobs of the list's kinds in each status, for the whole store (null before the first answer). */
  get counts(): Readonly<Record<string, number>> | null {
    return this._counts;
  }

  /** How many jobs of the list's kinds the store has (all statuses). */
  get size(): number {
    return this._counts ? Object.values(this._counts).reduce((a, b) => a + b, 0) : 0;
  }

  /** How many jobs match the filter (all pages; 0 before the list was opened). */
  get total(): number {
    return this._total;
  }

  /** The rows loaded so far for the filter, newest first. */
  get jobs(): readonly IJob[] {
    return this._rows;
  }

  /** Whether the server has more rows for the filter than are loaded. */
  get hasMore(): boolean {
    return this._cursor !== null;
  }

  /** Whether the first page for the filter is on its way. */
  get loading(): boolean {
    return this._loading;
  }

  /** Whether the list was asked for (the sidebar showed it). */
  get opened(): boolean {
    return this._opened;
  }

  get filter(): IJobsFilter {
    return this._filter;
  }

  /** Any job this model knows (rows, active jobs, events). */
  get(id: string): IJob | undefined {
    return this._jobs.get(id);
  }

  /** Names of the backends seen on jobs. */
  get backends(): string[] {
    return Array.from(new Set(Array.from(this._jobs.values(), j => j.backend))).sort();
  }

  /** Show the list: its first page, once (later calls do nothing). */
  async open(): Promise<void> {
    if (this._opened) {
      return this._first ?? undefined;
    }
    this._opened = true;
    return this._loadFirst();
  }

  /** Ask the server for the rows of another filter (the first page; the rest on scroll). */
  async setFilter(filter: IJobsFilter): Promise<void> {
    const next = normalized(filter);
    if (sameFilter(next, this._filter)) {
      return;
    }
    this._filter = next;
    if (this._opened) {
      return this._loadFirst();
    }
  }

  /** The next page of the filter's rows (one request at a time). */
  async loadMore(): Promise<void> {
    if (!this._opened || this._loading || this._cursor === null) {
      return;
    }
    if (this._more) {
      return this._more;
    }
    const generation = this._generation;
    const mark = this._eventCount;
    const cursor = this._cursor;
    this._more = (async () => {
      try {
        const reply = await this._list({
          ...this._query(),
          limit: this._morePageSize,
          cursor
        });
        if (generation !== this._generation) {
          return;
        }
        const have = new Set(this._rows.map(j => j.id));
        for (const job of reply.jobs) {
          if (!have.has(job.id)) {
            this._rows.push(this._take(job, mark));
          }
        }
        this._cursor = reply.next_cursor;
        this._total = reply.total;
        this._takeCounts(reply, mark);
        this._lastError = null;
      } catch (error) {
        this._lastError = error as Error;
      } finally {
        this._more = null;
        this._changed.emit();
      }
    })();
    return this._more;
  }

  /** Reload: the first page again (or only the counts while the list was never shown). */
  async refresh(): Promise<void> {
    return this._opened ? this._loadFirst() : this._start();
  }

  /** Ask what changed after the last answer (`changed_since`), and apply it. */
  async sync(): Promise<void> {
    window.clearTimeout(this._syncTimer);
    this._syncTimer = 0;
    if (!this._token) {
      return this.refresh();
    }
    if (this._syncing) {
      this._syncAgain = true;
      return this._syncing;
    }
    const generation = this._generation;
    const mark = this._eventCount;
    this._syncing = (async () => {
      try {
        const reply = await this._list({
          ...this._query(),
          limit: 1000,
          changedSince: this._token
        });
        if (reply.reload || (reply.next_cursor !== null && this._opened)) {
          // the token was too old, or too much changed: start over from the first page
          this._takeCounts(reply, mark);
          if (this._opened) {
            await this._loadFirst();
          }
          return;
        }
        for (const job of reply.jobs) {
          if ((this._touched.get(job.id) ?? -1) >= mark) {
            continue; // an event already brought something newer
          }
          const previous = this._jobs.get(job.id);
          this._upsert(job);
          if (generation === this._generation) {
            this._place(previous, job, false);
          }
        }
        for (const id of reply.deleted) {
          this._jobs.delete(id);
          this._unplace(id);
        }
        if (generation === this._generation && this._opened) {
          this._total = reply.total;
        }
        this._takeCounts(reply, mark);
        this._lastError = null;
      } catch (error) {
        this._lastError = error as Error;
      } finally {
        this._syncing = null;
        this._changed.emit();
        if (this._syncAgain) {
          this._syncAgain = false;
          this._scheduleSync();
        }
      }
    })();
    return this._syncing;
  }

  async submit(request: ISubmitRequest): Promise<IJob> {
    const job = await this.client.submit(request);
    this._applyJob(job, 'created');
    this._changed.emit();
    return job;
  }

  async cancel(id: string): Promise<IJob> {
    const job = await this.client.cancel(id);
    this._applyJob(job, 'updated');
    this._changed.emit();
    return job;
  }

  /** `overrides` may hold `input: pinned|current` (issue 12, "Pinned inputs"). */
  async rerun(
    id: string,
    overrides: Partial<ISubmitRequest> & { input?: string } = {}
  ): Promise<IJob> {
    const job = await this.client.rerun(id, overrides);
    this._applyJob(job, 'created');
    this._changed.emit();
    return job;
  }

  async remove(id: string): Promise<void> {
    await this.client.remove(id);
    this._applyDeleted(id);
    this._removed.add(id); // its "deleted" event is no news
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._fallbackTimer);
    window.clearTimeout(this._syncTimer);
    this._stream.disconnect(this._onEvent, this);
    this._connection.connectionChanged.disconnect(this._onConnection, this);
    Signal.clearData(this);
  }

  // ------------------------------------------------------------------ requests

  private _query(): IJobsQuery {
    const filter = this._opened ? this._filter : {};
    return {
      kind: LIST_KINDS,
      q: filter.search || undefined,
      status: filter.statuses,
      backend: filter.backend ? [filter.backend] : undefined
    };
  }

  private _list(query: IJobsQuery): Promise<IJobsReply> {
    this._refreshCount++;
    return this.client.listPage(query);
  }

  /** The active jobs and the counts (what the status bar needs, before any list). */
  private async _start(): Promise<void> {
    const mark = this._eventCount;
    try {
      const reply = await this._list({ kind: LIST_KINDS, status: ACTIVE_STATUSES, limit: 1000 });
      for (const job of reply.jobs) {
        this._take(job, mark);
      }
      this._takeCounts(reply, mark);
      this._lastError = null;
    } catch (error) {
      this._lastError = error as Error;
    } finally {
      this._changed.emit();
    }
  }

  private _loadFirst(): Promise<void> {
    const generation = ++this._generation;
    const mark = this._eventCount;
    this._loading = true;
    this._more = null;
    this._changed.emit();
    const first = (async () => {
      try {
        const reply = await this._list({ ...this._query(), limit: this._pageSize });
        if (generation !== this._generation) {
          return; // a newer filter asked meanwhile
        }
        this._rows = reply.jobs.map(job => this._take(job, mark));
        this._cursor = reply.next_cursor;
        this._total = reply.total;
        this._takeCounts(reply, mark);
        this._lastError = null;
      } catch (error) {
        if (generation === this._generation) {
          this._lastError = error as Error;
        }
      } finally {
        if (generation === this._generation) {
          this._loading = false;
          this._first = null;
          this._changed.emit();
        }
      }
    })();
    this._first = first;
    return first;
  }

  /** A job from an answer, unless an event brought a newer state after the request left. */
  private _take(job: IJob, mark: number): IJob {
    const cached = this._jobs.get(job.id);
    if (cached && (this._touched.get(job.id) ?? -1) >= mark) {
      return cached;
    }
    this._upsert(job);
    return this._jobs.get(job.id) ?? job;
  }

  private _takeCounts(reply: IJobsReply, mark: number): void {
    const raced = this._eventCount !== mark;
    if (!raced || !this._counts) {
      this._counts = { ...reply.counts };
    }
    if (raced) {
      // events came while the answer travelled: their changes may be in it or not
      this._scheduleSync();
    }
    if (newerToken(reply.change_token, this._token)) {
      this._token = reply.change_token;
    }
  }

  private _scheduleSync(): void {
    if (this._syncTimer || this._disposed) {
      return;
    }
    this._syncTimer = window.setTimeout(() => {
      this._syncTimer = 0;
      void this.sync();
    }, this._syncDelay);
  }

  // ------------------------------------------------------------------ events

  private _onEvent(_: unknown, emission: Event.Emission): void {
    if (emission.schema_id !== EVENT_SCHEMA_ID) {
      return;
    }
    const event = emission as unknown as IJobEvent;
    if (event.action === 'deleted') {
      if (this._removed.delete(event.job_id)) {
        return;
      }
      this._applyDeleted(event.job_id);
    } else if (event.job) {
      this._applyJob(event.job, event.action);
    }
    this._changed.emit();
  }

  private _applyJob(job: IJob, action: 'created' | 'updated'): void {
    this._eventCount++;
    this._touched.set(job.id, this._eventCount);
    const previous = this._jobs.get(job.id);
    this._upsert(job);
    if (!LIST_KINDS.includes(job.kind) || job.sweep_id) {
      // a sweep's run is listed under its sweep (jobs-list.ts), not in the list's scope
      return;
    }
    const known = previous !== undefined || action === 'created';
    if (!known) {
      this._scheduleSync(); // its former status (and whether the counts held it) is unknown
    } else if (this._counts) {
      if (previous) {
        this._bump(previous.status, -1);
      }
      this._bump(job.status, 1);
    }
    this._place(previous, job, known);
  }

  private _applyDeleted(id: string): void {
    this._eventCount++;
    this._touched.set(id, this._eventCount);
    const previous = this._jobs.get(id);
    this._jobs.delete(id);
    if (!previous) {
      this._scheduleSync();
      this._unplace(id);
      return;
    }
    if (!LIST_KINDS.includes(previous.kind)) {
      return;
    }
    if (this._counts) {
      this._bump(previous.status, -1);
    }
    if (this._unplace(id) || (this._opened && matches(previous, this._filter))) {
      this._total = Math.max(0, this._total - 1);
    }
  }

  private _bump(status: string, by: number): void {
    if (this._counts) {
      this._counts = { ...this._counts, [status]: Math.max(0, (this._counts[status] ?? 0) + by) };
    }
  }

  /**
   * Put a changed job where it belongs in the rows: replaced, inserted in order when it falls
   * among the loaded rows, or dropped when it left the filter; `total` follows when the job's
   * former state is known.
   */
  private _place(previous: IJob | undefined, job: IJob, known: boolean): void {
    if (!this._opened) {
      return;
    }
    const filter = this._filter;
    const now = matches(job, filter);
    const index = this._rows.findIndex(r => r.id === job.id);
    if (index >= 0) {
      if (now) {
        this._rows[index] = this._jobs.get(job.id) ?? job;
      } else {
        this._rows.splice(index, 1);
      }
    } else if (now && this._fitsLoaded(job)) {
      const at = this._rows.findIndex(r => compareNewestFirst(job, r) < 0);
      this._rows.splice(at < 0 ? this._rows.length : at, 0, this._jobs.get(job.id) ?? job);
    }
    if (known) {
      const before = previous ? matches(previous, filter) : false;
      this._total = Math.max(0, this._total + (now ? 1 : 0) - (before ? 1 : 0));
    }
  }

  /** Drop a row; whether there was one. */
  private _unplace(id: string): boolean {
    const index = this._rows.findIndex(r => r.id === id);
    if (index >= 0) {
      this._rows.splice(index, 1);
      return true;
    }
    return false;
  }

  /** Whether a job sorts among the loaded rows (the rest come with later pages). */
  private _fitsLoaded(job: IJob): boolean {
    if (this._cursor === null) {
      return true;
    }
    const last = this._rows[this._rows.length - 1];
    return last !== undefined && compareNewestFirst(job, last) < 0;
  }

  /** Insert or update a job in the cache; emits jobChanged (and jobEnded when it just ended). */
  private _upsert(job: IJob): void {
    const previous = this._jobs.get(job.id);
    if (previous && sameJob(previous, job)) {
      return;
    }
    this._jobs.set(job.id, job);
    this._jobChanged.emit(job);
    const endedNow = previous
      ? !isFinal(previous.status) && isFinal(job.status)
      : isFinal(job.status) && Date.parse(job.created_at) >= this._startedAt;
    if (endedNow) {
      this._jobEnded.emit(job);
    }
  }

  private _onConnection(_: IConnectionMonitor, connected: boolean): void {
    window.clearTimeout(this._fallbackTimer);
    if (connected) {
      // (re)connected: events may have been missed; ask for what changed, once
      if (this._token) {
        void this.sync();
      }
    } else {
      this._scheduleFallback();
    }
  }

  private _scheduleFallback(): void {
    window.clearTimeout(this._fallbackTimer);
    this._fallbackTimer = window.setTimeout(async () => {
      if (this._disposed || this._connection.connected) {
        return;
      }
      await this.sync();
      this._scheduleFallback();
    }, this._fallbackInterval);
  }

  private _jobs = new Map<string, IJob>();
  /** the event number that last touched each job (answers older than it do not overwrite it) */
  private _touched = new Map<string, number>();
  private _removed = new Set<string>();
  private _eventCount = 0;
  private _rows: IJob[] = [];
  private _cursor: string | null = null;
  private _total = 0;
  private _counts: Record<string, number> | null = null;
  private _token: string | null = null;
  private _filter: IJobsFilter = {};
  private _opened = false;
  private _loading = false;
  private _generation = 0;
  private _first: Promise<void> | null = null;
  private _more: Promise<void> | null = null;
  private _syncing: Promise<void> | null = null;
  private _syncAgain = false;
  private _syncTimer = 0;
  private _syncDelay: number;
  private _pageSize: number;
  private _morePageSize: number;
  private _stream: ISignal<unknown, Event.Emission>;
  private _connection: IConnectionMonitor;
  private _fallbackInterval: number;
  private _fallbackTimer = 0;
  private _refreshCount = 0;
  private _lastError: Error | null = null;
  private _disposed = false;
  private _startedAt = Date.now();
  private _ready: Promise<void>;
  private _changed = new Signal<this, void>(this);
  private _jobEnded = new Signal<this, IJob>(this);
  private _jobChanged = new Signal<this, IJob>(this);
}

/** Whether a job belongs in the list under `filter` (as the server decides, for live updates). */
export function matches(job: IJob, filter: IJobsFilter): boolean {
  if (!LIST_KINDS.includes(job.kind)) {
    return false;
  }
  const statuses = filter.statuses ?? [];
  if (statuses.length && !statuses.includes(job.status)) {
    return false;
  }
  if (filter.backend && job.backend !== filter.backend) {
    return false;
  }
  const search = (filter.search ?? '').toLowerCase();
  return !search || `${job.name}\n${job.path ?? ''}`.toLowerCase().includes(search);
}

function normalized(filter: IJobsFilter): IJobsFilter {
  const statuses = (filter.statuses ?? []).filter(s => STATUSES.includes(s as never));
  return {
    statuses: statuses.length ? [...statuses].sort() : undefined,
    backend: filter.backend || undefined,
    search: (filter.search ?? '').trim() || undefined
  };
}

function sameFilter(a: IJobsFilter, b: IJobsFilter): boolean {
  return (
    (a.statuses ?? []).join(',') === (b.statuses ?? []).join(',') &&
    (a.backend ?? '') === (b.backend ?? '') &&
    (a.search ?? '') === (b.search ?? '')
  );
}

/** Whether change token `a` is at least as recent as `b` (tokens of another index replace). */
function newerToken(a: string, b: string | null): boolean {
  if (!b) {
    return true;
  }
  const [epochA, seqA] = a.split('-');
  const [epochB, seqB] = b.split('-');
  return epochA !== epochB || Number(seqA) >= Number(seqB);
}

export function compareNewestFirst(a: IJob, b: IJob): number {
  if (a.created_at !== b.created_at) {
    return a.created_at < b.created_at ? 1 : -1;
  }
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function sameJob(a: IJob, b: IJob): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
