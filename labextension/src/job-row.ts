/**
 * One row of the Jobs list: status icon and colour, name, backend/profile, elapsed time, progress,
 * queue reason or exit code, and the row actions.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  caretRightIcon,
  deleteIcon,
  html5Icon,
  linkIcon,
  LabIcon,
  listIcon,
  notebookIcon,
  refreshIcon,
  stopIcon,
  tableRowsIcon
} from '@jupyterlab/ui-components';

import { h } from './dom';
import { elapsedSeconds, formatDuration } from './format';
import { backendLabel } from './labels';
import { sweepCountsText } from './results-view';
import { IJob, isFinal } from './tokens';

export type RowAction =
  | 'log'
  | 'cancel'
  | 'rerun'
  | 'delete'
  | 'output'
  /** Issue 12: open the job's HTML report (an `.html` in `outputs`). */
  | 'report'
  /** A sweep's row: show or hide its runs (handled by the list itself). */
  | 'expand'
  | 'results'
  | 'rerun-failed';

export function statusLabel(trans: TranslationBundle, status: string): string {
  const labels: Record<string, string> = {
    pending: trans.__('Pending'),
    queued: trans.__('Queued'),
    running: trans.__('Running'),
    cancelling: trans.__('Cancelling'),
    completed: trans.__('Completed'),
    failed: trans.__('Failed'),
    cancelled: trans.__('Cancelled'),
    lost: trans.__('Lost')
  };
  return labels[status] ?? status;
}

/**
 * A queue reason as shown: the server's text when it already says it waits ("waiting for
 * resources (Resources)"), else "waiting: <reason>" (a bare SLURM code such as "Priority").
 */
export function waitingText(trans: TranslationBundle, reason: string): string {
  return /^\s*(waiting|queued|pending)\b/i.test(reason) ? reason : trans.__('waiting: %1', reason);
}

/** The line under the name: what a user wants to know in this state. */
export function detailText(trans: TranslationBundle, job: IJob): string {
  if (job.kind === 'sweep') {
    return sweepCountsText(trans, job);
  }
  switch (job.status) {
    case 'queued':
    case 'pending':
      return job.reason
        ? waitingText(trans, job.reason)
        : statusLabel(trans, job.status).toLowerCase();
    case 'running':
    case 'cancelling':
      return job.progress?.message ?? (job.host ? trans.__('on %1', job.host) : '');
    case 'completed':
      return trans.__('exit code %1', job.exit_code ?? 0);
    case 'failed':
      return (
        job.reason ??
        (job.exit_code !== null ? trans.__('exit code %1', job.exit_code) : trans.__('failed'))
      );
    case 'cancelled':
      return job.reason ?? trans.__('cancelled');
    default:
      return job.reason ?? '';
  }
}

/**
 * What a status icon says on hover; `lost` explains itself: the job is not known to have failed.
 */
export function statusTooltip(trans: TranslationBundle, job: IJob): string {
  if (job.status === 'lost') {
    return job.host
      ? trans.__('Lost: the runner stopped reporting; the job may still be running on %1', job.host)
      : trans.__('Lost: the runner stopped reporting; the job may still be running');
  }
  return statusLabel(trans, job.status);
}

/** The question before deleting: "Delete train.py (3fa2b1c0, completed) and its log?" */
export function deleteQuestion(trans: TranslationBundle, job: IJob): string {
  return trans.__(
    'Delete %1 (%2, %3) and its log?',
    job.name,
    job.id.slice(0, 8),
    statusLabel(trans, job.status).toLowerCase()
  );
}

/** The executed notebook or other output to open, if any. */
export function primaryOutput(job: IJob): string | null {
  return job.outputs.find(p => p.endsWith('.ipynb')) ?? job.outputs[0] ?? null;
}

/** The job's HTML report (`output_formats` with `html`), if it wrote one. */
export function reportOutput(job: IJob): string | null {
  return (job.outputs ?? []).find(p => p.toLowerCase().endsWith('.html')) ?? null;
}

function actionButton(
  action: RowAction,
  icon: LabIcon,
  title: string,
  hidden = false
): HTMLButtonElement {
  const button = h('button', {
    class: 'jp-JobsRow-action jp-Button jp-mod-minimal',
    'data-action': action,
    title,
    'aria-label': title,
    type: 'button',
    hidden
  });
  button.appendChild(icon.element({ tag: 'span' }));
  return button;
}

