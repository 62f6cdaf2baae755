/**
 * The run dialog's "Run now / On a schedule" part (issue 12) and its output formats.
 *
 * On a schedule: a preset (every hour at :MM, every day / every weekday at HH:MM, every week on
 * DAY at HH:MM) or a custom 5-field cron, a time zone (the browser's by default; a searchable list
 * of the IANA names the browser knows), the overlap policy, retries and their delay, the history
 * limit and a notification; a preview in words with the next run, asked of the server
 * (`GET schedule-preview`: the server's cron rules, DST included, are the ones that fire). Submit
 * creates a definition (`POST job-definitions`) or, when editing one, changes it (`PATCH` with the
 * `revision` it was read at).
 */
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import {
  cronToPreset,
  DefinitionsModel,
  defaultTimeZone,
  formatInZone,
  formatTime,
  IDefinitionRequest,
  IJobDefinition,
  INotifySettings,
  parseTime,
  Preset,
  PresetKind,
  presetToCron,
  previewText,
  timeZones,
  WEEKDAYS
} from './definitions-model';
import { RunJobForm } from './dialog';
import { h } from './dom';
import { JobsAPIError } from './handler';
import { IJob, ISubmitRequest } from './tokens';

export namespace ScheduleTab {
  export interface IOptions {
    form: RunJobForm;
    definitions: DefinitionsModel;
    translator?: ITranslator;
    /** Editing this definition: the dialog opens on "On a schedule", prefilled. */
    editing?: IJobDefinition | null;
    /** ms the preview waits after a change before it asks the server. */
    previewDelay?: number;
  }
}

let nextId = 0;

function field(
  label: string,
  input: HTMLElement,
  name: string,
  extra?: HTMLElement | null
): HTMLElement {
  const id = `jp-JobsSchedule-${name}-${nextId++}`;
  input.id = id;
  return h(
    'div',
    { class: 'jp-JobsDialog-row jp-JobsSchedule-row', 'data-row': name },
    h('label', { for: id }, label),
    h('div', { class: 'jp-InputGroup jp-JobsDialog-field' }, input),
    extra ?? null,
    h('div', { class: 'jp-JobsDialog-error', 'data-field': name, role: 'alert', hidden: true })
  );
}

function option(value: string, label: string): HTMLOptionElement {
  return h('option', { value }, label);
}

function checkbox(name: string, label: string, checked = false): [HTMLElement, HTMLInputElement] {
  const input = h('input', { type: 'checkbox', name, checked });
  return [h('label', { class: 'jp-JobsSchedule-check' }, input, ' ' + label), input];
}

export class ScheduleTab {
  constructor(options: ScheduleTab.IOptions) {
    this._options = options;
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._notebook = options.form.kind === 'notebook';
    const node = options.form.node;
    node.appendChild(this._buildOutputs());
    node.appendChild(this._buildWhen());
    node.appendChild(this._buildSchedule());
    this._prefill(options.editing ?? null);
    this._update();
  }

  /** "On a schedule" is chosen. */
  get scheduled(): boolean {
    return this._onSchedule.checked;
  }

  /** The definition made (or changed) when the dialog closed, if it was "On a schedule". */
  definition: IJobDefinition | null = null;

  /** The preset as chosen (throws a JobsAPIError naming `schedule` for a bad time). */
  preset(): Preset {
    const kind = this._preset.value as PresetKind;
    const t = this._trans;
    if (kind === 'custom') {
      const cron = this._cron.value.trim();
      if (!cron) {
        throw new JobsAPIError(
          400,
          t.__('Give a schedule: 5 fields, e.g. 0 6 * * 1-5 (minute hour day month weekday)'),
          'schedule'
        );
      }
      return { kind, cron };
    }
    if (kind === 'hourly') {
      const minute = Number(this._minute.value);
      if (!/^\d{1,2}$/.test(this._minute.value.trim()) || minute > 59) {
        throw new JobsAPIError(400, t.__('The minute is a number from 0 to 59'), 'schedule');
      }
      return { kind, minute };
    }
    const time = parseTime(this._time.value);
    if (!time) {
      throw new JobsAPIError(400, t.__('Give the time as HH:MM, e.g. 06:00'), 'schedule');
    }
    const [hour, minute] = time;
    if (kind === 'weekly') {
      return { kind, day: Number(this._day.value), hour, minute };
    }
    return { kind, hour, minute };
  }

  /** The time zone typed (blank: the browser's). */
  get timezone(): string {
    return this._timezone.value.trim() || defaultTimeZone();
  }

  /** The output formats and notification of a notebook job (for "Run now" too). */
  applyOutputs<T extends ISubmitRequest>(request: T): T & Partial<IDefinitionRequest> {
    const out: T & Partial<IDefinitionRequest> = { ...request };
    if (this._notebook && this._html.checked) {
      out.output_formats = ['ipynb', 'html'];
      if (this._noInput.checked) {
        out.report = { no_input: true };
      }
    }
    const notify = this._notify();
    if (notify) {
      out.notify = notify;
    }
    return out;
  }

