/**
 * The run dialog's "Sweep" and "Wait for" parts (issue 13): values per parameter (a list
 * "0.1, 0.5, 1" or a range "0:3"), the number of runs shown as it is typed, the throttle, how a
 * script gets its parameters; and the jobs this one waits for with `when`. They add `grid`,
 * `throttle`, `parameters_as`, `after` and `when` to the request the form built.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { caretDownEmptyIcon } from '@jupyterlab/ui-components';

import { RunJobForm } from './dialog';
import { h } from './dom';
import { JobsAPIError } from './handler';
import { JobsModel } from './model';
import { IParameter } from './parameters';
import { IJob, ISubmitRequest } from './tokens';

/** A value of a grid: what `POST jobs` accepts (scalars). */
export type GridValue = number | string | boolean;

/** The most runs the dialog computes a grid for before it says "too many". */
const MAX_RUNS = 100000;
/** The most values one range may give. */
const MAX_RANGE = 10000;

/** A grid text the user must fix; `message` is in the user's words. */
export class GridTextError extends Error {}

function scalar(text: string): GridValue {
  const t = text.trim();
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) {
    return Number(t);
  }
  if (t === 'True' || t === 'true') {
    return true;
  }
  if (t === 'False' || t === 'false') {
    return false;
  }
  const quoted = /^(['"])(.*)\1$/.exec(t);
  return quoted ? quoted[2] : t;
}

/** Split at commas that are not inside quotes. */
function splitList(text: string): string[] {
  const out: string[] = [];
  let quote: string | null = null;
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) {
        quote = null;
      }
      current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === ',') {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (quote) {
    throw new GridTextError(`a quote ${quote} is not closed`);
  }
  out.push(current);
  return out;
}

const NUMBER = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';
const RANGE = new RegExp(`^(${NUMBER})\\s*:\\s*(${NUMBER})(?:\\s*:\\s*(${NUMBER}))?$`);

/**
 * The values of one parameter from what the user typed: a list ("0.1, 0.5, 1", "'a', 'b'",
 * "True, False") or a range "start:stop" / "start:stop:step" (both ends included, as the CLI's
 * `--grid` and SLURM's `--array=0-3`: "0:3" is 0, 1, 2, 3). Throws a {@link GridTextError} in the user's words.
 */
export function parseValues(text: string): GridValue[] {
  const t = text.trim();
  if (t === '') {
    throw new GridTextError('give at least one value');
  }
  const range = RANGE.exec(t);
  if (range) {
    const start = Number(range[1]);
    const stop = Number(range[2]);
    const step = range[3] === undefined ? 1 : Number(range[3]);
    if (step <= 0) {
      throw new GridTextError(`the step of ${t} must be more than 0`);
    }
    if (stop < start) {
      throw new GridTextError(
        `${t} has no values: the end (${stop}) is less than the start (${start})`
      );
    }
    const n = Math.floor((stop - start) / step + 1e-9) + 1;
    if (n > MAX_RANGE) {
      throw new GridTextError(
        `${t} has ${n.toLocaleString('en')} values; at most ${MAX_RANGE.toLocaleString('en')}`
      );
    }
    const decimals = Math.max(places(range[1]), places(range[3] ?? '1'));
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(Number((start + i * step).toFixed(decimals)));
    }
    return out;
  }
  const parts = splitList(t).map(p => p.trim());
  if (parts.some(p => p === '')) {
    throw new GridTextError('a value between two commas is empty');
  }
  const values = parts.map(scalar);
  const seen = new Set<string>();
  for (const v of values) {
    const key = `${typeof v}:${v}`;
    if (seen.has(key)) {
      throw new GridTextError(`${String(v)} is given twice`);
    }
    seen.add(key);
  }
  return values;
}

function places(text: string): number {
  const m = /\.(\d+)/.exec(text);
  return m ? m[1].length : 0;
}

/** The number of runs of a grid (the product of its value counts; 0 for an empty grid). */
export function countRuns(grid: Record<string, readonly unknown[]>): number {
  const names = Object.keys(grid);
  if (names.length === 0) {
    return 0;
  }
  return names.reduce((n, name) => n * grid[name].length, 1);
}

