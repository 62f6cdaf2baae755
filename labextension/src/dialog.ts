/**
 * The "Run as Background Job" dialog: name, backend/profile, resources, arguments, environment,
 * working directory and notebook parameters. Server validation errors are shown next to the
 * field the server names; the dialog stays open until the job is accepted.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { caretDownEmptyIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { formatEnv, joinArgs, parseEnv, splitArgs } from './argv';
import { h } from './dom';
import { basename, extname, formatBytes, formatDuration } from './format';
import { JobsAPIError } from './handler';
import { formatParameterValue, IParameter, parseParameterValue } from './parameters';
import { IBackend, IBackendsReply, IJob, IProfile, ISubmitRequest, JobKind } from './tokens';

/**
 * What the dialog remembers per file. The job name and notebook parameters are not remembered:
 * the name defaults to the file name and parameters come from the notebook's `parameters` cell
 * as it is on disk (older saved choices may still carry them; they are ignored).
 */
export interface IRunChoices {
  name?: string;
  backend?: string;
  profile?: string;
  resources?: Record<string, string>;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  parameters?: Record<string, string>;
}

export namespace RunJobForm {
  export interface IOptions {
    path: string;
    backends: IBackendsReply;
    /** Parameters read from the notebook's `parameters` cell (notebooks only). */
    parameters?: IParameter[];
    /** The last choices for this file, if any. */
    remembered?: IRunChoices | null;
    defaultBackend?: string;
    defaultProfile?: string;
    translator?: ITranslator;
  }
}

/** Resource fields always offered; others appear when the profile mentions them. */
const BASIC_RESOURCES = ['cpus', 'memory', 'gpus', 'time_limit'];
const OTHER_RESOURCES = ['partition', 'queue', 'account', 'qos', 'image'];

/** The form inside the dialog. */
export class RunJobForm extends Widget {
  constructor(options: RunJobForm.IOptions) {
    super();
    this.addClass('jp-JobsDialog');
    this._options = options;
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._kind = extname(options.path) === '.ipynb' ? 'notebook' : 'script';
    this._build();
  }

  get kind(): JobKind {
    return this._kind;
  }

  /** The request to send; throws (and marks the field) when a field cannot be parsed. */
  getValue(): ISubmitRequest {
    this.clearErrors();
    const request: ISubmitRequest = {
      path: this._options.path,
      kind: this._kind,
      name: this._name.value.trim() || basename(this._options.path),
      backend: this._backend.value,
      profile: this._profile.value
    };
    const resources: Record<string, unknown> = {};
    for (const [key, input] of this._resourceInputs) {
      const value = input.value.trim();
      if (value !== '') {
        resources[key] = /^\d+$/.test(value) ? Number(value) : value;
      }
    }
    if (Object.keys(resources).length) {
      request.resources = resources;
    }
    try {
      const args = splitArgs(this._args.value);
      if (args.length) {
        request.args = args;
      }
    } catch (error) {
      throw this._localError('args', (error as Error).message);
    }
    try {
      const env = parseEnv(this._env.value);
      if (Object.keys(env).length) {
        request.env = env;
      }
    } catch (error) {
      throw this._localError('env', (error as Error).message);
    }
    if (this._cwd.value.trim()) {
      request.cwd = this._cwd.value.trim();
    }
    if (this._parameterInputs.size) {
      const parameters: Record<string, unknown> = {};
      for (const [name, input] of this._parameterInputs) {
        if (input.value.trim() !== '' && input.value !== input.defaultValue) {
          parameters[name] = parseParameterValue(input.value);
        }
      }
      if (Object.keys(parameters).length) {
        request.parameters = parameters;
      }
    }
    return request;
  }

