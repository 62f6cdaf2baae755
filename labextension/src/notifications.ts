/**
 * A JupyterLab notification when a job ends, with a "Show log" action.
 */
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { detailText } from './job-row';
import { JobsModel } from './model';
import { IJob } from './tokens';

export interface INotifierOptions {
  model: JobsModel;
  /** Whether notifications are on (read from the settings each time). */
  enabled: () => boolean;
  showLog: (job: IJob) => void;
  openOutput?: (job: IJob) => void;
  translator?: ITranslator;
}

/** Connect the notifier; returns a function that disconnects it. */
export function connectNotifications(options: INotifierOptions): () => void {
  const trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
  const onEnded = (_: JobsModel, job: IJob) => {
    if (!options.enabled() || job.kind === 'kernel') {
      return;
    }
    const actions: Notification.IAction[] = [
      { label: trans.__('Show log'), callback: () => options.showLog(job) }
    ];
    if (options.openOutput && job.outputs.some(p => p.endsWith('.ipynb'))) {
      actions.push({
        label: trans.__('Open output'),
        callback: () => options.openOutput?.(job)
      });
    }
    const detail = detailText(trans, job);
    if (job.status === 'completed') {
      Notification.success(trans.__('Job “%1” completed', job.name), {
        autoClose: 8000,
        actions
      });
    } else if (job.status === 'cancelled') {
      Notification.info(trans.__('Job “%1” was cancelled', job.name), {
        autoClose: 5000,
        actions
      });
    } else {
      Notification.error(trans.__('Job “%1” failed: %2', job.name, detail), {
        autoClose: false,
        actions
      });
    }
  };
  options.model.jobEnded.connect(onEnded);
  return () => options.model.jobEnded.disconnect(onEnded);
}