  /** The body of `POST job-definitions` (throws a JobsAPIError with `field` when bad). */
  definitionRequest(request: ISubmitRequest): IDefinitionRequest {
    const body: IDefinitionRequest = {
      ...this.applyOutputs(request),
      schedule: presetToCron(this.preset()),
      timezone: this.timezone,
      overlap: this._overlap.value as IDefinitionRequest['overlap'],
      retries: this._int(this._retries, 'retries', 0, 100),
      retry_delay: this._int(this._retryDelay, 'retry_delay', 0, 604800),
      max_history: this._int(this._history, 'max_history', 1, 10000)
    };
    return body;
  }

  /**
   * Submit: "Run now" runs `request` through `runNow`; "On a schedule" saves a definition and
   * says when it runs next. Resolves with the job for "Run now"; for a schedule with the
   * definition (kept in `definition`), which the submit dialog only holds on to.
   */
  async submit(
    request: ISubmitRequest,
    runNow: (r: ISubmitRequest) => Promise<IJob>
  ): Promise<IJob> {
    if (!this.scheduled) {
      return runNow(this.applyOutputs(request));
    }
    const body = this.definitionRequest(request);
    const editing = this._options.editing;
    const model = this._options.definitions;
    let definition: IJobDefinition;
    if (editing) {
      try {
        definition = await model.update(editing.id, {
          ...body,
          notify: body.notify ?? null,
          output_formats: body.output_formats ?? ['ipynb'],
          report: body.report ?? null,
          revision: editing.revision
        } as Partial<IDefinitionRequest> & { revision: number });
      } catch (error) {
        if (error instanceof JobsAPIError && error.status === 409) {
          void model.refresh();
          throw new JobsAPIError(
            409,
            this._trans.__(
              'This schedule was changed elsewhere since you opened it — close this dialog and reload it to edit the current one.'
            )
          );
        }
        throw error;
      }
    } else {
      definition = await model.create(body);
    }
    this.definition = definition;
    const t = this._trans;
    Notification.success(
      definition.next_run_at
        ? t.__(
            'Scheduled “%1”: %2 — next run %3',
            definition.name,
            definition.schedule_description,
            formatInZone(definition.next_run_at, definition.timezone)
          )
        : t.__('Saved “%1” (paused)', definition.name),
      { autoClose: 8000 }
    );
    return definition as unknown as IJob;
  }

  dispose(): void {
    clearTimeout(this._previewTimer);
  }

  // ---------------------------------------------------------------- building

  private _buildOutputs(): HTMLElement {
    const t = this._trans;
    const [html, htmlInput] = checkbox('report_html', t.__('HTML report'));
    const [noInput, noInputInput] = checkbox('report_no_input', t.__('hide input cells'));
    this._html = htmlInput;
    this._noInput = noInputInput;
    htmlInput.addEventListener('change', () => this._update());
    const box = h(
      'fieldset',
      { class: 'jp-JobsDialog-row jp-JobsDialog-group jp-JobsSchedule-outputs' },
      h('legend', {}, t.__('Outputs')),
      h('div', { class: 'jp-JobsDialog-hint' }, t.__('the executed notebook, and')),
      html,
      noInput,
      h('div', {
        class: 'jp-JobsDialog-error',
        'data-field': 'output_formats',
        role: 'alert',
        hidden: true
      })
    );
    box.hidden = !this._notebook;
    return box;
  }

  private _buildWhen(): HTMLElement {
    const t = this._trans;
    const name = `jp-JobsSchedule-when-${nextId++}`;
    this._runNow = h('input', { type: 'radio', name, value: 'now', checked: true });
    this._onSchedule = h('input', { type: 'radio', name, value: 'schedule' });
    for (const radio of [this._runNow, this._onSchedule]) {
      radio.addEventListener('change', () => this._update());
    }
    return h(
      'fieldset',
      { class: 'jp-JobsDialog-row jp-JobsDialog-group jp-JobsSchedule-when' },
      h('legend', {}, t.__('When')),
      h('label', { class: 'jp-JobsSchedule-check' }, this._runNow, ' ' + t.__('Run now')),
      h('label', { class: 'jp-JobsSchedule-check' }, this._onSchedule, ' ' + t.__('On a schedule'))
    );
  }