  /** What to remember for next time (the raw text of each field). */
  getChoices(): IRunChoices {
    const resources: Record<string, string> = {};
    for (const [key, input] of this._resourceInputs) {
      if (input.value.trim()) {
        resources[key] = input.value.trim();
      }
    }
    let args: string[] = [];
    let env: Record<string, string> = {};
    try {
      args = splitArgs(this._args.value);
      env = parseEnv(this._env.value);
    } catch {
      // remembered only when valid
    }
    return {
      backend: this._backend.value,
      profile: this._profile.value,
      resources,
      args,
      env,
      cwd: this._cwd.value
    };
  }

  /** Show an error next to its field (or at the top when the field is unknown). */
  showError(error: unknown): void {
    const message =
      error instanceof JobsAPIError || error instanceof Error ? error.message : String(error);
    const field = error instanceof JobsAPIError ? error.field : null;
    const target = field ? this._errorNode(field) : null;
    const node = target ?? this._generalError;
    node.textContent = message;
    node.hidden = false;
    const row = node.closest(
      '.jp-JobsDialog-resource, .jp-JobsDialog-parameter, .jp-JobsDialog-row'
    );
    row?.classList.add('jp-JobsDialog-invalid');
    const input = row?.querySelector('input, select, textarea') as HTMLElement | null;
    input?.setAttribute('aria-invalid', 'true');
    // lower fields may be below the fold of the scrolling dialog body: bring the field (or the
    // general error at the top) into view, then focus it
    const visible = input ?? node;
    if (typeof visible.scrollIntoView === 'function') {
      visible.scrollIntoView({ block: 'center' });
    }
    input?.focus({ preventScroll: true });
  }

  clearErrors(): void {
    this.node.querySelectorAll<HTMLElement>('.jp-JobsDialog-error').forEach(node => {
      node.textContent = '';
      node.hidden = true;
    });
    this.node
      .querySelectorAll('.jp-JobsDialog-invalid')
      .forEach(n => n.classList.remove('jp-JobsDialog-invalid'));
    this.node.querySelectorAll('[aria-invalid]').forEach(n => n.removeAttribute('aria-invalid'));
  }

  /** The error node for a server `field` (`resources.cpus` → its input's row). */
  private _errorNode(field: string): HTMLElement | null {
    let node = this.node.querySelector<HTMLElement>(
      `.jp-JobsDialog-error[data-field="${CSS.escape(field)}"]`
    );
    if (!node && field.includes('.')) {
      // `parameters.alpha`, `env.X`: the group's error
      node = this.node.querySelector<HTMLElement>(
        `.jp-JobsDialog-error[data-field="${CSS.escape(field.split('.')[0])}"]`
      );
    }
    if (!node && field.startsWith('resources')) {
      node = this._resourcesError;
    }
    if (!node && field === 'path') {
      node = this._generalError;
    }
    return node;
  }

  private _localError(field: string, message: string): Error {
    const error = new JobsAPIError(400, message, field);
    this.showError(error);
    return error;
  }

