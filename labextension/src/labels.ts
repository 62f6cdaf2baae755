/**
 * Words the UI uses for a job's backend, its engine id and its expected start, in one place so the
 * jobs list, the log viewer, the run dialog, the Remote sessions section and the Running panel say
 * the same thing.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { IBackend, IBackendsReply, IJob, IProfile } from './tokens';

/** Display names of backends and their profiles, from the last `GET backends` seen. */
const names = new Map<string, { label: string; profiles: Map<string, string> }>();

/** Emits when `rememberBackends` learnt names that differ from before (labels to redraw). */
export const backendNamesChanged: ISignal<typeof names, void> = new Signal<typeof names, void>(
  names
);

/** Remember the display names of a `GET backends` reply (call it wherever one arrives). */
export function rememberBackends(reply: IBackendsReply | readonly IBackend[]): void {
  const backends: readonly IBackend[] = Array.isArray(reply)
    ? (reply as readonly IBackend[])
    : ((reply as IBackendsReply).backends ?? []);
  let changed = false;
  for (const b of backends) {
    const entry: { label: string; profiles: Map<string, string> } = {
      label: b.display_name || b.name,
      profiles: new Map(
        (b.profiles ?? []).map((p: IProfile): [string, string] => [
          p.name,
          p.display_name || p.name
        ])
      )
    };
    const old = names.get(b.name);
    if (
      !old ||
      old.label !== entry.label ||
      JSON.stringify([...old.profiles]) !== JSON.stringify([...entry.profiles])
    ) {
      changed = true;
    }
    names.set(b.name, entry);
  }
  if (changed) {
    (backendNamesChanged as Signal<typeof names, void>).emit();
  }
}

/** The backend's display name ("SLURM"), or its name until `GET backends` has been seen. */
export function backendName(backend: string): string {
  return names.get(backend)?.label ?? backend;
}

/**
 * The one label of a backend and profile: `SLURM · Cluster defaults` (display names from the
 * server's `GET backends`; the plain names until it answered).
 */
export function backendLabel(backend: string, profile?: string | null): string {
  const known = names.get(backend);
  const b = known?.label ?? backend;
  if (!profile) {
    return b;
  }
  return `${b} · ${known?.profiles.get(profile) ?? profile}`;
}

/** What the engine's id of a job is called: "SLURM job", "Pod", "Process". */
export function engineIdLabel(trans: TranslationBundle, backend: string): string {
  switch (backend) {
    case 'slurm':
      return trans.__('SLURM job');
    case 'kubernetes':
      return trans.__('Pod');
    case 'local':
      return trans.__('Process');
    default:
      return trans.__('Engine id');
  }
}

/**
 * An estimate further ahead than this is no estimate: SLURM puts a job that waits behind one
 * without a time limit about a year ahead.
 */
export const MAX_EXPECTED_START_DAYS = 300;

/** When the queued job is expected to start, or null when nobody knows (no or absurd estimate). */
export function expectedStart(
  job: Pick<IJob, 'expected_start'>,
  now: number = Date.now()
): Date | null {
  const iso = job.expected_start;
  if (!iso || /^(unknown|none|n\/a)$/i.test(iso)) {
    return null;
  }
  const t = Date.parse(iso);
  if (isNaN(t) || t - now > MAX_EXPECTED_START_DAYS * 86400 * 1000) {
    return null;
  }
  return new Date(t);
}

/**
 * The expected start as the UI shows it: `14:05` today, `Mon 3 Dec 14:05` later, "now" once the
 * estimate has passed, "unknown" without a sensible estimate.
 */
export function expectedStartText(
  trans: TranslationBundle,
  job: Pick<IJob, 'expected_start'>,
  now: number = Date.now()
): string {
  const start = expectedStart(job, now);
  if (!start) {
    return trans.__('unknown');
  }
  if (start.getTime() <= now) {
    return trans.__('any moment');
  }
  const today = new Date(now);
  const sameDay = start.toDateString() === today.toDateString();
  const time = start.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return sameDay
    ? time
    : start.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' }) +
        ' ' +
        time;
}