  private _buildSchedule(): HTMLElement {
    const t = this._trans;
    this._preset = h(
      'select',
      { name: 'preset' },
      option('hourly', t.__('Every hour')),
      option('daily', t.__('Every day at')),
      option('weekdays', t.__('Every weekday (Mon–Fri) at')),
      option('weekly', t.__('Every week on')),
      option('custom', t.__('Custom (cron)'))
    );
    this._preset.value = 'weekdays';
    this._minute = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'minute',
      value: '0',
      inputmode: 'numeric',
      'aria-label': t.__('Minute past the hour')
    });
    this._time = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'time',
      value: '06:00',
      placeholder: 'HH:MM',
      'aria-label': t.__('Time of day (HH:MM)')
    });
    this._day = h('select', { name: 'day', 'aria-label': t.__('Day of the week') });
    for (const [i, day] of WEEKDAYS.entries()) {
      this._day.appendChild(option(String(i), t.__(day)));
    }
    this._day.value = '1';
    this._cron = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'cron',
      placeholder: t.__('minute hour day month weekday, e.g. 0 6 * * 1-5'),
      'aria-label': t.__('Cron schedule')
    });
    this._minuteBox = h('span', { class: 'jp-JobsSchedule-part' }, t.__('at minute'), this._minute);
    this._dayBox = h('span', { class: 'jp-JobsSchedule-part' }, this._day, t.__('at'));
    this._timeBox = h('span', { class: 'jp-JobsSchedule-part' }, this._time);
    this._cronBox = h('span', { class: 'jp-JobsSchedule-part' }, this._cron);
    const presetRow = h(
      'div',
      { class: 'jp-JobsDialog-row jp-JobsSchedule-row', 'data-row': 'schedule' },
      h('label', {}, t.__('Repeat')),
      h(
        'div',
        { class: 'jp-JobsSchedule-preset' },
        this._preset,
        this._minuteBox,
        this._dayBox,
        this._timeBox,
        this._cronBox
      ),
      h('div', {
        class: 'jp-JobsDialog-error',
        'data-field': 'schedule',
        role: 'alert',
        hidden: true
      })
    );

    const listId = `jp-JobsSchedule-zones-${nextId++}`;
    const zones = h('datalist', { id: listId });
    for (const zone of timeZones()) {
      zones.appendChild(h('option', { value: zone }));
    }
    this._timezone = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'timezone',
      list: listId,
      value: defaultTimeZone(),
      placeholder: t.__('e.g. Europe/Berlin')
    });
    this._overlap = h(
      'select',
      { name: 'overlap' },
      option('skip', t.__('skip the new run')),
      option('queue', t.__('start it when the previous ends')),
      option('allow', t.__('run both'))
    );
    this._retries = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'retries',
      value: '0',
      inputmode: 'numeric'
    });
    this._retryDelay = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'retry_delay',
      value: '60',
      inputmode: 'numeric'
    });
    this._history = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'max_history',
      value: '100',
      inputmode: 'numeric'
    });
    this._notifyOn = h(
      'select',
      { name: 'notify_on' },
      option('', t.__('never')),
      option('failure', t.__('when a run fails')),
      option('always', t.__('when a run ends'))
    );
    this._email = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'email',
      placeholder: t.__('name@example.org, another@example.org')
    });
    this._webhook = h('input', {
      type: 'text',
      class: 'jp-mod-styled',
      name: 'webhook',
      placeholder: 'https://hooks.slack.com/services/…'
    });
    this._preview = h('div', {
      class: 'jp-JobsSchedule-preview',
      'data-field': 'preview',
      'aria-live': 'polite'
    });
    this._notifyParts = h(
      'div',
      { class: 'jp-JobsSchedule-notify' },
      field(t.__('E-mail'), this._email, 'notify'),
      field(t.__('Webhook'), this._webhook, 'notify.webhook')
    );
    for (const input of [this._preset, this._day, this._notifyOn]) {
      input.addEventListener('change', () => this._update());
    }
    for (const input of [this._minute, this._time, this._cron, this._timezone]) {
      input.addEventListener('input', () => this._schedulePreview());
      input.addEventListener('change', () => this._schedulePreview());
    }
    this._box = h(
      'fieldset',
      { class: 'jp-JobsDialog-row jp-JobsDialog-group jp-JobsSchedule' },
      h('legend', {}, t.__('Schedule')),
      presetRow,
      field(t.__('Time zone'), this._timezone, 'timezone', zones),
      this._preview,
      field(t.__('If the previous run is still going'), this._overlap, 'overlap'),
      field(t.__('Retries after a failed run'), this._retries, 'retries'),
      field(t.__('Seconds between a failure and its retry'), this._retryDelay, 'retry_delay'),
      field(t.__('Runs kept'), this._history, 'max_history'),
      field(t.__('Notify'), this._notifyOn, 'notify.on'),
      this._notifyParts
    );
    return this._box;
  }

  private _prefill(definition: IJobDefinition | null): void {
    if (!definition) {
      return;
    }
    this._onSchedule.checked = true;
    this._runNow.checked = false;
    this._runNow.disabled = true; // an edit changes the schedule; "Run now" is the row's action
    const preset = cronToPreset(definition.schedule);
    this._preset.value = preset.kind;
    if (preset.kind === 'custom') {
      this._cron.value = preset.cron;
    } else if (preset.kind === 'hourly') {
      this._minute.value = String(preset.minute);
    } else {
      this._time.value = formatTime(preset.hour, preset.minute);
      if (preset.kind === 'weekly') {
        this._day.value = String(preset.day);
      }
    }
    this._timezone.value = definition.timezone;
    this._overlap.value = definition.overlap;
    this._retries.value = String(definition.retries);
    this._retryDelay.value = String(definition.retry_delay);
    this._history.value = String(definition.max_history);
    this._html.checked = (definition.output_formats ?? []).includes('html');
    this._noInput.checked = !!definition.report?.no_input;
    const notify = definition.notify;
    if (notify) {
      this._notifyOn.value = notify.on ?? 'failure';
      this._email.value = (notify.email ?? []).join(', ');
      this._webhook.value = notify.webhook ?? '';
    }
  }

  private _update(): void {
    this._box.hidden = !this.scheduled;
    const kind = this._preset.value;
    this._minuteBox.hidden = kind !== 'hourly';
    this._dayBox.hidden = kind !== 'weekly';
    this._timeBox.hidden = kind === 'hourly' || kind === 'custom';
    this._cronBox.hidden = kind !== 'custom';
    this._noInput.disabled = !this._html.checked;
    this._notifyParts.hidden = !this._notifyOn.value;
    this._schedulePreview();
  }

  private _notify(): INotifySettings | null {
    const on = this._notifyOn.value;
    if (!on) {
      return null;
    }
    const notify: INotifySettings = { on: on as INotifySettings['on'] };
    const email = this._email.value
      .split(/[,;\s]+/)
      .map(s => s.trim())
      .filter(Boolean);
    if (email.length) {
      notify.email = email;
    }
    if (this._webhook.value.trim()) {
      notify.webhook = this._webhook.value.trim();
    }
    if (!notify.email && !notify.webhook) {
      throw new JobsAPIError(
        400,
        this._trans.__('Give an e-mail address or a webhook to notify, or choose “never”.'),
        'notify'
      );
    }
    return notify;
  }

  private _int(input: HTMLInputElement, name: string, min: number, max: number): number {
    const text = input.value.trim();
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new JobsAPIError(400, this._trans.__('A whole number from %1 to %2', min, max), name);
    }
    return value;
  }

  private _schedulePreview(): void {
    clearTimeout(this._previewTimer);
    if (!this.scheduled) {
      return;
    }
    this._previewTimer = setTimeout(
      () => void this._askPreview(),
      this._options.previewDelay ?? 250
    );
  }

  private async _askPreview(): Promise<void> {
    let cron: string;
    try {
      cron = presetToCron(this.preset());
    } catch (error) {
      this._showPreview((error as Error).message, true);
      return;
    }
    const timezone = this.timezone;
    const asked = ++this._previewCount;
    try {
      const reply = await this._options.definitions.client.preview(cron, timezone);
      if (asked === this._previewCount) {
        this._showPreview(previewText(reply.schedule_description, timezone, reply.next_runs[0]));
      }
    } catch (error) {
      if (asked === this._previewCount) {
        this._showPreview((error as Error).message, true);
      }
    }
  }

  private _showPreview(text: string, invalid = false): void {
    this._preview.textContent = text;
    this._preview.classList.toggle('jp-mod-invalid', invalid);
  }

  private _options: ScheduleTab.IOptions;
  private _trans: TranslationBundle;
  private _notebook: boolean;
  private _html!: HTMLInputElement;
  private _noInput!: HTMLInputElement;
  private _runNow!: HTMLInputElement;
  private _onSchedule!: HTMLInputElement;
  private _box!: HTMLElement;
  private _preset!: HTMLSelectElement;
  private _minute!: HTMLInputElement;
  private _time!: HTMLInputElement;
  private _day!: HTMLSelectElement;
  private _cron!: HTMLInputElement;
  private _minuteBox!: HTMLElement;
  private _dayBox!: HTMLElement;
  private _timeBox!: HTMLElement;
  private _cronBox!: HTMLElement;
  private _timezone!: HTMLInputElement;
  private _overlap!: HTMLSelectElement;
  private _retries!: HTMLInputElement;
  private _retryDelay!: HTMLInputElement;
  private _history!: HTMLInputElement;
  private _notifyOn!: HTMLSelectElement;
  private _email!: HTMLInputElement;
  private _webhook!: HTMLInputElement;
  private _notifyParts!: HTMLElement;
  private _preview!: HTMLElement;
  private _previewTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _previewCount = 0;
}
