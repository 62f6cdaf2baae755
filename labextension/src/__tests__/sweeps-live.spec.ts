import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { framePromise } from '@jupyterlab/testing';
import { Widget } from '@lumino/widgets';

import { JobsClient } from '../api';
import { JobsList } from '../jobs-list';
import { ResultsView } from '../results-view';
import { IJob } from '../tokens';
import { FakeJobsServer, makeJob } from './fake-server';

const trans = nullTranslator.load('jupyter_jobs');

/** The fake server with a sweep's runs (`GET jobs?sweep=`) and results. */
class SweepServer extends FakeJobsServer {
  children: IJob[] = [];
  table = {
    columns: ['index', 'id', 'status', 'lr', 'acc'],
    rows: [[0, 'c0', 'running', 0.1, null]]
  };

  async fetch(input: RequestInfo, init?: RequestInit): Promise<Response> {
    const url = new URL((input as unknown as { url: string }).url);
    const path = url.pathname.replace(/^\/jupyter-jobs\/api\//, '');
    const json = (data: unknown) =>
      new Response(JSON.stringify(data), {
        status: 200,
        headers: { 'Content-Type': 'application/json' }
      });
    if (path === 'jobs' && url.searchParams.get('sweep')) {
      this.requests.push({
        method: 'GET',
        path: 'jobs?sweep',
        query: url.searchParams,
        body: null
      });
      const sweep = url.searchParams.get('sweep');
      return json({ jobs: this.children.filter(c => c.sweep_id === sweep), next_cursor: null });
    }
    if (/^jobs\/[^/]+\/results$/.test(path)) {
      this.requests.push({ method: 'GET', path: 'results', query: url.searchParams, body: null });
      return json(this.table);
    }
    return super.fetch(input, init);
  }
}

function fakeModel(server: SweepServer) {
  const owner = {};
  const jobChanged = new Signal<object, IJob>(owner);
  return {
    model: { client: new JobsClient(server.settings()), jobChanged, jobs: server.jobs } as any,
    emit: (job: IJob) => jobChanged.emit(job)
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) {
      return;
    }
    await new Promise(r => setTimeout(r, 20));
  }
  throw new Error(`never: ${what}`);
}