  private _build(): void {
    const trans = this._trans;
    const remembered = this._options.remembered ?? {};
    const reply = this._options.backends;

    this._generalError = errorNode('');
    this.node.appendChild(this._generalError);

    this._name = textInput({ name: 'name', value: basename(this._options.path) });
    this.node.appendChild(this._row(trans.__('Name'), this._name, 'name'));

    this._backend = select('backend');
    const unavailable = h('div', { class: 'jp-JobsDialog-hint jp-JobsDialog-unavailable' });
    for (const backend of reply.backends as IBackendWithLimits[]) {
      const name = backend.display_name || backend.name;
      // the short reason in the menu, the engine's own words (a tool's output) on hover
      const reason = backend.reason || trans.__('not available');
      const label = backend.available ? name : trans.__('%1 (unavailable: %2)', name, reason);
      const option = h('option', { value: backend.name, disabled: !backend.available }, label);
      if (!backend.available) {
        const detail = backend.detail || reason;
        option.title = detail;
        option.classList.add('jp-mod-unavailable');
        unavailable.appendChild(
          h(
            'div',
            { class: 'jp-JobsDialog-backendReason', 'data-backend': backend.name, title: detail },
            trans.__('%1: %2', name, reason)
          )
        );
      }
      this._backend.appendChild(option);
    }
    const available = reply.backends.filter(b => b.available).map(b => b.name);
    const pick = [
      remembered.backend,
      this._options.defaultBackend,
      reply.default_backend,
      available[0]
    ].find(b => b && available.includes(b));
    if (pick) {
      this._backend.value = pick;
    }
    this.node.appendChild(
      this._row(
        trans.__('Backend'),
        this._backend,
        'backend',
        unavailable.childElementCount ? unavailable : undefined
      )
    );

    this._profile = select('profile');
    this._profileDescription = h('div', { class: 'jp-JobsDialog-hint' });
    this.node.appendChild(
      this._row(trans.__('Profile'), this._profile, 'profile', this._profileDescription)
    );

    this._resources = h('div', { class: 'jp-JobsDialog-resources' });
    this._resourcesError = errorNode('resources');
    const resourcesRow = h(
      'fieldset',
      { class: 'jp-JobsDialog-row jp-JobsDialog-group' },
      h('legend', {}, trans.__('Resources (blank: the profile’s default)')),
      this._resources,
      this._resourcesError
    );
    this.node.appendChild(resourcesRow);

    this._backend.addEventListener('change', () => this._fillProfiles(null));
    this._profile.addEventListener('change', () => this._fillResources(null));
    this._fillProfiles(remembered);

    this._args = textInput({
      name: 'args',
      placeholder: trans.__('e.g. --epochs 3 "file name.csv"'),
      value: joinArgs(remembered.args ?? [])
    });
    this._argsNote = this._rememberedNote(
      trans.__('from your last run'),
      trans.__('Clear the arguments of the last run'),
      () => {
        this._args.value = '';
        this._args.focus();
      }
    );
    this._argsNote.hidden = !this._args.value;
    this._args.addEventListener('input', () => {
      this._argsNote.hidden = true;
    });
    this.node.appendChild(this._row(trans.__('Arguments'), this._args, 'args', this._argsNote));

    this._env = h('textarea', {
      class: 'jp-mod-styled',
      name: 'env',
      rows: 2,
      placeholder: trans.__('NAME=value, one per line')
    });
    this._env.value = formatEnv(remembered.env ?? {});
    this.node.appendChild(this._row(trans.__('Environment'), this._env, 'env'));

    const dir = this._options.path.includes('/')
      ? this._options.path.slice(0, this._options.path.lastIndexOf('/'))
      : '';
    this._cwd = textInput({
      name: 'cwd',
      placeholder: dir || trans.__('(the server’s root directory)'),
      value: remembered.cwd ?? ''
    });
    this.node.appendChild(this._row(trans.__('Working directory'), this._cwd, 'cwd'));

    if (this._kind === 'notebook') {
      this._buildParameters();
    }
  }

  /** "from your last run · Reset": shown under a field prefilled from the last run. */
  private _rememberedNote(text: string, title: string, reset: () => void): HTMLElement {
    const button = h(
      'button',
      { type: 'button', class: 'jp-JobsDialog-reset', title },
      this._trans.__('Reset')
    );
    const note = h(
      'div',
      { class: 'jp-JobsDialog-hint jp-JobsDialog-remembered' },
      text + ' · ',
      button
    );
    button.addEventListener('click', event => {
      event.preventDefault();
      reset();
      note.hidden = true;
    });
    return note;
  }

