/**
 * The "Remote sessions" section of the Jobs sidebar: each remote kernel with its notebook,
 * backend/profile, SLURM job (or pod), node, state (with the queue reason and the expected start
 * while it waits), elapsed time and time left, and the actions open the notebook, interrupt and
 * shut down. Without remote kernels it says why none is offered, or how to start one.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { PanelWithToolbar } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { fitSectionSize, sectionAccordion, syncSectionExpanded } from '../accordion-section';

import { h } from '../dom';
import { basename, formatDuration } from '../format';
import { backendLabel, backendName, engineIdLabel, expectedStartText } from '../labels';
import { IBackend } from '../tokens';
import { IRemoteSession, RemoteSessionsModel, ticking } from './sessions-model';

export type SessionAction = 'open' | 'interrupt' | 'shutdown';

export namespace RemoteSessionsPanel {
  export interface IOptions {
    model: RemoteSessionsModel;
    onAction: (action: SessionAction, session: IRemoteSession) => void;
    /** Display names of the remote-kernel specs JupyterLab offers now (Launcher cards). */
    offeredKernels?: () => string[];
    translator?: ITranslator;
    /** ms between two redraws of elapsed / time left (0: never) */
    tick?: number;
  }
}

/** Whether the kernel's job still waits in the queue. */
export function isWaiting(s: IRemoteSession): boolean {
  return s.job.status === 'queued' || s.job.status === 'pending';
}

