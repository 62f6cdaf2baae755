/**
 * The commands of the extension; the sidebar, notifications, menus and palette all go through
 * them.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  MainAreaWidget,
  showDialog,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import { DocumentWidget } from '@jupyterlab/docregistry';
import type { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import type { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  deleteIcon,
  downloadIcon,
  html5Icon,
  copyIcon,
  notebookIcon,
  refreshIcon,
  stopIcon,
  ToolbarButton,
  listIcon
} from '@jupyterlab/ui-components';

import { isRunnable } from './format';
import { runInBackgroundIcon, jobsIcon } from './icons';
import { DefinitionsModel } from './definitions-model';
import { deleteQuestion, primaryOutput, reportOutput } from './job-row';
import { LogViewer } from './log-viewer';
import { JobsModel } from './model';
import { runAsBackgroundJob } from './run-dialog';
import { CommandIDs, IJob, isFinal } from './tokens';

export interface ICommandDeps {
  model: JobsModel;
  tracker: WidgetTracker<MainAreaWidget<LogViewer>>;
  translator?: ITranslator;
  browserFactory?: IFileBrowserFactory | null;
  state?: IStateDB | null;
  sidebarId: string;
  defaults: () => { backend?: string; profile?: string };
  /** Issue 12: where "On a schedule" saves definitions; how an HTML report opens. */
  definitions?: DefinitionsModel;
  openReport?: (path: string) => unknown;
}

