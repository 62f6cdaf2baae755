import { KernelSpecManager } from '@jupyterlab/services';
import { Stream } from '@lumino/signaling';

import { followKernelSpecs } from '../kernelspecs';
import { EVENT_SCHEMA_ID, KERNELSPECS_SCHEMA_ID } from '../tokens';
import { FakeJobsServer, kernelSpec } from './fake-server';

const SLURM = 'jupyter-jobs-slurm-default';
const PATH = '/api/kernelspecs';

function changed(names: string[], added: string[] = [], removed: string[] = []) {
  return {
    schema_id: KERNELSPECS_SCHEMA_ID,
    action: 'changed',
    kernelspecs: names,
    added,
    removed
  };
}

async function until(predicate: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (predicate()) {
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('followKernelSpecs', () => {
  let server: FakeJobsServer;
  let stream: Stream<any, any>;
  let specs: KernelSpecManager;
  let stop: () => void;
  let hidden = false;

  beforeEach(async () => {
    server = new FakeJobsServer();
    stream = new Stream<any, any>({});
    // JupyterLab's own manager, on the fake server; standby never: only our refreshes matter
    specs = new KernelSpecManager({ serverSettings: server.settings(), standby: 'never' });
    await specs.ready;
    // its poll fetches once more when it starts, right after ready
    await until(() => server.count('GET', PATH) === 2, 'the poll to start');
    await new Promise(resolve => setTimeout(resolve, 10));
    hidden = false;
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    stop = followKernelSpecs(stream, specs, document);
  });

  afterEach(() => {
    stop();
    specs.dispose();
  });

  it('shows a spec that appeared and drops one that went, on the event', async () => {
    expect(Object.keys(specs.specs!.kernelspecs)).toEqual(['python3']);
    const seen: string[][] = [];
    specs.specsChanged.connect((_, s) => seen.push(Object.keys(s.kernelspecs).sort()));

    server.kernelspecs[SLURM] = kernelSpec(SLURM, 'Python 3 — SLURM');
    stream.emit(changed([SLURM], [SLURM]));
    await until(() => seen.length === 1, 'the new specs');
    expect(seen[0]).toEqual([SLURM, 'python3']);
    expect(specs.specs!.kernelspecs[SLURM]!.display_name).toBe('Python 3 — SLURM');

    delete server.kernelspecs[SLURM];
    stream.emit(changed([], [], [SLURM]));
    await until(() => seen.length === 2, 'the specs without SLURM');
    expect(seen[1]).toEqual(['python3']);
  });

  it('ignores job events and other schemas', async () => {
    const before = server.count('GET', PATH);
    stream.emit({ schema_id: EVENT_SCHEMA_ID, action: 'updated', job_id: 'j1' });
    stream.emit({ schema_id: 'https://events.jupyter.org/jupyter_server/contents_service/v1' });
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(server.count('GET', PATH)).toBe(before);
  });

  it('runs one refresh at a time and one more for events that came meanwhile', async () => {
    let open!: () => void;
    server.kernelspecsGate = new Promise<void>(resolve => (open = resolve));
    const before = server.count('GET', PATH);
    stream.emit(changed([SLURM], [SLURM]));
    await until(() => server.count('GET', PATH) === before + 1, 'the first refresh');
    server.kernelspecs[SLURM] = kernelSpec(SLURM, 'Python 3 — SLURM');
    for (let i = 0; i < 5; i++) {
      stream.emit(changed([SLURM]));
    }
    await new Promise(resolve => setTimeout(resolve, 30));
    expect(server.count('GET', PATH)).toBe(before + 1); // still the first one, in flight
    server.kernelspecsGate = null;
    open();
    await until(() => server.count('GET', PATH) === before + 2, 'the catch-up refresh');
    await until(() => SLURM in (specs.specs?.kernelspecs ?? {}), 'the SLURM spec');
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(server.count('GET', PATH)).toBe(before + 2);
  });

  it('a hidden page refreshes when it is shown again', async () => {
    hidden = true;
    const before = server.count('GET', PATH);
    server.kernelspecs[SLURM] = kernelSpec(SLURM, 'Python 3 — SLURM');
    stream.emit(changed([SLURM], [SLURM]));
    stream.emit(changed([SLURM], [SLURM]));
    await new Promise(resolve => setTimeout(resolve, 30));
    expect(server.count('GET', PATH)).toBe(before);
    hidden = false;
    document.dispatchEvent(new Event('visibilitychange'));
    await until(() => SLURM in (specs.specs?.kernelspecs ?? {}), 'the SLURM spec');
    expect(server.count('GET', PATH)).toBe(before + 1);
  });

  it('stops following when asked', async () => {
    stop();
    const before = server.count('GET', PATH);
    stream.emit(changed([SLURM], [SLURM]));
    await new Promise(resolve => setTimeout(resolve, 30));
    expect(server.count('GET', PATH)).toBe(before);
  });
});
