/**
 * The log viewer (main area): a header with what ran where, progress and a usage chart, and the
 * log itself — tail first, followed live over the log websocket, earlier parts on demand.
 */
import { Clipboard, Sanitizer } from '@jupyterlab/apputils';
import { renderText } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import {
  efficiencyParts,
  elapsedSeconds,
  formatBytes,
  formatCommand,
  formatDuration,
  formatResources,
  formatTime,
  IEfficiency
} from './format';
import { detailText, statusLabel } from './job-row';
import { backendLabel, engineIdLabel, expectedStart } from './labels';
import { JobsModel } from './model';
import { collapseText, sgrCarry, TerminalLines } from './terminal';
import { IJob, isFinal } from './tokens';
import { UsageChart } from './usage-chart';

/** How much of the end of the log to show first. */
export const TAIL_BYTES = 256 * 1024;
/** How much "Load earlier" adds each time. */
export const EARLIER_BYTES = 256 * 1024;
/** Above this much rendered text, the oldest chunks are dropped (they can be loaded again). */
export const MAX_RENDERED_BYTES = 4 * 1024 * 1024;

const USAGE_REFRESH_MS = 10000;

/** The first byte after the first newline in `bytes` (0 when there is none). */
export function afterFirstNewline(bytes: Uint8Array): number {
  const i = bytes.indexOf(0x0a);
  return i < 0 ? 0 : i + 1;
}

export namespace LogViewer {
  export interface IOptions {
    jobId: string;
    model: JobsModel;
    translator?: ITranslator;
    /** Bytes to show first (tests use small numbers). */
    tailBytes?: number;
  }
}

export class LogViewer extends Widget {
  /** The sanitizer rendermime's text renderer needs (it keeps only the colour spans). */
  static sanitizer = new Sanitizer();

  constructor(options: LogViewer.IOptions) {
    super();
    this.jobId = options.jobId;
    this._model = options.model;
    this._translator = options.translator ?? nullTranslator;
    this._trans = this._translator.load('jupyter_jobs');
    this._tailBytes = options.tailBytes ?? TAIL_BYTES;
    this.addClass('jp-JobsLogViewer');
    this.addClass('jp-mod-following');
    this.id = `jp-jobs-log-${this.jobId}`;
    const trans = this._trans;

    this._title = h('h2', { class: 'jp-JobsLog-title' });
    this._status = h('span', { class: 'jp-JobsLog-status' });
    this._facts = h('dl', { class: 'jp-JobsLog-facts' });
    this._progressBar = h('div', { class: 'jp-JobsRow-progressBar' });
    this._progressText = h('span', { class: 'jp-JobsLog-progressText' });
    this._progress = h(
      'div',
      { class: 'jp-JobsLog-progress' },
      h('div', { class: 'jp-JobsRow-progress' }, this._progressBar),
      this._progressText
    );
    this._usage = new UsageChart(trans);
    this._efficiency = h('div', { class: 'jp-JobsLog-efficiency', hidden: true });
    this._header = h(
      'div',
      { class: 'jp-JobsLog-header' },
      h('div', { class: 'jp-JobsLog-titleLine' }, this._status, this._title),
      h('div', { class: 'jp-JobsLog-headerBody' }, this._facts, this._usage.node),
      this._efficiency,
      this._progress
    );
    this._earlier = h(
      'button',
      { class: 'jp-JobsLog-earlier jp-mod-styled', type: 'button', hidden: true },
      trans.__('Load earlier output')
    );
    this._earlier.addEventListener('click', () => void this.loadEarlier());
    this._text = h('pre', { class: 'jp-JobsLog-text', 'aria-live': 'off' });
    // the line still being written (a tqdm bar being redrawn): re-rendered as it changes
    this._partial = h('span', { class: 'jp-JobsLog-partial' });
    this._text.appendChild(this._partial);
    this._empty = h('div', { class: 'jp-JobsLog-empty' }, trans.__('No output yet.'));
    this._scroller = h(
      'div',
      { class: 'jp-JobsLog-scroller' },
      this._earlier,
      // rendered like a notebook's stream output: rendermime's text renderer, the theme's colours
      h('div', { class: 'jp-RenderedText jp-JobsLog-output' }, this._text),
      this._empty
    );
    this._scroller.addEventListener('scroll', this._onScroll, { passive: true });
    this.node.append(this._header, this._scroller);

    this._model.jobChanged.connect((_, job) => {
      if (job.id === this.jobId) {
        this._setJob(job);
      }
    }, this);
  }