/**
 * Script parameters typed one per line, `name = values` → `[name, text]` pairs. Blank lines and
 * `#` comments are skipped; throws a {@link GridTextError} naming the line.
 */
export function parseGridLines(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) {
      return;
    }
    const eq = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!eq) {
      throw new GridTextError(`line ${i + 1}: write name = values, e.g. alpha = 0.1, 0.5, 1`);
    }
    if (out.some(([name]) => name === eq[1])) {
      throw new GridTextError(`line ${i + 1}: ${eq[1]} is given twice`);
    }
    out.push([eq[1], eq[2]]);
  });
  return out;
}

export namespace SweepTab {
  export interface IOptions {
    form: RunJobForm;
    parameters: IParameter[];
    model: JobsModel;
    translator?: ITranslator;
  }
}

/** The "Sweep" and "Wait for" fieldsets, appended to the run dialog's form. */
export class SweepTab {
  constructor(options: SweepTab.IOptions) {
    this._options = options;
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._notebook = options.form.kind === 'notebook';
    options.form.node.appendChild(this._buildSweep());
    options.form.node.appendChild(this._buildWait());
    this._update();
  }

  /** Whether the "Sweep over parameters" box is ticked. */
  get enabled(): boolean {
    return this._enable.checked;
  }

  /** The grid as typed (throws a JobsAPIError with `field` for the first bad value). */
  grid(): Record<string, GridValue[]> {
    const grid: Record<string, GridValue[]> = {};
    for (const [name, text, field, unchanged] of this._entries()) {
      if (unchanged) {
        continue; // the notebook's own value: not swept
      }
      try {
        grid[name] = parseValues(text);
      } catch (error) {
        throw new JobsAPIError(400, `${name}: ${(error as Error).message}`, field);
      }
    }
    return grid;
  }

  /** The form's request with the sweep's and the wait's fields; throws (field marked) when bad. */
  apply(request: ISubmitRequest): ISubmitRequest {
    const out: ISubmitRequest & Record<string, unknown> = { ...request };
    const trans = this._trans;
    if (this.enabled) {
      const grid = this.grid();
      const n = countRuns(grid);
      if (n === 0) {
        throw new JobsAPIError(
          400,
          this._notebook
            ? trans.__('Give more than one value for at least one parameter to sweep over.')
            : trans.__('Give at least one parameter and its values, e.g. alpha = 0.1, 0.5, 1'),
          'grid'
        );
      }
      out.grid = grid;
      if (out.parameters) {
        // a swept name takes its values from the grid; the others stay as typed above
        const rest = { ...out.parameters };
        for (const name of Object.keys(grid)) {
          delete rest[name];
        }
        out.parameters = Object.keys(rest).length ? rest : undefined;
        if (!out.parameters) {
          delete out.parameters;
        }
      }
      const throttle = this._throttle.value.trim();
      if (throttle !== '') {
        if (!/^\d+$/.test(throttle) || Number(throttle) < 1) {
          throw new JobsAPIError(
            400,
            trans.__(
              'Runs at once must be a whole number of at least 1 (or blank: no limit of the sweep’s own).'
            ),
            'throttle'
          );
        }
        out.throttle = Number(throttle);
      }
      if (!this._notebook) {
        out.parameters_as = this._parametersAs.value;
      }
    }
    const after = this.after();
    if (after.length) {
      out.after = after;
      out.when = this._when.value;
    }
    return out;
  }

  /** The ids this job waits for: the picked job and any typed. */
  after(): string[] {
    const ids: string[] = [];
    if (this._waitJob.value) {
      ids.push(this._waitJob.value);
    }
    for (const id of this._waitIds.value.split(/[\s,]+/)) {
      if (id && !ids.includes(id)) {
        ids.push(id);
      }
    }
    return ids;
  }

  /** [name, text, field, unchanged] of each parameter row (or line of the script box). */
  private _entries(): Array<[string, string, string, boolean]> {
    if (this._notebook) {
      return Array.from(this._inputs, ([name, input]) => [
        name,
        input.value,
        `grid.${name}`,
        input.value.trim() === input.defaultValue.trim()
      ]);
    }
    let lines: Array<[string, string]>;
    try {
      lines = parseGridLines(this._lines.value);
    } catch (error) {
      throw new JobsAPIError(400, (error as Error).message, 'grid');
    }
    return lines.map(([name, text]) => [name, text, 'grid', false]);
  }

