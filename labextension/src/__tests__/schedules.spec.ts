/**
 * Issue 12 in the browser's code: schedule presets ↔ cron, the preview's words and instants in
 * the definition's time zone, the time zone default, and what the run dialog's schedule part
 * sends. The server's answers (schedule-preview, job-definitions) are tested in the browser test
 * against a real server (ui-tests/tests/schedules.spec.ts).
 */
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  cronToPreset,
  DefinitionsClient,
  DefinitionsModel,
  defaultTimeZone,
  formatInZone,
  IJobDefinition,
  parseTime,
  Preset,
  presetToCron,
  previewText,
  timeZones
} from '../definitions-model';
import { lastText, nextText, scheduleText } from '../definitions-panel';
import { RunJobForm } from '../dialog';
import { JobsAPIError } from '../handler';
import { reportOutput } from '../job-row';
import { ScheduleTab } from '../schedule-tab';
import { nullTranslator } from '@jupyterlab/translation';
import { IBackendsReply, IJob } from '../tokens';

const trans = nullTranslator.load('jupyter_jobs');

describe('presets and cron', () => {
  const cases: [Preset, string][] = [
    [{ kind: 'hourly', minute: 0 }, '0 * * * *'],
    [{ kind: 'hourly', minute: 15 }, '15 * * * *'],
    [{ kind: 'daily', hour: 6, minute: 30 }, '30 6 * * *'],
    [{ kind: 'weekdays', hour: 6, minute: 0 }, '0 6 * * 1-5'],
    [{ kind: 'weekly', day: 1, hour: 7, minute: 30 }, '30 7 * * 1'],
    [{ kind: 'weekly', day: 0, hour: 23, minute: 59 }, '59 23 * * 0'],
    [{ kind: 'custom', cron: '*/5 9-17 * * 1-5' }, '*/5 9-17 * * 1-5']
  ];
  it.each(cases)('%j is %s and back', (preset, cron) => {
    expect(presetToCron(preset)).toBe(cron);
    expect(cronToPreset(cron)).toEqual(preset);
  });

  it('reads names, aliases and a 7 for Sunday as presets', () => {
    expect(cronToPreset('0 6 * * MON-FRI')).toEqual({ kind: 'weekdays', hour: 6, minute: 0 });
    expect(cronToPreset('0 6 * * fri')).toEqual({ kind: 'weekly', day: 5, hour: 6, minute: 0 });
    expect(cronToPreset('0 6 * * 7')).toEqual({ kind: 'weekly', day: 0, hour: 6, minute: 0 });
    expect(cronToPreset('@daily')).toEqual({ kind: 'daily', hour: 0, minute: 0 });
    expect(cronToPreset('@hourly')).toEqual({ kind: 'hourly', minute: 0 });
  });

  it('keeps every other schedule as custom, spaces tidied', () => {
    for (const cron of ['0 6 1 * *', '0 6 * 1 *', '0 6,18 * * *', '0 6 * * 1,3', '@monthly']) {
      expect(cronToPreset(cron)).toEqual({ kind: 'custom', cron });
    }
    expect(cronToPreset('  0   6 * *  1-5 ')).toEqual({ kind: 'weekdays', hour: 6, minute: 0 });
    expect(presetToCron({ kind: 'custom', cron: ' 0  6 * * * ' })).toBe('0 6 * * *');
    expect(cronToPreset('61 6 * * *')).toEqual({ kind: 'custom', cron: '61 6 * * *' });
  });

  it('parses a time of day', () => {
    expect(parseTime('06:00')).toEqual([6, 0]);
    expect(parseTime(' 7:05 ')).toEqual([7, 5]);
    expect(parseTime('24:00')).toBeNull();
    expect(parseTime('6:60')).toBeNull();
    expect(parseTime('six')).toBeNull();
  });
});

describe('time zones and the preview', () => {
  it("defaults to the browser's IANA zone", () => {
    const expected = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(defaultTimeZone()).toBe(expected);
    const zones = timeZones();
    expect(zones[0]).toBe('UTC');
    expect(zones).toContain(expected);
    expect(zones).toContain('Europe/Berlin');
    expect(new Set(zones).size).toBe(zones.length);
  });

  it('shows an instant on the clock of the time zone, across DST', () => {
    // Mon 2 Dec 2024 05:00 UTC is 06:00 in Berlin (CET, +1)
    expect(formatInZone('2024-12-02T05:00:00Z', 'Europe/Berlin')).toBe('Mon 2 Dec 06:00');
    // in summer (CEST, +2) 06:00 Berlin is 04:00 UTC
    expect(formatInZone('2024-07-01T04:00:00Z', 'Europe/Berlin')).toBe('Mon 1 Jul 06:00');
    expect(formatInZone('2024-12-02T05:00:00Z', 'America/New_York')).toBe('Mon 2 Dec 00:00');
    expect(formatInZone('not a date', 'UTC')).toBe('not a date');
  });

  it('reads as the issue says', () => {
    expect(previewText('every weekday at 06:00', 'Europe/Berlin', '2024-12-02T05:00:00Z')).toBe(
      'every weekday at 06:00 Europe/Berlin — next: Mon 2 Dec 06:00'
    );
    expect(previewText('every day at 06:00', 'UTC', null)).toBe('every day at 06:00 UTC');
  });
});