/** What the state cell says: the queue reason while the job waits, else the kernel's state. */
export function stateText(trans: TranslationBundle, s: IRemoteSession): string {
  const job = s.job;
  if (isWaiting(s)) {
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

/** The notebook of a session ("analysis.ipynb"), or what the kernel is when it has none. */
export function notebookText(trans: TranslationBundle, s: IRemoteSession): string {
  if (s.path) {
    return basename(s.path);
  }
  if (s.notebook_name) {
    return s.notebook_name;
  }
  return trans.__('kernel without a notebook');
}

/** The engine's id with its name: "SLURM job 4242", "Pod kernel-ab12". */
export function engineText(trans: TranslationBundle, s: IRemoteSession): string {
  return `${engineIdLabel(trans, s.job.backend)} ${s.job.backend_ref ?? '…'}`;
}

/**
 * What the section says without remote kernels: which kernels to start, or what is missing —
 * no backend runs kernels, or the reason the kernel backends give for being unavailable.
 */
export function emptyText(
  trans: TranslationBundle,
  backends: readonly IBackend[] | null,
  offered: string[]
): { text: string; detail?: string } {
  if (offered.length) {
    const names = offered.slice(0, 3).join(', ');
    return {
      text: trans.__('No remote kernels running. Start one from the Launcher: %1.', names)
    };
  }
  if (backends === null) {
    return { text: trans.__('No remote kernels running.') };
  }
  const kernelBackends = backends.filter(
    b => b.supports_kernels && (b.profiles ?? []).some(p => p.kernels)
  );
  if (!kernelBackends.length) {
    const capable = backends.filter(b => b.supports_kernels).map(b => backendName(b.name));
    return {
      text: capable.length
        ? trans.__(
            'No remote kernels are offered: no profile of %1 runs kernels (an administrator enables them per profile).',
            capable.join(', ')
          )
        : trans.__(
            'No remote kernels are offered: this server has no backend that runs kernels (SLURM or Kubernetes).'
          )
    };
  }
  const unavailable = kernelBackends.filter(b => !b.available);
  if (unavailable.length === kernelBackends.length) {
    const reasons = unavailable.map(b =>
      b.reason ? `${backendName(b.name)}: ${b.reason}` : backendName(b.name)
    );
    const details = unavailable
      .map(b => (b as IBackend & { detail?: string | null }).detail)
      .filter(Boolean);
    return {
      text: trans.__('No remote kernels are offered: %1.', reasons.join('; ')),
      detail: details.join('\n') || undefined
    };
  }
  return {
    text: trans.__(
      'No remote kernels running. Start one from the Launcher with a %1 kernel.',
      kernelBackends
        .filter(b => b.available)
        .map(b => backendName(b.name))
        .join(' or ')
    )
  };
}

export class RemoteSessionsPanel extends PanelWithToolbar {
  constructor(options: RemoteSessionsPanel.IOptions) {
    super();
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._model = options.model;
    this._onAction = options.onAction;
    this._offered = options.offeredKernels ?? (() => []);
    this.id = 'jp-jobs-section-remote-sessions';
    this.addClass('jp-JobsRemoteSessions');
    this.title.label = this._trans.__('Remote sessions');
    this._body = new Widget({ node: h('div', { class: 'jp-JobsSessions' }) });
    this.addWidget(this._body);
    this._model.changed.connect(() => {
      this._syncExpanded();
      this.update();
    }, this);
    this._syncExpanded();
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

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    const accordion = this._accordion();
    if (accordion && accordion !== this._connectedTo) {
      this._connectedTo?.expansionToggled.disconnect(this._onToggled, this);
      accordion.expansionToggled.connect(this._onToggled, this);
      this._connectedTo = accordion;
    }
    this._syncExpanded();
  }

  protected onUpdateRequest(): void {
    this._render();
  }

  private _render(): void {
    const node = this._body.node;
    node.textContent = '';
    const sessions = this._model.sessions;
    if (this._model.error) {
      node.appendChild(h('div', { class: 'jp-JobsSessions-error' }, this._model.error));
    }
    if (!sessions.length) {
      const empty = emptyText(this._trans, this._model.backends, this._offered());
      node.appendChild(
        h('div', { class: 'jp-JobsSessions-empty', title: empty.detail ?? null }, empty.text)
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
    const waiting = isWaiting(s);
    const notebook = h(
      'span',
      {
        class: 'jp-JobsSessions-notebook',
        'data-field': 'notebook',
        title: s.path ? t.__('Open %1', s.path) : job.name
      },
      notebookText(t, s)
    );
    const row = h(
      'div',
      {
        class: 'jp-JobsSessions-row' + (s.path ? ' jp-mod-openable' : ''),
        'data-kernel-id': s.kernel_id,
        'data-status': job.status
      },
      h(
        'div',
        { class: 'jp-JobsSessions-title' },
        notebook,
        h(
          'span',
          { class: 'jp-JobsSessions-state', 'data-field': 'state', title: stateText(t, s) },
          stateText(t, s)
        )
      ),
      h(
        'div',
        { class: 'jp-JobsSessions-detail' },
        h('span', { 'data-field': 'backend' }, backendLabel(job.backend, job.profile)),
        h('span', { 'data-field': 'job' }, engineText(t, s)),
        h('span', { 'data-field': 'host' }, job.host ? t.__('on %1', job.host) : '')
      ),
      waiting
        ? h(
            'div',
            { class: 'jp-JobsSessions-detail' },
            h(
              'span',
              { 'data-field': 'expected-start' },
              t.__('expected start %1', expectedStartText(t, job))
            )
          )
        : h(
            'div',
            { class: 'jp-JobsSessions-detail' },
            h('span', { 'data-field': 'elapsed' }, t.__('elapsed %1', formatDuration(elapsed))),
            h('span', { 'data-field': 'time-left' }, t.__('left %1', formatDuration(timeLeft)))
          ),
      h(
        'div',
        { class: 'jp-JobsSessions-actions' },
        button('open', t.__('Open'), !s.path),
        button('interrupt', t.__('Interrupt'), !running),
        button('shutdown', t.__('Shut down'))
      )
    );
    if (s.path) {
      row.addEventListener('click', () => this._onAction('open', s));
    }
    return row;
  }

  private _accordion(): AccordionPanel | null {
    return sectionAccordion(this);
  }

  /** Collapsed to its title with nothing to show; open with the first row (accordion-section.ts). */
  private _syncExpanded(): void {
    this._expanded = syncSectionExpanded(
      this,
      this._model.sessions.length > 0 || !!this._model.error,
      this._expanded
    );
  }

  /** The accordion opened this section: give it the room its rows need. */
  private _onToggled(accordion: AccordionPanel, index: number): void {
    if (accordion.widgets[index] !== this || this.isHidden) {
      return;
    }
    this._sizePending = !this._fitSize(accordion, index);
  }

  private _fitSize(accordion: AccordionPanel, index: number): boolean {
    return fitSectionSize(this, this._body, accordion, index, () => this._render());
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    const accordion = this._accordion();
    if (this._sizePending && accordion && !this.isHidden) {
      this._sizePending = !this._fitSize(accordion, accordion.widgets.indexOf(this));
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
  private _offered: () => string[];
  private _body: Widget;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _expanded: boolean | null = null;
  private _connectedTo: AccordionPanel | null = null;
  private _sizePending = false;
}

/** Least height (px) of the open section: the empty text or one row. */
