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

/** After the WindowedList's next render (it batches to animation frames). */
async function rendered(list: JobsList): Promise<void> {
  list.render();
  await framePromise();
  await framePromise();
}

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
    await rendered(list);
    expect(list.renderedRowCount).toBeGreaterThan(0);
    expect(list.renderedRowCount).toBeLessThan(60);
    list.dispose();
  });

  it('shows status, backend/profile, queue reason and exit codes, and routes actions', async () => {
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
    await rendered(list);
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

  it('deletes with the trash icon and names the job, its short id and status', async () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '' });
    Widget.attach(list, document.body);
    const done = makeJob({ id: '3fa2b1c0d4e5', name: 'train.py', status: 'completed' });
    list.setJobs([done]);
    await rendered(list);
    const button = list.node.querySelector('[data-action="delete"]') as HTMLElement;
    expect(button.querySelector('svg')!.getAttribute('data-icon')).toBe('ui-components:delete');
    expect(deleteQuestion(trans, done)).toBe('Delete train.py (3fa2b1c0, completed) and its log?');
    list.dispose();
  });

  it('shows a server queue reason once, and the full reason as the row tooltip', async () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '' });
    Widget.attach(list, document.body);
    const waiting = makeJob({
      name: 'train.py',
      status: 'queued',
      reason: 'waiting for resources (Resources)'
    });
    const bare = makeJob({ status: 'pending', reason: 'Priority' });
    list.setJobs([waiting, bare]);
    await rendered(list);
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

  it('opens with one page, says "N jobs · R running · Q queued", and asks the server to search', async () => {
    jest.useFakeTimers({ doNotFake: ['requestAnimationFrame', 'cancelAnimationFrame'] });
    try {
      const server = new FakeJobsServer();
      server.jobs = [
        ...Array.from({ length: 250 }, (_, i) =>
          makeJob({
            name: `old ${i}`,
            status: i % 10 === 3 ? 'failed' : 'completed',
            created_at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()
          })
        ),
        makeJob({ name: 'alpha', status: 'running', created_at: '2027-01-01T00:00:00Z' }),
        makeJob({ name: 'waiting', status: 'queued', created_at: '2027-01-02T00:00:00Z' })
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
      const summary = () => section.node.querySelector('.jp-JobsFilter-summary')!.textContent;
      const pages = () => server.requests.filter(r => r.path === 'jobs' && !r.query.has('status'));
      expect(pages()).toHaveLength(0); // nothing but the counts before the sidebar shows
      expect(status.node.textContent).toBe('1 job running · 1 queued');
      Widget.attach(section, document.body);
      Widget.attach(status, document.body);
      await jest.advanceTimersByTimeAsync(0);
      await model.open();
      await framePromise();
      expect(pages()).toHaveLength(1);
      expect(summary()).toBe('252 jobs · 1 running · 1 queued');
      expect(section.list.jobs.map(j => j.name).slice(0, 2)).toEqual(['waiting', 'alpha']);

      const gamma = makeJob({
        name: 'gamma',
        status: 'running',
        created_at: '2027-02-01T00:00:00Z'
      });
      server.jobs.push(gamma);
      stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'created', job_id: gamma.id, job: gamma });
      expect(section.list.jobs[0].name).toBe('gamma');
      expect(status.node.textContent).toBe('2 jobs running · 1 queued');
      await framePromise();
      expect(summary()).toBe('253 jobs · 2 running · 1 queued');

      // typing waits for a pause, then one request with q
      const search = section.node.querySelector('.jp-JobsFilter-search') as HTMLInputElement;
      for (const text of ['o', 'ol', 'old 4']) {
        search.value = text;
        search.dispatchEvent(new Event('input'));
        await jest.advanceTimersByTimeAsync(50);
      }
      await jest.advanceTimersByTimeAsync(300);
      const asked = server.requests.filter(r => r.query.has('q'));
      expect(asked.map(r => r.query.get('q'))).toEqual(['old 4']);
      await jest.advanceTimersByTimeAsync(0);
      await framePromise();
      expect(summary()).toBe(`${model.total} of 253 jobs`);
      expect(section.list.jobs.every(j => j.name.includes('old 4'))).toBe(true);
      // the status filter: the exact count from the server
      search.value = '';
      search.dispatchEvent(new Event('input'));
      const select = section.node.querySelector('.jp-JobsFilter-status') as HTMLSelectElement;
      select.value = 'failed';
      select.dispatchEvent(new Event('change'));
      await jest.advanceTimersByTimeAsync(0);
      await jest.advanceTimersByTimeAsync(0);
      await framePromise();
      expect(summary()).toBe('25 of 253 jobs');
      section.dispose();
      status.dispose();
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('Lost jobs and paging in the list', () => {
  it('a lost job has its own icon state and says what lost means', async () => {
    const list = new JobsList({ trans, onAction: () => undefined, emptyText: '' });
    Widget.attach(list, document.body);
    const lost = makeJob({ status: 'lost', host: 'node7', reason: 'the runner stopped reporting' });
    const failed = makeJob({ status: 'failed', exit_code: 1 });
    list.setJobs([lost, failed]);
    await rendered(list);
    const icon = (job: IJob) =>
      list.node.querySelector(`.jp-JobsRow[data-id="${job.id}"] .jp-JobsRow-status`) as HTMLElement;
    expect(icon(lost).dataset.status).toBe('lost');
    expect(icon(lost).title).toBe(
      'Lost: the runner stopped reporting; the job may still be running on node7'
    );
    expect(icon(failed).title).toBe('Failed');
    list.dispose();
  });

  it('shows placeholders past the loaded rows and asks for more', async () => {
    let asked = 0;
    const list = new JobsList({
      trans,
      onAction: () => undefined,
      emptyText: '',
      onNeedMore: () => asked++
    });
    Widget.attach(list, document.body);
    const jobs = Array.from({ length: 3 }, () => makeJob());
    list.setJobs(jobs, 1000, true);
    await rendered(list);
    expect(list.itemCount).toBe(1000);
    expect(list.node.querySelector('.jp-JobsRow-placeholder')!.textContent).toBe('Loading…');
    expect(asked).toBeGreaterThanOrEqual(1);
    list.setJobs(jobs, 3, false);
    await rendered(list);
    expect(list.itemCount).toBe(3);
    expect(list.node.querySelector('.jp-JobsRow-placeholder')).toBeNull();
    list.dispose();
  });
});
