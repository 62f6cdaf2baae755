import { framePromise } from '@jupyterlab/testing';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  IRemoteSession,
  RemoteSessionsModel,
  formatSpan,
  ticking
} from '../sessions/sessions-model';
import { RemoteSessionsPanel, SessionAction, stateText } from '../sessions/sessions-panel';
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
    interval: 0
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
    expect(field('backend')).toBe('slurm/gpu');
    expect(field('job')).toBe('job 4242');
    expect(field('host')).toBe('on node07');
    expect(field('state')).toBe('idle');
    expect(field('elapsed')).toBe('elapsed 1m 5s');
    expect(field('time-left')).toBe('left 3h 58m');
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
    expect(row.querySelector('[data-field="time-left"]')!.textContent).toBe('left –');
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

  it('formats spans for a narrow sidebar', () => {
    expect(formatSpan(null)).toBe('–');
    expect(formatSpan(40)).toBe('40s');
    expect(formatSpan(3600 * 4)).toBe('4h 0m');
  });

  it('does not say "queued" twice when the reason already says it waits', () => {
    const queued = session({}, { status: 'queued', reason: 'waiting for resources (Resources)' });
    expect(stateText(trans, queued)).toBe('waiting for resources (Resources)');
  });

  it('says starting while a running job has not brought its kernel up', () => {
    expect(stateText(trans, session({ execution_state: 'starting' }))).toBe('starting');
  });
});
