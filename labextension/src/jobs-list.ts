/**
 * A windowed list of jobs: only the rows in view (plus a few) exist in the DOM, so a thousand
 * jobs scroll as smoothly as ten. Rows have a fixed height and are reused by job id.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { JobRow, RowAction } from './job-row';
import { IJob } from './tokens';

export const ROW_HEIGHT = 52;
const OVERSCAN = 6;

export namespace JobsList {
  export interface IOptions {
    trans: TranslationBundle;
    /** A row action was clicked (or the row itself: `log`). */
    onAction: (action: RowAction, job: IJob) => void;
    emptyText: string;
  }
}

export class JobsList extends Widget {
  constructor(options: JobsList.IOptions) {
    super();
    this._options = options;
    this.addClass('jp-JobsList');
    this.node.setAttribute('role', 'list');
    this._spacer = h('div', { class: 'jp-JobsList-spacer' });
    this._empty = h('div', { class: 'jp-JobsList-empty' }, options.emptyText);
    // rows live in their own host, kept in list order (for screen readers and tests)
    this._host = h('div', { class: 'jp-JobsList-rows' });
    this.node.append(this._spacer, this._empty, this._host);
    this.node.addEventListener('scroll', this._schedule, { passive: true });
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKeydown);
  }

  /** The rows to show, in order. */
  setJobs(jobs: IJob[]): void {
    this._jobs = jobs;
    this._schedule();
  }

  get jobs(): readonly IJob[] {
    return this._jobs;
  }

  /** Number of row elements in the DOM (for tests: stays small with many jobs). */
  get renderedRowCount(): number {
    return this._rows.size;
  }

  setEmptyText(text: string): void {
    this._empty.textContent = text;
  }

  /** Render now (normally batched to the next animation frame). */
  render(): void {
    this._frame = 0;
    const jobs = this._jobs;
    this._spacer.style.height = `${jobs.length * ROW_HEIGHT}px`;
    this._empty.hidden = jobs.length > 0;
    const viewport = this.node.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.node.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(
      jobs.length,
      Math.ceil((this.node.scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN
    );
    const keep = new Set<string>();
    const now = Date.now();
    for (let i = first; i < last; i++) {
      const job = jobs[i];
      keep.add(job.id);
      let row = this._rows.get(job.id);
      if (!row) {
        row = this._spare.pop() ?? new JobRow(this._options.trans);
        row.job = null;
        this._rows.set(job.id, row);
      }
      const at = this._host.children[i - first] ?? null;
      if (at !== row.node) {
        this._host.insertBefore(row.node, at);
      }
      row.update(job, now);
      row.node.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      row.node.setAttribute('aria-posinset', String(i + 1));
      row.node.setAttribute('aria-setsize', String(jobs.length));
    }
    for (const [id, row] of this._rows) {
      if (!keep.has(id)) {
        this._rows.delete(id);
        row.node.remove();
        if (this._spare.length < 50) {
          this._spare.push(row);
        }
      }
    }
    this._updateTicker();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._schedule();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._schedule();
  }

  protected onBeforeDetach(msg: Message): void {
    window.clearInterval(this._ticker);
    this._ticker = 0;
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    window.clearInterval(this._ticker);
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    super.dispose();
  }

  /** Tick elapsed times once a second while a visible row is running. */
  private _updateTicker(): void {
    const anyRunning = Array.from(this._rows.values()).some(
      r => r.job && (r.job.status === 'running' || r.job.status === 'cancelling')
    );
    if (anyRunning && !this._ticker) {
      this._ticker = window.setInterval(() => {
        const now = Date.now();
        for (const row of this._rows.values()) {
          if (row.job && !row.job.finished_at && row.job.started_at) {
            row.tick(now);
          }
        }
      }, 1000);
    } else if (!anyRunning && this._ticker) {
      window.clearInterval(this._ticker);
      this._ticker = 0;
    }
  }

  private _schedule = (): void => {
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => this.render());
    }
  };

  private _rowOf(target: EventTarget | null): { row: HTMLElement; job: IJob } | null {
    const row = (target as HTMLElement | null)?.closest?.('.jp-JobsRow') as HTMLElement | null;
    const job = row?.dataset.id ? this._rows.get(row.dataset.id)?.job : null;
    return row && job ? { row, job } : null;
  }

  private _onClick = (event: MouseEvent): void => {
    const hit = this._rowOf(event.target);
    if (!hit) {
      return;
    }
    const button = (event.target as HTMLElement).closest('[data-action]') as HTMLElement | null;
    const action = (button?.dataset.action ?? 'log') as RowAction;
    event.stopPropagation();
    this._options.onAction(action, hit.job);
  };

  private _onKeydown = (event: KeyboardEvent): void => {
    const hit = this._rowOf(event.target);
    if (!hit || event.target !== hit.row) {
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      this._options.onAction('log', hit.job);
    } else if (event.key === 'Delete') {
      event.preventDefault();
      this._options.onAction('delete', hit.job);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const index = this._jobs.indexOf(hit.job) + (event.key === 'ArrowDown' ? 1 : -1);
      if (index >= 0 && index < this._jobs.length) {
        const top = index * ROW_HEIGHT;
        if (
          top < this.node.scrollTop ||
          top + ROW_HEIGHT > this.node.scrollTop + this.node.clientHeight
        ) {
          this.node.scrollTop = top;
        }
        this.render();
        this._rows.get(this._jobs[index].id)?.node.focus();
      }
    }
  };

  private _options: JobsList.IOptions;
  private _jobs: IJob[] = [];
  private _rows = new Map<string, JobRow>();
  private _spare: JobRow[] = [];
  private _spacer: HTMLElement;
  private _host: HTMLElement;
  private _empty: HTMLElement;
  private _frame = 0;
  private _ticker = 0;
}
