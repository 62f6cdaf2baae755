/**
 * jupyter-jobs JupyterLab extension: the Jobs sidebar, "Run as Background Job…", the log viewer,
 * notifications and a status-bar item.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { JobsClient } from './api';
import { registerCommands } from './commands';
import { EventsSocket } from './connection';
import { kernelSpecsPlugin } from './kernelspecs';
import { DefinitionsClient, DefinitionsModel } from './definitions-model';
import { DefinitionsPanel } from './definitions-panel';
import { reportOutput, RowAction } from './job-row';
import { LogViewer } from './log-viewer';
import { JobsModel } from './model';
import { connectNotifications } from './notifications';
import { runAsBackgroundJob } from './run-dialog';
import { remoteSessionsPlugin } from './sessions';
import { JobsSidebar } from './sidebar';
import { JobsStatusItem } from './status-bar';
import { registerResultsCommands, ResultsCommandIDs } from './results-view';
import { CommandIDs, IJob, IJobsSidebar, PLUGIN_ID } from './tokens';

export * from './tokens';
export { JobsModel } from './model';
export { JobsClient } from './api';
export { requestAPI, JobsAPIError } from './handler';
export { followKernelSpecs } from './kernelspecs';

interface ISettings {
  defaultBackend: string;
  defaultProfile: string;
  notifications: boolean;
}

const plugin: JupyterFrontEndPlugin<IJobsSidebar> = {
  id: PLUGIN_ID,
  description:
    'Background and launcher jobs: the Jobs sidebar, dialog, log viewer and notifications.',
  autoStart: true,
  provides: IJobsSidebar,
  optional: [
    ITranslator,
    ILayoutRestorer,
    ISettingRegistry,
    ICommandPalette,
    IFileBrowserFactory,
    IStatusBar,
    IStateDB,
    ILabShell
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    browserFactory: IFileBrowserFactory | null,
    statusBar: IStatusBar | null,
    state: IStateDB | null
  ): IJobsSidebar => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_jobs');
    const settings: ISettings = { defaultBackend: '', defaultProfile: '', notifications: true };
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const read = () => {
            settings.defaultBackend = (loaded.get('defaultBackend').composite as string) ?? '';
            settings.defaultProfile = (loaded.get('defaultProfile').composite as string) ?? '';
            settings.notifications = (loaded.get('notifications').composite as boolean) ?? true;
          };
          read();
          loaded.changed.connect(read);
        })
        .catch(reason => console.error('jupyter-jobs: cannot load settings', reason));
    }

    // our own subscription to the event bus: it says when it was down (connection.ts)
    const events = new EventsSocket(app.serviceManager.serverSettings);
    const model = new JobsModel({
      client: new JobsClient(app.serviceManager.serverSettings),
      stream: events.stream,
      connection: events
    });

    // issue 12: job definitions (their runs' job events refresh them; definitions emit none)
    const definitions = new DefinitionsModel({
      client: new DefinitionsClient(app.serviceManager.serverSettings),
      stream: events.stream
    });
    const openReport = (path: string) => app.commands.execute('docmanager:open', { path });

    const onAction = (action: RowAction, job: IJob) => {
      if (action === 'report') {
        const report = reportOutput(job);
        if (report) {
          void openReport(report);
        }
        return;
      }
      const command = (<Record<string, string>>{
        log: CommandIDs.openLog,
        cancel: CommandIDs.cancel,
        rerun: CommandIDs.rerun,
        delete: CommandIDs.remove,
        output: CommandIDs.openOutput,
        results: ResultsCommandIDs.open,
        'rerun-failed': ResultsCommandIDs.rerunFailed
      })[action];
      if (command) {
        void app.commands.execute(command, { id: job.id });
      }
    };

    registerResultsCommands(app, model, translator);
    const sidebar = new JobsSidebar({ model, onAction, translator });
    app.shell.add(sidebar, 'left', { rank: 600, type: 'Jobs' });

    const tracker = new WidgetTracker<MainAreaWidget<LogViewer>>({ namespace: 'jupyter-jobs-log' });
    registerCommands(app, {
      model,
      tracker,
      translator,
      browserFactory,
      state,
      sidebarId: sidebar.id,
      definitions,
      openReport,
      defaults: () => ({ backend: settings.defaultBackend, profile: settings.defaultProfile })
    });

    sidebar.addSection(
      new DefinitionsPanel({
        model: definitions,
        translator,
        openLog: id => void app.commands.execute(CommandIDs.openLog, { id }),
        openReport: path => void openReport(path),
        edit: definition => {
          if (!definition.path) {
            return;
          }
          runAsBackgroundJob(definition.path, {
            model,
            contents: app.serviceManager.contents,
            translator,
            state,
            definitions,
            editing: definition
          }).catch(reason =>
            showErrorMessage(trans.__('Cannot edit the schedule'), reason as Error)
          );
        }
      }),
      { rank: 50 }
    );

    if (restorer) {
      restorer.add(sidebar, 'jupyter-jobs-sidebar');
      void restorer.restore(tracker, {
        command: CommandIDs.openLog,
        args: widget => ({ id: widget.content.jobId }),
        name: widget => widget.content.jobId
      });
    }

    app.contextMenu.addItem({
      command: CommandIDs.runFile,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 3
    });

    if (palette) {
      const category = trans.__('Jobs');
      for (const command of [CommandIDs.runCurrent, CommandIDs.openPanel, CommandIDs.refresh]) {
        palette.addItem({ command, category });
      }
    }

    if (statusBar) {
      const item = new JobsStatusItem(
        model,
        () => app.commands.execute(CommandIDs.openPanel),
        translator
      );
      statusBar.registerStatusItem('jupyter-jobs:status', {
        item,
        align: 'left',
        rank: 50,
        isActive: () => true
      });
    }

    connectNotifications({
      model,
      enabled: () => settings.notifications,
      showLog: job => void app.commands.execute(CommandIDs.openLog, { id: job.id }),
      openOutput: job => void app.commands.execute(CommandIDs.openOutput, { id: job.id }),
      translator
    });

    return sidebar;
  }
};

export default [plugin, remoteSessionsPlugin, kernelSpecsPlugin];
