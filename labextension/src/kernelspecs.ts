/**
 * Remote-kernel specs follow the backends (plugin `jupyter-jobs:kernelspecs`).
 *
 * The server re-checks its kernel backends every `RemoteKernelSpecs.refresh_interval` seconds and
 * emits a `kernelspecs` event when the specs it offers change (slurmctld back: "Python 3 — SLURM"
 * appears; gone: it goes). On that event JupyterLab's kernel specs are fetched again, so the
 * Launcher and the kernel picker follow without a reload (JupyterLab itself polls only every 61 s).
 *
 * One refresh at a time: events that arrive during a refresh cause exactly one more after it. A
 * hidden page refreshes when it is shown again (JupyterLab's poll stands by while hidden).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { Event, KernelSpec } from '@jupyterlab/services';

import { KERNELSPECS_SCHEMA_ID } from './tokens';

/** The part of JupyterLab's kernel spec manager this needs. */
export type IRefreshable = Pick<KernelSpec.IManager, 'refreshSpecs'>;

/**
 * Call `specs.refreshSpecs()` whenever `stream` carries a kernelspecs event; returns a function
 * that stops following.
 */
export function followKernelSpecs(
  stream: Event.Stream,
  specs: IRefreshable,
  doc: Document | null = typeof document === 'undefined' ? null : document
): () => void {
  let running: Promise<void> | null = null;
  let again = false;
  let waitingForShow = false;
  let stopped = false;

  const refresh = (): void => {
    if (stopped) {
      return;
    }
    if (doc?.hidden) {
      waitingForShow = true;
      return;
    }
    if (running) {
      again = true;
      return;
    }
    running = specs
      .refreshSpecs()
      .catch(reason => console.warn('jupyter-jobs: kernel specs not refreshed', reason))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          refresh();
        }
      });
  };

  const onEvent = (_: unknown, event: Event.Emission) => {
    if (event.schema_id === KERNELSPECS_SCHEMA_ID) {
      refresh();
    }
  };
  const onVisibility = () => {
    if (waitingForShow && !doc?.hidden) {
      waitingForShow = false;
      refresh();
    }
  };

  stream.connect(onEvent);
  doc?.addEventListener('visibilitychange', onVisibility);
  return () => {
    stopped = true;
    stream.disconnect(onEvent);
    doc?.removeEventListener('visibilitychange', onVisibility);
  };
}

export const kernelSpecsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-jobs:kernelspecs',
  description:
    'Remote-kernel specs follow the backends: the Launcher updates when one comes or goes.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    followKernelSpecs(app.serviceManager.events.stream, app.serviceManager.kernelspecs);
  }
};
