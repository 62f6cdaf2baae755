/**
 * Remote sessions in the Jobs sidebar: mounts the section and wires its actions to JupyterLab
 * (open the notebook, interrupt and shut down the kernel through the kernels service).
 */
import { JupyterFrontEnd } from "@jupyterlab/application";
import { ITranslator } from "@jupyterlab/translation";

import { JobsModel } from "../model";
import { IJobsSidebar } from "../tokens";
import { IRemoteSession, RemoteSessionsModel } from "./sessions-model";
import { RemoteSessionsPanel, SessionAction } from "./sessions-panel";

export { RemoteSessionsModel, RemoteSessionsPanel };

export function addRemoteSessions(
  app: JupyterFrontEnd,
  sidebar: IJobsSidebar,
  jobs: JobsModel,
  translator?: ITranslator,
): RemoteSessionsPanel {
  const model = new RemoteSessionsModel({
    settings: app.serviceManager.serverSettings,
  });
  const kernels = app.serviceManager.kernels;
  const onAction = (action: SessionAction, s: IRemoteSession) => {
    if (action === "open" && s.path) {
      void app.commands.execute("docmanager:open", { path: s.path });
    } else if (action === "interrupt") {
      void kernels
        .connectTo({ model: { id: s.kernel_id, name: s.kernel_name ?? "" } })
        .interrupt()
        .finally(() => void model.refresh());
    } else if (action === "shutdown") {
      void kernels.shutdown(s.kernel_id).finally(() => void model.refresh());
    }
  };
  const panel = new RemoteSessionsPanel({ model, onAction, translator });
  sidebar.addSection(panel, { rank: 100 });
  jobs.jobChanged.connect((_, job) => {
    if (job.kind === "kernel") {
      void model.refresh();
    }
  });
  kernels.runningChanged.connect(() => void model.refresh());
  model.start();
  return panel;
}
