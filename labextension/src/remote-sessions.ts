/**
 * The "Remote sessions" section of the Jobs sidebar: kernels running inside a SLURM allocation or
 * a Kubernetes pod. For now it lists the jobs of kind `kernel` from the model; the remote-kernels
 * work extends it with `GET {base}api/kernels` (kernel name, execution state, the notebook).
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { PanelWithToolbar } from '@jupyterlab/ui-components';

import { RowAction } from './job-row';
import { JobsList } from './jobs-list';
import { JobsModel } from './model';
import { IJob } from './tokens';

export namespace RemoteSessionsSection {
  export interface IOptions {
    model: JobsModel;
    onAction: (action: RowAction, job: IJob) => void;
    translator?: ITranslator;
  }
}

export class RemoteSessionsSection extends PanelWithToolbar {
  constructor(options: RemoteSessionsSection.IOptions) {
    super();
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._model = options.model;
    this.id = 'jp-jobs-section-remote-sessions';
    this.addClass('jp-JobsRemoteSessions');
    this.title.label = this._trans.__('Remote sessions');
    this._list = new JobsList({
      trans: this._trans,
      onAction: options.onAction,
      emptyText: this._trans.__(
        'No remote kernels. Start one from the Launcher with a SLURM or Kubernetes kernel.'
      )
    });
    this.addWidget(this._list);
    this._model.changed.connect(() => this.update(), this);
    this.update();
  }

  /** Jobs shown here: kernels that still run. */
  get sessions(): IJob[] {
    return this._model.jobs.filter(
      j => j.kind === 'kernel' && !['completed', 'failed', 'cancelled', 'lost'].includes(j.status)
    );
  }

  protected onUpdateRequest(): void {
    this._list.setJobs(this.sessions);
  }

  private _trans: TranslationBundle;
  private _model: JobsModel;
  private _list: JobsList;
}
