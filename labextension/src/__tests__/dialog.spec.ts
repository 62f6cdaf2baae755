import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { RunJobForm } from '../dialog';
import { efficiencyParts } from '../format';
import { JobsAPIError } from '../handler';

const GiB = 1024 ** 3;

/** `GET backends` as a newer server answers it: short reasons, detail, partition limits. */
function backends(withLimits = true): any {
  return {
    default_backend: 'slurm',
    backends: [
      {
        name: 'local',
        display_name: 'This machine',
        available: true,
        reason: null,
        profiles: [{ name: 'default', resources: { cpus: 1 }, max_resources: { cpus: 4 } }]
      },
      {
        name: 'slurm',
        display_name: 'SLURM',
        available: true,
        reason: null,
        profiles: [
          {
            name: 'default',
            resources: {},
            max_resources: { cpus: 16, memory: 64 * GiB }
          },
          { name: 'gpu', resources: { partition: 'gpu' }, max_resources: {} }
        ],
        limits: withLimits
          ? {
              debug: {
                cpus: 2,
                memory_bytes: 8 * GiB,
                gpus: 0,
                max_time_seconds: 3600,
                default: true
              },
              gpu: { cpus: 32, memory_bytes: 256 * GiB, gpus: 4, max_time_seconds: null }
            }
          : null
      },
      {
        name: 'kubernetes',
        display_name: 'Kubernetes',
        available: false,
        reason: 'the [kubernetes] extra is not installed',
        detail: "No module named 'kubernetes_asyncio' — pip install 'jupyter-jobs[kubernetes]'",
        profiles: []
      },
      {
        name: 'other',
        available: false,
        reason: "SLURM's controller does not answer",
        profiles: []
      }
    ]
  };
}

function form(reply = backends()): RunJobForm {
  const w = new RunJobForm({ path: 'train.py', backends: reply });
  Widget.attach(w, document.body);
  return w;
}

const q = <T extends Element = HTMLElement>(w: Widget, selector: string) =>
  w.node.querySelector(selector) as T;

