/**
 * The "Results" view of a sweep or one run (issue 13): `GET jobs/{id}/results` as a sortable
 * table (click a header; numbers sort as numbers), "Download CSV" (built here from the table),
 * and a chart of one recorded value against one parameter (results-chart.ts). While the sweep
 * runs it refreshes when one of its runs changes (job events, no polling).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownEmptyIcon,
  downloadIcon,
  refreshIcon,
  tableRowsIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { requestAPI } from './handler';
import { JobsModel } from './model';
import { ResultsChart } from './results-chart';
import { IJob, isFinal } from './tokens';

/** `GET jobs/{id}/results`. */
export interface IResultsTable {
  columns: string[];
  rows: unknown[][];
}

export namespace ResultsCommandIDs {
  export const open = 'jupyter-jobs:open-results';
  export const rerunFailed = 'jupyter-jobs:rerun-failed';
}

/** The runs of a sweep (`GET jobs?sweep=<id>`, every page), in index order. */
export async function sweepChildren(model: JobsModel, sweepId: string): Promise<IJob[]> {
  const out: IJob[] = [];
  let cursor: string | null = null;
  do {
    const query: Record<string, string | number> = { sweep: sweepId, limit: 1000 };
    if (cursor) {
      query.cursor = cursor;
    }
    const reply: { jobs: IJob[]; next_cursor: string | null } = await requestAPI(
      `jobs${URLExt.objectToQueryString(query)}`,
      {},
      model.client.serverSettings
    );
    out.push(...reply.jobs);
    cursor = reply.next_cursor;
  } while (cursor);
  return out.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
}

export function fetchResults(model: JobsModel, id: string): Promise<IResultsTable> {
  return requestAPI<IResultsTable>(
    `jobs/${encodeURIComponent(id)}/results`,
    {},
    model.client.serverSettings
  );
}

