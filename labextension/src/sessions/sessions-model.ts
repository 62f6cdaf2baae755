/**
 * Remote sessions: each remote kernel (a kernel running inside a SLURM job or a pod) with its
 * notebook and its job, from `GET {base}jupyter-jobs/api/remote-sessions`.
 *
 * No polling: the list is fetched once at start, then again when the server says something
 * changed — a job event about a kernel job (`jupyter_jobs/job/v1`), a change of the remote-kernel
 * specs (`jupyter_jobs/kernelspecs/v1`), or JupyterLab's kernels or sessions list gaining or losing
 * a remote kernel. Only while a kernel job waits in the queue is there a slow refresh as well
 * (`queuedInterval`), in case an event was missed while the events socket reconnected. Elapsed
 * time and time left tick locally between fetches.
 *
 * The model also keeps the backends (`GET backends`) so that, without remote kernels, the section
 * can say what is missing: no backend that runs kernels, or the reason the backend gives.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../handler';
import { rememberBackends } from '../labels';
import { EVENT_SCHEMA_ID, IBackend, IBackendsReply, IJob } from '../tokens';

/** Schema of the "remote-kernel specs changed" event (jupyter_jobs/events.py). */
export const KERNELSPECS_SCHEMA_ID = 'https://events.jupyter.org/jupyter_jobs/kernelspecs/v1';

/** Kernel names of remote-kernel specs (jupyter_jobs/kernels/specs.py). */
export const REMOTE_KERNEL_PREFIX = 'jupyter-jobs-';

export interface IRemoteSession {
  kernel_id: string;
  kernel_name: string | null;
  execution_state: string;
  connections?: number;
  last_activity?: string | null;
  session_id: string | null;
  /** The notebook's path (relative to the server root), also while the kernel waits */
  path: string | null;
  notebook_name: string | null;
  elapsed: number | null;
  time_left: number | null;
  job: IJob;
}

/** An event as the events websocket delivers it (only the fields we read). */
export interface IServerEvent {
  schema_id: string;
  job_id?: string;
  job?: IJob | null;
}

/** A running kernel as JupyterLab's kernel manager lists it. */
export interface IKernelInfo {
  id: string;
  name?: string;
  execution_state?: string;
}

export class RemoteSessionsModel {
  constructor(options: RemoteSessionsModel.IOptions = {}) {
    this._settings = options.settings ?? ServerConnection.makeSettings();
    this._queuedInterval = options.queuedInterval ?? 60000;
  }

  get sessions(): readonly IRemoteSession[] {
    return this._sessions;
  }

  /** When the sessions were fetched (ms since the epoch): elapsed/time left count from here. */
  get fetchedAt(): number {
    return this._fetchedAt;
  }

  get error(): string | null {
    return this._error;
  }

  /** The server's backends (null until fetched, or when that failed). */
  get backends(): readonly IBackend[] | null {
    return this._backends;
  }

  /** How many times the sessions were fetched (tests and diagnostics). */
  get fetchCount(): number {
    return this._fetchCount;
  }