  private _buildParameters(): void {
    const trans = this._trans;
    const parameters = this._options.parameters ?? [];
    const box = h('div', { class: 'jp-JobsDialog-parameters' });
    if (parameters.length === 0) {
      box.appendChild(
        h(
          'div',
          { class: 'jp-JobsDialog-hint' },
          trans.__('No cell tagged “parameters” in this notebook.')
        )
      );
    }
    for (const p of parameters) {
      const input = textInput({ name: `parameters.${p.name}`, 'data-parameter': p.name });
      // always the cell as it is on disk now, never the last run's values
      input.defaultValue = p.text;
      input.value = p.text;
      this._parameterInputs.set(p.name, input);
      box.appendChild(
        h(
          'label',
          { class: 'jp-JobsDialog-parameter' },
          h('span', { class: 'jp-JobsDialog-parameterName' }, p.name),
          inputGroup(input),
          errorNode(`parameters.${p.name}`)
        )
      );
    }
    this.node.appendChild(
      h(
        'fieldset',
        { class: 'jp-JobsDialog-row jp-JobsDialog-group' },
        h('legend', {}, trans.__('Parameters (cell tagged “parameters”)')),
        box,
        errorNode('parameters')
      )
    );
  }

  private _currentBackend(): IBackend | undefined {
    return this._options.backends.backends.find(b => b.name === this._backend.value);
  }

  private _currentProfile(): IProfile | undefined {
    return this._currentBackend()?.profiles.find(p => p.name === this._profile.value);
  }

  private _fillProfiles(remembered: IRunChoices | null): void {
    const backend = this._currentBackend();
    this._profile.textContent = '';
    for (const profile of backend?.profiles ?? []) {
      this._profile.appendChild(
        h('option', { value: profile.name }, profile.display_name || profile.name)
      );
    }
    const names = (backend?.profiles ?? []).map(p => p.name);
    const pick = [
      remembered?.profile,
      backend?.name === (this._options.defaultBackend || this._options.backends.default_backend)
        ? this._options.defaultProfile
        : undefined,
      backend?.default_profile ?? undefined,
      names[0]
    ].find(p => p && names.includes(p));
    if (pick) {
      this._profile.value = pick;
    }
    this._profile.disabled = names.length <= 1;
    this._fillResources(remembered);
  }

  private _fillResources(remembered: IRunChoices | null): void {
    const trans = this._trans;
    const profile = this._currentProfile();
    this._profileDescription.textContent = profile?.description ?? '';
    const defaults = profile?.resources ?? {};
    const max = profile?.max_resources ?? {};
    const keys = BASIC_RESOURCES.concat(OTHER_RESOURCES.filter(k => k in defaults || k in max));
    const previous = new Map(
      Array.from(this._resourceInputs).map(([k, input]) => [k, input.value])
    );
    this._resources.textContent = '';
    this._resourceInputs.clear();
    for (const key of keys) {
      const input = textInput({
        name: `resources.${key}`,
        placeholder: showResource(key, defaults[key]) || trans.__('default')
      });
      input.value = remembered?.resources?.[key] ?? previous.get(key) ?? '';
      this._resourceInputs.set(key, input);
      const hint = h('span', { class: 'jp-JobsDialog-hint', 'data-max': key, hidden: true });
      this._resources.appendChild(
        h(
          'label',
          { class: 'jp-JobsDialog-resource' },
          h('span', {}, resourceLabel(trans, key)),
          inputGroup(input),
          hint,
          errorNode(`resources.${key}`)
        )
      );
    }
    this._resourceInputs
      .get('partition')
      ?.addEventListener('input', () => this._showMaxima(this._currentProfile()));
    this._showMaxima(profile);
  }

