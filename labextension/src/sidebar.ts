/**
 * The Jobs sidebar: an accordion of sections. The first is the jobs list with its filters; the
 * "Remote sessions" section follows; other plugins add more through `IJobsSidebar.addSection`.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { PanelWithToolbar, refreshIcon, SidePanel, ToolbarButton } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { jobsIcon } from './icons';
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
    ['failed', trans.__('Failed'), ['failed', 'lost']],
    ['cancelled', trans.__('Cancelled'), ['cancelled', 'cancelling']]
  ];
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
      placeholder: trans.__('Search by name'),
      'aria-label': trans.__('Search jobs by name')
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
    this._status.addEventListener('change', () => this.update());
    this._backend.addEventListener('change', () => this.update());
    this._search.addEventListener('input', () => this.update());

    this._list = new JobsList({
      trans,
      onAction: options.onAction,
      emptyText: trans.__('No jobs yet. Right-click a script or notebook → Run as Background Job.')
    });
    this.addWidget(filters);
    this.addWidget(this._list);
    this._model.changed.connect(() => this.update(), this);
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

  protected onUpdateRequest(): void {
    this._syncBackends();
    const all = this._model.jobs.filter(j => j.kind !== 'kernel');
    const jobs = this._model.filtered(this.filter).filter(j => j.kind !== 'kernel');
    this._list.setJobs(jobs);
    const trans = this._trans;
    const running = all.filter(j => j.status === 'running').length;
    this._summary.textContent =
      jobs.length === all.length
        ? trans._n('%1 job', '%1 jobs', all.length) +
          (running ? ' · ' + trans._n('%1 running', '%1 running', running) : '')
        : trans.__('%1 of %2 jobs', jobs.length, all.length);
    this._list.setEmptyText(
      all.length === 0
        ? trans.__('No jobs yet. Right-click a script or notebook → Run as Background Job.')
        : trans.__('No job matches the filter.')
    );
  }

  private _syncBackends(): void {
    const backends = this._model.backends;
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
