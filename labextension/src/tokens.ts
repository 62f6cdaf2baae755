/**
 * Shared types, tokens and command ids of the jupyter-jobs frontend.
 */
import { Token } from '@lumino/coreutils';
import type { Widget } from '@lumino/widgets';

/** Plugin ids (`jupyter-jobs:<name>`). */
export const PLUGIN_ID = 'jupyter-jobs:plugin';

/** Every command the extension registers. */
export namespace CommandIDs {
  /** Open the dialog for a file selected in the file browser (context menu). */
  export const runFile = 'jupyter-jobs:run-file';
  /** Open the dialog for the current notebook or editor (palette, notebook toolbar). */
  export const runCurrent = 'jupyter-jobs:run-current';
  export const openPanel = 'jupyter-jobs:open-panel';
  export const openLog = 'jupyter-jobs:open-log';
  export const cancel = 'jupyter-jobs:cancel';
  export const rerun = 'jupyter-jobs:rerun';
  export const remove = 'jupyter-jobs:delete';
  export const openOutput = 'jupyter-jobs:open-output';
  export const refresh = 'jupyter-jobs:refresh';
}

export const EVENT_SCHEMA_ID = 'https://events.jupyter.org/jupyter_jobs/job/v1';

/** Emitted when the remote-kernel specs the server offers change (docs/CONTRACT.md, Events). */
export const KERNELSPECS_SCHEMA_ID = 'https://events.jupyter.org/jupyter_jobs/kernelspecs/v1';

/** The data of a kernelspecs event (after `schema_id`). */
export interface IKernelSpecsEvent {
  action: 'changed';
  /** Every remote-kernel spec offered now. */
  kernelspecs: string[];
  added?: string[];
  removed?: string[];
}

export type JobStatus =
  'pending' | 'queued' | 'running' | 'cancelling' | 'completed' | 'failed' | 'cancelled' | 'lost';

export const STATUSES: JobStatus[] = [
  'pending',
  'queued',
  'running',
  'cancelling',
  'completed',
  'failed',
  'cancelled',
  'lost'
];

export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'completed',
  'failed',
  'cancelled',
  'lost'
]);

export function isFinal(status: string): boolean {
  return FINAL_STATUSES.has(status);
}

export type JobKind = 'script' | 'notebook' | 'command' | 'kernel' | 'sweep';

export interface IProgress {
  fraction: number | null;
  message?: string | null;
}

/** A job as answered by the REST API (docs/CONTRACT.md). */
export interface IJob {
  id: string;
  name: string;
  kind: JobKind;
  path: string | null;
  command: string[];
  args: string[];
  env: Record<string, string>;
  cwd: string | null;
  backend: string;
  profile: string;
  resources: Record<string, unknown>;
  parameters: Record<string, unknown>;
  status: JobStatus;
  exit_code: number | null;
  reason: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  backend_ref: string | null;
  host: string | null;
  progress: IProgress | null;
  log_size: number;
  outputs: string[];
  expected_start?: string | null;
  /** Issue 13 (docs/CONTRACT.md "Sweeps", "Results", "Dependencies"); absent on older servers. */
  sweep_id?: string | null;
  index?: number | null;
  children?: string[];
  child_counts?: Record<string, number>;
  parameter_sets?: Record<string, unknown>[];
  throttle?: number | null;
  results?: Record<string, unknown>;
  after?: string[];
  when?: 'ok' | 'any' | 'failed';
}

export interface IProfile {
  name: string;
  display_name?: string;
  description?: string;
  resources?: Record<string, unknown>;
  max_resources?: Record<string, unknown>;
  kernels?: boolean;
}

export interface IBackend {
  name: string;
  display_name?: string;
  available: boolean;
  reason?: string | null;
  supports_kernels?: boolean;
  default_profile?: string | null;
  profiles: IProfile[];
}

export interface IBackendsReply {
  backends: IBackend[];
  default_backend?: string;
}

/** `GET jobs` (docs/CONTRACT.md, "Listing jobs"). */
export interface IJobsReply {
  /** Newest first; with `changed_since`, the jobs of the scope changed after it. */
  jobs: IJob[];
  next_cursor: string | null;
  /** Jobs matching `kind`, `q`, `status` and `backend`, over all pages. */
  total: number;
  /** Jobs of the scope (`kind`) in each status. */
  counts: Record<JobStatus, number>;
  /** Pass as `changed_since` to get what changed after this answer. */
  change_token: string;
  /** With `changed_since`: ids deleted after it. */
  deleted: string[];
  /** The `changed_since` token was too old: `jobs` is the first page; replace what you hold. */
  reload: boolean;
}

/** Body of `POST jobs`. */
export interface ISubmitRequest {
  path?: string;
  command?: string[];
  name?: string;
  kind?: JobKind;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  backend?: string;
  profile?: string;
  resources?: Record<string, unknown>;
  parameters?: Record<string, unknown>;
}

export interface IUsageSample {
  t: number;
  cpu_percent: number;
  rss_bytes: number;
}

/** An event of the `jupyter_jobs/job/v1` schema as the events websocket delivers it. */
export interface IJobEvent {
  schema_id: string;
  action: 'created' | 'updated' | 'deleted';
  job_id: string;
  status?: string;
  job: IJob | null;
}

/**
 * The Jobs sidebar, for other plugins that add a section (e.g. remote sessions).
 */
export interface IJobsSidebar {
  /** Add a collapsible section below the jobs list; lower `rank` comes first. */
  addSection(widget: Widget, options?: { rank?: number }): void;
}

export const IJobsSidebar = new Token<IJobsSidebar>(
  'jupyter-jobs:IJobsSidebar',
  'The Jobs sidebar; other plugins add sections to it.'
);
