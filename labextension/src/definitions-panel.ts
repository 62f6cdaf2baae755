/**
 * The "Definitions" section of the Jobs sidebar (issue 12): each job definition with its schedule
 * in words, time zone, next run, last status and whether it is paused; the actions pause/resume,
 * run now, edit and delete; a click on the row shows its run history (`GET jobs?definition=`)
 * with each run's log and HTML report.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { PanelWithToolbar, refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { fitSectionSize, sectionAccordion, syncSectionExpanded } from './accordion-section';

import { DefinitionsModel, formatInZone, IJobDefinition, IRun } from './definitions-model';
import { h } from './dom';
import { reportOutput } from './job-row';

export namespace DefinitionsPanel {
  export interface IOptions {
    model: DefinitionsModel;
    translator?: ITranslator;
    openLog: (jobId: string) => void;
    openReport: (path: string) => void;
    edit: (definition: IJobDefinition) => void;
  }
}

/** "every weekday at 06:00 (Europe/Berlin)" */
export function scheduleText(d: IJobDefinition): string {
  return `${d.schedule_description} (${d.timezone})`;
}

/** "next: Mon 2 Dec 06:00", "paused", or why there is none. */
export function nextText(trans: TranslationBundle, d: IJobDefinition): string {
  if (!d.active) {
    return trans.__('paused');
  }
  return d.next_run_at
    ? trans.__('next: %1', formatInZone(d.next_run_at, d.timezone))
    : trans.__('no next run');
}

/** "last: completed Mon 2 Dec 06:00" or "no runs yet" (or the newest skip, when newer). */
export function lastText(trans: TranslationBundle, d: IJobDefinition): string {
  if (d.last_skipped) {
    return trans.__(
      'skipped %1: %2',
      formatInZone(d.last_skipped.at, d.timezone),
      d.last_skipped.reason
    );
  }
  if (!d.last_run) {
    return trans.__('no runs yet');
  }
  return trans.__('last: %1 %2', d.last_run.status, formatInZone(d.last_run.at, d.timezone));
}

