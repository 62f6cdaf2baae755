import { framePromise } from '@jupyterlab/testing';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { AccordionPanel } from '@lumino/widgets';

import { JobRow } from '../job-row';
import {
  backendLabel,
  backendNamesChanged,
  engineIdLabel,
  expectedStart,
  expectedStartText,
  rememberBackends
} from '../labels';
import { runningItems, runningTitle } from '../sessions/running';
import {
  IRemoteSession,
  KERNELSPECS_SCHEMA_ID,
  RemoteSessionsModel,
  ticking
} from '../sessions/sessions-model';
import {
  RemoteSessionsPanel,
  SessionAction,
  emptyText,
  notebookText,
  stateText
} from '../sessions/sessions-panel';
import { EVENT_SCHEMA_ID, JobStatus } from '../tokens';
import { FakeJobsServer, makeJob } from './fake-server';

const trans = nullTranslator.load('jupyter_jobs');

/** The fake jobs server, answering `GET sessions` too (or an error). */
class FakeSessionsServer extends FakeJobsServer {
  sessions: IRemoteSession[] = [];
  sessionsError: string | null = null;

  async fetch(input: RequestInfo, init?: RequestInit): Promise<Response> {
    const url = new URL((input as any).url);
    if (url.pathname === '/jupyter-jobs/api/remote-sessions') {
      this.requests.push({
        method: 'GET',
        path: 'remote-sessions',
        query: url.searchParams,
        body: null
      });
      if (this.sessionsError) {
        return new Response(JSON.stringify({ message: this.sessionsError }), {
          status: 503
        });
      }
      return new Response(JSON.stringify({ sessions: this.sessions }), {
        status: 200,
        headers: { 'Content-Type': 'application/json' }
      });
    }
    return super.fetch(input, init);
  }
}

function session(extra: Partial<IRemoteSession> = {}, job: any = {}): IRemoteSession {
  return {
    kernel_id: 'k1',
    kernel_name: 'jupyter-jobs-slurm-gpu',
    execution_state: 'idle',
    session_id: 's1',
    path: 'work/analysis.ipynb',
    notebook_name: 'analysis.ipynb',
    elapsed: 65,
    time_left: 3 * 3600 + 58 * 60 + 30,
    job: makeJob({
      id: 'j1',
      kind: 'kernel',
      backend: 'slurm',
      profile: 'gpu',
      status: 'running',
      backend_ref: '4242',
      host: 'node07',
      ...job
    }),
    ...extra
  };
}

async function mounted(server: FakeSessionsServer) {
  const model = new RemoteSessionsModel({
    settings: server.settings(),
    queuedInterval: 0
  });
  const actions: [SessionAction, string][] = [];
  const panel = new RemoteSessionsPanel({
    model,
    onAction: (a, s) => actions.push([a, s.kernel_id]),
    tick: 0
  });
  Widget.attach(panel, document.body);
  await model.refresh();
  await framePromise();
  return { model, panel, actions };
}

describe('RemoteSessionsPanel', () => {
  it('shows each remote kernel with notebook, backend/profile, job, node, state and times', async () => {
    const server = new FakeSessionsServer();
    server.sessions = [session()];
    const { panel } = await mounted(server);
    const row = panel.node.querySelector('[data-kernel-id="k1"]')!;
    const field = (name: string) => row.querySelector(`[data-field="${name}"]`)!.textContent;
    expect(row.querySelector('.jp-JobsSessions-notebook')!.textContent).toBe('analysis.ipynb');
    expect(field('backend')).toBe('slurm · gpu'); // display names once GET backends answered
    expect(field('job')).toBe('SLURM job 4242');
    expect(field('host')).toBe('on node07');
    expect(field('state')).toBe('idle');
    expect(field('elapsed')).toMatch(/^elapsed 1:0[5-9]$/);
    expect(field('time-left')).toMatch(/^left 3:58:[0-3]\d$/);
    panel.dispose();
  });

  it('shows the queue reason while the kernel job waits, and interrupt is off', async () => {
    const server = new FakeSessionsServer();
    server.sessions = [
      session(
        { execution_state: 'starting', elapsed: null, time_left: null },
        { status: 'queued', reason: 'Resources', host: null }
      )
    ];
    const { panel } = await mounted(server);
    const row = panel.node.querySelector('[data-kernel-id="k1"]')!;
    expect(row.querySelector('[data-field="state"]')!.textContent).toBe('queued: Resources');
    expect(row.querySelector('[data-field="expected-start"]')!.textContent).toBe(
      'expected start unknown'
    );
    expect(row.querySelector('[data-field="time-left"]')).toBeNull();
    const interrupt = row.querySelector('[data-action="interrupt"]') as HTMLButtonElement;
    expect(interrupt.disabled).toBe(true);
    panel.dispose();
  });

  it('sends open, interrupt and shut down for the clicked session', async () => {
    const server = new FakeSessionsServer();
    server.sessions = [session(), session({ kernel_id: 'k2', path: 'b.ipynb' })];
    const { panel, actions } = await mounted(server);
    const click = (kid: string, action: string) =>
      (
        panel.node.querySelector(
          `[data-kernel-id="${kid}"] [data-action="${action}"]`
        ) as HTMLButtonElement
      ).click();
    click('k2', 'open');
    click('k1', 'interrupt');
    click('k2', 'shutdown');
    expect(actions).toEqual([
      ['open', 'k2'],
      ['interrupt', 'k1'],
      ['shutdown', 'k2']
    ]);
    panel.dispose();
  });

  it('is hidden without remote kernels, and shows a server error or a kernel', async () => {
    const server = new FakeSessionsServer();
    const { panel, model } = await mounted(server);
    expect(panel.isHidden).toBe(true);
    server.sessionsError = 'slurm unreachable';
    await model.refresh();
    await framePromise();
    expect(panel.isHidden).toBe(false);
    expect(panel.node.querySelector('.jp-JobsSessions-error')!.textContent).toBe(
      'slurm unreachable'
    );
    server.sessionsError = null;
    server.sessions = [session()];
    await model.refresh();
    await framePromise();
    expect(panel.isHidden).toBe(false);
    expect(panel.node.querySelector('[data-kernel-id="k1"]')).not.toBeNull();
    server.sessions = [];
    await model.refresh();
    await framePromise();
    expect(panel.isHidden).toBe(true);
    panel.dispose();
  });
});

