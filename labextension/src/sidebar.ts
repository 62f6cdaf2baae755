/**
 * The Jobs sidebar: an accordion of sections. The first is the jobs list with its filters; the
 * "Remote sessions" section follows; other plugins add more through `IJobsSidebar.addSection`.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { PanelWithToolbar, refreshIcon, SidePanel, ToolbarButton } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { jobsIcon } from './icons';
import { backendNamesChanged } from './labels';
import { RowAction } from './job-row';
import { JobsList } from './jobs-list';
import { IJobsFilter, JobsModel } from './model';
import { IJob, IJobsSidebar } from './tokens';

export namespace JobsSidebar {
  export interface IOptions {
    model: JobsModel;
    onAction: (action: RowAction, job: IJob) => void;
    translator?: ITranslator;
  }
}

/** Filter choices of the status menu: a label and the statuses it means. */
function statusFilters(trans: TranslationBundle): [string, string, string[]][] {
  return [
    ['all', trans.__('All statuses'), []],
    ['active', trans.__('Active'), ['pending', 'queued', 'running', 'cancelling']],
    ['running', trans.__('Running'), ['running']],
    ['queued', trans.__('Queued'), ['pending', 'queued']],
    ['completed', trans.__('Completed'), ['completed']],
    ['failed', trans.__('Failed'), ['failed']],
    ['lost', trans.__('Lost'), ['lost']],
    ['cancelled', trans.__('Cancelled'), ['cancelled', 'cancelling']]
  ];
}

/** Milliseconds the search box waits after a keystroke before it asks the server. */
export const SEARCH_DELAY = 250;

/**
 * "10000 jobs · 2 running · 1 queued" (the status bar's counts: running includes cancelling,
 * queued includes pending), or "1000 of 10000 jobs" under a filter — all from the server's counts.
 */
export function summaryText(trans: TranslationBundle, model: JobsModel): string {
  const counts = model.counts;
  if (!counts) {
    return '';
  }
  const all = model.size;
  const f = model.filter;
  if (model.opened && (f.search || f.backend || (f.statuses ?? []).length)) {
    return model.loading ? '' : trans.__('%1 of %2 jobs', model.total, all);
  }
  const running = (counts.running ?? 0) + (counts.cancelling ?? 0);
  const queued = (counts.queued ?? 0) + (counts.pending ?? 0);
  let text = trans._n('%1 job', '%1 jobs', all);
  if (running) {
    text += ' · ' + trans._n('%1 running', '%1 running', running);
  }
  if (queued) {
    text += ' · ' + trans._n('%1 queued', '%1 queued', queued);
  }
  return text;
}

