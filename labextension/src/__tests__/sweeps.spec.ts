import { nullTranslator } from '@jupyterlab/translation';

import { RunJobForm } from '../dialog';
import { JobsAPIError } from '../handler';
import { linearScale, niceTicks, ResultsChart, xScale } from '../results-chart';
import {
  columnRoles,
  compareCells,
  formatCell,
  sortRows,
  sweepCountsText,
  toCSV
} from '../results-view';
import { countRuns, GridTextError, parseGridLines, parseValues, SweepTab } from '../sweep-tab';
import { makeJob } from './fake-server';

const trans = nullTranslator.load('jupyter_jobs');

describe('grid text', () => {
  it('reads lists of numbers, text, booleans', () => {
    expect(parseValues('0.1, 0.5, 1')).toEqual([0.1, 0.5, 1]);
    expect(parseValues(' \'a,b\', "c", plain ')).toEqual(['a,b', 'c', 'plain']);
    expect(parseValues('True, false')).toEqual([true, false]);
    expect(parseValues('1e-3, -2')).toEqual([0.001, -2]);
    expect(parseValues('42')).toEqual([42]);
  });

  it('reads ranges with the end left out, as Python', () => {
    expect(parseValues('0:3')).toEqual([0, 1, 2, 3]); // both ends, as --grid and sbatch --array
    expect(parseValues('2:10:3')).toEqual([2, 5, 8]);
    expect(parseValues('0:1:0.25')).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(parseValues('3:3')).toEqual([3]);
    expect(parseValues('0.1:0.4:0.1')).toEqual([0.1, 0.2, 0.3, 0.4]);
  });

  it('says what is wrong in words', () => {
    expect(() => parseValues('')).toThrow('give at least one value');
    expect(() => parseValues('1,,2')).toThrow('empty');
    expect(() => parseValues('3:2')).toThrow(/no values/);
    expect(() => parseValues('0:5:0')).toThrow(/step/);
    expect(() => parseValues('1, 1')).toThrow('1 is given twice');
    expect(() => parseValues("'a")).toThrow(/quote/);
    expect(() => parseValues('0:1000000')).toThrow(/at most/);
    expect(() => parseValues('')).toThrow(GridTextError);
  });

  it('counts runs as the product of the value counts', () => {
    expect(countRuns({})).toBe(0);
    expect(countRuns({ a: [1, 2, 3] })).toBe(3);
    expect(countRuns({ a: [1, 2, 3], b: [0, 1, 2, 3] })).toBe(12);
  });

  it('reads a script box, one parameter a line', () => {
    expect(parseGridLines('alpha = 0.1, 0.5\n\n# note\nseed=0:3')).toEqual([
      ['alpha', '0.1, 0.5'],
      ['seed', '0:3']
    ]);
    expect(() => parseGridLines('alpha 0.1')).toThrow('line 1: write name = values');
    expect(() => parseGridLines('a=1\na=2')).toThrow('line 2: a is given twice');
  });
});

function backends(): any {
  return {
    default_backend: 'local',
    backends: [{ name: 'local', available: true, profiles: [{ name: 'default', resources: {} }] }]
  };
}