export class DefinitionsPanel extends PanelWithToolbar {
  constructor(options: DefinitionsPanel.IOptions) {
    super();
    this._options = options;
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this._model = options.model;
    this.id = 'jp-jobs-section-definitions';
    this.addClass('jp-JobsDefinitions');
    this.title.label = this._trans.__('Definitions');
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: this._trans.__('Reload the definitions'),
        onClick: () => void this._model.refresh()
      })
    );
    this._body = new Widget({ node: h('div', { class: 'jp-JobsDefinitions-body' }) });
    this.addWidget(this._body);
    this._model.changed.connect(() => {
      this._syncExpanded();
      this.update();
    }, this);
    this._model.runChanged.connect((_, job) => {
      if (job.definition_id && this._open.has(job.definition_id)) {
        void this._loadRuns(job.definition_id);
      }
    }, this);
    this._syncExpanded();
    this.update();
    if (!this._model.loaded) {
      void this._model.refresh(); // once at start: the section opens when there are definitions
    }
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
    const t = this._trans;
    if (this._model.error) {
      node.appendChild(
        h(
          'div',
          { class: 'jp-JobsDefinitions-error' },
          t.__('Cannot load the definitions: %1', this._model.error)
        )
      );
    }
    const definitions = this._model.definitions;
    if (!definitions.length) {
      node.appendChild(
        h(
          'div',
          { class: 'jp-JobsDefinitions-empty' },
          this._model.loaded
            ? t.__('No schedules yet. Run a file as a background job → On a schedule.')
            : t.__('Loading…')
        )
      );
      return;
    }
    for (const d of definitions) {
      node.appendChild(this._row(d));
    }
  }

  private _row(d: IJobDefinition): HTMLElement {
    const t = this._trans;
    const button = (action: string, label: string, onClick: () => void, disabled = false) => {
      const b = h(
        'button',
        { class: 'jp-JobsDefinitions-action', 'data-action': action, title: label, disabled },
        label
      );
      b.addEventListener('click', event => {
        event.stopPropagation();
        onClick();
      });
      return b;
    };
    const open = this._open.has(d.id);
    const history = h('div', { class: 'jp-JobsDefinitions-runs', hidden: !open });
    history.addEventListener('click', event => event.stopPropagation());
    if (open) {
      this._fillRuns(history, d);
    }
    const row = h(
      'div',
      {
        class: 'jp-JobsDefinitions-row' + (d.active ? '' : ' jp-mod-paused'),
        'data-definition-id': d.id,
        'data-active': String(d.active),
        'aria-expanded': String(open)
      },
      h(
        'div',
        { class: 'jp-JobsDefinitions-title' },
        h(
          'span',
          { class: 'jp-JobsDefinitions-name', 'data-field': 'name', title: d.path ?? d.name },
          d.name
        ),
        h(
          'span',
          { class: 'jp-JobsDefinitions-state', 'data-field': 'state' },
          d.active ? t.__('active') : t.__('paused')
        )
      ),
      h(
        'div',
        { class: 'jp-JobsDefinitions-detail' },
        h('span', { 'data-field': 'schedule', title: d.schedule }, scheduleText(d))
      ),
      h(
        'div',
        { class: 'jp-JobsDefinitions-detail' },
        h('span', { 'data-field': 'next' }, nextText(t, d)),
        h('span', { 'data-field': 'last', 'data-status': d.last_run?.status ?? '' }, lastText(t, d))
      ),
      h(
        'div',
        { class: 'jp-JobsDefinitions-actions' },
        d.active
          ? button(
              'pause',
              t.__('Pause'),
              () => void this._act(() => this._model.setActive(d, false))
            )
          : button(
              'resume',
              t.__('Resume'),
              () => void this._act(() => this._model.setActive(d, true))
            ),
        button('run', t.__('Run now'), () => void this._runNow(d)),
        button('edit', t.__('Edit'), () => this._options.edit(d), !d.path),
        button('delete', t.__('Delete'), () => void this._delete(d))
      ),
      history
    );
    row.addEventListener('click', () => {
      if (this._open.has(d.id)) {
        this._open.delete(d.id);
      } else {
        this._open.add(d.id);
        void this._loadRuns(d.id);
      }
      this.update();
    });
    return row;
  }

  private _fillRuns(node: HTMLElement, d: IJobDefinition): void {
    const t = this._trans;
    const runs = this._runs.get(d.id);
    if (!runs) {
      node.appendChild(h('div', { class: 'jp-JobsDefinitions-run' }, t.__('Loading…')));
      return;
    }
    if (!runs.length) {
      node.appendChild(h('div', { class: 'jp-JobsDefinitions-run' }, t.__('No runs yet.')));
      return;
    }
    for (const job of runs) {
      const report = reportOutput(job);
      const when = job.scheduled_for ?? job.created_at;
      const line = h(
        'div',
        { class: 'jp-JobsDefinitions-run', 'data-job-id': job.id, 'data-status': job.status },
        h('span', { 'data-field': 'status' }, job.status),
        h('span', { 'data-field': 'when' }, formatInZone(when, d.timezone)),
        job.attempt && job.attempt > 1 ? h('span', {}, t.__('retry %1', job.attempt - 1)) : null
      );
      const log = h(
        'button',
        { class: 'jp-JobsDefinitions-action', 'data-action': 'log' },
        t.__('Log')
      );
      log.addEventListener('click', event => {
        event.stopPropagation();
        this._options.openLog(job.id);
      });
      line.appendChild(log);
      if (report) {
        const open = h(
          'button',
          { class: 'jp-JobsDefinitions-action', 'data-action': 'report' },
          t.__('Open report')
        );
        open.addEventListener('click', event => {
          event.stopPropagation();
          this._options.openReport(report);
        });
        line.appendChild(open);
      }
      node.appendChild(line);
    }
  }

  private async _loadRuns(id: string): Promise<void> {
    try {
      this._runs.set(id, (await this._model.client.runs(id)) as IRun[]);
    } catch {
      this._runs.set(id, []);
    }
    this.update();
    // the history made the row taller: room for it (up to half the sidebar; the body scrolls)
    const accordion = this._accordion();
    if (accordion && this.isVisible) {
      this._fitSize(accordion, accordion.widgets.indexOf(this));
    }
  }

  private async _act(what: () => Promise<unknown>): Promise<void> {
    try {
      await what();
    } catch (error) {
      await showErrorMessage(this._trans.__('Cannot change the schedule'), error as Error);
      void this._model.refresh();
    }
  }

  private async _runNow(d: IJobDefinition): Promise<void> {
    this._open.add(d.id);
    await this._act(async () => {
      await this._model.runNow(d.id);
      await this._loadRuns(d.id);
    });
  }

  private async _delete(d: IJobDefinition): Promise<void> {
    const t = this._trans;
    const result = await showDialog({
      title: t.__('Delete the schedule?'),
      body: t.__(
        'Delete “%1” (%2)? It fires no more runs. Its past runs stay in the jobs list.',
        d.name,
        d.schedule_description
      ),
      buttons: [
        Dialog.cancelButton({ label: t.__('Cancel') }),
        Dialog.warnButton({ label: t.__('Delete') })
      ]
    });
    if (result.button.accept) {
      await this._act(() => this._model.remove(d.id));
    }
  }

  // ------------------------------------------------ accordion (as the Remote sessions section)

  private _accordion(): AccordionPanel | null {
    return sectionAccordion(this);
  }

  /** Collapsed to its title with nothing to show; open with the first row (accordion-section.ts). */
  private _syncExpanded(): void {
    this._expanded = syncSectionExpanded(
      this,
      this._model.definitions.length > 0 || !!this._model.error,
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

  private _options: DefinitionsPanel.IOptions;
  private _trans: TranslationBundle;
  private _model: DefinitionsModel;
  private _body: Widget;
  private _open = new Set<string>();
  private _runs = new Map<string, IRun[]>();
  private _expanded: boolean | null = null;
  private _connectedTo: AccordionPanel | null = null;
  private _sizePending = false;
}