  /** N as typed, or the reason there is none yet. */
  private _update(): void {
    const trans = this._trans;
    this._body.hidden = !this.enabled;
    if (!this.enabled) {
      return;
    }
    this._options.form.clearErrors();
    let n = 0;
    try {
      n = countRuns(this.grid());
    } catch (error) {
      this._count.textContent = trans.__('Runs: —');
      this._count.dataset.runs = '';
      this._options.form.showError(error);
      return;
    }
    this._count.dataset.runs = String(n);
    this._count.textContent =
      n === 0
        ? trans.__('Runs: — (give more than one value to sweep over)')
        : n === 1
          ? trans.__('1 run')
          : trans.__('%1 runs', n.toLocaleString());
    this._count.classList.toggle('jp-mod-warning', n > MAX_RUNS);
  }

  private _buildSweep(): HTMLElement {
    const trans = this._trans;
    this._enable = h('input', { type: 'checkbox', name: 'sweep' });
    this._enable.addEventListener('change', () => this._update());
    this._count = h('div', { class: 'jp-JobsSweep-count', 'aria-live': 'polite' });
    const values = h('div', { class: 'jp-JobsSweep-values' });
    if (this._notebook) {
      if (!this._options.parameters.length) {
        values.appendChild(
          h(
            'div',
            { class: 'jp-JobsDialog-hint' },
            trans.__('No cell tagged “parameters” in this notebook: a sweep sets its variables.')
          )
        );
      }
      for (const p of this._options.parameters) {
        const input = h('input', {
          type: 'text',
          class: 'jp-mod-styled',
          name: `grid.${p.name}`,
          'data-sweep-parameter': p.name,
          placeholder: trans.__('e.g. 0.1, 0.5, 1 or 0:3')
        });
        input.defaultValue = p.text;
        input.value = p.text;
        input.addEventListener('input', () => this._update());
        this._inputs.set(p.name, input);
        values.appendChild(
          h(
            'label',
            { class: 'jp-JobsDialog-parameter' },
            h('span', { class: 'jp-JobsDialog-parameterName' }, p.name),
            h('div', { class: 'jp-InputGroup jp-JobsDialog-field' }, input),
            errorNode(`grid.${p.name}`)
          )
        );
      }
    } else {
      this._lines = h('textarea', {
        class: 'jp-mod-styled',
        name: 'grid',
        rows: 3,
        placeholder: trans.__('one per line: alpha = 0.1, 0.5, 1\nseed = 0:3')
      });
      this._lines.addEventListener('input', () => this._update());
      values.appendChild(this._lines);
    }
    this._throttle = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'throttle',
      inputmode: 'numeric',
      placeholder: trans.__('no limit of the sweep’s own')
    });
    const throttleRow = h(
      'label',
      { class: 'jp-JobsDialog-parameter' },
      h('span', { class: 'jp-JobsSweep-label' }, trans.__('Runs at once')),
      h('div', { class: 'jp-InputGroup jp-JobsDialog-field' }, this._throttle),
      errorNode('throttle')
    );
    this._parametersAs = h(
      'select',
      { name: 'parameters_as' },
      h('option', { value: 'args' }, trans.__('as arguments (--alpha 0.1)')),
      h('option', { value: 'env' }, trans.__('as environment variables (JJ_PARAM_alpha=0.1)'))
    );
    const asRow = h(
      'label',
      { class: 'jp-JobsDialog-parameter' },
      h('span', { class: 'jp-JobsSweep-label' }, trans.__('Each run gets them')),
      selectBox(this._parametersAs),
      errorNode('parameters_as')
    );
    this._body = h(
      'div',
      { class: 'jp-JobsSweep-body' },
      h(
        'div',
        { class: 'jp-JobsDialog-hint' },
        this._notebook
          ? trans.__(
              'One run per combination. Values: a list (0.1, 0.5, 1) or a range (0:3 is 0, 1, 2, 3; 0:1:0.25 steps by 0.25). A value left as in the notebook is not swept.'
            )
          : trans.__(
              'One run per combination. Values: a list (0.1, 0.5, 1) or a range (0:3 is 0, 1, 2, 3; 0:1:0.25 steps by 0.25).'
            )
      ),
      values,
      errorNode('grid'),
      errorNode('parameter_sets'),
      this._count,
      throttleRow,
      this._notebook ? null : asRow
    );
    return h(
      'fieldset',
      { class: 'jp-JobsDialog-row jp-JobsDialog-group jp-JobsSweep', 'data-row': 'sweep' },
      h(
        'legend',
        {},
        h(
          'label',
          { class: 'jp-JobsSweep-toggle' },
          this._enable,
          ' ',
          trans.__('Sweep over parameters')
        )
      ),
      this._body
    );
  }

  private _buildWait(): HTMLElement {
    const trans = this._trans;
    this._waitJob = h(
      'select',
      { name: 'after' },
      h('option', { value: '' }, trans.__('nothing: start now'))
    );
    const recent = this._options.model.jobs.slice(0, 30);
    for (const job of recent) {
      this._waitJob.appendChild(h('option', { value: job.id }, waitLabel(trans, job)));
    }
    this._waitIds = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'after_ids',
      placeholder: trans.__('comma-separated, e.g. 1a2b3c4d')
    });
    this._when = h(
      'select',
      { name: 'when' },
      h('option', { value: 'ok' }, trans.__('completed')),
      h('option', { value: 'any' }, trans.__('ended, however')),
      h('option', { value: 'failed' }, trans.__('did not complete'))
    );
    const sync = () => {
      this._when.disabled = this.after().length === 0;
    };
    this._waitJob.addEventListener('change', sync);
    this._waitIds.addEventListener('input', sync);
    sync();
    return h(
      'fieldset',
      { class: 'jp-JobsDialog-row jp-JobsDialog-group jp-JobsWait', 'data-row': 'after' },
      h('legend', {}, trans.__('Wait for')),
      h(
        'label',
        { class: 'jp-JobsDialog-parameter' },
        h('span', { class: 'jp-JobsSweep-label' }, trans.__('Job')),
        selectBox(this._waitJob)
      ),
      h(
        'label',
        { class: 'jp-JobsDialog-parameter' },
        h('span', { class: 'jp-JobsSweep-label' }, trans.__('Or job ids')),
        h('div', { class: 'jp-InputGroup jp-JobsDialog-field' }, this._waitIds)
      ),
      h(
        'label',
        { class: 'jp-JobsDialog-parameter' },
        h('span', { class: 'jp-JobsSweep-label' }, trans.__('Start when it')),
        selectBox(this._when)
      ),
      errorNode('after'),
      errorNode('when')
    );
  }

  private _options: SweepTab.IOptions;
  private _trans: TranslationBundle;
  private _notebook: boolean;
  private _enable!: HTMLInputElement;
  private _body!: HTMLElement;
  private _count!: HTMLElement;
  private _inputs = new Map<string, HTMLInputElement>();
  private _lines!: HTMLTextAreaElement;
  private _throttle!: HTMLInputElement;
  private _parametersAs!: HTMLSelectElement;
  private _waitJob!: HTMLSelectElement;
  private _waitIds!: HTMLInputElement;
  private _when!: HTMLSelectElement;
}

function waitLabel(trans: TranslationBundle, job: IJob): string {
  return trans.__('%1 (%2, %3)', job.name, job.id.slice(0, 8), job.status);
}

function errorNode(field: string): HTMLElement {
  return h('div', {
    class: 'jp-JobsDialog-error',
    'data-field': field,
    role: 'alert',
    hidden: true
  });
}

function selectBox(select: HTMLSelectElement): HTMLElement {
  const box = h('div', { class: 'jp-HTMLSelect jp-DefaultStyle jp-JobsDialog-field' }, select);
  box.appendChild(
    caretDownEmptyIcon.element({ tag: 'span', stylesheet: 'select', right: '4px', top: '4px' })
  );
  return box;
}