  readonly jobId: string;

  get job(): IJob | null {
    return this._job;
  }

  /** Auto-scroll to the newest output; turned off when the user scrolls up. */
  get follow(): boolean {
    return this._follow;
  }

  set follow(value: boolean) {
    if (value === this._follow) {
      return;
    }
    this._follow = value;
    this.toggleClass('jp-mod-following', value);
    this._followChanged?.(value);
    if (value) {
      this._scrollToEnd();
    }
  }

  /** Called when `follow` changes (the toolbar's toggle listens). */
  onFollowChanged(callback: (value: boolean) => void): void {
    this._followChanged = callback;
  }

  /** Called with the job whenever it changes (the toolbar's cancel button listens). */
  onJobChanged(callback: (job: IJob) => void): void {
    this._jobListeners.push(callback);
    if (this._job) {
      callback(this._job);
    }
  }

  /** Byte offset of the first rendered byte; 0 when the log is shown from its start. */
  get startOffset(): number {
    return this._start;
  }

  /** Byte offset after the last rendered byte. */
  get endOffset(): number {
    return this._next;
  }

  /** The rendered log text. */
  get text(): string {
    return this._text.textContent ?? '';
  }

  /** Resolves when the first part of the log is shown (or there is none). */
  get ready(): Promise<void> {
    return this._ready;
  }

  async start(): Promise<void> {
    const client = this._model.client;
    try {
      const job = this._model.get(this.jobId) ?? (await client.getJob(this.jobId));
      this._setJob(job);
      this._started = true;
      const probe = await client.log(this.jobId, 0, 1);
      let start = 0;
      if (probe.size > this._tailBytes) {
        start = probe.size - this._tailBytes;
        const head = await client.log(this.jobId, start, 4096);
        start += afterFirstNewline(head.bytes);
      }
      this._start = start;
      this._next = start;
      this._partialStart = start;
      this._earlier.hidden = start === 0;
      this._connect();
      this._requestUsage();
    } catch (error) {
      this._showError(String((error as Error).message ?? error));
      this._resolveReady();
    }
  }

  /** Prepend up to `EARLIER_BYTES` before what is shown. */
  async loadEarlier(): Promise<void> {
    if (this._start === 0 || this._loadingEarlier) {
      return;
    }
    this._loadingEarlier = true;
    this._earlier.disabled = true;
    try {
      const from = Math.max(0, this._start - EARLIER_BYTES);
      const chunk = await this._model.client.log(this.jobId, from, this._start - from);
      const cut = from > 0 ? afterFirstNewline(chunk.bytes) : 0;
      const text = collapseText(new TextDecoder().decode(chunk.bytes.subarray(cut)));
      const element = this._chunkElement(text, '', from + cut, this._start);
      const before = this._scroller.scrollHeight;
      this._text.insertBefore(element, this._text.firstChild);
      this._scroller.scrollTop += this._scroller.scrollHeight - before;
      this._start = from + cut;
      this._renderedBytes += this._start - from;
      this._earlier.hidden = this._start === 0;
      this._empty.hidden = true;
    } finally {
      this._loadingEarlier = false;
      this._earlier.disabled = false;
    }
  }

  async copy(): Promise<void> {
    Clipboard.copyToSystem(this.text);
  }

