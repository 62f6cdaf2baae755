/**
 * Open the "Run as Background Job" dialog for a file and submit the job.
 */
import { Dialog } from '@jupyterlab/apputils';
import type { Contents } from '@jupyterlab/services';
import type { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IRunChoices, RunJobForm, SubmitDialog } from './dialog';
import { basename, extname } from './format';
import { JobsModel } from './model';
import { IParameter, readParameters } from './parameters';
import { DefinitionsClient, DefinitionsModel, IJobDefinition } from './definitions-model';
import { ScheduleTab } from './schedule-tab';
import { SweepTab } from './sweep-tab';
import { IJob } from './tokens';

export interface IRunDialogDeps {
  model: JobsModel;
  contents: Contents.IManager;
  translator?: ITranslator;
  state?: IStateDB | null;
  /** Settings: the default backend and profile. */
  defaults?: () => { backend?: string; profile?: string };
  /** Issue 12: where definitions go ("On a schedule"), and the one being edited, if any. */
  definitions?: DefinitionsModel;
  editing?: IJobDefinition | null;
}

const STATE_PREFIX = 'jupyter-jobs:last-run:';
/** Used when there is no state database (tests). */
const memory = new Map<string, IRunChoices>();

export async function loadChoices(
  state: IStateDB | null | undefined,
  path: string
): Promise<IRunChoices | null> {
  if (state) {
    try {
      const value = await state.fetch(STATE_PREFIX + path);
      return (value as IRunChoices | undefined) ?? null;
    } catch {
      return null;
    }
  }
  return memory.get(path) ?? null;
}

export async function saveChoices(
  state: IStateDB | null | undefined,
  path: string,
  choices: IRunChoices
): Promise<void> {
  if (state) {
    await state.save(STATE_PREFIX + path, choices as unknown as ReadonlyPartialJSONObject);
  } else {
    memory.set(path, choices);
  }
}

/**
 * Show the dialog for `path`; resolves with the submitted job, or null when cancelled.
 */
export async function runAsBackgroundJob(path: string, deps: IRunDialogDeps): Promise<IJob | null> {
  const trans = (deps.translator ?? nullTranslator).load('jupyter_jobs');
  const [backends, remembered, parameters] = await Promise.all([
    deps.model.client.backends(),
    loadChoices(deps.state, path),
    extname(path) === '.ipynb' ? notebookParameters(deps.contents, path) : Promise.resolve([])
  ]);
  const defaults = deps.defaults?.() ?? {};
  const form = new RunJobForm({
    path,
    backends,
    parameters,
    remembered: deps.editing ? (deps.editing as IRunChoices) : remembered,
    defaultBackend: defaults.backend,
    defaultProfile: defaults.profile,
    translator: deps.translator
  });
  // issue 13: the "Sweep" and "Wait for" parts (sweep-tab.ts) add to the request before it goes
  const sweep = new SweepTab({ form, parameters, model: deps.model, translator: deps.translator });
  // issue 12: "Run now / On a schedule" and the output formats (schedule-tab.ts)
  const schedule = new ScheduleTab({
    form,
    translator: deps.translator,
    editing: deps.editing,
    definitions:
      deps.definitions ??
      new DefinitionsModel({
        client: new DefinitionsClient(deps.model.client.serverSettings),
        refreshInterval: 0
      })
  });
  const dialog = new SubmitDialog(
    {
      title: deps.editing
        ? trans.__('Edit the schedule of “%1”', deps.editing.name)
        : trans.__('Run “%1” as a background job', basename(path)),
      body: form,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: deps.editing ? trans.__('Save') : trans.__('Run') })
      ],
      focusNodeSelector: 'input[name="name"]'
    },
    form,
    async request => schedule.submit(sweep.apply(request), r => deps.model.submit(r))
  );
  const result = await dialog.launch();
  schedule.dispose();
  if (!result.button.accept || !dialog.job) {
    return null;
  }
  await saveChoices(deps.state, path, form.getChoices());
  return schedule.definition ? null : dialog.job;
}

async function notebookParameters(
  contents: Contents.IManager,
  path: string
): Promise<IParameter[]> {
  try {
    const model = await contents.get(path, { content: true, type: 'notebook' });
    return readParameters(model.content);
  } catch {
    return [];
  }
}