describe('the run dialog', () => {
  it("draws its menus and fields as ui-components' HTMLSelect and InputGroup", () => {
    const w = form();
    expect(q(w, 'select[name="backend"]').parentElement!.className).toContain(
      'jp-HTMLSelect jp-DefaultStyle'
    );
    expect(q(w, 'select[name="backend"]').parentElement!.querySelector('svg, span')).not.toBeNull();
    expect(q(w, 'input[name="name"]').parentElement!.classList).toContain('jp-InputGroup');
    expect(q(w, 'input[name="resources.cpus"]').parentElement!.classList).toContain(
      'jp-InputGroup'
    );
    w.dispose();
  });

  it('gives an unavailable backend a short reason, and the detail on hover', () => {
    const w = form();
    const k8s = q<HTMLOptionElement>(w, 'option[value="kubernetes"]');
    expect(k8s.disabled).toBe(true);
    expect(k8s.textContent).toBe(
      'Kubernetes (unavailable: the [kubernetes] extra is not installed)'
    );
    expect(k8s.title).toContain("pip install 'jupyter-jobs[kubernetes]'");
    const line = q(w, '.jp-JobsDialog-backendReason[data-backend="kubernetes"]');
    expect(line.textContent).toBe('Kubernetes: the [kubernetes] extra is not installed');
    expect(line.title).toContain('kubernetes_asyncio');
    // without a detail, the hover repeats the reason
    expect(q<HTMLOptionElement>(w, 'option[value="other"]').title).toBe(
      "SLURM's controller does not answer"
    );
    w.dispose();
  });

  it("shows the most the cluster can give in the partition, under the profile's limit", () => {
    const w = form();
    const max = (key: string) => q(w, `[data-max="${key}"]`);
    // the default partition (debug): its largest node has 2 CPUs and 8 GiB, no GPU, 1 h
    expect(max('cpus').textContent).toBe('max 2');
    expect(max('cpus').title).toContain('partition debug');
    expect(max('memory').textContent).toBe('max 8.0 GiB');
    expect(max('gpus').textContent).toBe('no GPUs in this partition');
    expect(max('time_limit').textContent).toBe('max 1:00:00');
    w.dispose();
  });

  it("follows the profile's partition and shows only the profile's limits without cluster limits", () => {
    let w = form();
    const profile = q<HTMLSelectElement>(w, 'select[name="profile"]');
    profile.value = 'gpu';
    profile.dispatchEvent(new Event('change'));
    expect(q(w, '[data-max="gpus"]').textContent).toBe('max 4');
    expect(q(w, '[data-max="time_limit"]').hidden).toBe(true);
    // another partition typed in: its numbers
    const partition = q<HTMLInputElement>(w, 'input[name="resources.partition"]');
    partition.value = 'debug';
    partition.dispatchEvent(new Event('input'));
    expect(q(w, '[data-max="cpus"]').textContent).toBe('max 2');
    expect(q(w, '[data-max="gpus"]').textContent).toBe('no GPUs in this partition');
    // one the server does not know: no number (the server will say what is wrong)
    partition.value = 'nosuch';
    partition.dispatchEvent(new Event('input'));
    expect(q(w, '[data-max="cpus"]').hidden).toBe(true);
    w.dispose();

    w = form(backends(false));
    expect(q(w, '[data-max="cpus"]').textContent).toBe('max 16');
    expect(q(w, '[data-max="cpus"]').title).toBe('');
    expect(q(w, '[data-max="gpus"]').hidden).toBe(true);
    w.dispose();
  });

  it("puts the server's message at the field it names, in the server's words", () => {
    const w = form();
    w.showError(
      new JobsAPIError(400, "Memory: 'lots' is not a size (try 4G or 512M)", 'resources.memory')
    );
    const error = q(w, '.jp-JobsDialog-error[data-field="resources.memory"]');
    expect(error.hidden).toBe(false);
    expect(error.textContent).toBe("Memory: 'lots' is not a size (try 4G or 512M)");
    expect(error.closest('label')!.textContent).toContain('Memory');
    expect(q(w, 'input[name="resources.memory"]').getAttribute('aria-invalid')).toBe('true');
    w.dispose();
  });

  it('words its own checks the same way, at the field', () => {
    const w = form();
    q<HTMLInputElement>(w, 'input[name="args"]').value = '--name "open';
    expect(() => w.getValue()).toThrow('Arguments: a " quote is not closed');
    expect(q(w, '.jp-JobsDialog-error[data-field="args"]').textContent).toMatch(/^Arguments: /);
    q<HTMLInputElement>(w, 'input[name="args"]').value = '';
    q<HTMLTextAreaElement>(w, 'textarea[name="env"]').value = 'SEED=1\nnot a pair';
    expect(() => w.getValue()).toThrow('Environment: line 2 is not NAME=value');
    expect(q(w, '.jp-JobsDialog-error[data-field="env"]').hidden).toBe(false);
    w.dispose();
  });
});

describe('efficiency summary', () => {
  const trans = nullTranslator.load('jupyter_jobs');

  it('says what an ended job used against what it asked for', () => {
    expect(
      efficiencyParts(trans, {
        cpu: { used_core_seconds: 90, cores: 2, wall_seconds: 100, ratio: 0.45 },
        memory: { peak_bytes: 1.2 * GiB, requested_bytes: 32 * GiB, ratio: 0.0375 },
        time: { used_seconds: 600, limit_seconds: 3600, ratio: 1 / 6 }
      })
    ).toEqual([
      ['cpu', 'CPU 45% of 2 cores'],
      ['memory', 'memory 1.2 GiB of 32 GiB (4%)'],
      ['time', 'time 10:00 of 1:00:00 (17%)']
    ]);
  });

  it('renders only the parts present', () => {
    expect(
      efficiencyParts(trans, { memory: { peak_bytes: 512 * 1024 ** 2 }, time: { used_seconds: 5 } })
    ).toEqual([
      ['memory', 'memory 512 MiB at most'],
      ['time', 'time 5s']
    ]);
    expect(efficiencyParts(trans, { cpu: { used_core_seconds: 65 } })).toEqual([
      ['cpu', 'CPU time 1:05']
    ]);
    expect(efficiencyParts(trans, { hints: ['x'] })).toEqual([]);
  });
});
