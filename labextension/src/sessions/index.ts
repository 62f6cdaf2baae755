/**
 * Remote sessions in the Jobs sidebar (plugin `jupyter-jobs:remote-sessions`): mounts the section
 * and wires its actions to JupyterLab (open the notebook; interrupt and shut down the kernel
 * through the kernels service). Closing the last notebook of a remote kernel shuts the kernel down,
 * which ends its job: no allocation keeps running unseen after its notebook is gone.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator } from '@jupyterlab/translation';

import { EVENT_SCHEMA_ID, IJobsSidebar } from '../tokens';
import { IRemoteSession, RemoteSessionsModel } from './sessions-model';
import { RemoteSessionsPanel, SessionAction } from './sessions-panel';

export { RemoteSessionsModel, RemoteSessionsPanel };

/** Kernel names of remote-kernel specs (jupyter_jobs/kernels/specs.py). */
export const REMOTE_KERNEL_PREFIX = 'jupyter-jobs-';

export const remoteSessionsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-jobs:remote-sessions',
  description: 'Remote kernels (kernels inside SLURM jobs) in the Jobs sidebar.',
  autoStart: true,
  requires: [IJobsSidebar],
  optional: [INotebookTracker, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidebar: IJobsSidebar,
    notebooks: INotebookTracker | null,
    translator: ITranslator | null
  ) => {
    const model = new RemoteSessionsModel({
      settings: app.serviceManager.serverSettings
    });
    const kernels = app.serviceManager.kernels;
    const onAction = (action: SessionAction, s: IRemoteSession) => {
      if (action === 'open' && s.path) {
        void app.commands.execute('docmanager:open', { path: s.path });
      } else if (action === 'interrupt') {
        void kernels
          .connectTo({ model: { id: s.kernel_id, name: s.kernel_name ?? '' } })
          .interrupt()
          .finally(() => void model.refresh());
      } else if (action === 'shutdown') {
        void kernels.shutdown(s.kernel_id).finally(() => void model.refresh());
      }
    };
    sidebar.addSection(
      new RemoteSessionsPanel({
        model,
        onAction,
        translator: translator ?? undefined
      }),
      { rank: 100 }
    );
    app.serviceManager.events.stream.connect((_, event) => {
      const job = (event as any).job;
      if (event.schema_id === EVENT_SCHEMA_ID && (!job || job.kind === 'kernel')) {
        void model.refresh();
      }
    });
    kernels.runningChanged.connect(() => void model.refresh());
    if (notebooks) {
      notebooks.widgetAdded.connect((_, panel) => shutDownOnClose(panel, notebooks, app));
    }
    model.start();
  }
};

/** When the last notebook using a remote kernel closes, shut the kernel (and its job) down. */
function shutDownOnClose(panel: NotebookPanel, notebooks: INotebookTracker, app: JupyterFrontEnd) {
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
  panel.disposed.connect(() => {
    if (!kernel || !kernel.name.startsWith(REMOTE_KERNEL_PREFIX)) {
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