  /** Whether the slow refresh runs (only while a kernel job waits in the queue). */
  get refreshesWhileQueued(): boolean {
    return this._timer !== null;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Fetch now. A call while a fetch is under way does not start a second request in parallel:
   * it is answered by one more fetch after the current one (which may predate the change).
   */
  refresh(): Promise<void> {
    if (this._disposed) {
      return Promise.resolve();
    }
    if (this._pending) {
      this._again = true;
      return this._pending;
    }
    this._pending = (async () => {
      do {
        this._again = false;
        await this._fetch();
      } while (this._again && !this._disposed);
    })().finally(() => {
      this._pending = null;
    });
    return this._pending;
  }

  /** Fetch `GET backends` (what the empty section says depends on it). */
  async refreshBackends(): Promise<void> {
    try {
      const reply = await requestAPI<IBackendsReply>('backends', {}, this._settings);
      rememberBackends(reply);
      this._backends = reply.backends ?? [];
    } catch {
      this._backends = null;
    }
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  /** First fetch of the sessions and backends. */
  async start(): Promise<void> {
    await Promise.all([this.refresh(), this.refreshBackends()]);
  }

  /** Look at an event of the events websocket; refresh when it concerns remote kernels. */
  handleEvent(event: IServerEvent): void {
    if (event.schema_id === KERNELSPECS_SCHEMA_ID) {
      // a kernel backend came or went: the empty section's words, maybe the sessions
      void this.refreshBackends();
      void this.refresh();
      return;
    }
    if (event.schema_id !== EVENT_SCHEMA_ID) {
      return;
    }
    const job = event.job;
    if (job ? job.kind === 'kernel' : this._sessions.some(s => s.job.id === event.job_id)) {
      void this.refresh();
    }
  }

  /**
   * JupyterLab's running kernels changed (it polls them): fetch when a remote kernel came or went;
   * otherwise only take on their execution states (busy, idle), without a request.
   */
  handleKernelsChanged(kernels: Iterable<IKernelInfo>): void {
    const states = new Map<string, string | undefined>();
    for (const k of kernels) {
      if (k.name && k.name.startsWith(REMOTE_KERNEL_PREFIX)) {
        states.set(k.id, k.execution_state);
      }
    }
    if (this._changedKey('kernels', [...states.keys()])) {
      void this.refresh();
      return;
    }
    let patched = false;
    this._sessions = this._sessions.map(s => {
      const state = states.get(s.kernel_id);
      if (state && state !== s.execution_state && s.job.status === 'running') {
        patched = true;
        return { ...s, execution_state: state };
      }
      return s;
    });
    if (patched) {
      this._changed.emit();
    }
  }

  /** JupyterLab's sessions changed: fetch when one of a remote kernel came or went. */
  handleSessionsChanged(sessions: Iterable<{ id: string; kernel?: IKernelInfo | null }>): void {
    const ids: string[] = [];
    for (const s of sessions) {
      if (s.kernel?.name?.startsWith(REMOTE_KERNEL_PREFIX)) {
        ids.push(`${s.id}:${s.kernel.id}`);
      }
    }
    if (this._changedKey('sessions', ids)) {
      void this.refresh();
    }
  }

  /** Whether the set of `ids` of `what` differs from the last call's. */
  private _changedKey(what: 'kernels' | 'sessions', ids: string[]): boolean {
    const key = ids.sort().join('\n');
    const changed = key !== this._keys[what];
    this._keys[what] = key;
    return changed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._schedule(false);
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    this._fetchCount++;
    try {
      const data = await requestAPI<{ sessions: IRemoteSession[] }>(
        'remote-sessions',
        {},
        this._settings
      );
      this._sessions = data.sessions ?? [];
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
    }
    this._fetchedAt = Date.now();
    if (this._disposed) {
      return;
    }
    this._schedule(
      this._sessions.some(s => s.job.status === 'queued' || s.job.status === 'pending')
    );
    this._changed.emit();
  }

  /** The slow refresh runs only while a kernel job waits in the queue. */
  private _schedule(on: boolean): void {
    if (on && this._timer === null && this._queuedInterval > 0) {
      this._timer = setInterval(() => void this.refresh(), this._queuedInterval);
    } else if (!on && this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _settings: ServerConnection.ISettings;
  private _queuedInterval: number;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _sessions: IRemoteSession[] = [];
  private _backends: IBackend[] | null = null;
  private _fetchedAt = 0;
  private _fetchCount = 0;
  private _error: string | null = null;
  private _pending: Promise<void> | null = null;
  private _again = false;
  private _disposed = false;
  private _keys = { kernels: '', sessions: '' };
  private _changed = new Signal<this, void>(this);
}

export namespace RemoteSessionsModel {
  export interface IOptions {
    settings?: ServerConnection.ISettings;
    /** ms between refreshes while a kernel job is queued (0: none; default one minute) */
    queuedInterval?: number;
  }
}

/** Elapsed and time left at `now`, counted on from what the server said at `fetchedAt`. */
export function ticking(
  session: IRemoteSession,
  fetchedAt: number,
  now: number
): { elapsed: number | null; timeLeft: number | null } {
  const delta = Math.max(0, (now - fetchedAt) / 1000);
  return {
    elapsed: session.elapsed === null ? null : session.elapsed + delta,
    timeLeft: session.time_left === null ? null : Math.max(0, session.time_left - delta)
  };
}
