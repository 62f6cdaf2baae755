/**
 * Job definitions (docs/CONTRACT.md, "Job definitions"): the REST calls, the schedule presets of
 * the run dialog (hourly, daily at, weekdays at, weekly on) ↔ 5-field cron, the time zone default,
 * the preview's words and the model the sidebar's "Definitions" section shows.
 *
 * The schedule's words and its next runs come from the server (`GET schedule-preview`, or the
 * definition's `schedule_description` and `next_run_at`): `cron.py` already knows Vixie cron's
 * day rule and the DST rules, so the browser does not repeat them; it only formats the instants
 * in the definition's time zone.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './handler';
import { IJob, IJobsReply, ISubmitRequest } from './tokens';

/** A job with the fields of issue 12 (absent on older servers). */
export type IRun = IJob & {
  definition_id?: string | null;
  scheduled_for?: string | null;
  attempt?: number;
  pinned_path?: string | null;
  output_formats?: string[];
};

export type OverlapPolicy = 'skip' | 'queue' | 'allow';

export interface INotifySettings {
  on?: 'failure' | 'always';
  email?: string[];
  webhook?: string;
}

/** What `POST job-definitions` takes: the job fields of `POST jobs` and the schedule's. */
export interface IDefinitionRequest extends ISubmitRequest {
  schedule: string;
  timezone?: string;
  active?: boolean;
  overlap?: OverlapPolicy;
  retries?: number;
  retry_delay?: number;
  max_history?: number;
  output_formats?: string[];
  report?: { no_input?: boolean };
  notify?: INotifySettings | null;
}

export interface IJobDefinition extends IDefinitionRequest {
  id: string;
  name: string;
  schedule_description: string;
  timezone: string;
  active: boolean;
  overlap: OverlapPolicy;
  retries: number;
  retry_delay: number;
  max_history: number;
  created_at: string;
  updated_at: string;
  revision: number;
  next_run_at: string | null;
  last_run: { id: string; status: string; at: string } | null;
  last_skipped: { at: string; reason: string } | null;
  run_count: number;
  fired_by: 'server' | 'engine';
}

export interface ISchedulePreview {
  schedule: string;
  timezone: string;
  schedule_description: string;
  next_runs: string[];
}

// ------------------------------------------------------------------ REST

export class DefinitionsClient {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  async list(): Promise<IJobDefinition[]> {
    const reply = await this._request<{ definitions: IJobDefinition[] }>('job-definitions');
    return reply?.definitions ?? [];
  }

  get(id: string): Promise<IJobDefinition> {
    return this._request(`job-definitions/${encodeURIComponent(id)}`);
  }

  create(body: IDefinitionRequest): Promise<IJobDefinition> {
    return this._request('job-definitions', { method: 'POST', body: JSON.stringify(body) });
  }

  /** Change fields; with `revision`, a 409 when it was changed elsewhere meanwhile. */
  update(
    id: string,
    patch: Partial<IDefinitionRequest> & { revision?: number }
  ): Promise<IJobDefinition> {
    return this._request(`job-definitions/${encodeURIComponent(id)}`, {
      method: 'PATCH',
      body: JSON.stringify(patch)
    });
  }

