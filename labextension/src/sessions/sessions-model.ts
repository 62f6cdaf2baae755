/**
 * Remote sessions: each remote kernel (a kernel running inside a SLURM job) with its notebook and
 * its job, from `GET {base}jupyter-jobs/api/remote-sessions`. Refreshed when a job changes (the Jobs
 * model's events) or a kernel starts or stops, and every `interval` ms while a session waits or
 * runs (elapsed time and time left tick locally between refreshes).
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../handler';
import { IJob } from '../tokens';

export interface IRemoteSession {
  kernel_id: string;
  kernel_name: string | null;
  execution_state: string;
  connections?: number;
  last_activity?: string | null;
  session_id: string | null;
  path: string | null;
  notebook_name: string | null;
  elapsed: number | null;
  time_left: number | null;
  job: IJob;
}

export class RemoteSessionsModel {
  constructor(options: RemoteSessionsModel.IOptions = {}) {
    this._settings = options.settings ?? ServerConnection.makeSettings();
    this._interval = options.interval ?? 5000;
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

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Fetch now; overlapping calls share one request. */
  refresh(): Promise<void> {
    if (!this._pending) {
      this._pending = this._fetch().finally(() => {
        this._pending = null;
      });
    }
    return this._pending;
  }

  /** Refresh every `interval` ms (until dispose). */
  start(): void {
    if (this._timer === null && this._interval > 0) {
      this._timer = setInterval(() => void this.refresh(), this._interval);
    }
    void this.refresh();
  }

  dispose(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
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
    this._changed.emit();
  }

  private _settings: ServerConnection.ISettings;
  private _interval: number;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _sessions: IRemoteSession[] = [];
  private _fetchedAt = 0;
  private _error: string | null = null;
  private _pending: Promise<void> | null = null;
  private _changed = new Signal<this, void>(this);
}

export namespace RemoteSessionsModel {
  export interface IOptions {
    settings?: ServerConnection.ISettings;
    interval?: number;
  }
}

/** Seconds → `3h 59m`, `12m 5s`, `40s`. */
export function formatSpan(seconds: number | null): string {
  if (seconds === null || seconds === undefined) {
    return '–';
  }
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) {
    return `${h}h ${m}m`;
  }
  if (m > 0) {
    return `${m}m ${s % 60}s`;
  }
  return `${s}s`;
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