/** Compare two cells: null last, numbers numerically, text in natural order. */
export function compareCells(a: unknown, b: unknown): number {
  const na = a === null || a === undefined || a === '';
  const nb = b === null || b === undefined || b === '';
  if (na || nb) {
    return na && nb ? 0 : na ? 1 : -1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  if (typeof a === 'number') {
    return -1; // numbers before text in a mixed column
  }
  if (typeof b === 'number') {
    return 1;
  }
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** The rows sorted by one column (a stable sort; `descending` reverses, nulls stay last). */
export function sortRows(
  rows: readonly unknown[][],
  column: number,
  descending = false
): unknown[][] {
  return rows
    .map((row, i) => ({ row, i }))
    .sort((x, y) => {
      const a = x.row[column];
      const b = y.row[column];
      const nulls = a === null || a === undefined || b === null || b === undefined;
      const c = nulls ? compareCells(a, b) : compareCells(a, b) * (descending ? -1 : 1);
      return c || x.i - y.i;
    })
    .map(x => x.row);
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  const text = typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV (CRLF lines; empty for null; true/false), as `jupyter jobs results --csv`. */
export function toCSV(table: IResultsTable): string {
  return (
    [table.columns, ...table.rows].map(row => row.map(csvCell).join(',')).join('\r\n') + '\r\n'
  );
}

/** A cell as shown: numbers as they are (long decimals cut to 6 significant digits), null "—". */
export function formatCell(value: unknown, column: string): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (column === 'id' && typeof value === 'string') {
    return value.slice(0, 8);
  }
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return String(Number(value.toPrecision(6)));
  }
  return String(value);
}

/** The names of columns that are parameters / recorded values (by the job's own data). */
export function columnRoles(
  table: IResultsTable,
  parameterNames: readonly string[]
): { parameters: number[]; values: number[] } {
  const fixed = new Set(['index', 'id', 'status', 'duration_seconds']);
  const parameters: number[] = [];
  const values: number[] = [];
  table.columns.forEach((name, i) => {
    if (fixed.has(name)) {
      return;
    }
    const bare = name.replace(/^(parameter|result)\./, '');
    if (
      name.startsWith('parameter.') ||
      (!name.startsWith('result.') && parameterNames.includes(bare))
    ) {
      parameters.push(i);
    } else {
      values.push(i);
    }
  });
  return { parameters, values };
}

export namespace ResultsView {
  export interface IOptions {
    jobId: string;
    model: JobsModel;
    translator?: ITranslator;
  }
}

export class ResultsView extends Widget {
  constructor(options: ResultsView.IOptions) {
    super();
    this.addClass('jp-JobsResults');
    this.jobId = options.jobId;
    this._model = options.model;
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    const trans = this._trans;
    this._summary = h('div', { class: 'jp-JobsResults-summary' });
    this._table = h('table', { class: 'jp-JobsResults-table' });
    this._x = h('select', { name: 'x', 'aria-label': trans.__('Parameter (across)') });
    this._y = h('select', { name: 'y', 'aria-label': trans.__('Value (up)') });
    this._chart = new ResultsChart({ translator: options.translator });
    this._chartBox = h(
      'div',
      { class: 'jp-JobsResults-chartBox' },
      h(
        'div',
        { class: 'jp-JobsResults-axes' },
        h('label', {}, trans.__('Plot'), ' ', selectBox(this._y)),
        h('label', {}, trans.__('against'), ' ', selectBox(this._x))
      ),
      this._chart.node
    );
    this._x.addEventListener('change', () => this._drawChart());
    this._y.addEventListener('change', () => this._drawChart());
    this.node.append(
      this._summary,
      this._chartBox,
      h('div', { class: 'jp-JobsResults-tableBox' }, this._table)
    );
    this._table.addEventListener('click', event => {
      const th = (event.target as HTMLElement).closest('th') as HTMLElement | null;
      if (th?.dataset.column !== undefined) {
        this.sortBy(Number(th.dataset.column));
      }
    });
    this._model.jobChanged.connect(this._onJobChanged, this);
  }

  readonly jobId: string;

  get table(): IResultsTable | null {
    return this._data;
  }

  /** The table's rows in the order shown. */
  get shownRows(): unknown[][] {
    return this._sorted;
  }

  async refresh(): Promise<void> {
    try {
      this._job = await this._model.client.getJob(this.jobId);
      this._data = await fetchResults(this._model, this.jobId);
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
    }
    this._render();
  }

  /** Sort by column `index`; again on the same column reverses. */
  sortBy(index: number): void {
    if (this._sort?.column === index) {
      this._sort = { column: index, descending: !this._sort.descending };
    } else {
      this._sort = { column: index, descending: false };
    }
    this._renderTable();
  }

  csv(): string {
    const data = this._data ?? { columns: [], rows: [] };
    return toCSV({ columns: data.columns, rows: this._sorted });
  }

  /** Save the table as `<name>-results.csv` through the browser. */
  download(): void {
    const blob = new Blob([this.csv()], { type: 'text/csv' });
    const url = URL.createObjectURL(blob);
    const a = h('a', {
      href: url,
      download: `${safeName(this._job?.name ?? this.jobId)}-results.csv`
    });
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearTimeout(this._timer);
    this._model.jobChanged.disconnect(this._onJobChanged, this);
    super.dispose();
  }

  private _onJobChanged(_: unknown, job: IJob): void {
    if (job.id !== this.jobId && job.sweep_id !== this.jobId) {
      return;
    }
    // a burst of events (many runs ending) refreshes once
    if (!this._timer) {
      this._timer = window.setTimeout(() => {
        this._timer = 0;
        void this.refresh();
      }, 500);
    }
  }

  private _render(): void {
    const trans = this._trans;
    const job = this._job;
    if (this._error) {
      this._summary.textContent = trans.__('Cannot load the results: %1', this._error);
      return;
    }
    if (job) {
      const n = this._data?.rows.length ?? 0;
      const counts = job.kind === 'sweep' ? sweepCountsText(trans, job) : job.status;
      this._summary.textContent =
        job.kind === 'sweep'
          ? trans.__('%1 (%2) — %3', job.name, job.id.slice(0, 8), counts)
          : trans.__('%1 (%2) — %3, %4 row(s)', job.name, job.id.slice(0, 8), counts, n);
      this.title.label = trans.__('Results: %1', job.name);
    }
    this._renderTable();
    this._fillAxes();
    this._drawChart();
  }

  private _renderTable(): void {
    const data = this._data;
    this._table.textContent = '';
    if (!data) {
      return;
    }
    const sort = this._sort;
    this._sorted = sort ? sortRows(data.rows, sort.column, sort.descending) : data.rows.slice();
    const head = h('tr', {});
    data.columns.forEach((name, i) => {
      const sorted = sort?.column === i;
      head.appendChild(
        h(
          'th',
          {
            'data-column': i,
            'aria-sort': sorted ? (sort!.descending ? 'descending' : 'ascending') : 'none',
            title: this._trans.__('Sort by %1', name)
          },
          name,
          sorted ? (sort!.descending ? ' ▼' : ' ▲') : ''
        )
      );
    });
    const body = h('tbody', {});
    for (const row of this._sorted) {
      const tr = h('tr', {});
      row.forEach((value, i) => {
        tr.appendChild(
          h(
            'td',
            {
              class: typeof value === 'number' ? 'jp-mod-number' : '',
              title: value === null || value === undefined ? '' : String(value)
            },
            formatCell(value, data.columns[i])
          )
        );
      });
      body.appendChild(tr);
    }
    this._table.append(h('thead', {}, head), body);
  }

  private _fillAxes(): void {
    const data = this._data;
    if (!data) {
      return;
    }
    const params = Object.keys(this._job?.parameter_sets?.[0] ?? this._job?.parameters ?? {});
    const roles = columnRoles(data, params);
    // a value column is plotted when its values are numbers (none yet: "No run has recorded …")
    const numeric = (i: number) =>
      data.rows.every(r => r[i] === null || r[i] === undefined || typeof r[i] === 'number');
    const fill = (select: HTMLSelectElement, indexes: number[]) => {
      const before = select.value;
      select.textContent = '';
      for (const i of indexes) {
        select.appendChild(h('option', { value: String(i) }, data.columns[i]));
      }
      if (indexes.map(String).includes(before)) {
        select.value = before;
      }
    };
    fill(this._x, roles.parameters);
    fill(this._y, roles.values.filter(numeric));
    this._chartBox.hidden = !roles.parameters.length || !this._y.options.length;
  }

  private _drawChart(): void {
    const data = this._data;
    if (!data || this._chartBox.hidden) {
      return;
    }
    const x = Number(this._x.value);
    const y = Number(this._y.value);
    const idColumn = data.columns.indexOf('id');
    const points = data.rows
      .filter(r => r[x] !== null && r[x] !== undefined && typeof r[y] === 'number')
      .map(r => ({
        x: r[x] as number | string,
        y: r[y] as number,
        label: idColumn >= 0 ? String(r[idColumn]).slice(0, 8) : ''
      }));
    this._chart.setData(points, data.columns[x], data.columns[y]);
  }

  private _model: JobsModel;
  private _trans: TranslationBundle;
  private _job: IJob | null = null;
  private _data: IResultsTable | null = null;
  private _error: string | null = null;
  private _sorted: unknown[][] = [];
  private _sort: { column: number; descending: boolean } | null = null;
  private _summary: HTMLElement;
  private _table: HTMLTableElement;
  private _x: HTMLSelectElement;
  private _y: HTMLSelectElement;
  private _chart: ResultsChart;
  private _chartBox: HTMLElement;
  private _timer = 0;
}

/** "12 runs · 2 running · 5 done · 1 failed" from a sweep's `child_counts`. */
export function sweepCountsText(trans: TranslationBundle, job: IJob): string {
  const counts = job.child_counts ?? {};
  const total = job.children?.length ?? Object.values(counts).reduce((a, b) => a + b, 0);
  const parts = [total === 1 ? trans.__('1 run') : trans.__('%1 runs', total)];
  const running = (counts.running ?? 0) + (counts.cancelling ?? 0);
  const waiting = (counts.queued ?? 0) + (counts.pending ?? 0);
  if (running) {
    parts.push(trans.__('%1 running', running));
  }
  if (waiting && !isFinal(job.status)) {
    parts.push(trans.__('%1 waiting', waiting));
  }
  if (counts.completed) {
    parts.push(trans.__('%1 done', counts.completed));
  }
  for (const [status, label] of [
    ['failed', trans.__('%1 failed', counts.failed ?? 0)],
    ['cancelled', trans.__('%1 cancelled', counts.cancelled ?? 0)],
    ['lost', trans.__('%1 lost', counts.lost ?? 0)]
  ]) {
    if (counts[status]) {
      parts.push(label);
    }
  }
  return parts.join(' · ');
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'job';
}

function selectBox(select: HTMLSelectElement): HTMLElement {
  const box = h('div', { class: 'jp-HTMLSelect jp-DefaultStyle' }, select);
  box.appendChild(
    caretDownEmptyIcon.element({ tag: 'span', stylesheet: 'select', right: '4px', top: '4px' })
  );
  return box;
}

/** "Show results" and "Rerun failed runs" commands (the Jobs list's row actions). */
export function registerResultsCommands(
  app: JupyterFrontEnd,
  model: JobsModel,
  translator?: ITranslator
): void {
  const trans = (translator ?? nullTranslator).load('jupyter_jobs');
  const open = new Map<string, MainAreaWidget<ResultsView>>();
  app.commands.addCommand(ResultsCommandIDs.open, {
    label: trans.__('Show Results'),
    icon: tableRowsIcon,
    execute: async args => {
      const id = args.id as string;
      const existing = open.get(id);
      if (existing && !existing.isDisposed) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const content = new ResultsView({ jobId: id, model, translator });
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-jobs-results-${id}`;
      widget.title.icon = tableRowsIcon;
      widget.title.closable = true;
      widget.title.label = trans.__('Results: %1', model.get(id)?.name ?? id.slice(0, 8));
      content.title.changed.connect(() => {
        widget.title.label = content.title.label;
      });
      widget.toolbar.addItem(
        'download',
        new ToolbarButton({
          icon: downloadIcon,
          label: trans.__('Download CSV'),
          tooltip: trans.__('Download the table as CSV'),
          onClick: () => content.download()
        })
      );
      widget.toolbar.addItem(
        'refresh',
        new ToolbarButton({
          icon: refreshIcon,
          tooltip: trans.__('Reload the results'),
          onClick: () => void content.refresh()
        })
      );
      open.set(id, widget);
      widget.disposed.connect(() => open.delete(id));
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      await content.refresh();
      return widget;
    }
  });
  app.commands.addCommand(ResultsCommandIDs.rerunFailed, {
    label: trans.__('Rerun Failed Runs'),
    icon: refreshIcon,
    execute: async args => {
      try {
        return await model.client.rerun(args.id as string, { only: 'failed' } as never);
      } catch (error) {
        await showErrorMessage(trans.__('Cannot rerun the failed runs'), error as Error);
      }
    }
  });
}