function definition(over: Partial<IJobDefinition> = {}): IJobDefinition {
  return {
    id: 'd1',
    name: 'report.ipynb',
    path: 'report.ipynb',
    schedule: '0 6 * * 1-5',
    schedule_description: 'every weekday at 06:00',
    timezone: 'Europe/Berlin',
    active: true,
    overlap: 'skip',
    retries: 0,
    retry_delay: 60,
    max_history: 100,
    created_at: '2024-11-30T10:00:00Z',
    updated_at: '2024-11-30T10:00:00Z',
    revision: 1,
    next_run_at: '2024-12-02T05:00:00Z',
    last_run: null,
    last_skipped: null,
    run_count: 0,
    fired_by: 'server',
    ...over
  };
}

describe('the Definitions section words', () => {
  it('says the schedule, the next run and the last', () => {
    const d = definition();
    expect(scheduleText(d)).toBe('every weekday at 06:00 (Europe/Berlin)');
    expect(nextText(trans, d)).toBe('next: Mon 2 Dec 06:00');
    expect(lastText(trans, d)).toBe('no runs yet');
    const ran = definition({
      last_run: { id: 'j1', status: 'failed', at: '2024-12-02T05:00:03Z' }
    });
    expect(lastText(trans, ran)).toBe('last: failed Mon 2 Dec 06:00');
    expect(nextText(trans, definition({ active: false, next_run_at: null }))).toBe('paused');
    const skipped = definition({
      last_skipped: { at: '2024-12-03T05:00:00Z', reason: 'the previous run is still going' }
    });
    expect(lastText(trans, skipped)).toBe(
      'skipped Tue 3 Dec 06:00: the previous run is still going'
    );
  });

  it('finds the HTML report among the outputs', () => {
    const job = { outputs: ['job-outputs/a.ipynb', 'job-outputs/a.html'] } as IJob;
    expect(reportOutput(job)).toBe('job-outputs/a.html');
    expect(reportOutput({ outputs: ['job-outputs/a.ipynb'] } as IJob)).toBeNull();
  });
});

function backends(): IBackendsReply {
  return {
    backends: [
      {
        name: 'local',
        display_name: 'This machine',
        available: true,
        reason: null,
        supports_kernels: false,
        default_profile: 'default',
        profiles: [
          {
            name: 'default',
            display_name: 'Default',
            description: '',
            resources: {},
            max_resources: {},
            kernels: false
          }
        ]
      }
    ]
  } as unknown as IBackendsReply;
}