describe('a sweep in the Jobs list', () => {
  it('expands to its runs and keeps them live from job events', async () => {
    const server = new SweepServer();
    const sweep = makeJob({
      id: 'sw1',
      kind: 'sweep',
      name: 'train',
      status: 'running',
      children: ['c0', 'c1'],
      child_counts: { running: 1, queued: 1 }
    });
    const other = makeJob({ id: 'other', name: 'other' });
    server.jobs = [sweep, other];
    server.children = [
      makeJob({ id: 'c1', sweep_id: 'sw1', index: 1, name: 'train [1] lr=0.5', status: 'queued' }),
      makeJob({ id: 'c0', sweep_id: 'sw1', index: 0, name: 'train [0] lr=0.1', status: 'running' })
    ];
    const { model, emit } = fakeModel(server);
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '', model });
    Widget.attach(list, document.body);
    list.setJobs([sweep, other]);
    await framePromise();
    list.render();
    await framePromise();
    const row = (id: string) =>
      list.node.querySelector(`.jp-JobsRow[data-id="${id}"]`) as HTMLElement | null;
    expect(row('sw1')?.textContent).toContain('2 runs · 1 running · 1 waiting');
    expect(row('sw1')?.querySelector('[data-action="expand"]')?.hasAttribute('hidden')).toBe(false);
    expect(list.itemCount).toBe(2);

    // a click on the sweep's row expands it (no log action)
    row('sw1')!.querySelector<HTMLElement>('.jp-JobsRow-name')!.click();
    await until(() => list.itemCount === 4, 'the runs listed');
    await framePromise();
    list.render();
    await framePromise();
    expect(list.renderedJobs.map(j => j.id)).toEqual(['sw1', 'c0', 'c1', 'other']);
    expect(row('c0')?.classList.contains('jp-JobsRow-child')).toBe(true);
    expect(row('sw1')?.getAttribute('class')).toContain('jp-mod-expanded');

    // a run's event updates its row; another job's changes nothing here
    emit({ ...server.children.find(c => c.id === 'c1')!, status: 'completed' });
    await framePromise();
    list.render();
    await framePromise();
    expect(row('c1')?.dataset.status).toBe('completed');
    emit(makeJob({ id: 'elsewhere', sweep_id: 'sw9' }));
    expect(list.itemCount).toBe(4);

    // collapse
    row('sw1')!.querySelector<HTMLElement>('[data-action="expand"]')!.click();
    await until(() => list.itemCount === 2, 'collapsed');
    expect(server.requests.filter(r => r.path === 'jobs?sweep')).toHaveLength(1);
    list.dispose();
  });

  it('marks a job that waits for others', async () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '' });
    Widget.attach(list, document.body);
    const waiting = makeJob({
      id: 'w',
      status: 'queued',
      after: ['1a2b3c4d5e6f'],
      when: 'ok',
      reason: 'waiting for train (1a2b3c4d)'
    });
    list.setJobs([waiting, makeJob({ id: 'free' })]);
    await framePromise();
    list.render();
    await framePromise();
    const chain = list.node.querySelector(
      '.jp-JobsRow[data-id="w"] .jp-JobsRow-chain'
    ) as HTMLElement;
    expect(chain.hidden).toBe(false);
    expect(chain.title).toBe('Starts when 1a2b3c4d completed');
    expect(list.node.querySelector('.jp-JobsRow[data-id="w"]')?.textContent).toContain(
      'waiting for train (1a2b3c4d)'
    );
    expect(
      (list.node.querySelector('.jp-JobsRow[data-id="free"] .jp-JobsRow-chain') as HTMLElement)
        .hidden
    ).toBe(true);
    list.dispose();
  });
});

describe('the results view', () => {
  it('shows the table, refreshes once for a burst of its runs’ events, not for others', async () => {
    const server = new SweepServer();
    const sweep = makeJob({
      id: 'sw1',
      kind: 'sweep',
      name: 'train',
      status: 'running',
      parameter_sets: [{ lr: 0.1 }, { lr: 0.5 }]
    });
    server.jobs = [sweep];
    const { model, emit } = fakeModel(server);
    const view = new ResultsView({ jobId: 'sw1', model });
    Widget.attach(view, document.body);
    await view.refresh();
    expect(view.node.querySelectorAll('tbody tr')).toHaveLength(1);
    expect(view.node.querySelector('select[name="x"]')?.textContent).toBe('lr');
    expect(view.node.querySelector('select[name="y"]')?.textContent).toBe('acc');

    server.table = {
      ...server.table,
      rows: [
        [0, 'c0', 'completed', 0.1, 0.7],
        [1, 'c1', 'completed', 0.5, 0.9]
      ]
    };
    const asked = () => server.requests.filter(r => r.path === 'results').length;
    expect(asked()).toBe(1);
    emit(makeJob({ id: 'unrelated' }));
    emit(makeJob({ id: 'c0', sweep_id: 'sw1', status: 'completed' }));
    emit(makeJob({ id: 'c1', sweep_id: 'sw1', status: 'completed' }));
    await until(() => view.node.querySelectorAll('tbody tr').length === 2, 'refreshed');
    expect(asked()).toBe(2);
    expect(view.node.querySelectorAll('.jp-JobsResultsChart-point')).toHaveLength(2);
    // header click sorts; the CSV follows the order shown
    (view.node.querySelector('th[data-column="4"]') as HTMLElement).click();
    (view.node.querySelector('th[data-column="4"]') as HTMLElement).click();
    expect(view.shownRows.map(r => r[4])).toEqual([0.9, 0.7]);
    expect(view.csv().split('\r\n')[1]).toBe('1,c1,completed,0.5,0.9');
    view.dispose();
  });
});
