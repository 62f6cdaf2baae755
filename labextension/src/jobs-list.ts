/**
 * The Jobs list: JupyterLab's `WindowedList` (from @jupyterlab/ui-components, as the notebook
 * uses) over the rows the model has loaded, with as many items as the server says match (`total`),
 * so the scrollbar spans them all. Only the rows in view (plus a few) exist in the DOM; rows past
 * the loaded ones show "Loading…" and ask for the next page (`onNeedMore`).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { WindowedList, WindowedListModel } from '@jupyterlab/ui-components';
import { Message, MessageLoop } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { JobRow, RowAction } from './job-row';
import type { JobsModel } from './model';
import { sweepChildren } from './results-view';
import { IJob } from './tokens';

export const ROW_HEIGHT = 52;
const OVERSCAN = 6;
/** Ask for the next page when this close to the end of the loaded rows. */
const PREFETCH = 40;
/** Row widgets kept for reuse when scrolled away. */
const KEEP = 200;

export namespace JobsList {
  export interface IOptions {
    trans: TranslationBundle;
    /** A row action was clicked (or the row itself: `log`). */
    onAction: (action: RowAction, job: IJob) => void;
    emptyText: string;
    /** The rows shown reach the end of those loaded while the server has more. */
    onNeedMore?: () => void;
    /** For a sweep's runs: `GET jobs?sweep=` and their job events (issue 13). */
    model?: JobsModel;
  }
}

/** The list's model: how many items, their size, and the widget of each. */
class JobsListModel extends WindowedListModel {
  constructor(private _render: (index: number) => Widget) {
    super({ count: 0, overscanCount: OVERSCAN });
  }

  estimateWidgetSize = (): number => ROW_HEIGHT;

  widgetRenderer = (index: number): Widget => this._render(index);
}

/** One row: a Lumino widget around a JobRow. */
class RowWidget extends Widget {
  constructor(readonly row: JobRow) {
    super({ node: row.node });
  }
}