/** The jobs section: filters on top, the windowed list below. */
export class JobsSection extends PanelWithToolbar {
  constructor(options: JobsSidebar.IOptions) {
    super();
    const trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._trans = trans;
    this._model = options.model;
    this.addClass('jp-JobsSection');
    this.id = 'jp-jobs-section-jobs';
    this.title.label = trans.__('Jobs');
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Reload the job list'),
        onClick: () => void this._model.refresh()
      })
    );

    this._status = h('select', {
      class: 'jp-mod-styled jp-JobsFilter-status',
      'aria-label': trans.__('Filter by status')
    });
    for (const [value, label] of statusFilters(trans)) {
      this._status.appendChild(h('option', { value }, label));
    }
    this._backend = h('select', {
      class: 'jp-mod-styled jp-JobsFilter-backend',
      'aria-label': trans.__('Filter by backend')
    });
    this._search = h('input', {
      type: 'search',
      class: 'jp-mod-styled jp-JobsFilter-search',
      placeholder: trans.__('Search by name or path'),
      'aria-label': trans.__('Search jobs by name or path')
    });
    this._summary = h('div', { class: 'jp-JobsFilter-summary', 'aria-live': 'polite' });
    const filters = new Widget({
      node: h(
        'div',
        { class: 'jp-JobsFilter' },
        this._search,
        h('div', { class: 'jp-JobsFilter-selects' }, this._status, this._backend),
        this._summary
      )
    });
    // the server answers filters and search; typing waits for a pause before it asks
    this._status.addEventListener('change', () => this._applyFilter());
    this._backend.addEventListener('change', () => this._applyFilter());
    this._search.addEventListener('input', () => {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = window.setTimeout(() => this._applyFilter(), SEARCH_DELAY);
    });
    this._search.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        window.clearTimeout(this._searchTimer);
        this._applyFilter();
      }
    });

    this._list = new JobsList({
      trans,
      model: this._model,
      onAction: options.onAction,
      emptyText: trans.__('No jobs yet. Right-click a script or notebook → Run as Background Job.'),
      onNeedMore: () => void this._model.loadMore()
    });
    this.addWidget(filters);
    this.addWidget(this._list);
    this._model.changed.connect(() => this.update(), this);
    backendNamesChanged.connect(() => this.update(), this); // rows say the display names
    this.update();
  }

  get list(): JobsList {
    return this._list;
  }

  get filter(): IJobsFilter {
    const choice = statusFilters(this._trans).find(([value]) => value === this._status.value);
    return {
      statuses: choice ? choice[2] : [],
      backend: this._backend.value,
      search: this._search.value
    };
  }

  /** The first time the section shows: the list's first page (and the backends for the menu). */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._open();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._open(); // restored open at start: attached while visible, never "shown"
    }
  }

  private _open(): void {
    if (!this._model.opened) {
      void this._model.open();
      this._model.client
        .backends()
        .then(reply => {
          this._knownBackends = reply.backends.map(b => b.name);
          this.update();
        })
        .catch(() => undefined); // the menu still lists the backends seen on jobs
    }
  }

  protected onUpdateRequest(): void {
    this._syncBackends();
    const model = this._model;
    this._list.setJobs(model.jobs, model.total, model.hasMore);
    this._summary.textContent = summaryText(this._trans, model);
    const trans = this._trans;
    this._list.setEmptyText(
      model.loading || !model.opened
        ? trans.__('Loading…')
        : model.lastError && model.jobs.length === 0
          ? trans.__('Cannot load the jobs: %1', model.lastError.message)
          : model.size === 0
            ? trans.__('No jobs yet. Right-click a script or notebook → Run as Background Job.')
            : trans.__('No job matches the filter.')
    );
  }

  private _applyFilter(): void {
    void this._model.setFilter(this.filter);
    this.update();
  }

  private _syncBackends(): void {
    const backends = Array.from(new Set([...this._knownBackends, ...this._model.backends])).sort();
    const key = backends.join('\n');
    if (key === this._backendsKey) {
      return;
    }
    this._backendsKey = key;
    const current = this._backend.value;
    this._backend.textContent = '';
    this._backend.appendChild(h('option', { value: '' }, this._trans.__('All backends')));
    for (const name of backends) {
      this._backend.appendChild(h('option', { value: name }, name));
    }
    this._backend.value = backends.includes(current) ? current : '';
  }

  private _trans: TranslationBundle;
  private _model: JobsModel;
  private _list: JobsList;
  private _status: HTMLSelectElement;
  private _backend: HTMLSelectElement;
  private _search: HTMLInputElement;
  private _summary: HTMLElement;
  private _searchTimer = 0;
  private _knownBackends: string[] = [];
  /** null until the menu is first filled (with "All backends" even when there are no jobs) */
  private _backendsKey: string | null = null;
}

/** The sidebar itself. */
export class JobsSidebar extends SidePanel implements IJobsSidebar {
  constructor(options: JobsSidebar.IOptions) {
    super({ translator: options.translator });
    const trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this.id = 'jp-jobs-sidebar';
    this.addClass('jp-JobsSidebar');
    this.title.icon = jobsIcon;
    this.title.caption = trans.__('Jobs');
    this.jobsSection = new JobsSection(options);
    this.addSection(this.jobsSection, { rank: 0 });
  }

  readonly jobsSection: JobsSection;

  addSection(widget: Widget, options: { rank?: number } = {}): void {
    const rank = options.rank ?? 100;
    const index = this._ranks.findIndex(r => r > rank);
    const at = index < 0 ? this._ranks.length : index;
    this._ranks.splice(at, 0, rank);
    this.insertWidget(at, widget as never);
  }

  private _ranks: number[] = [];
}
