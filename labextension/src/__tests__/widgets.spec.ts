import { framePromise } from '@jupyterlab/testing';
import { Signal, Stream } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { JobsClient } from '../api';
import { RunJobForm, SubmitDialog } from '../dialog';
import { JobsAPIError, requestAPI } from '../handler';
import { deleteQuestion } from '../job-row';
import { JobsList } from '../jobs-list';
import { JobsModel } from '../model';
import { JobsSection } from '../sidebar';
import { JobsStatusItem } from '../status-bar';
import { nullTranslator } from '@jupyterlab/translation';
import { EVENT_SCHEMA_ID, IJob } from '../tokens';
import { FakeJobsServer, makeJob } from './fake-server';

const trans = nullTranslator.load('jupyter_jobs');

function connected() {
  const c: any = { connected: true, dispose: () => undefined };
  c.connectionChanged = new Signal(c);
  return c;
}

describe('requestAPI', () => {
  it('throws a typed error with the server message and field', async () => {
    const server = new FakeJobsServer();
    server.submitError = {
      status: 400,
      body: { message: 'cpus=8 is more than 2', field: 'resources.cpus' }
    };
    const error: any = await requestAPI(
      'jobs',
      { method: 'POST', body: '{}' },
      server.settings()
    ).catch(e => e);
    expect(error).toBeInstanceOf(JobsAPIError);
    expect(error.status).toBe(400);
    expect(error.message).toBe('cpus=8 is more than 2');
    expect(error.field).toBe('resources.cpus');
  });

  it('sends a body as JSON (the server refuses other content types with 415)', async () => {
    const server = new FakeJobsServer();
    await requestAPI(
      'jobs',
      { method: 'POST', body: JSON.stringify({ path: 'a.py' }) },
      server.settings()
    );
    const [sent] = server.requests;
    expect(sent.contentType).toBe('application/json');
  });
});

describe('RunJobForm', () => {
  const server = new FakeJobsServer();
  const form = (extra: Partial<RunJobForm.IOptions> = {}) => {
    const w = new RunJobForm({
      path: 'work/train.ipynb',
      backends: server.backends as any,
      parameters: [
        { name: 'alpha', text: '0.5' },
        { name: 'label', text: "'x'" }
      ],
      ...extra
    });
    Widget.attach(w, document.body);
    return w;
  };

  it('shows unavailable backends greyed out with the reason', () => {
    const w = form();
    const slurm = w.node.querySelector('option[value="slurm"]') as HTMLOptionElement;
    expect(slurm.disabled).toBe(true);
    expect(slurm.textContent).toContain('sbatch not found');
    expect((w.node.querySelector('select[name="backend"]') as HTMLSelectElement).value).toBe(
      'local'
    );
    w.dispose();
  });

  it('offers resources with the profile defaults and limits', () => {
    const w = form();
    const cpus = w.node.querySelector('input[name="resources.cpus"]') as HTMLInputElement;
    expect(cpus.placeholder).toBe('1');
    expect(cpus.closest('label')!.textContent).toContain('max 2');
    w.dispose();
  });

  it('builds the request: name, resources, argv, env, changed parameters only', () => {
    const w = form();
    const set = (name: string, value: string) => {
      const input = w.node.querySelector(`[name="${name}"]`) as HTMLInputElement;
      input.value = value;
    };
    set('resources.cpus', '2');
    set('resources.memory', '1G');
    set('args', '--epochs 3 "a b"');
    (w.node.querySelector('[name="env"]') as HTMLTextAreaElement).value = 'SEED=1';
    set('parameters.alpha', '0.1');
    expect(w.getValue()).toEqual({
      path: 'work/train.ipynb',
      kind: 'notebook',
      name: 'train.ipynb',
      backend: 'local',
      profile: 'default',
      resources: { cpus: 2, memory: '1G' },
      args: ['--epochs', '3', 'a b'],
      env: { SEED: '1' },
      parameters: { alpha: 0.1 }
    });
    w.dispose();
  });

  it('shows a server error next to the field it names', () => {
    const w = form();
    w.showError(
      new JobsAPIError(400, 'cpus=8 is more than the profile allows (2)', 'resources.cpus')
    );
    const error = w.node.querySelector(
      '.jp-JobsDialog-error[data-field="resources.cpus"]'
    ) as HTMLElement;
    expect(error.hidden).toBe(false);
    expect(error.textContent).toContain('more than the profile allows');
    const general = w.node.querySelector('.jp-JobsDialog-error[data-field=""]') as HTMLElement;
    expect(general.hidden).toBe(true);
    w.dispose();
  });

  it('remembers backend, profile, resources and cwd, but not the name nor parameters', () => {
    const w = form({
      remembered: {
        name: 'nightly',
        profile: 'default',
        resources: { cpus: '2' },
        cwd: 'data',
        parameters: { alpha: '0.9' }
      }
    });
    const value = (name: string) =>
      (w.node.querySelector(`[name="${name}"]`) as HTMLInputElement).value;
    expect(value('name')).toBe('train.ipynb');
    expect(value('parameters.alpha')).toBe('0.5');
    expect(value('resources.cpus')).toBe('2');
    expect(value('cwd')).toBe('data');
    expect(w.getValue().parameters).toBeUndefined();
    const choices = w.getChoices();
    expect(choices.name).toBeUndefined();
    expect(choices.parameters).toBeUndefined();
    expect(choices.cwd).toBe('data');
    w.dispose();
  });

  it('marks remembered arguments "from your last run" with a Reset that clears them', () => {
    const w = form({ remembered: { args: ['-v', 'a b'] } });
    const args = w.node.querySelector('[name="args"]') as HTMLInputElement;
    const note = w.node.querySelector('.jp-JobsDialog-remembered') as HTMLElement;
    expect(args.value).toBe("-v 'a b'");
    expect(note.hidden).toBe(false);
    expect(note.textContent).toContain('from your last run');
    (note.querySelector('button') as HTMLButtonElement).click();
    expect(args.value).toBe('');
    expect(note.hidden).toBe(true);
    expect(w.getValue().args).toBeUndefined();
    w.dispose();

    const fresh = form();
    expect((fresh.node.querySelector('.jp-JobsDialog-remembered') as HTMLElement).hidden).toBe(
      true
    );
    fresh.dispose();
  });

  it('scrolls a field with a server error into view and focuses it', () => {
    const w = form();
    const scrolled: Element[] = [];
    const original = (Element.prototype as any).scrollIntoView;
    (Element.prototype as any).scrollIntoView = function (this: Element) {
      scrolled.push(this);
    };
    try {
      w.showError(new JobsAPIError(400, 'no such directory', 'cwd'));
    } finally {
      (Element.prototype as any).scrollIntoView = original;
    }
    const cwd = w.node.querySelector('[name="cwd"]') as HTMLInputElement;
    expect(scrolled).toEqual([cwd]);
    expect(document.activeElement).toBe(cwd);
    expect(cwd.getAttribute('aria-invalid')).toBe('true');
    w.dispose();
  });
});

