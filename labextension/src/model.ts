/**
 * JobsModel: every job the server knows, kept live by the jupyter events stream.
 *
 * - One `GET jobs` at start and after each reconnect of the events websocket (a resync).
 * - While the stream is connected there is no polling; while it is not, a slow poll keeps the
 *   list fresh until it reconnects.
 */
import type { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { JobsClient } from './api';
import { IConnectionMonitor } from './connection';
import { EVENT_SCHEMA_ID, IJob, IJobEvent, ISubmitRequest, isFinal } from './tokens';

export interface IJobsFilter {
  /** Statuses to show; empty or missing: all. */
  statuses?: string[];
  /** Backend name; empty or missing: all. */
  backend?: string;
  /** Case-insensitive substring of the name (or path). */
  search?: string;
}

export namespace JobsModel {
  export interface IOptions {
    client: JobsClient;
    /** The events stream (`app.serviceManager.events.stream`). */
    stream: Event.Stream;
    connection: IConnectionMonitor;
    /** Milliseconds between refreshes while the stream is disconnected. */
    fallbackInterval?: number;
  }
}

export class JobsModel {
  constructor(options: JobsModel.IOptions) {
    this.client = options.client;
    this._stream = options.stream;
    this._connection = options.connection;
    this._fallbackInterval = options.fallbackInterval ?? 10000;
    this._stream.connect(this._onEvent, this);
    this._connection.connectionChanged.connect(this._onConnection, this);
    this._onConnection(this._connection, this._connection.connected);
  }

  readonly client: JobsClient;

  /** Emits after any change of the list. */
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

  /** Whether the first load finished. */
  get ready(): Promise<void> {
    return this._ready;
  }

  /** The last error of a refresh, if the last refresh failed. */
  get lastError(): Error | null {
    return this._lastError;
  }

  /** Number of `GET jobs` requests made (resyncs and fallback polls). */
  get refreshCount(): number {
    return this._refreshCount;
  }

  get connected(): boolean {
    return this._connection.connected;
  }

  /** All jobs, newest first. */
  get jobs(): readonly IJob[] {
    if (!this._sorted) {
      this._sorted = Array.from(this._jobs.values()).sort(compareNewestFirst);
    }
    return this._sorted;
  }

  get(id: string): IJob | undefined {
    return this._jobs.get(id);
  }

  /** Names of the backends seen on jobs. */
  get backends(): string[] {
    return Array.from(new Set(this.jobs.map(j => j.backend))).sort();
  }

  count(statuses: string[]): number {
    let n = 0;
    for (const job of this._jobs.values()) {
      if (statuses.includes(job.status)) {
        n++;
      }
    }
    return n;
  }

  filtered(filter: IJobsFilter): IJob[] {
    const search = (filter.search ?? '').trim().toLowerCase();
    const statuses = filter.statuses ?? [];
    return this.jobs.filter(
      job =>
        (statuses.length === 0 || statuses.includes(job.status)) &&
        (!filter.backend || job.backend === filter.backend) &&
        (!search ||
          job.name.toLowerCase().includes(search) ||
          (job.path ?? '').toLowerCase().includes(search))
    );
  }

  /** Replace the list with the server's (one `GET jobs`). */
  async refresh(): Promise<void> {
    if (this._refreshing) {
      return this._refreshing;
    }
    this._resyncing = true;
    this._refreshCount++;
    this._refreshing = (async () => {
      try {
        const jobs = await this.client.listJobs();
        const seen = new Set<string>();
        for (const job of jobs) {
          seen.add(job.id);
          this._upsert(job, false);
        }
        for (const id of Array.from(this._jobs.keys())) {
          if (!seen.has(id)) {
            this._jobs.delete(id);
          }
        }
        this._lastError = null;
      } catch (error) {
        this._lastError = error as Error;
      } finally {
        this._resyncing = false;
        this._refreshing = null;
        const queued = this._queued.splice(0);
        for (const event of queued) {
          this._apply(event);
        }
        this._sorted = null;
        this._resolveReady();
        this._changed.emit();
      }
    })();
    return this._refreshing;
  }

  async submit(request: ISubmitRequest): Promise<IJob> {
    const job = await this.client.submit(request);
    this._upsert(job, true);
    return job;
  }

  async cancel(id: string): Promise<IJob> {
    const job = await this.client.cancel(id);
    this._upsert(job, true);
    return job;
  }

  async rerun(id: string): Promise<IJob> {
    const job = await this.client.rerun(id);
    this._upsert(job, true);
    return job;
  }

  async remove(id: string): Promise<void> {
    await this.client.remove(id);
    if (this._jobs.delete(id)) {
      this._sorted = null;
      this._changed.emit();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._fallbackTimer);
    this._stream.disconnect(this._onEvent, this);
    this._connection.connectionChanged.disconnect(this._onConnection, this);
    Signal.clearData(this);
  }

  private _onEvent(_: unknown, emission: Event.Emission): void {
    if (emission.schema_id !== EVENT_SCHEMA_ID) {
      return;
    }
    const event = emission as unknown as IJobEvent;
    if (this._resyncing) {
      this._queued.push(event);
      return;
    }
    this._apply(event);
    this._changed.emit();
  }

  private _apply(event: IJobEvent): void {
    if (event.action === 'deleted') {
      if (this._jobs.delete(event.job_id)) {
        this._sorted = null;
      }
      return;
    }
    if (event.job) {
      this._upsert(event.job, false);
    }
  }

  /** Insert or update a job; `emit` sends `changed` right away. */
  private _upsert(job: IJob, emit: boolean): void {
    const previous = this._jobs.get(job.id);
    if (previous && sameJob(previous, job)) {
      return;
    }
    this._jobs.set(job.id, job);
    if (!previous || previous.created_at !== job.created_at) {
      this._sorted = null;
    } else if (this._sorted) {
      const index = this._sorted.indexOf(previous);
      if (index >= 0) {
        this._sorted[index] = job;
      } else {
        this._sorted = null;
      }
    }
    this._jobChanged.emit(job);
    const endedNow = previous
      ? !isFinal(previous.status) && isFinal(job.status)
      : isFinal(job.status) && Date.parse(job.created_at) >= this._startedAt;
    if (endedNow) {
      this._jobEnded.emit(job);
    }
    if (emit) {
      this._changed.emit();
    }
  }

  private _onConnection(_: IConnectionMonitor, connected: boolean): void {
    window.clearTimeout(this._fallbackTimer);
    if (connected) {
      // (re)connected: events may have been missed, so resync once; then events only
      void this.refresh();
    } else {
      if (this._refreshCount === 0) {
        void this.refresh();
      }
      this._scheduleFallback();
    }
  }

  private _scheduleFallback(): void {
    window.clearTimeout(this._fallbackTimer);
    this._fallbackTimer = window.setTimeout(async () => {
      if (this._disposed || this._connection.connected) {
        return;
      }
      await this.refresh();
      this._scheduleFallback();
    }, this._fallbackInterval);
  }

  private _jobs = new Map<string, IJob>();
  private _sorted: IJob[] | null = null;
  private _stream: Event.Stream;
  private _connection: IConnectionMonitor;
  private _fallbackInterval: number;
  private _fallbackTimer = 0;
  private _refreshing: Promise<void> | null = null;
  private _resyncing = false;
  private _queued: IJobEvent[] = [];
  private _refreshCount = 0;
  private _lastError: Error | null = null;
  private _disposed = false;
  private _startedAt = Date.now();
  private _resolveReady!: () => void;
  private _ready = new Promise<void>(resolve => (this._resolveReady = resolve));
  private _changed = new Signal<this, void>(this);
  private _jobEnded = new Signal<this, IJob>(this);
  private _jobChanged = new Signal<this, IJob>(this);
}

function compareNewestFirst(a: IJob, b: IJob): number {
  if (a.created_at !== b.created_at) {
    return a.created_at < b.created_at ? 1 : -1;
  }
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function sameJob(a: IJob, b: IJob): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