describe('remote session helpers', () => {
  it('counts elapsed up and time left down from the fetch, never below zero', () => {
    const s = session({ elapsed: 10, time_left: 5 });
    expect(ticking(s, 1000, 4000)).toEqual({ elapsed: 13, timeLeft: 2 });
    expect(ticking(s, 1000, 60000).timeLeft).toBe(0);
  });

  it('does not say "queued" twice when the reason already says it waits', () => {
    const queued = session({}, { status: 'queued', reason: 'waiting for resources (Resources)' });
    expect(stateText(trans, queued)).toBe('waiting for resources (Resources)');
  });

  it('says starting while a running job has not brought its kernel up', () => {
    expect(stateText(trans, session({ execution_state: 'starting' }))).toBe('starting');
  });
});

describe('RemoteSessionsModel follows events, not a timer', () => {
  const kernelJobEvent = (id: string, status: JobStatus = 'running') => ({
    schema_id: EVENT_SCHEMA_ID,
    job_id: id,
    job: makeJob({ id, kind: 'kernel', status })
  });

  it('fetches once at start and again only for remote-kernel news', async () => {
    const server = new FakeSessionsServer();
    const model = new RemoteSessionsModel({ settings: server.settings() });
    await model.start();
    const fetches = () => server.count('GET', 'remote-sessions');
    expect(fetches()).toBe(1);
    expect(model.refreshesWhileQueued).toBe(false);

    // a script's job, a local kernel: nothing to fetch
    model.handleEvent({ schema_id: EVENT_SCHEMA_ID, job_id: 'x', job: makeJob({ id: 'x' }) });
    model.handleKernelsChanged([{ id: 'py', name: 'python3', execution_state: 'idle' }]);
    model.handleSessionsChanged([{ id: 's', kernel: { id: 'py', name: 'python3' } }]);
    await model.refresh();
    expect(fetches()).toBe(2); // the explicit refresh only

    model.handleEvent(kernelJobEvent('j9', 'queued'));
    await model.refresh();
    expect(fetches()).toBeGreaterThanOrEqual(3);
    const before = fetches();
    model.handleEvent({ schema_id: KERNELSPECS_SCHEMA_ID });
    await model.refresh();
    expect(fetches()).toBeGreaterThan(before);
    expect(server.count('GET', 'backends')).toBeGreaterThanOrEqual(2);
    model.dispose();
  });

  it('takes on a kernel’s busy/idle from JupyterLab without asking the server', async () => {
    const server = new FakeSessionsServer();
    server.sessions = [session()];
    const model = new RemoteSessionsModel({ settings: server.settings() });
    await model.refresh();
    const k = { id: 'k1', name: 'jupyter-jobs-slurm-gpu', execution_state: 'idle' };
    model.handleKernelsChanged([k]); // a remote kernel appeared in JupyterLab's list: fetch
    await model.refresh();
    const fetches = server.count('GET', 'remote-sessions');
    model.handleKernelsChanged([{ ...k, execution_state: 'busy' }]);
    expect(model.sessions[0].execution_state).toBe('busy');
    expect(server.count('GET', 'remote-sessions')).toBe(fetches);
    model.handleKernelsChanged([]); // it went: fetch
    await model.refresh();
    expect(server.count('GET', 'remote-sessions')).toBeGreaterThan(fetches);
    model.dispose();
  });

  it('refreshes slowly only while a kernel job waits in the queue', async () => {
    const server = new FakeSessionsServer();
    const model = new RemoteSessionsModel({ settings: server.settings() });
    server.sessions = [session({}, { status: 'queued' })];
    await model.refresh();
    expect(model.refreshesWhileQueued).toBe(true);
    server.sessions = [session()];
    await model.refresh();
    expect(model.refreshesWhileQueued).toBe(false);
    model.dispose();
  });

  it('answers refreshes asked during a fetch with one more fetch, not one each', async () => {
    const server = new FakeSessionsServer();
    const model = new RemoteSessionsModel({ settings: server.settings() });
    const first = model.refresh();
    void model.refresh();
    void model.refresh();
    await first;
    await model.refresh();
    expect(server.count('GET', 'remote-sessions')).toBe(3); // the first, the one after, the last
    model.dispose();
  });
});

