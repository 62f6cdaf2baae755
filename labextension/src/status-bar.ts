/**
 * The status-bar item: how many jobs run (and wait); a click opens the Jobs sidebar.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { jobsIcon } from './icons';
import { JobsModel } from './model';

export class JobsStatusItem extends Widget {
  constructor(
    private _model: JobsModel,
    private _onClick: () => void,
    translator?: ITranslator
  ) {
    super();
    this._trans = (translator ?? nullTranslator).load('jupyter_jobs');
    this.addClass('jp-JobsStatusItem');
    this.addClass('jp-mod-highlighted');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this._label = h('span', { class: 'jp-JobsStatusItem-label' });
    this.node.append(
      jobsIcon.element({ tag: 'span', className: 'jp-JobsStatusItem-icon' }),
      this._label
    );
    this.node.addEventListener('click', () => this._onClick());
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this._onClick();
      }
    });
    this._model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const trans = this._trans;
    // the server's counts for the whole store, as the sidebar's summary shows them; remote
    // kernels are kernel jobs: the Remote sessions section shows them, not this count
    const counts = this._model.counts ?? {};
    const running = (counts.running ?? 0) + (counts.cancelling ?? 0);
    const waiting = (counts.pending ?? 0) + (counts.queued ?? 0);
    let text = trans._n('%1 job running', '%1 jobs running', running);
    if (waiting) {
      text += ' · ' + trans._n('%1 queued', '%1 queued', waiting);
    }
    this._label.textContent = text;
    this.node.title = trans.__('Show the Jobs panel');
    this.node.dataset.running = String(running);
    this.node.dataset.queued = String(waiting);
    this.toggleClass('jp-mod-active', running > 0);
  }

  private _trans: TranslationBundle;
  private _label: HTMLElement;
}