  /**
   * "max N" under CPUs, memory, GPUs and time limit: the lower of the profile's limit and what
   * the cluster can ever give in the partition asked for (from `GET backends` `limits`, when the
   * server knows them), with where the cluster's number comes from on hover.
   */
  private _showMaxima(profile: IProfile | undefined): void {
    const trans = this._trans;
    const max = profile?.max_resources ?? {};
    const partitionInput = this._resourceInputs.get('partition');
    const partitionValue =
      partitionInput?.value.trim() || String(profile?.resources?.partition ?? '');
    const cluster = clusterLimits(this._currentBackend() as IBackendWithLimits, partitionValue);
    for (const key of BASIC_RESOURCES) {
      const hint = this._resources.querySelector<HTMLElement>(`[data-max="${key}"]`);
      if (!hint) {
        continue;
      }
      const fromProfile = typeof max[key] === 'number' ? (max[key] as number) : null;
      const fromCluster = cluster ? clusterValue(cluster.limits, key) : null;
      let value: number | string | null = fromProfile;
      let source = '';
      if (fromCluster !== null && (fromProfile === null || fromCluster < fromProfile)) {
        value = fromCluster;
        source = cluster!.partition
          ? trans.__('the most one job can get in partition %1', cluster!.partition)
          : trans.__('the most one job can get on this cluster');
      } else if (fromProfile === null && max[key] !== undefined && max[key] !== null) {
        value = String(max[key]); // a profile limit written as text ("4G")
      }
      if (value === null) {
        hint.hidden = true;
        hint.textContent = '';
        hint.removeAttribute('title');
        continue;
      }
      hint.hidden = false;
      hint.textContent =
        key === 'gpus' && value === 0 && source
          ? trans.__('no GPUs in this partition')
          : trans.__('max %1', showResource(key, value));
      if (source) {
        hint.title = source;
      } else {
        hint.removeAttribute('title');
      }
    }
  }

  private _row(label: string, input: HTMLElement, field: string, extra?: HTMLElement): HTMLElement {
    const id = `jp-JobsDialog-${field}-${Private.ids.next++}`;
    input.id = id;
    return h(
      'div',
      { class: 'jp-JobsDialog-row', 'data-row': field },
      h('label', { for: id }, label),
      wrapped(input),
      extra ?? null,
      errorNode(field)
    );
  }

  private _options: RunJobForm.IOptions;
  private _trans: TranslationBundle;
  private _kind: JobKind;
  private _name!: HTMLInputElement;
  private _backend!: HTMLSelectElement;
  private _profile!: HTMLSelectElement;
  private _profileDescription!: HTMLElement;
  private _resources!: HTMLElement;
  private _resourcesError!: HTMLElement;
  private _resourceInputs = new Map<string, HTMLInputElement>();
  private _parameterInputs = new Map<string, HTMLInputElement>();
  private _args!: HTMLInputElement;
  private _argsNote!: HTMLElement;
  private _env!: HTMLTextAreaElement;
  private _cwd!: HTMLInputElement;
  private _generalError!: HTMLElement;
}

/** A backend of `GET backends` with the fields a newer server adds (all optional). */
interface IBackendWithLimits extends IBackend {
  /** The engine's own words behind `reason` (a tool's output), for hover. */
  detail?: string | null;
  /** The most one job can ever get, per partition (`""`: the whole cluster). */
  limits?: Record<string, IPartitionLimits> | null;
}

interface IPartitionLimits {
  cpus?: number | null;
  memory_bytes?: number | null;
  gpus?: number | null;
  max_time_seconds?: number | null;
  default?: boolean;
}

/** The limits for `partition` (blank: the cluster's default, or its only entry). */
function clusterLimits(
  backend: IBackendWithLimits | undefined,
  partition: string
): { partition: string; limits: IPartitionLimits } | null {
  const limits = backend?.limits;
  if (!limits || typeof limits !== 'object') {
    return null;
  }
  if (partition && limits[partition]) {
    return { partition, limits: limits[partition] };
  }
  if (partition) {
    return null; // a partition the server does not know: it will say so itself
  }
  const names = Object.keys(limits);
  const name = names.find(n => limits[n]?.default) ?? (names.length === 1 ? names[0] : null);
  return name === null ? null : { partition: name, limits: limits[name] };
}

function clusterValue(limits: IPartitionLimits, key: string): number | null {
  const value =
    key === 'cpus'
      ? limits.cpus
      : key === 'memory'
        ? limits.memory_bytes
        : key === 'gpus'
          ? limits.gpus
          : key === 'time_limit'
            ? limits.max_time_seconds
            : null;
  return typeof value === 'number' ? value : null;
}

