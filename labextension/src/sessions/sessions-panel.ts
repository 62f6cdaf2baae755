/**
 * The "Remote sessions" section of the Jobs sidebar: each remote kernel with its notebook,
 * backend/profile, job id, node, state (with the queue reason while it waits), elapsed time and
 * time left, and the actions open the notebook, interrupt and shut down.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { PanelWithToolbar } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { basename } from '../format';
import { IRemoteSession, RemoteSessionsModel, formatSpan, ticking } from './sessions-model';

export type SessionAction = 'open' | 'interrupt' | 'shutdown';

export namespace RemoteSessionsPanel {
  export interface IOptions {
    model: RemoteSessionsModel;
    onAction: (action: SessionAction, session: IRemoteSession) => void;
    translator?: ITranslator;
    /** ms between two redraws of elapsed / time left (0: never) */
    tick?: number;
  }
}

/** What the state cell says: the queue reason while the job waits, else the kernel's state. */
export function stateText(trans: TranslationBundle, s: IRemoteSession): string {
  const job = s.job;
  if (job.status === 'queued' || job.status === 'pending') {
    if (!job.reason) {
      return trans.__('queued');
    }
    return /^\s*(waiting|queued|pending)\b/i.test(job.reason)
      ? job.reason
      : trans.__('queued: %1', job.reason);
  }
  if (job.status === 'running') {
    return s.execution_state === 'starting' ? trans.__('starting') : s.execution_state;
  }
  return job.status;
}

export class RemoteSessionsPanel extends PanelWithToolbar {
  constructor(options: RemoteSessionsPanel.IOptions) {
    super();
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._model = options.model;
    this._onAction = options.onAction;
    this.id = 'jp-jobs-section-remote-sessions';
    this.addClass('jp-JobsRemoteSessions');
    this.title.label = this._trans.__('Remote sessions');
    this._body = new Widget({ node: h('div', { class: 'jp-JobsSessions' }) });
    this.addWidget(this._body);
    this._model.changed.connect(() => {
      this._syncHidden();
      this.update();
    }, this);
    this._syncHidden();
    if (options.tick ?? 1000) {
      this._timer = setInterval(() => this._tick(), options.tick ?? 1000);
    }
    this.update();
  }

  dispose(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
    super.dispose();
  }

  protected onUpdateRequest(): void {
    const node = this._body.node;
    node.textContent = '';
    const sessions = this._model.sessions;
    if (this._model.error) {
      node.appendChild(h('div', { class: 'jp-JobsSessions-error' }, this._model.error));
    }
    if (!sessions.length) {
      node.appendChild(
        h(
          'div',
          { class: 'jp-JobsSessions-empty' },
          this._trans.__('No remote kernels. Start one from the Launcher with a SLURM kernel.')
        )
      );
      return;
    }
    for (const s of sessions) {
      node.appendChild(this._row(s));
    }
  }

  private _row(s: IRemoteSession): HTMLElement {
    const t = this._trans;
    const job = s.job;
    const { elapsed, timeLeft } = ticking(s, this._model.fetchedAt, Date.now());
    const button = (action: SessionAction, label: string, disabled = false) => {
      const b = h(
        'button',
        {
          class: 'jp-JobsSessions-action',
          'data-action': action,
          disabled,
          title: label
        },
        label
      );
      b.addEventListener('click', event => {
        event.stopPropagation();
        this._onAction(action, s);
      });
      return b;
    };
    const running = job.status === 'running';
    return h(
      'div',
      {
        class: 'jp-JobsSessions-row',
        'data-kernel-id': s.kernel_id,
        'data-status': job.status
      },
      h(
        'div',
        { class: 'jp-JobsSessions-title' },
        h(
          'span',
          { class: 'jp-JobsSessions-notebook' },
          s.path ? basename(s.path) : t.__('(no notebook)')
        ),
        h('span', { class: 'jp-JobsSessions-state', 'data-field': 'state' }, stateText(t, s))
      ),
      h(
        'div',
        { class: 'jp-JobsSessions-detail' },
        h('span', { 'data-field': 'backend' }, `${job.backend}/${job.profile}`),
        h('span', { 'data-field': 'job' }, t.__('job %1', job.backend_ref ?? '…')),
        h('span', { 'data-field': 'host' }, job.host ? t.__('on %1', job.host) : '')
      ),
      h(
        'div',
        { class: 'jp-JobsSessions-detail' },
        h('span', { 'data-field': 'elapsed' }, t.__('elapsed %1', formatSpan(elapsed))),
        h('span', { 'data-field': 'time-left' }, t.__('left %1', formatSpan(timeLeft)))
      ),
      h(
        'div',
        { class: 'jp-JobsSessions-actions' },
        button('open', t.__('Open'), !s.path),
        button('interrupt', t.__('Interrupt'), !running),
        button('shutdown', t.__('Shut down'))
      )
    );
  }

  /**
   * Without remote kernels (or an error about them) the section collapses to its title line, so
   * the job rows get the sidebar's height; it opens with the first remote kernel. Only changes
   * are applied: a user who opens the empty section keeps it open.
   */
  private _syncHidden(): void {
    const has = this._model.sessions.length > 0 || !!this._model.error;
    if (has !== this._expanded) {
      this._expanded = has;
      this.setHidden(!has);
    }
  }

  private _tick(): void {
    if (this._model.sessions.length && this.isVisible) {
      this.update();
    }
  }

  private _trans: TranslationBundle;
  private _model: RemoteSessionsModel;
  private _onAction: (action: SessionAction, session: IRemoteSession) => void;
  private _body: Widget;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _expanded: boolean | null = null;
}