describe('SubmitDialog', () => {
  it('stays open with the error in place when the server refuses, closes when it accepts', async () => {
    const server = new FakeJobsServer();
    const client = new JobsClient(server.settings());
    const form = new RunJobForm({ path: 'a.py', backends: server.backends as any });
    server.submitError = { status: 400, body: { message: 'name is too long', field: 'name' } };
    const dialog = new SubmitDialog({ body: form }, form, r => client.submit(r));
    const done = dialog.launch();
    await framePromise();
    dialog.resolve(1);
    await new Promise(r => setTimeout(r, 20));
    expect(dialog.isAttached).toBe(true);
    const error = form.node.querySelector('.jp-JobsDialog-error[data-field="name"]') as HTMLElement;
    expect(error.textContent).toBe('name is too long');
    dialog.resolve(1);
    const result = await done;
    expect(result.button.accept).toBe(true);
    expect(dialog.job?.path).toBe('a.py');
  });
});

describe('Jobs list', () => {
  it('keeps only a window of rows in the DOM with 1,000 jobs', async () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: 'none' });
    Widget.attach(list, document.body);
    const jobs = Array.from({ length: 1000 }, () => makeJob());
    list.setJobs(jobs);
    list.render();
    expect(list.renderedRowCount).toBeGreaterThan(0);
    expect(list.renderedRowCount).toBeLessThan(60);
    list.dispose();
  });

  it('shows status, backend/profile, queue reason and exit codes, and routes actions', () => {
    const actions: [string, string][] = [];
    const list = new JobsList({
      trans,
      onAction: (a, j) => actions.push([a, j.id]),
      emptyText: ''
    });
    Widget.attach(list, document.body);
    const queued = makeJob({
      status: 'queued',
      reason: 'Resources',
      backend: 'slurm',
      profile: 'gpu'
    });
    const failed = makeJob({
      status: 'failed',
      exit_code: 2,
      reason: null,
      outputs: ['out.ipynb']
    });
    list.setJobs([queued, failed]);
    list.render();
    const row = (job: IJob) =>
      list.node.querySelector(`.jp-JobsRow[data-id="${job.id}"]`) as HTMLElement;
    expect(row(queued).textContent).toContain('slurm · gpu');
    expect(row(queued).textContent).toContain('waiting: Resources');
    expect(row(failed).textContent).toContain('exit code 2');
    const cancel = row(queued).querySelector('[data-action="cancel"]') as HTMLButtonElement;
    expect(cancel.hidden).toBe(false);
    expect((row(failed).querySelector('[data-action="cancel"]') as HTMLElement).hidden).toBe(true);
    (row(failed).querySelector('[data-action="rerun"]') as HTMLElement).click();
    (row(failed).querySelector('[data-action="output"]') as HTMLElement).click();
    row(queued).click();
    expect(actions).toEqual([
      ['rerun', failed.id],
      ['output', failed.id],
      ['log', queued.id]
    ]);
    list.dispose();
  });

  it('deletes with the trash icon and names the job, its short id and status', () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '' });
    Widget.attach(list, document.body);
    const done = makeJob({ id: '3fa2b1c0d4e5', name: 'train.py', status: 'completed' });
    list.setJobs([done]);
    list.render();
    const button = list.node.querySelector('[data-action="delete"]') as HTMLElement;
    expect(button.querySelector('svg')!.getAttribute('data-icon')).toBe('ui-components:delete');
    expect(deleteQuestion(trans, done)).toBe('Delete train.py (3fa2b1c0, completed) and its log?');
    list.dispose();
  });

  it('shows a server queue reason once, and the full reason as the row tooltip', () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '' });
    Widget.attach(list, document.body);
    const waiting = makeJob({
      name: 'train.py',
      status: 'queued',
      reason: 'waiting for resources (Resources)'
    });
    const bare = makeJob({ status: 'pending', reason: 'Priority' });
    list.setJobs([waiting, bare]);
    list.render();
    const row = (job: IJob) =>
      list.node.querySelector(`.jp-JobsRow[data-id="${job.id}"]`) as HTMLElement;
    const detail = row(waiting).querySelector('.jp-JobsRow-detail')!.textContent;
    expect(detail).toBe('· waiting for resources (Resources)');
    expect(row(waiting).title).toContain('waiting for resources (Resources)');
    expect(row(waiting).title).toContain('train.py');
    expect(row(bare).querySelector('.jp-JobsRow-detail')!.textContent).toBe('· waiting: Priority');
    list.dispose();
  });
});