describe('SweepTab', () => {
  const parameters = [
    { name: 'lr', text: '0.1' },
    { name: 'seed', text: '0' },
    { name: 'data', text: '"x.csv"' }
  ];
  function make(path = 'train.ipynb', jobs: any[] = []) {
    const form = new RunJobForm({ path, backends: backends(), parameters });
    const model = { jobs } as any;
    const tab = new SweepTab({
      form,
      parameters: path.endsWith('.ipynb') ? parameters : [],
      model
    });
    document.body.appendChild(form.node);
    return { form, tab };
  }
  const input = (form: RunJobForm, sel: string) => form.node.querySelector(sel) as HTMLInputElement;
  const type = (el: HTMLInputElement | HTMLTextAreaElement, value: string) => {
    el.value = value;
    el.dispatchEvent(new Event('input'));
  };

  afterEach(() => {
    document.body.textContent = '';
  });

  it('sends only the swept parameters, the throttle, and shows N as typed', () => {
    const { form, tab } = make();
    const toggle = input(form, 'input[name="sweep"]');
    toggle.checked = true;
    toggle.dispatchEvent(new Event('change'));
    const count = form.node.querySelector('.jp-JobsSweep-count') as HTMLElement;
    expect(count.dataset.runs).toBe('0');
    type(input(form, 'input[name="grid.lr"]'), '0.1, 0.5, 1');
    expect(count.textContent).toBe('3 runs');
    type(input(form, 'input[name="grid.seed"]'), '0:3');
    expect(count.textContent).toBe('12 runs');
    type(input(form, 'input[name="throttle"]'), '2');
    const request = tab.apply(form.getValue()) as any;
    expect(request.grid).toEqual({ lr: [0.1, 0.5, 1], seed: [0, 1, 2, 3] });
    expect(request.throttle).toBe(2);
    expect(request.parameters_as).toBeUndefined();
    expect(request.after).toBeUndefined();
  });

  it('marks a bad value at its parameter, in words', () => {
    const { form, tab } = make();
    const toggle = input(form, 'input[name="sweep"]');
    toggle.checked = true;
    toggle.dispatchEvent(new Event('change'));
    type(input(form, 'input[name="grid.lr"]'), '1:0');
    const error = form.node.querySelector('[data-field="grid.lr"]') as HTMLElement;
    expect(error.hidden).toBe(false);
    expect(error.textContent).toMatch(/^lr: 1:0 has no values/);
    expect(() => tab.apply(form.getValue())).toThrow(JobsAPIError);
    type(input(form, 'input[name="grid.lr"]'), '0.1,0.2');
    type(input(form, 'input[name="throttle"]'), '0');
    let thrown: JobsAPIError | null = null;
    try {
      tab.apply(form.getValue());
    } catch (e) {
      thrown = e as JobsAPIError;
    }
    expect(thrown?.field).toBe('throttle');
    expect(thrown?.message).toMatch(/whole number of at least 1/);
  });

  it('refuses a sweep of one run with a sentence', () => {
    const { form, tab } = make();
    const toggle = input(form, 'input[name="sweep"]');
    toggle.checked = true;
    expect(() => tab.apply(form.getValue())).toThrow(/more than one value/);
  });

  it('a script: a box of lines and the parameters_as choice', () => {
    const { form, tab } = make('train.py');
    const toggle = input(form, 'input[name="sweep"]');
    toggle.checked = true;
    toggle.dispatchEvent(new Event('change'));
    type(
      form.node.querySelector('textarea[name="grid"]') as HTMLTextAreaElement,
      'a = 1,2\nb = x, y'
    );
    expect((form.node.querySelector('.jp-JobsSweep-count') as HTMLElement).textContent).toBe(
      '4 runs'
    );
    (form.node.querySelector('select[name="parameters_as"]') as HTMLSelectElement).value = 'env';
    const request = tab.apply(form.getValue()) as any;
    expect(request.grid).toEqual({ a: [1, 2], b: ['x', 'y'] });
    expect(request.parameters_as).toBe('env');
  });

  it('wait for: a picked job and typed ids with when', () => {
    const job = makeJob({ id: 'aaaaaaaa1111', name: 'train' });
    const { form, tab } = make('eval.py', [job]);
    const pick = form.node.querySelector('select[name="after"]') as HTMLSelectElement;
    const when = form.node.querySelector('select[name="when"]') as HTMLSelectElement;
    expect(when.disabled).toBe(true);
    pick.value = job.id;
    pick.dispatchEvent(new Event('change'));
    expect(when.disabled).toBe(false);
    type(input(form, 'input[name="after_ids"]'), 'bbbb, aaaaaaaa1111');
    when.value = 'any';
    const request = tab.apply(form.getValue()) as any;
    expect(request.after).toEqual(['aaaaaaaa1111', 'bbbb']);
    expect(request.when).toBe('any');
    expect(request.grid).toBeUndefined();
  });
});