describe('what the Remote sessions section says', () => {
  it('names the notebook of a queued kernel and opens it from the row', async () => {
    const server = new FakeSessionsServer();
    server.sessions = [
      session(
        { session_id: null, path: 'work/queued.ipynb', notebook_name: 'queued.ipynb' },
        { status: 'queued', reason: 'waiting for resources (Resources)' }
      )
    ];
    const { panel, actions } = await mounted(server);
    const row = panel.node.querySelector('[data-kernel-id="k1"]') as HTMLElement;
    expect(row.querySelector('[data-field="notebook"]')!.textContent).toBe('queued.ipynb');
    row.click();
    expect(actions).toEqual([['open', 'k1']]);
    panel.dispose();
  });

  it('says what a session without a notebook is', () => {
    expect(notebookText(trans, session({ path: null, notebook_name: null }))).toBe(
      'kernel without a notebook'
    );
    expect(notebookText(trans, session({ path: null, notebook_name: 'x.ipynb' }))).toBe('x.ipynb');
  });

  it('says what is missing when no remote kernel is offered', () => {
    const slurm = {
      name: 'slurm',
      display_name: 'SLURM',
      available: true,
      reason: null,
      supports_kernels: true,
      profiles: [{ name: 'default', kernels: true }]
    };
    const local = { ...slurm, name: 'local', display_name: 'Local', supports_kernels: false };
    expect(emptyText(trans, [local as any], []).text).toBe(
      'No remote kernels are offered: this server has no backend that runs kernels (SLURM or Kubernetes).'
    );
    rememberBackends([slurm as any]);
    expect(
      emptyText(trans, [{ ...slurm, profiles: [{ name: 'default', kernels: false }] } as any], [])
        .text
    ).toBe(
      'No remote kernels are offered: no profile of SLURM runs kernels (an administrator enables them per profile).'
    );
    const down = emptyText(
      trans,
      [
        {
          ...slurm,
          available: false,
          reason: 'cannot reach the SLURM controller',
          detail: 'scontrol: fatal'
        } as any
      ],
      []
    );
    expect(down.text).toBe(
      'No remote kernels are offered: SLURM: cannot reach the SLURM controller.'
    );
    expect(down.detail).toBe('scontrol: fatal');
    expect(emptyText(trans, [slurm as any], ['Python 3 — SLURM']).text).toBe(
      'No remote kernels running. Start one from the Launcher: Python 3 — SLURM.'
    );
  });

  it('shows the reason in the open section when the backends say why', async () => {
    const server = new FakeSessionsServer(); // its SLURM is unavailable: 'sbatch not found'
    const model = new RemoteSessionsModel({ settings: server.settings(), queuedInterval: 0 });
    const panel = new RemoteSessionsPanel({ model, onAction: () => undefined, tick: 0 });
    Widget.attach(panel, document.body);
    await model.start();
    panel.show();
    await framePromise();
    expect(panel.node.querySelector('.jp-JobsSessions-empty')!.textContent).toBe(
      'No remote kernels are offered: no profile of SLURM runs kernels (an administrator enables them per profile).'
    );
    panel.dispose();
  });

  it('opens through the accordion, so the title caret follows', async () => {
    const server = new FakeSessionsServer();
    const model = new RemoteSessionsModel({ settings: server.settings(), queuedInterval: 0 });
    const accordion = new AccordionPanel();
    const panel = new RemoteSessionsPanel({ model, onAction: () => undefined, tick: 0 });
    accordion.addWidget(new Widget());
    accordion.addWidget(panel);
    Widget.attach(accordion, document.body);
    await model.refresh();
    expect(panel.isHidden).toBe(true);
    expect(accordion.titles[1].getAttribute('aria-expanded')).toBe('false');
    server.sessions = [session()];
    await model.refresh();
    expect(panel.isHidden).toBe(false);
    expect(accordion.titles[1].getAttribute('aria-expanded')).toBe('true');
    accordion.dispose();
  });
});