describe('Jobs section and status bar', () => {
  it('the status bar counts running and queued jobs, not remote kernels', async () => {
    const server = new FakeJobsServer();
    server.jobs = [
      makeJob({ status: 'running' }),
      makeJob({ status: 'queued' }),
      makeJob({ status: 'pending' }),
      makeJob({ status: 'completed' }),
      makeJob({ kind: 'kernel', status: 'running' }),
      makeJob({ kind: 'kernel', status: 'queued' })
    ];
    const model = new JobsModel({
      client: new JobsClient(server.settings()),
      stream: new Stream<any, any>({}),
      connection: connected()
    });
    await model.ready;
    const status = new JobsStatusItem(model, () => undefined);
    Widget.attach(status, document.body);
    expect(status.node.textContent).toBe('1 job running · 2 queued');
    expect(status.node.dataset.running).toBe('1');
    status.dispose();
    model.dispose();
  });

  it('follow the model live and filter by search', async () => {
    const server = new FakeJobsServer();
    server.jobs = [
      makeJob({ name: 'alpha', status: 'running' }),
      makeJob({ name: 'beta', status: 'completed' })
    ];
    const stream = new Stream<any, any>({});
    const model = new JobsModel({
      client: new JobsClient(server.settings()),
      stream,
      connection: connected()
    });
    await model.ready;
    const section = new JobsSection({ model, onAction: () => undefined });
    const status = new JobsStatusItem(model, () => undefined);
    Widget.attach(section, document.body);
    Widget.attach(status, document.body);
    await framePromise();
    section.list.render();
    expect(section.list.jobs.map(j => j.name)).toEqual(['beta', 'alpha']);
    expect(status.node.textContent).toContain('1 job running');

    const gamma = makeJob({ name: 'gamma', status: 'running' });
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'created', job_id: gamma.id, job: gamma });
    await framePromise();
    expect(section.list.jobs[0].name).toBe('gamma');
    expect(status.node.textContent).toContain('2 jobs running');

    const search = section.node.querySelector('.jp-JobsFilter-search') as HTMLInputElement;
    search.value = 'bet';
    search.dispatchEvent(new Event('input'));
    await framePromise();
    expect(section.list.jobs.map(j => j.name)).toEqual(['beta']);
    section.dispose();
    status.dispose();
    model.dispose();
  });
});