describe('the run dialog schedule part', () => {
  let tab: ScheduleTab;
  let form: RunJobForm;
  const asked: string[] = [];
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost/',
    fetch: (async (input: RequestInfo) => {
      asked.push(String(input instanceof Request ? input.url : input));
      return new Response(
        JSON.stringify({ message: 'no server in this test', field: 'schedule' }),
        { status: 400, headers: { 'Content-Type': 'application/json' } }
      );
    }) as typeof fetch
  });

  function make(path: string, editing: IJobDefinition | null = null): void {
    form = new RunJobForm({ path, backends: backends() });
    Widget.attach(form, document.body);
    tab = new ScheduleTab({
      form,
      editing,
      previewDelay: 0,
      definitions: new DefinitionsModel({
        client: new DefinitionsClient(settings),
        refreshInterval: 0
      })
    });
  }

  const input = (name: string) =>
    form.node.querySelector(`[name="${name}"]`) as HTMLInputElement & HTMLSelectElement;

  afterEach(() => {
    tab.dispose();
    Widget.detach(form);
    form.dispose();
  });

  it('is "Run now" first, with the schedule hidden and the outputs for notebooks', () => {
    make('report.ipynb');
    expect(tab.scheduled).toBe(false);
    expect((form.node.querySelector('.jp-JobsSchedule') as HTMLElement).hidden).toBe(true);
    expect((form.node.querySelector('.jp-JobsSchedule-outputs') as HTMLElement).hidden).toBe(false);
    expect(input('timezone').value).toBe(defaultTimeZone());
    const request = form.getValue();
    expect(tab.applyOutputs(request).output_formats).toBeUndefined();
    input('report_html').checked = true;
    input('report_no_input').checked = true;
    expect(tab.applyOutputs(request)).toMatchObject({
      output_formats: ['ipynb', 'html'],
      report: { no_input: true }
    });
  });

  it('has no report choice for a script', () => {
    make('train.py');
    expect((form.node.querySelector('.jp-JobsSchedule-outputs') as HTMLElement).hidden).toBe(true);
  });

  it('sends the preset as cron with the time zone and the policies', () => {
    make('report.ipynb');
    const onSchedule = form.node.querySelector('input[value="schedule"]') as HTMLInputElement;
    onSchedule.checked = true;
    onSchedule.dispatchEvent(new Event('change'));
    expect(tab.scheduled).toBe(true);
    expect((form.node.querySelector('.jp-JobsSchedule') as HTMLElement).hidden).toBe(false);
    input('preset').value = 'weekly';
    input('preset').dispatchEvent(new Event('change'));
    input('day').value = '3';
    input('time').value = '07:45';
    input('timezone').value = 'Europe/Berlin';
    input('overlap').value = 'queue';
    input('retries').value = '2';
    input('retry_delay').value = '300';
    input('max_history').value = '10';
    input('notify_on').value = 'failure';
    input('email').value = 'me@example.org, you@example.org';
    const body = tab.definitionRequest(form.getValue());
    expect(body).toMatchObject({
      path: 'report.ipynb',
      kind: 'notebook',
      schedule: '45 7 * * 3',
      timezone: 'Europe/Berlin',
      overlap: 'queue',
      retries: 2,
      retry_delay: 300,
      max_history: 10,
      notify: { on: 'failure', email: ['me@example.org', 'you@example.org'] }
    });
  });

  it('refuses a bad time, a bad number and a notification without an address', () => {
    make('report.ipynb');
    input('preset').value = 'daily';
    input('time').value = '25:00';
    expect(() => tab.definitionRequest(form.getValue())).toThrow(JobsAPIError);
    try {
      tab.definitionRequest(form.getValue());
    } catch (error) {
      expect((error as JobsAPIError).field).toBe('schedule');
      expect((error as Error).message).toBe('Give the time as HH:MM, e.g. 06:00');
    }
    input('time').value = '06:00';
    input('retries').value = '-1';
    expect(() => tab.definitionRequest(form.getValue())).toThrow('A whole number from 0 to 100');
    input('retries').value = '0';
    input('notify_on').value = 'always';
    expect(() => tab.definitionRequest(form.getValue())).toThrow(/e-mail address or a webhook/);
  });

  it('opens prefilled when a definition is edited', () => {
    make(
      'report.ipynb',
      definition({
        schedule: '30 7 * * 1',
        timezone: 'America/New_York',
        overlap: 'allow',
        retries: 3,
        output_formats: ['ipynb', 'html'],
        notify: { on: 'always', webhook: 'https://example.org/hook' }
      })
    );
    expect(tab.scheduled).toBe(true);
    expect(input('preset').value).toBe('weekly');
    expect(input('day').value).toBe('1');
    expect(input('time').value).toBe('07:30');
    expect(input('timezone').value).toBe('America/New_York');
    expect(input('report_html').checked).toBe(true);
    const body = tab.definitionRequest(form.getValue());
    expect(body).toMatchObject({
      schedule: '30 7 * * 1',
      overlap: 'allow',
      retries: 3,
      notify: { on: 'always', webhook: 'https://example.org/hook' }
    });
  });

  it("shows the server's refusal of a schedule in the preview", async () => {
    make('report.ipynb');
    const onSchedule = form.node.querySelector('input[value="schedule"]') as HTMLInputElement;
    onSchedule.checked = true;
    onSchedule.dispatchEvent(new Event('change'));
    input('preset').value = 'custom';
    input('preset').dispatchEvent(new Event('change'));
    input('cron').value = '0 6 * * 1-5';
    input('cron').dispatchEvent(new Event('input'));
    const preview = form.node.querySelector('[data-field="preview"]') as HTMLElement;
    for (let i = 0; i < 50 && !preview.textContent; i++) {
      await new Promise(r => setTimeout(r, 10));
    }
    expect(preview.textContent).toBe('no server in this test');
    expect(preview.classList.contains('jp-mod-invalid')).toBe(true);
    const url = new URL(asked[asked.length - 1]);
    expect(url.pathname).toBe('/jupyter-jobs/api/schedule-preview');
    expect(url.searchParams.get('schedule')).toBe('0 6 * * 1-5');
    expect(url.searchParams.get('timezone')).toBe(defaultTimeZone());
  });
});
