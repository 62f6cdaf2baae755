/**
 * A small SVG chart of CPU and memory over time (from `GET jobs/{id}/usage`), dependency-free:
 * time since the first sample on x, CPU % on the left axis, memory (bytes) on the right, the
 * job's memory limit as a dashed line when it has one, and a tooltip with the sample under the
 * pointer. The legend is HTML below the chart and wraps rather than being cut.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { h } from './dom';
import { formatBytes, formatDuration, formatTime } from './format';
import { IUsageSample } from './tokens';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The chart's size in CSS pixels (drawn 1:1, so text and lines are never stretched). */
export const WIDTH = 320;
export const HEIGHT = 120;
/** The plot area inside the axes. */
export const PLOT = { left: 34, right: WIDTH - 50, top: 8, bottom: HEIGHT - 18 };

/** A linear scale: `domain` → `range`. */
export function scale(domain: [number, number], range: [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return v => r0 + ((v - d0) / span) * (r1 - r0);
}

/** A "nice" step (1, 2, 2.5 or 5 × 10^k) so that about `count` steps cover `max`. */
export function niceStep(max: number, count = 4): number {
  if (!(max > 0)) {
    return 1;
  }
  const raw = max / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  const nice =
    fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** Ticks from 0 to the first multiple of a nice step at or above `max`. */
export function niceTicks(max: number, count = 4): number[] {
  const step = niceStep(max, count);
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

/**
 * Byte ticks: nice steps in the unit `max` is best read in (KiB, MiB, GiB, …), so the labels
 * read 0, 50 MiB, 100 MiB, 150 MiB rather than odd byte counts.
 */
export function byteTicks(max: number, count = 3): number[] {
  let unit = 1;
  while (max >= unit * 1024 && unit < Math.pow(1024, 4)) {
    unit *= 1024;
  }
  return niceTicks(max / unit, count).map(v => v * unit);
}

const TIME_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400
];

/** Time ticks (seconds from the first sample) at a round step, about `count` of them. */
export function timeTicks(span: number, count = 4): number[] {
  const step = TIME_STEPS.find(s => span / s <= count) ?? Math.ceil(span / count / 86400) * 86400;
  const ticks: number[] = [];
  for (let v = 0; v <= span + 1e-9; v += step) {
    ticks.push(v);
  }
  return ticks;
}

/** Points of a polyline for the series (`xs` seconds, `ys` values) in the plot area. */
export function polylinePoints(
  xs: number[],
  ys: number[],
  x: (v: number) => number,
  y: (v: number) => number
): string {
  return ys.map((v, i) => `${x(xs[i]).toFixed(1)},${y(Math.max(0, v)).toFixed(1)}`).join(' ');
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export class UsageChart {
  constructor(private _trans: TranslationBundle) {
    this.node = h('div', { class: 'jp-JobsUsage' });
    this._svg = svg('svg', {
      class: 'jp-JobsUsage-chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      width: WIDTH,
      height: HEIGHT,
      role: 'img'
    });
    this._axes = svg('g', { class: 'jp-JobsUsage-axes' });
    this._limit = svg('g', { class: 'jp-JobsUsage-limit' });
    this._mem = svg('polyline', { class: 'jp-JobsUsage-mem' });
    this._cpu = svg('polyline', { class: 'jp-JobsUsage-cpu' });
    this._guide = svg('line', {
      class: 'jp-JobsUsage-guide',
      y1: PLOT.top,
      y2: PLOT.bottom,
      visibility: 'hidden'
    });
    // the whole plot area takes the pointer (the lines alone are too thin to hover)
    const hit = svg('rect', {
      class: 'jp-JobsUsage-hit',
      x: PLOT.left,
      y: PLOT.top,
      width: PLOT.right - PLOT.left,
      height: PLOT.bottom - PLOT.top
    });
    this._svg.append(this._axes, this._limit, this._mem, this._cpu, this._guide, hit);
    this._tooltip = h('div', { class: 'jp-JobsUsage-tooltip', role: 'tooltip', hidden: true });
    this._legend = h('div', { class: 'jp-JobsUsage-legend' });
    this.node.append(
      h('div', { class: 'jp-JobsUsage-plot' }, this._svg, this._tooltip),
      this._legend
    );
    hit.addEventListener('pointermove', this._onPointer);
    hit.addEventListener('pointerleave', this._hideTooltip);
    this.update([]);
  }

  readonly node: HTMLElement;

  /** Draw `samples`; `memoryLimit` (bytes) is drawn as a line when given. */
  update(samples: IUsageSample[], memoryLimit: number | null = null): void {
    const trans = this._trans;
    this.node.hidden = samples.length === 0;
    this._hideTooltip();
    if (samples.length === 0) {
      this._shown = [];
      return;
    }
    // keep the chart light: at most one point per pixel
    const stride = Math.ceil(samples.length / (PLOT.right - PLOT.left));
    const shown = samples.filter((_, i) => i % stride === 0 || i === samples.length - 1);
    this._shown = shown;
    const t0 = shown[0].t;
    const xs = shown.map(s => s.t - t0);
    const span = Math.max(xs[xs.length - 1], 1);
    const cpuTicks = niceTicks(Math.max(100, ...shown.map(s => s.cpu_percent)), 4);
    const peak = Math.max(...samples.map(s => s.rss_bytes));
    const memTicks = byteTicks(Math.max(peak, memoryLimit ?? 0, 1), 3);
    const x = scale([0, span], [PLOT.left, PLOT.right]);
    const yCpu = scale([0, cpuTicks[cpuTicks.length - 1]], [PLOT.bottom, PLOT.top]);
    const yMem = scale([0, memTicks[memTicks.length - 1]], [PLOT.bottom, PLOT.top]);
    this._x = x;
    this._t0 = t0;

    this._drawAxes(
      timeTicks(span).map(v => ({ at: x(v), label: formatDuration(v) })),
      cpuTicks.map(v => ({ at: yCpu(v), label: `${v}%` })),
      memTicks.map(v => ({ at: yMem(v), label: formatBytes(v) }))
    );
    this._cpu.setAttribute(
      'points',
      polylinePoints(
        xs,
        shown.map(s => s.cpu_percent),
        x,
        yCpu
      )
    );
    this._mem.setAttribute(
      'points',
      polylinePoints(
        xs,
        shown.map(s => s.rss_bytes),
        x,
        yMem
      )
    );
    this._limit.textContent = '';
    if (memoryLimit) {
      const y = yMem(memoryLimit).toFixed(1);
      this._limit.append(
        svg('line', { x1: PLOT.left, x2: PLOT.right, y1: y, y2: y }),
        svg(
          'text',
          { x: PLOT.right - 2, y: Number(y) - 2, 'text-anchor': 'end' },
          trans.__('limit')
        )
      );
    }

    const last = samples[samples.length - 1];
    this._legend.textContent = '';
    this._legend.append(
      h(
        'span',
        { class: 'jp-JobsUsage-key jp-JobsUsage-cpuKey' },
        trans.__('CPU %1%', Math.round(last.cpu_percent))
      ),
      h(
        'span',
        { class: 'jp-JobsUsage-key jp-JobsUsage-memKey' },
        trans.__('Memory %1 (peak %2)', formatBytes(last.rss_bytes), formatBytes(peak))
      )
    );
    if (memoryLimit) {
      this._legend.append(
        h(
          'span',
          { class: 'jp-JobsUsage-key jp-JobsUsage-limitKey' },
          trans.__('limit %1', formatBytes(memoryLimit))
        )
      );
    }
    this._svg.setAttribute(
      'aria-label',
      trans.__(
        'CPU and memory over %1; now %2% CPU, %3',
        formatDuration(span),
        Math.round(last.cpu_percent),
        formatBytes(last.rss_bytes)
      )
    );
  }

  private _drawAxes(
    xTicks: { at: number; label: string }[],
    cpuTicks: { at: number; label: string }[],
    memTicks: { at: number; label: string }[]
  ): void {
    const g = this._axes;
    g.textContent = '';
    // grid lines at the CPU ticks, the axes' lines, then the labels
    for (const t of cpuTicks) {
      g.append(
        svg('line', {
          class: 'jp-JobsUsage-grid',
          x1: PLOT.left,
          x2: PLOT.right,
          y1: t.at.toFixed(1),
          y2: t.at.toFixed(1)
        })
      );
      g.append(
        svg(
          'text',
          { class: 'jp-JobsUsage-cpuAxis', x: PLOT.left - 3, y: t.at + 3, 'text-anchor': 'end' },
          t.label
        )
      );
    }
    for (const t of memTicks) {
      g.append(
        svg(
          'text',
          { class: 'jp-JobsUsage-memAxis', x: PLOT.right + 3, y: t.at + 3, 'text-anchor': 'start' },
          t.label
        )
      );
    }
    for (const t of xTicks) {
      g.append(
        svg('line', {
          class: 'jp-JobsUsage-tick',
          x1: t.at.toFixed(1),
          x2: t.at.toFixed(1),
          y1: PLOT.bottom,
          y2: PLOT.bottom + 3
        }),
        svg(
          'text',
          { class: 'jp-JobsUsage-timeAxis', x: t.at, y: HEIGHT - 5, 'text-anchor': 'middle' },
          t.label
        )
      );
    }
    g.append(
      svg('path', {
        class: 'jp-JobsUsage-axis',
        d: `M${PLOT.left},${PLOT.top}V${PLOT.bottom}H${PLOT.right}V${PLOT.top}`
      })
    );
  }

  private _onPointer = (event: PointerEvent): void => {
    if (this._shown.length === 0) {
      return;
    }
    const box = this._svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / (box.width || WIDTH)) * WIDTH;
    let best = 0;
    for (let i = 1; i < this._shown.length; i++) {
      if (
        Math.abs(this._x(this._shown[i].t - this._t0) - px) <
        Math.abs(this._x(this._shown[best].t - this._t0) - px)
      ) {
        best = i;
      }
    }
    const sample = this._shown[best];
    const at = this._x(sample.t - this._t0);
    this._guide.setAttribute('x1', at.toFixed(1));
    this._guide.setAttribute('x2', at.toFixed(1));
    this._guide.setAttribute('visibility', 'visible');
    const trans = this._trans;
    this._tooltip.textContent = '';
    this._tooltip.append(
      h(
        'div',
        { class: 'jp-JobsUsage-tooltipTime' },
        trans.__(
          '%1 (%2 in)',
          formatTime(new Date(sample.t * 1000).toISOString()),
          formatDuration(sample.t - this._t0)
        )
      ),
      h('div', {}, trans.__('CPU %1%', Math.round(sample.cpu_percent))),
      h('div', {}, trans.__('Memory %1', formatBytes(sample.rss_bytes)))
    );
    this._tooltip.hidden = false;
    // beside the guide, on the side with room
    const left = at > WIDTH / 2;
    this._tooltip.style.left = left ? '' : `${at + 6}px`;
    this._tooltip.style.right = left ? `${WIDTH - at + 6}px` : '';
  };

  private _hideTooltip = (): void => {
    this._tooltip.hidden = true;
    this._guide.setAttribute('visibility', 'hidden');
  };

  private _svg: SVGSVGElement;
  private _axes: SVGGElement;
  private _limit: SVGGElement;
  private _cpu: SVGPolylineElement;
  private _mem: SVGPolylineElement;
  private _guide: SVGLineElement;
  private _tooltip: HTMLElement;
  private _legend: HTMLElement;
  private _shown: IUsageSample[] = [];
  private _x: (v: number) => number = v => v;
  private _t0 = 0;
}