  async remove(id: string): Promise<void> {
    await this._request(`job-definitions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  runNow(id: string): Promise<IJob> {
    return this._request(`job-definitions/${encodeURIComponent(id)}/run`, { method: 'POST' });
  }

  /** The definition's runs, newest first (`GET jobs?definition=<id>`). */
  async runs(id: string, limit = 20): Promise<IJob[]> {
    const reply = await this._request<IJobsReply>(
      `jobs${URLExt.objectToQueryString({ definition: id, limit })}`
    );
    return reply?.jobs ?? [];
  }

  preview(schedule: string, timezone: string): Promise<ISchedulePreview> {
    return this._request(`schedule-preview${URLExt.objectToQueryString({ schedule, timezone })}`);
  }

  private _request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(endpoint, init, this.serverSettings);
  }
}

// ------------------------------------------------------------------ presets ↔ cron

export const WEEKDAYS = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday'
];

export type Preset =
  | { kind: 'hourly'; minute: number }
  | { kind: 'daily'; hour: number; minute: number }
  | { kind: 'weekdays'; hour: number; minute: number }
  | { kind: 'weekly'; day: number; hour: number; minute: number }
  | { kind: 'custom'; cron: string };

export type PresetKind = Preset['kind'];

/** "06:00" → [6, 0]; null when it is not a time of day. */
export function parseTime(text: string): [number, number] | null {
  const m = /^\s*(\d{1,2}):(\d{2})\s*$/.exec(text);
  if (!m) {
    return null;
  }
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  return hour < 24 && minute < 60 ? [hour, minute] : null;
}

export function formatTime(hour: number, minute: number): string {
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}

/** The cron a preset means. */
export function presetToCron(preset: Preset): string {
  switch (preset.kind) {
    case 'hourly':
      return `${preset.minute} * * * *`;
    case 'daily':
      return `${preset.minute} ${preset.hour} * * *`;
    case 'weekdays':
      return `${preset.minute} ${preset.hour} * * 1-5`;
    case 'weekly':
      return `${preset.minute} ${preset.hour} * * ${preset.day}`;
    case 'custom':
      return preset.cron.trim().split(/\s+/).join(' ');
  }
}

const DAY_NAMES: Record<string, number> = {
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6
};

function number(text: string, max: number): number | null {
  return /^\d{1,2}$/.test(text) && Number(text) <= max ? Number(text) : null;
}

/** The preset a cron is (to prefill the dialog when a definition is edited), else custom. */
export function cronToPreset(cron: string): Preset {
  const text = cron.trim().split(/\s+/).join(' ');
  const aliases: Record<string, Preset> = {
    '@hourly': { kind: 'hourly', minute: 0 },
    '@daily': { kind: 'daily', hour: 0, minute: 0 },
    '@midnight': { kind: 'daily', hour: 0, minute: 0 },
    '@weekly': { kind: 'weekly', day: 0, hour: 0, minute: 0 }
  };
  if (aliases[text.toLowerCase()]) {
    return aliases[text.toLowerCase()];
  }
  const fields = text.split(' ');
  if (fields.length !== 5) {
    return { kind: 'custom', cron: text };
  }
  const [min, hr, dom, mon, dow] = fields;
  const minute = number(min, 59);
  if (minute === null || dom !== '*' || mon !== '*') {
    return { kind: 'custom', cron: text };
  }
  if (hr === '*' && dow === '*') {
    return { kind: 'hourly', minute };
  }
  const hour = number(hr, 23);
  if (hour === null) {
    return { kind: 'custom', cron: text };
  }
  const day = dow.toLowerCase();
  if (day === '*') {
    return { kind: 'daily', hour, minute };
  }
  if (day === '1-5' || day === 'mon-fri') {
    return { kind: 'weekdays', hour, minute };
  }
  const single = day in DAY_NAMES ? DAY_NAMES[day] : number(day, 7);
  if (single !== null) {
    return { kind: 'weekly', day: single % 7, hour, minute };
  }
  return { kind: 'custom', cron: text };
}

// ------------------------------------------------------------------ time zones, preview words

/** The browser's IANA time zone (the dialog's default), UTC when it does not say. */
export function defaultTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Every IANA time zone the browser knows (for the searchable list); UTC first. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  let zones: string[] = [];
  try {
    zones = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  } catch {
    zones = [];
  }
  const local = defaultTimeZone();
  return Array.from(new Set(['UTC', local, ...zones]));
}

/** An instant as the time zone's clock shows it: "Mon 2 Dec 06:00". */
export function formatInZone(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (isNaN(date.getTime())) {
    return iso;
  }
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23'
    }).formatToParts(date);
  } catch {
    return iso;
  }
  const get = (type: string) => parts.find(p => p.type === type)?.value ?? '';
  return `${get('weekday')} ${get('day')} ${get('month')} ${get('hour')}:${get('minute')}`;
}

/** "every weekday at 06:00 Europe/Berlin — next: Mon 2 Dec 06:00" (paused: no next run). */
export function previewText(
  description: string,
  timeZone: string,
  next: string | null | undefined
): string {
  const head = `${description} ${timeZone}`;
  return next ? `${head} — next: ${formatInZone(next, timeZone)}` : head;
}

// ------------------------------------------------------------------ model

export namespace DefinitionsModel {
  export interface IOptions {
    client: DefinitionsClient;
    /** The events stream: a job event of a run refreshes the list (definitions emit none). */
    stream?: ISignal<unknown, unknown>;
    /** Milliseconds between two slow refreshes (next runs move on, other servers edit). */
    refreshInterval?: number;
  }
}

/** The definitions of the job root, refreshed on their runs' job events and slowly otherwise. */
export class DefinitionsModel {
  constructor(options: DefinitionsModel.IOptions) {
    this.client = options.client;
    this._stream = options.stream ?? null;
    this._stream?.connect(this._onEvent, this);
    const interval = options.refreshInterval ?? 60000;
    if (interval > 0) {
      this._timer = setInterval(() => void this.refresh(), interval);
    }
  }

  readonly client: DefinitionsClient;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A run of a definition was created or changed (the section redraws its history). */
  get runChanged(): ISignal<this, IRun> {
    return this._runChanged;
  }

  get definitions(): readonly IJobDefinition[] {
    return this._definitions;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get error(): string | null {
    return this._error;
  }

  get(id: string): IJobDefinition | undefined {
    return this._definitions.find(d => d.id === id);
  }

  async refresh(): Promise<void> {
    try {
      this._definitions = await this.client.list();
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
    }
    this._loaded = true;
    this._changed.emit();
  }

  /** Store a definition the server answered (after a create, edit, pause). */
  upsert(definition: IJobDefinition): void {
    const i = this._definitions.findIndex(d => d.id === definition.id);
    if (i < 0) {
      this._definitions = [definition, ...this._definitions];
    } else {
      this._definitions = this._definitions.map(d => (d.id === definition.id ? definition : d));
    }
    this._changed.emit();
  }

  async create(body: IDefinitionRequest): Promise<IJobDefinition> {
    const definition = await this.client.create(body);
    this.upsert(definition);
    return definition;
  }

  async update(
    id: string,
    patch: Partial<IDefinitionRequest> & { revision?: number }
  ): Promise<IJobDefinition> {
    const definition = await this.client.update(id, patch);
    this.upsert(definition);
    return definition;
  }

  setActive(definition: IJobDefinition, active: boolean): Promise<IJobDefinition> {
    return this.update(definition.id, { active });
  }

  async runNow(id: string): Promise<IRun> {
    const job: IRun = await this.client.runNow(id);
    this._runChanged.emit(job);
    void this.refresh();
    return job;
  }

  async remove(id: string): Promise<void> {
    await this.client.remove(id);
    this._definitions = this._definitions.filter(d => d.id !== id);
    this._changed.emit();
  }

  dispose(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
    this._stream?.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  private _onEvent(_: unknown, emission: unknown): void {
    const e = emission as { schema_id?: string; job?: IRun | null };
    const job = e?.job;
    if (!job || !job.definition_id || !String(e.schema_id ?? '').includes('jupyter_jobs/job')) {
      return;
    }
    this._runChanged.emit(job);
    // the last run's status and the next run come with the definition: ask again, not too often
    if (this._pending === null) {
      this._pending = setTimeout(() => {
        this._pending = null;
        void this.refresh();
      }, 500);
    }
  }

  private _definitions: IJobDefinition[] = [];
  private _loaded = false;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _runChanged = new Signal<this, IRun>(this);
  private _stream: ISignal<unknown, unknown> | null;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _pending: ReturnType<typeof setTimeout> | null = null;
}