describe('results table', () => {
  const table = {
    columns: ['index', 'id', 'status', 'duration_seconds', 'lr', 'tag', 'accuracy'],
    rows: [
      [0, 'a1', 'completed', 1.5, 10, 'b', 0.5],
      [1, 'a2', 'completed', 2, 9, 'a10', null],
      [2, 'a3', 'failed', null, 100, 'a9', 0.9]
    ]
  };

  it('sorts numbers numerically, text naturally, nulls last both ways', () => {
    expect(sortRows(table.rows, 4).map(r => r[4])).toEqual([9, 10, 100]);
    expect(sortRows(table.rows, 4, true).map(r => r[4])).toEqual([100, 10, 9]);
    expect(sortRows(table.rows, 5).map(r => r[5])).toEqual(['a9', 'a10', 'b']);
    expect(sortRows(table.rows, 6).map(r => r[6])).toEqual([0.5, 0.9, null]);
    expect(sortRows(table.rows, 6, true).map(r => r[6])).toEqual([0.9, 0.5, null]);
    expect(compareCells(2, 'x')).toBeLessThan(0);
  });

  it('writes RFC 4180 CSV', () => {
    const csv = toCSV({
      columns: ['id', 'note', 'ok', 'x'],
      rows: [
        ['a', 'say "hi", twice', true, null],
        ['b', 'two\nlines', false, 0.25]
      ]
    });
    expect(csv).toBe(
      'id,note,ok,x\r\na,"say ""hi"", twice",true,\r\nb,"two\nlines",false,0.25\r\n'
    );
  });

  it('tells parameters from recorded values', () => {
    expect(columnRoles(table, ['lr', 'tag'])).toEqual({ parameters: [4, 5], values: [6] });
    const clash = { columns: ['id', 'parameter.x', 'result.x'], rows: [] };
    expect(columnRoles(clash, ['x'])).toEqual({ parameters: [1], values: [2] });
  });

  it('formats cells', () => {
    expect(formatCell(null, 'x')).toBe('—');
    expect(formatCell('0123456789ab', 'id')).toBe('01234567');
    expect(formatCell(1 / 3, 'x')).toBe('0.333333');
    expect(formatCell(12, 'x')).toBe('12');
  });

  it('counts a sweep’s runs in words', () => {
    const job = makeJob({
      kind: 'sweep',
      status: 'running',
      children: Array.from({ length: 12 }, (_, i) => `c${i}`),
      child_counts: { running: 2, completed: 5, queued: 4, failed: 1 }
    });
    expect(sweepCountsText(trans, job)).toBe('12 runs · 2 running · 4 waiting · 5 done · 1 failed');
  });
});

describe('results chart', () => {
  it('makes nice ticks that cover the data', () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.12, 0.93, 4)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const same = niceTicks(5, 5);
    expect(same[0]).toBeLessThan(5);
    expect(same[same.length - 1]).toBeGreaterThan(5);
  });

  it('maps values linearly and categories evenly', () => {
    const s = linearScale(0, 10, 100, 200);
    expect(s(0)).toBe(100);
    expect(s(5)).toBe(150);
    const y = linearScale(0, 1, 200, 0); // up is smaller
    expect(y(1)).toBe(0);
    const numbers = xScale([0.1, 0.5, 1], 0, 100);
    expect(numbers.at(0)).toBe(0);
    expect(numbers.at(1)).toBe(100);
    const cats = xScale(['a', 'b', 'a'], 0, 100);
    expect(cats.ticks.map(t => t.value)).toEqual(['a', 'b']);
    expect(cats.at('a')).toBe(25);
    expect(cats.at('b')).toBe(75);
  });

  it('draws one point per run with its values on hover', () => {
    const chart = new ResultsChart();
    chart.setData(
      [
        { x: 0.1, y: 0.5, label: 'a1' },
        { x: 0.5, y: 0.7 },
        { x: 1, y: 0.9 }
      ],
      'lr',
      'accuracy'
    );
    expect(chart.pointCount).toBe(3);
    expect(chart.node.querySelector('circle title')?.textContent).toBe(
      'lr = 0.1, accuracy = 0.5 (a1)'
    );
    chart.setData([], 'lr', 'accuracy');
    expect(chart.pointCount).toBe(0);
    expect(chart.node.textContent).toMatch(/No run has recorded accuracy/);
  });
});
