/**
 * Small formatting helpers shared by the sidebar, the log viewer and the dialog.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IJob } from './tokens';

/**
 * Seconds → `1:02:03` / `2:03` / `5s`; `–` for an unknown duration (null). The one duration
 * formatter of the frontend: rows, the log viewer, the dialog, the chart and remote sessions.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '–';
  }
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) {
    return `${h}:${pad(m)}:${pad(r)}`;
  }
  if (m > 0) {
    return `${m}:${pad(r)}`;
  }
  return `${r}s`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** How long the job ran (or has been running, at `now`), in seconds; null before it started. */
export function elapsedSeconds(job: IJob, now: number = Date.now()): number | null {
  if (!job.started_at) {
    return null;
  }
  const start = Date.parse(job.started_at);
  const end = job.finished_at ? Date.parse(job.finished_at) : now;
  return Math.max(0, (end - start) / 1000);
}

/** Bytes → `1.5 GiB` (binary units, as SLURM and Kubernetes count). The one byte formatter. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** ISO time → local date-time string; '—' for null. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** One resources object → `cpus=2 memory=4 GiB time_limit=1:00:00`. */
export function formatResources(resources: Record<string, unknown>): string {
  return Object.entries(resources ?? {})
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => {
      if (k === 'memory' && typeof v === 'number') {
        return `${k}=${formatBytes(v)}`;
      }
      if (k === 'time_limit' && typeof v === 'number') {
        return `${k}=${formatDuration(v)}`;
      }
      return `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
    })
    .join(' ');
}

/** Quote an argv for display (never for execution). */
export function formatCommand(argv: string[]): string {
  return argv
    .map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
    .join(' ');
}

/** The file's base name. */
export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/** The file's extension, lower case, with the dot (`.py`). */
export function extname(path: string): string {
  const base = basename(path);
  const i = base.lastIndexOf('.');
  return i > 0 ? base.slice(i).toLowerCase() : '';
}

export const RUNNABLE_EXTENSIONS = ['.py', '.ipynb', '.sh', '.r'];

export function isRunnable(path: string): boolean {
  return RUNNABLE_EXTENSIONS.includes(extname(path));
}

/** The job's `efficiency` (docs/CONTRACT.md): any part, or key in a part, may be missing. */
export interface IEfficiency {
  cpu?: { used_core_seconds?: number; cores?: number; wall_seconds?: number; ratio?: number };
  memory?: { peak_bytes?: number; requested_bytes?: number; ratio?: number };
  time?: { used_seconds?: number; limit_seconds?: number; ratio?: number };
  hints?: string[];
}

function percent(ratio: number | undefined): string | null {
  return typeof ratio === 'number' && isFinite(ratio) ? `${Math.round(ratio * 100)}%` : null;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && isFinite(v);

/** `[key, text]` for each part of `efficiency` there is something to say about. */
export function efficiencyParts(
  trans: TranslationBundle,
  efficiency: IEfficiency
): [string, string][] {
  const parts: [string, string][] = [];
  const { cpu, memory, time } = efficiency;
  if (cpu) {
    const pct = percent(cpu.ratio);
    if (pct && isNumber(cpu.cores)) {
      parts.push(['cpu', trans._n('CPU %2 of %1 core', 'CPU %2 of %1 cores', cpu.cores, pct)]);
    } else if (pct) {
      parts.push(['cpu', trans.__('CPU %1', pct)]);
    } else if (isNumber(cpu.used_core_seconds)) {
      parts.push(['cpu', trans.__('CPU time %1', formatDuration(cpu.used_core_seconds))]);
    }
  }
  if (memory && isNumber(memory.peak_bytes)) {
    const pct = percent(memory.ratio);
    parts.push([
      'memory',
      isNumber(memory.requested_bytes)
        ? trans.__(
            'memory %1 of %2%3',
            formatBytes(memory.peak_bytes),
            formatBytes(memory.requested_bytes),
            pct ? ` (${pct})` : ''
          )
        : trans.__('memory %1 at most', formatBytes(memory.peak_bytes))
    ]);
  }
  if (time && isNumber(time.used_seconds)) {
    const pct = percent(time.ratio);
    parts.push([
      'time',
      isNumber(time.limit_seconds)
        ? trans.__(
            'time %1 of %2%3',
            formatDuration(time.used_seconds),
            formatDuration(time.limit_seconds),
            pct ? ` (${pct})` : ''
          )
        : trans.__('time %1', formatDuration(time.used_seconds))
    ]);
  }
  return parts;
}