export class JobsList extends WindowedList<JobsListModel> {
  constructor(options: JobsList.IOptions) {
    let render: (index: number) => Widget = () => new Widget();
    super({ model: new JobsListModel(index => render(index)) });
    render = index => this._widgetAt(index);
    this._options = options;
    this.addClass('jp-JobsList');
    this.outerNode.setAttribute('role', 'list');
    this._empty = h('div', { class: 'jp-JobsList-empty' }, options.emptyText);
    this.node.appendChild(this._empty);
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKeydown);
    options.model?.jobChanged.connect(this._onJobChanged, this);
  }

  /** Show or hide a sweep's runs under its row (loaded with `GET jobs?sweep=<id>`). */
  async toggleSweep(sweep: IJob, expanded = !this._expanded.has(sweep.id)): Promise<void> {
    if (!expanded) {
      this._expanded.delete(sweep.id);
      this._rebuild();
      return;
    }
    const model = this._options.model;
    this._expanded.set(sweep.id, []);
    this._rebuild();
    if (!model) {
      return;
    }
    try {
      const children = await sweepChildren(model, sweep.id);
      if (this._expanded.has(sweep.id)) {
        this._expanded.set(sweep.id, children);
        this._rebuild();
      }
    } catch {
      this._expanded.delete(sweep.id);
      this._rebuild();
    }
  }

  /** The sweeps whose runs are shown. */
  get expandedSweeps(): string[] {
    return Array.from(this._expanded.keys());
  }

  private _onJobChanged(_: unknown, job: IJob): void {
    const children = job.sweep_id ? this._expanded.get(job.sweep_id) : undefined;
    if (!children) {
      return;
    }
    const i = children.findIndex(c => c.id === job.id);
    if (i >= 0) {
      children[i] = job;
    } else {
      children.push(job);
      children.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    }
    this._rebuild();
  }

  /** The items shown: the loaded jobs, each expanded sweep followed by its runs. */
  private _rebuild(): void {
    const items: IJob[] = [];
    for (const job of this._jobs) {
      items.push(job);
      const children = this._expanded.get(job.id);
      if (children) {
        items.push(...children);
      }
    }
    this._items = items;
    const extra = items.length - this._jobs.length;
    const count = this._hasMore ? Math.max(this._total + extra, items.length + 1) : items.length;
    this._empty.hidden = count > 0;
    if (this.viewModel.widgetCount !== count) {
      this.viewModel.widgetCount = count; // re-renders
    } else {
      this.update();
    }
  }

  /** The rows loaded, in order; `total` is how many exist (more than loaded: placeholders). */
  setJobs(jobs: readonly IJob[], total: number = jobs.length, hasMore = false): void {
    this._jobs = jobs;
    this._hasMore = hasMore;
    this._total = total;
    this._rebuild();
  }

  get jobs(): readonly IJob[] {
    return this._jobs;
  }

  /** Items in the list: the rows loaded, and placeholders for those the server has beyond. */
  get itemCount(): number {
    return this.viewModel.widgetCount;
  }

  /** Number of item widgets in the DOM (for tests: stays small with many jobs). */
  get renderedRowCount(): number {
    return this.layout.widgets.length;
  }

  /** The row widgets in the DOM now (for tests). */
  get renderedJobs(): IJob[] {
    return this.layout.widgets
      .map(w => (w instanceof RowWidget ? w.row.job : null))
      .filter((j): j is IJob => j !== null);
  }

  setEmptyText(text: string): void {
    this._empty.textContent = text;
  }

  /** Render now (normally batched to the next animation frame). */
  render(): void {
    MessageLoop.sendMessage(this, Widget.Msg.UpdateRequest);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // the accordion resizes sections without telling their children: watch the size
    if (typeof ResizeObserver !== 'undefined' && !this._resizeObserver) {
      this._resizeObserver = new ResizeObserver(() => {
        if (this.isAttached) {
          MessageLoop.sendMessage(this, Widget.ResizeMessage.UnknownSize);
        }
      });
      this._resizeObserver.observe(this.node);
    }
    this._startTicker();
  }

  protected onBeforeDetach(msg: Message): void {
    window.clearInterval(this._ticker);
    this._ticker = 0;
    this._resizeObserver?.disconnect();
    this._resizeObserver = null;
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.update();
  }

  dispose(): void {
    window.clearInterval(this._ticker);
    window.clearTimeout(this._pruneTimer);
    this._options.model?.jobChanged.disconnect(this._onJobChanged, this);
    this._resizeObserver?.disconnect();
    for (const widget of this._rows.values()) {
      widget.dispose();
    }
    this._rows.clear();
    for (const widget of this._placeholders.values()) {
      widget.dispose();
    }
    this._placeholders.clear();
    super.dispose();
  }

  /** The widget of item `index`: the job's row (reused by job id), or a placeholder. */
  private _widgetAt(index: number): Widget {
    const jobs = this._items;
    if (this._hasMore && index >= jobs.length - PREFETCH) {
      this._needMore();
    }
    if (index >= jobs.length) {
      let placeholder = this._placeholders.get(index);
      if (!placeholder) {
        placeholder = new Widget({
          node: h(
            'div',
            { class: 'jp-JobsRow jp-JobsRow-placeholder', role: 'listitem' },
            this._options.trans.__('Loading…')
          )
        });
        this._placeholders.set(index, placeholder);
      }
      this._schedulePrune();
      return placeholder;
    }
    const job = jobs[index];
    let widget = this._rows.get(job.id);
    if (!widget) {
      widget = new RowWidget(new JobRow(this._options.trans));
      this._rows.set(job.id, widget);
    }
    widget.row.update(job);
    if (job.kind === 'sweep') {
      widget.row.setExpanded(this._expanded.has(job.id));
    }
    widget.node.setAttribute('aria-posinset', String(index + 1));
    widget.node.setAttribute('aria-setsize', String(this.viewModel.widgetCount));
    this._schedulePrune();
    this._startTicker();
    return widget;
  }

  private _needMore(): void {
    if (this._moreAsked) {
      return;
    }
    this._moreAsked = true;
    // after this render: the model answers with setJobs
    requestAnimationFrame(() => {
      this._moreAsked = false;
      this._options.onNeedMore?.();
    });
  }

  /** After the render that asks for widgets (a widget it is about to insert is not attached yet). */
  private _schedulePrune(): void {
    if (!this._pruneTimer && (this._rows.size > KEEP || this._placeholders.size > KEEP)) {
      this._pruneTimer = window.setTimeout(() => {
        this._pruneTimer = 0;
        this._prune();
      }, 0);
    }
  }

  /** Dispose row widgets scrolled away, beyond a few kept. */
  private _prune(): void {
    if (this._rows.size > KEEP) {
      const live = new Set(this._items.map(j => j.id));
      for (const [id, widget] of this._rows) {
        if (!widget.isAttached && (!live.has(id) || this._rows.size > KEEP / 2)) {
          this._rows.delete(id);
          widget.dispose();
        }
      }
    }
    if (this._placeholders.size > KEEP) {
      for (const [index, widget] of this._placeholders) {
        if (!widget.isAttached) {
          this._placeholders.delete(index);
          widget.dispose();
        }
      }
    }
  }

  /** Tick elapsed times once a second while a row in the DOM is running. */
  private _startTicker(): void {
    if (this._ticker || !this.isAttached) {
      return;
    }
    this._ticker = window.setInterval(() => {
      const now = Date.now();
      let running = false;
      for (const widget of this.layout.widgets) {
        const row = widget instanceof RowWidget ? widget.row : null;
        if (row?.job && !row.job.finished_at && row.job.started_at) {
          row.tick(now);
          running = true;
        }
      }
      if (!running) {
        window.clearInterval(this._ticker);
        this._ticker = 0;
      }
    }, 1000);
  }

  private _rowOf(target: EventTarget | null): { row: HTMLElement; job: IJob } | null {
    const row = (target as HTMLElement | null)?.closest?.('.jp-JobsRow') as HTMLElement | null;
    const job = row?.dataset.id ? this._rows.get(row.dataset.id)?.row.job : null;
    return row && job ? { row, job } : null;
  }

  private _onClick = (event: MouseEvent): void => {
    const hit = this._rowOf(event.target);
    if (!hit) {
      return;
    }
    const button = (event.target as HTMLElement).closest('[data-action]') as HTMLElement | null;
    const action = (button?.dataset.action ??
      (hit.job.kind === 'sweep' ? 'expand' : 'log')) as RowAction;
    event.stopPropagation();
    if (action === 'expand') {
      void this.toggleSweep(hit.job);
      return;
    }
    this._options.onAction(action, hit.job);
  };

  private _onKeydown = (event: KeyboardEvent): void => {
    const hit = this._rowOf(event.target);
    if (!hit || event.target !== hit.row) {
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      if (hit.job.kind === 'sweep') {
        void this.toggleSweep(hit.job);
      } else {
        this._options.onAction('log', hit.job);
      }
    } else if (event.key === 'Delete') {
      event.preventDefault();
      this._options.onAction('delete', hit.job);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const index = this._items.indexOf(hit.job) + (event.key === 'ArrowDown' ? 1 : -1);
      if (index >= 0 && index < this._items.length) {
        const id = this._items[index].id;
        void this.scrollToItem(index, 'auto').then(() => this._rows.get(id)?.node.focus());
      }
    }
  };

  private _options: JobsList.IOptions;
  private _jobs: readonly IJob[] = [];
  private _items: readonly IJob[] = [];
  private _total = 0;
  private _expanded = new Map<string, IJob[]>();
  private _hasMore = false;
  private _moreAsked = false;
  private _rows = new Map<string, RowWidget>();
  private _placeholders = new Map<number, Widget>();
  private _empty: HTMLElement;
  private _ticker = 0;
  private _pruneTimer = 0;
  private _resizeObserver: ResizeObserver | null = null;
}
