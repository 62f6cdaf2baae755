/**
 * Remote sessions (plugin `jupyter-jobs:remote-sessions`): the Jobs sidebar's "Remote sessions"
 * section and, when JupyterLab has its Running panel, a "Remote kernels" section there; both wired
 * to JupyterLab (open the notebook; interrupt and shut down the kernel through the kernels
 * service, or cancel its job through the jobs API while it still waits in the queue). Closing the
 * last notebook of a remote kernel shuts the kernel down, which ends its job: no allocation keeps
 * running unseen after its notebook is gone.
 *
 * The list follows the server's events (no polling, see `sessions-model.ts`).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRunningSessionManagers } from '@jupyterlab/running';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { requestAPI } from '../handler';
import { IJobsSidebar } from '../tokens';
import { addRemoteKernelsToRunning } from './running';
import {
  IRemoteSession,
  IServerEvent,
  REMOTE_KERNEL_PREFIX,
  RemoteSessionsModel
} from './sessions-model';
import { isWaiting, RemoteSessionsPanel, SessionAction } from './sessions-panel';

export { RemoteSessionsModel, RemoteSessionsPanel, REMOTE_KERNEL_PREFIX };

export const remoteSessionsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-jobs:remote-sessions',
  description:
    'Remote kernels (kernels inside SLURM jobs or pods) in the Jobs sidebar and the Running panel.',
  autoStart: true,
  requires: [IJobsSidebar],
  optional: [INotebookTracker, ITranslator, IRunningSessionManagers],
  activate: (
    app: JupyterFrontEnd,
    sidebar: IJobsSidebar,
    notebooks: INotebookTracker | null,
    translator: ITranslator | null,
    running: IRunningSessionManagers | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_jobs');
    const settings = app.serviceManager.serverSettings;
    const model = new RemoteSessionsModel({ settings });
    const { kernels, kernelspecs, sessions } = app.serviceManager;

    const open = (s: IRemoteSession) => {
      if (s.path) {
        void app.commands.execute('docmanager:open', { path: s.path });
      }
    };
    const shutdown = async (s: IRemoteSession) => {
      try {
        if (isWaiting(s) || ![...kernels.running()].some(k => k.id === s.kernel_id)) {
          // the kernel is not up yet (JupyterLab does not know it): its job leaves the queue
          await requestAPI(
            `jobs/${encodeURIComponent(s.job.id)}/cancel`,
            { method: 'POST' },
            settings
          );
        } else {
          await kernels.shutdown(s.kernel_id);
        }
      } catch (error) {
        console.warn('jupyter-jobs: shutting down the remote kernel', s.kernel_id, error);
      }
      await model.refresh();
    };
    const onAction = (action: SessionAction, s: IRemoteSession) => {
      if (action === 'open') {
        open(s);
      } else if (action === 'interrupt') {
        void kernels
          .connectTo({ model: { id: s.kernel_id, name: s.kernel_name ?? '' } })
          .interrupt()
          .finally(() => void model.refresh());
      } else if (action === 'shutdown') {
        void shutdown(s);
      }
    };
    const offeredKernels = () =>
      Object.values(kernelspecs.specs?.kernelspecs ?? {})
        .filter(spec => !!spec && spec.name.startsWith(REMOTE_KERNEL_PREFIX))
        .map(spec => spec!.display_name || spec!.name);

    const panel = new RemoteSessionsPanel({
      model,
      onAction,
      offeredKernels,
      translator: translator ?? undefined
    });
    sidebar.addSection(panel, { rank: 100 });
    kernelspecs.specsChanged.connect(() => panel.update());

    app.serviceManager.events.stream.connect((_, event) => {
      model.handleEvent(event as unknown as IServerEvent);
    });
    kernels.runningChanged.connect((_, models) => model.handleKernelsChanged(models));
    sessions.runningChanged.connect((_, models) => model.handleSessionsChanged(models));

    if (running) {
      addRemoteKernelsToRunning(running, { model, trans, open, shutdown });
    }
    if (notebooks) {
      notebooks.widgetAdded.connect((_, nb) =>
        shutDownOnClose(nb, notebooks, app, path => {
          // its kernel still waits in the queue (JupyterLab has no kernel yet): cancel that job
          for (const s of model.sessions) {
            if (s.path === path && isWaiting(s)) {
              void shutdown(s);
            }
          }
        })
      );
    }
    void model.start();
  }
};

/**
 * When the last notebook using a remote kernel closes, shut the kernel (and its job) down; when it
 * closes before its kernel left the queue, cancel the queued job (else the kernel would start
 * later for nobody).
 */
function shutDownOnClose(
  panel: NotebookPanel,
  notebooks: INotebookTracker,
  app: JupyterFrontEnd,
  cancelQueued: (path: string) => void
) {
  // remember the kernel while the panel lives: its session is gone by the time it is disposed
  let kernel: { id: string; name: string } | null = null;
  const remember = () => {
    // the session context sets its kernel to null while it is disposed: keep the last one
    const k = panel.sessionContext.session?.kernel;
    if (k) {
      kernel = { id: k.id, name: k.name };
    }
  };
  panel.sessionContext.kernelChanged.connect(remember);
  void panel.sessionContext.ready.then(remember);
  let path = panel.context.path;
  panel.context.pathChanged.connect((_, p) => (path = p));
  panel.disposed.connect(() => {
    if (!kernel) {
      let open = false;
      notebooks.forEach(other => {
        if (other !== panel && other.context.path === path) {
          open = true;
        }
      });
      if (!open) {
        cancelQueued(path);
      }
      return;
    }
    if (!kernel.name.startsWith(REMOTE_KERNEL_PREFIX)) {
      return;
    }
    const id = kernel.id;
    let shared = false;
    notebooks.forEach(other => {
      if (other !== panel && other.sessionContext.session?.kernel?.id === id) {
        shared = true;
      }
    });
    if (!shared) {
      void app.serviceManager.kernels.shutdown(id).catch(() => undefined);
    }
  });
}