describe('labels shared by rows, dialog, sessions and the Running panel', () => {
  it('labels a backend and profile by their display names once known', () => {
    expect(backendLabel('kubernetes', 'gpu')).toBe('kubernetes · gpu');
    rememberBackends({
      backends: [
        {
          name: 'kubernetes',
          display_name: 'Kubernetes',
          available: true,
          profiles: [{ name: 'gpu', display_name: 'One GPU' }]
        } as any
      ]
    });
    expect(backendLabel('kubernetes', 'gpu')).toBe('Kubernetes · One GPU');
    expect(backendLabel('kubernetes', 'other')).toBe('Kubernetes · other');
    expect(backendLabel('kubernetes', null)).toBe('Kubernetes');
  });

  it('says when display names change, so job rows redraw with them', () => {
    let emitted = 0;
    const count = () => emitted++;
    backendNamesChanged.connect(count);
    const reply = [{ name: 'slurm', display_name: 'SLURM', profiles: [] } as any];
    const row = new JobRow(trans);
    const job = makeJob({ backend: 'slurm', profile: 'short' });
    rememberBackends(reply);
    row.update(job);
    expect(row.node.querySelector('.jp-JobsRow-where')!.textContent).toBe('SLURM · short');
    const before = emitted;
    rememberBackends(reply); // nothing new
    expect(emitted).toBe(before);
    rememberBackends([{ ...reply[0], profiles: [{ name: 'short', display_name: 'Short queue' }] }]);
    expect(emitted).toBe(before + 1);
    row.update(job); // the same job, redrawn
    expect(row.node.querySelector('.jp-JobsRow-where')!.textContent).toBe('SLURM · Short queue');
    backendNamesChanged.disconnect(count);
  });

  it('calls the engine id what the engine calls it', () => {
    expect(engineIdLabel(trans, 'slurm')).toBe('SLURM job');
    expect(engineIdLabel(trans, 'kubernetes')).toBe('Pod');
    expect(engineIdLabel(trans, 'local')).toBe('Process');
  });

  it('says "unknown" for no estimate and for SLURM’s year-ahead one', () => {
    const now = Date.parse('2026-12-02T10:00:00Z');
    const inTwoHours = new Date(now + 2 * 3600 * 1000).toISOString();
    expect(expectedStart({ expected_start: inTwoHours }, now)!.getTime()).toBe(
      now + 2 * 3600 * 1000
    );
    const yearAhead = new Date(now + 365 * 86400 * 1000).toISOString();
    expect(expectedStart({ expected_start: yearAhead }, now)).toBeNull();
    expect(expectedStart({ expected_start: 'Unknown' }, now)).toBeNull();
    expect(expectedStart({ expected_start: null }, now)).toBeNull();
    expect(expectedStartText(trans, { expected_start: yearAhead }, now)).toBe('unknown');
    expect(expectedStartText(trans, { expected_start: inTwoHours }, now)).not.toBe('unknown');
    expect(expectedStartText(trans, { expected_start: '2026-12-02T09:00:00Z' }, now)).toBe(
      'any moment'
    );
  });
});

describe('remote kernels in the Running panel', () => {
  it('lists each remote kernel with its notebook, opens it and shuts it down', async () => {
    const server = new FakeSessionsServer();
    server.sessions = [
      session(),
      session(
        { kernel_id: 'k2', path: null, notebook_name: null, session_id: null },
        { id: 'j2', status: 'queued', reason: 'waiting for resources (Resources)' }
      )
    ];
    const model = new RemoteSessionsModel({ settings: server.settings(), queuedInterval: 0 });
    await model.refresh();
    const opened: string[] = [];
    const shut: string[] = [];
    const items = runningItems({
      model,
      trans,
      open: s => opened.push(s.kernel_id),
      shutdown: async s => {
        shut.push(s.kernel_id);
      }
    });
    expect(items.map(i => i.label())).toEqual(['analysis.ipynb', 'kernel without a notebook']);
    expect(items[0].detail!()).toBe('SLURM job 4242');
    expect(items[1].detail!()).toBe('queued');
    expect(items[1].labelTitle!()).toContain('waiting for resources (Resources)');
    expect(items[1].open).toBeUndefined();
    items[0].open!();
    items[1].shutdown!();
    expect(opened).toEqual(['k1']);
    expect(shut).toEqual(['k2']);
    expect(runningTitle(trans, model.sessions[0])).toContain('SLURM job 4242 · on node07');
    model.dispose();
  });
});