export function registerCommands(app: JupyterFrontEnd, deps: ICommandDeps): void {
  const { commands, shell } = app;
  const trans = (deps.translator ?? nullTranslator).load('jupyter_jobs');
  const { model, tracker } = deps;

  const selectedPath = (): string | null => {
    const browser = deps.browserFactory?.tracker.currentWidget;
    if (!browser) {
      return null;
    }
    const item = browser.selectedItems().next();
    return item && !item.done ? item.value.path : null;
  };

  /** The current document; when focus is elsewhere (the palette), the visible one. */
  const currentDocument = (): DocumentWidget | null => {
    const widget = shell.currentWidget;
    if (widget instanceof DocumentWidget) {
      return widget;
    }
    for (const w of shell.widgets('main')) {
      if (w instanceof DocumentWidget && w.isVisible) {
        return w;
      }
    }
    return null;
  };

  const currentPath = (): string | null => currentDocument()?.context.path ?? null;

  const run = async (path: string) => {
    try {
      const job = await runAsBackgroundJob(path, {
        model,
        contents: app.serviceManager.contents,
        translator: deps.translator,
        state: deps.state,
        defaults: deps.defaults,
        definitions: deps.definitions
      });
      if (job) {
        shell.activateById(deps.sidebarId);
      }
      return job;
    } catch (error) {
      await showErrorMessage(trans.__('Cannot run as a background job'), error as Error);
      return null;
    }
  };

  const jobOf = (args: { id?: unknown }): IJob | undefined =>
    typeof args.id === 'string' ? model.get(args.id) : undefined;

  commands.addCommand(CommandIDs.runFile, {
    label: trans.__('Run as Background Job…'),
    caption: trans.__('Run this file as a background job'),
    icon: runInBackgroundIcon,
    isVisible: args => {
      const path = (args.path as string) ?? selectedPath();
      return !!path && isRunnable(path);
    },
    execute: args => {
      const path = (args.path as string) ?? selectedPath();
      return path ? run(path) : null;
    }
  });

  commands.addCommand(CommandIDs.runCurrent, {
    label: trans.__('Run as Background Job…'),
    caption: trans.__('Save and run the current notebook or file as a background job'),
    icon: runInBackgroundIcon,
    isEnabled: () => {
      const path = currentPath();
      return !!path && isRunnable(path);
    },
    execute: async () => {
      const widget = currentDocument();
      if (!widget) {
        return null;
      }
      if (widget.context.model.dirty) {
        // the job runs the file on disk
        await widget.context.save();
      }
      return run(widget.context.path);
    }
  });

  commands.addCommand(CommandIDs.openPanel, {
    label: trans.__('Show Jobs'),
    icon: jobsIcon,
    execute: () => shell.activateById(deps.sidebarId)
  });

  commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Reload the job list'),
    icon: refreshIcon,
    execute: () => model.refresh()
  });

  commands.addCommand(CommandIDs.openLog, {
    label: trans.__('Show Log'),
    icon: listIcon,
    execute: async args => {
      const id = args.id as string;
      const existing = tracker.find(w => w.content.jobId === id);
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const content = new LogViewer({ jobId: id, model, translator: deps.translator });
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-jobs-log-widget-${id}`;
      widget.title.icon = listIcon;
      widget.title.closable = true;
      widget.title.label = model.get(id)?.name ?? trans.__('Job log');
      addLogToolbar(widget, deps);
      if (deps.openReport) {
        addReportButton(widget, deps.openReport, trans.__('Open the HTML report'));
      }
      content.title.changed.connect(() => {
        widget.title.label = content.title.label;
        widget.title.caption = content.title.caption;
      });
      void tracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      void content.start();
      return widget;
    }
  });

  commands.addCommand(CommandIDs.cancel, {
    label: trans.__('Cancel Job'),
    icon: stopIcon,
    isEnabled: args => {
      const job = jobOf(args);
      return !job || !isFinal(job.status);
    },
    execute: async args => {
      try {
        return await model.cancel(args.id as string);
      } catch (error) {
        await showErrorMessage(trans.__('Cannot cancel the job'), error as Error);
      }
    }
  });

  commands.addCommand(CommandIDs.rerun, {
    label: trans.__('Rerun Job'),
    icon: refreshIcon,
    execute: async args => {
      try {
        // issue 12: a job with a pinned copy of its input reruns that copy or the current file
        const job = jobOf(args) as (IJob & { pinned_path?: string | null }) | undefined;
        let input = args.input as 'pinned' | 'current' | undefined;
        if (!input && job?.pinned_path && job.path) {
          const choice = await showDialog({
            title: trans.__('Rerun “%1”', job.name),
            body: trans.__(
              'Run the copy of %1 this job ran (kept in its job folder), or the file as it is now?',
              job.path
            ),
            buttons: [
              Dialog.cancelButton({ label: trans.__('Cancel') }),
              Dialog.okButton({
                label: trans.__('Current file'),
                className: 'jp-JobsRerun-current'
              }),
              Dialog.okButton({ label: trans.__('Pinned copy'), className: 'jp-JobsRerun-pinned' })
            ]
          });
          if (!choice.button.accept) {
            return;
          }
          input = choice.button.className.includes('jp-JobsRerun-current') ? 'current' : 'pinned';
        }
        return await model.rerun(args.id as string, input ? { input } : {});
      } catch (error) {
        await showErrorMessage(trans.__('Cannot rerun the job'), error as Error);
      }
    }
  });

  commands.addCommand(CommandIDs.remove, {
    label: trans.__('Delete Job'),
    icon: deleteIcon,
    execute: async args => {
      const job = jobOf(args);
      const question = job
        ? deleteQuestion(trans, job)
        : trans.__('Delete job %1 and its log?', String(args.id));
      const result = await showDialog({
        title: trans.__('Delete job?'),
        body: question + ' ' + trans.__('Output files it wrote stay where they are.'),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
      });
      if (!result.button.accept) {
        return false;
      }
      try {
        await model.remove(args.id as string);
        tracker.find(w => w.content.jobId === args.id)?.dispose();
        return true;
      } catch (error) {
        await showErrorMessage(trans.__('Cannot delete the job'), error as Error);
        return false;
      }
    }
  });

  commands.addCommand(CommandIDs.openOutput, {
    label: trans.__('Open Output'),
    icon: notebookIcon,
    isEnabled: args => {
      const job = jobOf(args);
      return !job || !!primaryOutput(job);
    },
    execute: async args => {
      const job = jobOf(args) ?? (await model.client.getJob(args.id as string));
      const path = primaryOutput(job);
      if (path) {
        return commands.execute('docmanager:open', { path });
      }
    }
  });
}

export function addLogToolbar(
  widget: MainAreaWidget<LogViewer>,
  deps: Pick<ICommandDeps, 'model' | 'translator'>
): void {
  const trans = (deps.translator ?? nullTranslator).load('jupyter_jobs');
  const viewer = widget.content;
  const follow = new ToolbarButton({
    label: trans.__('Follow'),
    tooltip: trans.__('Scroll to new output as it arrives'),
    pressed: viewer.follow,
    onClick: () => {
      viewer.follow = !viewer.follow;
    },
    className: 'jp-JobsLog-follow'
  });
  viewer.onFollowChanged(value => {
    follow.pressed = value;
  });
  widget.toolbar.addItem('follow', follow);
  widget.toolbar.addItem(
    'copy',
    new ToolbarButton({
      icon: copyIcon,
      tooltip: trans.__('Copy the shown log'),
      onClick: () => void viewer.copy(),
      className: 'jp-JobsLog-copy'
    })
  );
  widget.toolbar.addItem(
    'download',
    new ToolbarButton({
      icon: downloadIcon,
      tooltip: trans.__('Download the whole log'),
      onClick: () => void viewer.download(),
      className: 'jp-JobsLog-download'
    })
  );
  const cancel = new ToolbarButton({
    icon: stopIcon,
    tooltip: trans.__('Cancel the job'),
    onClick: () => void deps.model.cancel(viewer.jobId).catch(() => undefined),
    className: 'jp-JobsLog-cancel'
  });
  // nothing to cancel once the job ended (or while it is being cancelled)
  viewer.onJobChanged(job => {
    cancel.enabled = !isFinal(job.status) && job.status !== 'cancelling';
  });
  widget.toolbar.addItem('cancel', cancel);
}

/** The log viewer's "Open report" button (issue 12): shown once the job lists an HTML report. */
function addReportButton(
  widget: MainAreaWidget<LogViewer>,
  openReport: (path: string) => unknown,
  tooltip: string
): void {
  let report: string | null = null;
  const button = new ToolbarButton({
    icon: html5Icon,
    tooltip,
    onClick: () => {
      if (report) {
        void openReport(report);
      }
    },
    className: 'jp-JobsLog-report'
  });
  button.hide();
  widget.content.onJobChanged(job => {
    report = reportOutput(job);
    button.setHidden(!report);
  });
  widget.toolbar.addItem('report', button);
}