/**
 * A text field as @jupyterlab/ui-components' `InputGroup` draws it (`.jp-InputGroup` around a
 * styled input), built in the DOM: the form reads and sets its fields synchronously.
 */
function textInput(attrs: Record<string, string>): HTMLInputElement {
  return h('input', { type: 'text', class: 'jp-mod-styled', ...attrs });
}

function inputGroup(input: HTMLElement): HTMLElement {
  return h('div', { class: 'jp-InputGroup jp-JobsDialog-field' }, input);
}

/**
 * A menu as @jupyterlab/ui-components' `HTMLSelect` draws it (`.jp-HTMLSelect.jp-DefaultStyle`
 * around the select, with its caret icon), built in the DOM for the same reason.
 */
function select(name: string): HTMLSelectElement {
  return h('select', { name });
}

function wrapped(input: HTMLElement): HTMLElement {
  if (input instanceof HTMLSelectElement) {
    const box = h('div', { class: 'jp-HTMLSelect jp-DefaultStyle jp-JobsDialog-field' }, input);
    box.appendChild(
      caretDownEmptyIcon.element({ tag: 'span', stylesheet: 'select', right: '4px', top: '4px' })
    );
    return box;
  }
  if (input instanceof HTMLInputElement) {
    return inputGroup(input);
  }
  return input;
}

function errorNode(field: string): HTMLElement {
  const node = h('div', {
    class: 'jp-JobsDialog-error',
    'data-field': field,
    role: 'alert',
    hidden: true
  });
  return node;
}

function resourceLabel(trans: TranslationBundle, key: string): string {
  const labels: Record<string, string> = {
    cpus: trans.__('CPUs'),
    memory: trans.__('Memory'),
    gpus: trans.__('GPUs'),
    time_limit: trans.__('Time limit'),
    partition: trans.__('Partition'),
    queue: trans.__('Queue'),
    account: trans.__('Account'),
    qos: trans.__('QoS'),
    image: trans.__('Image')
  };
  return labels[key] ?? key;
}

function showResource(key: string, value: unknown): string {
  if (value === undefined || value === null) {
    return '';
  }
  if (key === 'memory' && typeof value === 'number') {
    return formatBytes(value);
  }
  if (key === 'time_limit' && typeof value === 'number') {
    return formatDuration(value);
  }
  return String(value);
}

/**
 * A dialog that submits before it closes: on a server error it shows the message next to the
 * field and stays open.
 */
export class SubmitDialog extends Dialog<ISubmitRequest> {
  constructor(
    options: Partial<Dialog.IOptions<ISubmitRequest>>,
    private _form: RunJobForm,
    private _submit: (request: ISubmitRequest) => Promise<IJob>
  ) {
    super(options);
    this.addClass('jp-JobsSubmitDialog');
  }

  /** The job the server accepted, once the dialog closed with "Run". */
  job: IJob | null = null;

  resolve(index?: number): void {
    const accept = index === undefined || index === this._acceptIndex;
    if (!accept) {
      super.resolve(index);
      return;
    }
    if (this._busy) {
      return;
    }
    let request: ISubmitRequest;
    try {
      request = this._form.getValue();
    } catch {
      return; // the form marked the field
    }
    this._busy = true;
    this.addClass('jp-mod-busy');
    this._submit(request)
      .then(job => {
        this.job = job;
        super.resolve(index);
      })
      .catch(error => {
        this._form.showError(error);
      })
      .finally(() => {
        this._busy = false;
        this.removeClass('jp-mod-busy');
      });
  }

  /** The button index of "Run" (the last button). */
  private get _acceptIndex(): number {
    return this.node.querySelectorAll('.jp-Dialog-footer button').length - 1;
  }

  private _busy = false;
}

namespace Private {
  export const ids = { next: 0 };
}

export { formatParameterValue };