  /** Download the whole log (read in chunks) as a text file. */
  async download(): Promise<void> {
    const client = this._model.client;
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (;;) {
      const chunk = await client.log(this.jobId, offset, 4 * 1024 * 1024);
      if (chunk.bytes.length === 0) {
        break;
      }
      parts.push(chunk.bytes);
      offset = chunk.nextOffset;
      if (offset >= chunk.size) {
        break;
      }
    }
    const blob = new Blob(parts as BlobPart[], { type: 'text/plain' });
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `${this._job?.name ?? this.jobId}.log` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._closeSocket();
    window.clearTimeout(this._reconnectTimer);
    window.clearTimeout(this._usageTimer);
    window.clearInterval(this._ticker);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._follow) {
      this._scrollToEnd();
    }
  }

  private _connect(): void {
    if (this.isDisposed) {
      return;
    }
    const socket = new WebSocket(this._model.client.followURL(this.jobId, this._next));
    this._socket = socket;
    socket.onmessage = event => this._onMessage(event.data);
    socket.onclose = () => {
      this._socket = null;
      if (this.isDisposed || this._ended) {
        return;
      }
      // the server went away: reconnect from where we are; the contract repeats nothing
      this._reconnectDelay = Math.min(this._reconnectDelay * 2, 30000);
      this._reconnectTimer = window.setTimeout(() => this._connect(), this._reconnectDelay);
    };
    socket.onopen = () => {
      this._reconnectDelay = 500;
      if (this._next === this._start) {
        // nothing may come for a while (an empty log): the viewer is ready all the same
        window.setTimeout(() => this._resolveReady(), 300);
      }
    };
  }

  private _closeSocket(): void {
    const socket = this._socket;
    if (socket) {
      this._socket = null;
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
    }
  }

  private _onMessage(raw: string): void {
    let msg: {
      type: string;
      offset?: number;
      next_offset?: number;
      data?: string;
      status?: string;
      message?: string;
    };
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.type === 'data' && typeof msg.data === 'string') {
      const next = msg.next_offset ?? this._next;
      if (next <= this._next) {
        return; // already shown
      }
      this._append(msg.data, next);
      this._next = next;
    } else if (msg.type === 'end') {
      this._ended = true;
      if (typeof msg.next_offset === 'number') {
        this._next = Math.max(this._next, msg.next_offset);
      }
      this.addClass('jp-mod-ended');
      this._resolveReady();
      // the final status may be newer than the model's (e.g. the events stream lags)
      void this._model.client
        .getJob(this.jobId)
        .then(job => this._setJob(job))
        .catch(() => undefined);
    } else if (msg.type === 'error') {
      this._showError(msg.message ?? this._trans.__('log error'));
    }
  }

  /**
   * Add a chunk of the followed log (ending at byte `next`). Finished lines are rendered once
   * into a chunk of their own; only the unfinished last line is rendered again as it changes,
   * so following a growing log costs the size of what arrives, not of what is shown.
   */
  private _append(text: string, next: number): void {
    const update = this._lines.push(text);
    if (update.complete) {
      // the finished lines end where this chunk's unfinished tail starts
      const end = next - new TextEncoder().encode(update.tail).length;
      const from = this._partialStart;
      const element = this._chunkElement(update.complete, this._sgr, from, end);
      this._sgr = sgrCarry(this._sgr, update.complete);
      this._text.insertBefore(element, this._partial);
      this._renderedBytes += end - from;
      this._partialStart = end;
    }
    this._renderInto(this._partial, update.partial, this._sgr);
    if (update.complete || update.partial) {
      this._empty.hidden = true;
    }
    this._trim();
    this._resolveReady();
    if (this._follow) {
      this._scrollToEnd();
    }
  }

  /** Drop the oldest chunks past `MAX_RENDERED_BYTES` so a chatty job never freezes the page. */
  private _trim(): void {
    while (this._renderedBytes > MAX_RENDERED_BYTES && this._text.childElementCount > 2) {
      const first = this._text.firstElementChild as HTMLElement;
      const from = Number(first.dataset.offset);
      const to = Number(first.dataset.next);
      first.remove();
      this._renderedBytes -= to - from;
      this._start = to;
      this._earlier.hidden = false;
    }
  }

  private _chunkElement(text: string, sgr: string, offset: number, next: number): HTMLElement {
    const span = h('span', { class: 'jp-JobsLog-chunk', 'data-offset': offset, 'data-next': next });
    this._renderInto(span, text, sgr);
    return span;
  }

  /**
   * Render log text into `host` with rendermime's text renderer (ANSI colours become the
   * theme's `ansi-*` classes, URLs links; nothing else of the text is taken as HTML). `sgr`: the
   * colour codes still in effect from the chunks before.
   */
  private _renderInto(host: HTMLElement, text: string, sgr: string): void {
    host.textContent = '';
    if (!text) {
      return;
    }
    void renderText({
      host,
      sanitizer: LogViewer.sanitizer,
      source: sgr + text,
      translator: this._translator
    });
    // renderText wraps the text in a <pre> of its own: keep one <pre> for the whole log
    const pre = host.firstElementChild;
    if (pre && pre.tagName === 'PRE' && host.childNodes.length === 1) {
      host.replaceChildren(...Array.from(pre.childNodes));
    }
  }

  private _onScroll = (): void => {
    const el = this._scroller;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (this._programmaticScroll) {
      this._programmaticScroll = false;
      return;
    }
    this.follow = atEnd;
  };

  private _scrollToEnd(): void {
    const el = this._scroller;
    if (el.scrollTop + el.clientHeight < el.scrollHeight) {
      this._programmaticScroll = true;
      el.scrollTop = el.scrollHeight;
    }
  }

  private _showError(message: string): void {
    this._empty.hidden = false;
    this._empty.textContent = message;
    this._empty.classList.add('jp-mod-error');
  }

  /**
   * Ask for the usage samples: once when the log opens, every `USAGE_REFRESH_MS` while the job
   * runs and the log is shown, and once more when it ends (never again after that).
   */
  private _requestUsage(): void {
    if (this._usageSettled || this.isDisposed) {
      return;
    }
    if (this._usageInFlight) {
      this._usageAgain = true; // e.g. the job ended while the request was on its way
      return;
    }
    window.clearTimeout(this._usageTimer);
    const final = !!this._job && isFinal(this._job.status);
    this._usageInFlight = true;
    this._model.client
      .usage(this.jobId)
      .then(samples => this._usage.update(samples, memoryLimit(this._job)))
      .catch(() => undefined) // no usage (an engine without the runner): the chart stays hidden
      .finally(() => {
        this._usageInFlight = false;
        if (final) {
          this._usageSettled = true;
        } else if (this._usageAgain) {
          this._usageAgain = false;
          this._requestUsage();
        } else if (!this.isDisposed) {
          this._usageTimer = window.setTimeout(() => this._usageTick(), USAGE_REFRESH_MS);
        }
      });
  }

  private _usageTick(): void {
    if (this.isVisible) {
      this._requestUsage();
    } else {
      this._usageTimer = window.setTimeout(() => this._usageTick(), USAGE_REFRESH_MS);
    }
  }

  private _setJob(job: IJob): void {
    const trans = this._trans;
    const wasFinal = this._job ? isFinal(this._job.status) : false;
    this._job = job;
    this.title.label = job.name;
    this.title.caption = trans.__('Log of %1 (%2)', job.name, statusLabel(trans, job.status));
    this._title.textContent = job.name;
    this._status.textContent = statusLabel(trans, job.status);
    this._status.dataset.status = job.status;
    this.node.dataset.status = job.status;
    if (!this._empty.classList.contains('jp-mod-error')) {
      this._empty.textContent = isFinal(job.status)
        ? trans.__('The job ended without output.')
        : trans.__('No output yet.');
    }

    const facts: [string, string][] = [
      [trans.__('Command'), formatCommand(job.command.length ? job.command : [job.path ?? ''])],
      [trans.__('Backend'), backendLabel(job.backend, job.profile)],
      [trans.__('Resources'), formatResources(job.resources) || trans.__('profile defaults')],
      [trans.__('Host'), job.host ?? '—'],
      [trans.__('Submitted'), formatTime(job.created_at)],
      [trans.__('Started'), formatTime(job.started_at)],
      [trans.__('Finished'), formatTime(job.finished_at)]
    ];
    const elapsed = elapsedSeconds(job);
    if (elapsed !== null) {
      facts.push([trans.__('Elapsed'), formatDuration(elapsed)]);
    }
    if (job.exit_code !== null && job.exit_code !== undefined) {
      facts.push([trans.__('Exit code'), String(job.exit_code)]);
    }
    const detail = detailText(trans, job);
    if (job.reason || job.status === 'queued') {
      facts.push([trans.__('Reason'), job.reason ?? detail]);
    }
    if (job.status === 'queued' && (job.expected_start || job.backend === 'slurm')) {
      const start = expectedStart(job);
      facts.push([
        trans.__('Expected start'),
        start ? formatTime(start.toISOString()) : trans.__('unknown')
      ]);
    }
    if (job.backend_ref) {
      facts.push([engineIdLabel(trans, job.backend), job.backend_ref]);
    }
    facts.push([trans.__('Log size'), formatBytes(job.log_size ?? 0)]);
    this._facts.textContent = '';
    for (const [key, value] of facts) {
      this._facts.append(
        h('dt', {}, key),
        h('dd', { 'data-fact': key.toLowerCase().replace(/\s+/g, '-') }, value)
      );
    }
    const fraction = job.progress?.fraction;
    const hasProgress = typeof fraction === 'number' || !!job.progress?.message;
    this._progress.hidden = !hasProgress;
    if (hasProgress) {
      const pct =
        typeof fraction === 'number' ? Math.round(Math.min(1, Math.max(0, fraction)) * 100) : 0;
      this._progressBar.style.width = `${pct}%`;
      this._progressText.textContent =
        (typeof fraction === 'number' ? `${pct}%` : '') +
        (job.progress?.message ? ` ${job.progress.message}` : '');
    }
    this._showEfficiency((job as IJob & { efficiency?: IEfficiency | null }).efficiency);
    this._updateTicker();
    if (!wasFinal && isFinal(job.status) && this._started) {
      this._requestUsage();
    }
    for (const listener of this._jobListeners) {
      listener(job);
    }
  }

  /** What the ended job used against what it asked for (as `seff`): only the parts present. */
  private _showEfficiency(efficiency: IEfficiency | null | undefined): void {
    const node = this._efficiency;
    node.textContent = '';
    const parts = efficiency ? efficiencyParts(this._trans, efficiency) : [];
    const hints = (efficiency?.hints ?? []).filter(hint => typeof hint === 'string' && hint);
    node.hidden = parts.length === 0 && hints.length === 0;
    if (node.hidden) {
      return;
    }
    const line = h('div', { class: 'jp-JobsLog-efficiencyLine' });
    line.appendChild(h('span', { class: 'jp-JobsLog-efficiencyLabel' }, this._trans.__('Used')));
    for (const [key, text] of parts) {
      line.appendChild(
        h('span', { class: 'jp-JobsLog-efficiencyPart', 'data-efficiency': key }, text)
      );
    }
    node.appendChild(line);
    for (const hint of hints) {
      node.appendChild(h('div', { class: 'jp-JobsLog-efficiencyHint' }, hint));
    }
  }

  /** The "Elapsed" fact ticks every second while the job runs. */
  private _updateTicker(): void {
    const running = this._job && this._job.started_at && !this._job.finished_at;
    if (running && !this._ticker) {
      this._ticker = window.setInterval(() => {
        const dd = this._facts.querySelector('[data-fact="elapsed"]');
        const seconds = this._job ? elapsedSeconds(this._job) : null;
        if (dd && seconds !== null) {
          dd.textContent = formatDuration(seconds);
        }
      }, 1000);
    } else if (!running && this._ticker) {
      window.clearInterval(this._ticker);
      this._ticker = 0;
    }
  }

  private _model: JobsModel;
  private _trans: TranslationBundle;
  private _tailBytes: number;
  private _job: IJob | null = null;
  private _title: HTMLElement;
  private _status: HTMLElement;
  private _facts: HTMLElement;
  private _progress: HTMLElement;
  private _progressBar: HTMLElement;
  private _progressText: HTMLElement;
  private _usage: UsageChart;
  private _efficiency: HTMLElement;
  private _header: HTMLElement;
  private _earlier: HTMLButtonElement;
  private _text: HTMLElement;
  private _empty: HTMLElement;
  private _jobListeners: ((job: IJob) => void)[] = [];
  private _scroller: HTMLElement;
  private _socket: WebSocket | null = null;
  private _partial: HTMLElement;
  private _lines = new TerminalLines();
  /** Byte offset where the unfinished line starts. */
  private _partialStart = 0;
  /** The colour codes in effect at the end of the finished lines. */
  private _sgr = '';
  private _translator: ITranslator;
  private _start = 0;
  private _next = 0;
  private _renderedBytes = 0;
  private _ended = false;
  private _follow = true;
  private _followChanged: ((value: boolean) => void) | null = null;
  private _programmaticScroll = false;
  private _loadingEarlier = false;
  private _reconnectDelay = 500;
  private _reconnectTimer = 0;
  private _usageTimer = 0;
  private _usageInFlight = false;
  private _usageAgain = false;
  private _usageSettled = false;
  private _started = false;
  private _ticker = 0;
  private _resolveReady!: () => void;
  private _ready = new Promise<void>(resolve => (this._resolveReady = resolve));
}

/** The job's memory request or limit in bytes, if it has one (drawn as a line on the chart). */
export function memoryLimit(job: IJob | null): number | null {
  const value = job?.resources?.memory;
  return typeof value === 'number' && value > 0 ? value : null;
}
