/**
 * Remote kernels in JupyterLab's Running panel (`IRunningSessionManagers`), in a "Remote kernels"
 * section: each with its notebook (click opens it) and its SLURM job or pod, or "queued" while its
 * job waits — when JupyterLab's own Kernels section does not list it yet; the hover says why, where
 * and what. Each has a shut-down action. The section follows the model of the Jobs sidebar's
 * Remote sessions section (events, no polling).
 */
import type { IRunningSessionManagers, IRunningSessions } from '@jupyterlab/running';
import { TranslationBundle } from '@jupyterlab/translation';
import { kernelIcon, notebookIcon } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { backendLabel } from '../labels';
import { IRemoteSession, RemoteSessionsModel } from './sessions-model';
import { engineText, isWaiting, notebookText, stateText } from './sessions-panel';

export namespace RemoteKernelsRunning {
  export interface IOptions {
    model: RemoteSessionsModel;
    trans: TranslationBundle;
    open: (session: IRemoteSession) => void;
    shutdown: (session: IRemoteSession) => Promise<void>;
  }
}

/** What a remote kernel's item says on hover: notebook, backend, engine id, node and state. */
export function runningTitle(trans: TranslationBundle, s: IRemoteSession): string {
  const lines = [
    s.path ?? notebookText(trans, s),
    `${backendLabel(s.job.backend, s.job.profile)} · ${engineText(trans, s)}` +
      (s.job.host ? ' · ' + trans.__('on %1', s.job.host) : ''),
    stateText(trans, s)
  ];
  return lines.join('\n');
}

/** The items of the section (pure but for the actions). */
export function runningItems(
  options: RemoteKernelsRunning.IOptions
): IRunningSessions.IRunningItem[] {
  const { model, trans } = options;
  return model.sessions.map(s => ({
    icon: () => (s.path ? notebookIcon : kernelIcon),
    label: () => notebookText(trans, s),
    labelTitle: () => runningTitle(trans, s),
    detail: () => (isWaiting(s) ? trans.__('queued') : engineText(trans, s)),
    className: 'jp-JobsRunning-remoteKernel',
    context: s.kernel_id,
    open: s.path ? () => options.open(s) : undefined,
    shutdown: () => void options.shutdown(s)
  }));
}

/** Add the "Remote kernels" section; dispose the returned object to remove it. */
export function addRemoteKernelsToRunning(
  managers: IRunningSessionManagers,
  options: RemoteKernelsRunning.IOptions
): IDisposable {
  const { model, trans } = options;
  const changed = new Signal<RemoteSessionsModel, void>(model);
  const forward = () => changed.emit();
  model.changed.connect(forward);
  const added = managers.add({
    name: trans.__('Remote kernels'),
    supportsMultipleViews: false,
    running: () => runningItems(options),
    refreshRunning: () => void model.refresh(),
    runningChanged: changed,
    shutdownAll: () => {
      for (const s of model.sessions) {
        void options.shutdown(s);
      }
    },
    shutdownLabel: trans.__('Shut Down Kernel'),
    shutdownAllLabel: trans.__('Shut Down All'),
    shutdownAllConfirmationText: trans.__(
      'Are you sure you want to permanently shut down all remote kernels? Their jobs end, and kernels still waiting in the queue leave it.'
    )
  });
  return {
    get isDisposed() {
      return added.isDisposed;
    },
    dispose() {
      model.changed.disconnect(forward);
      added.dispose();
    }
  };
}