export class JobRow {
  constructor(private _trans: TranslationBundle) {
    const trans = _trans;
    this.node = h('div', { class: 'jp-JobsRow', role: 'listitem', tabindex: 0 });
    this._icon = h('span', { class: 'jp-JobsRow-status', 'aria-hidden': 'true' });
    this._name = h('span', { class: 'jp-JobsRow-name' });
    this._elapsed = h('span', { class: 'jp-JobsRow-elapsed' });
    this._where = h('span', { class: 'jp-JobsRow-where' });
    this._detail = h('span', { class: 'jp-JobsRow-detail' });
    this._progressBar = h('div', { class: 'jp-JobsRow-progressBar' });
    this._progress = h(
      'div',
      {
        class: 'jp-JobsRow-progress',
        role: 'progressbar',
        'aria-valuemin': 0,
        'aria-valuemax': 100
      },
      this._progressBar
    );
    this._buttons = {
      log: actionButton('log', listIcon, trans.__('Show log')),
      output: actionButton('output', notebookIcon, trans.__('Open output')),
      report: actionButton('report', html5Icon, trans.__('Open report'), true),
      cancel: actionButton('cancel', stopIcon, trans.__('Cancel')),
      rerun: actionButton('rerun', refreshIcon, trans.__('Rerun')),
      delete: actionButton('delete', deleteIcon, trans.__('Delete')),
      results: actionButton('results', tableRowsIcon, trans.__('Show results'), true),
      'rerun-failed': actionButton(
        'rerun-failed',
        refreshIcon,
        trans.__('Rerun the failed runs'),
        true
      ),
      expand: actionButton('expand', caretRightIcon, trans.__('Show the runs'), true)
    };
    this._buttons['rerun-failed'].classList.add('jp-JobsRow-rerunFailed');
    this._buttons.expand.classList.add('jp-JobsRow-expand');
    this._chain = h('span', { class: 'jp-JobsRow-chain', hidden: true });
    this._chain.appendChild(linkIcon.element({ tag: 'span' }));
    const actions = h(
      'span',
      { class: 'jp-JobsRow-actions' },
      this._buttons.results,
      this._buttons.log,
      this._buttons.output,
      this._buttons.report,
      this._buttons.cancel,
      this._buttons.rerun,
      this._buttons['rerun-failed'],
      this._buttons.delete
    );
    this.node.append(
      h(
        'div',
        { class: 'jp-JobsRow-line' },
        this._buttons.expand,
        this._icon,
        this._chain,
        this._name,
        this._elapsed,
        actions
      ),
      h('div', { class: 'jp-JobsRow-line jp-JobsRow-sub' }, this._where, this._detail),
      this._progress
    );
  }

  readonly node: HTMLDivElement;
  job: IJob | null = null;

  update(job: IJob, now: number = Date.now()): void {
    const trans = this._trans;
    const changed = job !== this.job;
    this.job = job;
    // outside the check: the label changes when the server's display names arrive
    const where = backendLabel(job.backend, job.profile);
    if (this._where.textContent !== where) {
      this._where.textContent = where;
    }
    if (changed) {
      this.node.dataset.id = job.id;
      this.node.dataset.status = job.status;
      this._icon.dataset.status = job.status;
      this._icon.title = statusTooltip(trans, job);
      this._name.textContent = job.name;
      this._name.title = job.path ?? job.name;
      const detail = detailText(trans, job);
      this._detail.textContent = detail ? `· ${detail}` : '';
      this._detail.title = detail;
      // the detail is cut off in a narrow sidebar: the whole row tells it on hover
      this.node.title = [job.name, statusTooltip(trans, job), job.reason ?? detail]
        .filter(Boolean)
        .join(' — ');
      const fraction = job.progress?.fraction;
      const showProgress = typeof fraction === 'number' && !isFinal(job.status);
      this._progress.hidden = !showProgress;
      if (showProgress) {
        const pct = Math.round(Math.min(1, Math.max(0, fraction as number)) * 100);
        this._progressBar.style.width = `${pct}%`;
        this._progress.setAttribute('aria-valuenow', String(pct));
        this._progress.title = job.progress?.message
          ? `${pct}% — ${job.progress.message}`
          : `${pct}%`;
      }
      const final = isFinal(job.status);
      this._buttons.cancel.hidden = final || job.status === 'cancelling';
      this._buttons.rerun.hidden = !final || job.kind === 'kernel';
      this._buttons.delete.hidden = !final;
      this._buttons.output.hidden = !primaryOutput(job);
      this._buttons.report.hidden = !reportOutput(job);
      const sweep = job.kind === 'sweep';
      this.node.classList.toggle('jp-JobsRow-sweep', sweep);
      this.node.classList.toggle('jp-JobsRow-child', !!job.sweep_id);
      this._buttons.expand.hidden = !sweep;
      this._buttons.log.hidden = sweep; // a sweep has no log of its own: its runs have
      this._buttons.results.hidden = !(sweep || Object.keys(job.results ?? {}).length);
      this._buttons['rerun-failed'].hidden =
        !sweep ||
        !final ||
        !(
          (job.child_counts?.failed ?? 0) +
          (job.child_counts?.cancelled ?? 0) +
          (job.child_counts?.lost ?? 0)
        );
      const after = job.after ?? [];
      this._chain.hidden = after.length === 0;
      this._chain.title = after.length
        ? trans.__(
            'Starts when %1 %2',
            after.map(id => id.slice(0, 8)).join(', '),
            job.when === 'any'
              ? trans.__('ended')
              : job.when === 'failed'
                ? trans.__('did not complete')
                : trans.__('completed')
          )
        : '';
      this.node.setAttribute(
        'aria-label',
        `${job.name}, ${statusLabel(trans, job.status)}${detail ? ', ' + detail : ''}`
      );
    }
    this.tick(now);
  }

  /** A sweep's row: whether its runs are shown under it. */
  setExpanded(expanded: boolean): void {
    const button = this._buttons.expand;
    this.node.classList.toggle('jp-mod-expanded', expanded);
    button.setAttribute('aria-expanded', String(expanded));
    const title = expanded ? this._trans.__('Hide the runs') : this._trans.__('Show the runs');
    button.title = title;
    button.setAttribute('aria-label', title);
  }

  /** Refresh the elapsed time (called every second for running rows). */
  tick(now: number = Date.now()): void {
    const job = this.job;
    if (!job) {
      return;
    }
    const seconds = elapsedSeconds(job, now);
    this._elapsed.textContent = seconds === null ? '' : formatDuration(seconds);
  }

  private _icon: HTMLElement;
  private _name: HTMLElement;
  private _elapsed: HTMLElement;
  private _where: HTMLElement;
  private _detail: HTMLElement;
  private _progress: HTMLElement;
  private _progressBar: HTMLElement;
  private _buttons: Record<RowAction, HTMLButtonElement>;
  private _chain: HTMLElement;
}
