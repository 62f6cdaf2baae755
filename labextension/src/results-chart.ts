/**
 * A small dependency-free SVG chart of one recorded value against one parameter (issue 13):
 * a point per run, axes with ticks, the run's values on hover. Numbers on a linear scale; a
 * parameter of text (or true/false) values gets one evenly spaced place per value.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 480;
const HEIGHT = 220;
const MARGIN = { left: 56, right: 16, top: 12, bottom: 36 };

export interface IChartPoint {
  x: number | string | boolean;
  y: number;
  /** Shown on hover (the run's short id). */
  label?: string;
}

/** "Nice" ticks covering [min, max]: 1, 2 or 5 × 10^k steps, about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    return [];
  }
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  // the nearest of 1, 2, 5, 10 × 10^k (as d3's tickIncrement)
  const error = raw / power;
  const step =
    power *
    (error >= Math.sqrt(50) ? 10 : error >= Math.sqrt(10) ? 5 : error >= Math.sqrt(2) ? 2 : 1);
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  if (ticks[ticks.length - 1] < max) {
    ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  }
  return ticks;
}

/** A linear map from [d0, d1] to [r0, r1]. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return v => r0 + ((v - d0) / span) * (r1 - r0);
}

/** The x scale of the points: linear for numbers, evenly spaced categories otherwise. */
export function xScale(
  values: readonly (number | string | boolean)[],
  r0: number,
  r1: number
): { at: (v: number | string | boolean) => number; ticks: { value: string; at: number }[] } {
  if (values.length && values.every(v => typeof v === 'number')) {
    const nums = values as number[];
    const ticks = niceTicks(Math.min(...nums), Math.max(...nums));
    const scale = linearScale(ticks[0], ticks[ticks.length - 1], r0, r1);
    return {
      at: v => scale(v as number),
      ticks: ticks.map(t => ({ value: formatTick(t), at: scale(t) }))
    };
  }
  const categories = Array.from(new Set(values.map(v => String(v))));
  const band = (r1 - r0) / Math.max(1, categories.length);
  const at = (v: number | string | boolean) => r0 + band * (categories.indexOf(String(v)) + 0.5);
  return { at, ticks: categories.map(c => ({ value: c, at: at(c) })) };
}

function formatTick(v: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) {
    return v.toExponential(1);
  }
  return String(Number(v.toPrecision(6)));
}

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export namespace ResultsChart {
  export interface IOptions {
    translator?: ITranslator;
  }
}

export class ResultsChart {
  constructor(options: ResultsChart.IOptions = {}) {
    this._trans = (options.translator ?? nullTranslator).load('jupyter_jobs');
    this.node = document.createElement('div');
    this.node.className = 'jp-JobsResultsChart';
    this._tooltip = document.createElement('div');
    this._tooltip.className = 'jp-JobsResultsChart-tooltip';
    this._tooltip.hidden = true;
  }

  readonly node: HTMLDivElement;

  /** How many points the chart draws now (for tests). */
  get pointCount(): number {
    return this.node.querySelectorAll('.jp-JobsResultsChart-point').length;
  }

  setData(points: readonly IChartPoint[], xName: string, yName: string): void {
    const trans = this._trans;
    this.node.textContent = '';
    if (!points.length) {
      this.node.appendChild(
        Object.assign(document.createElement('div'), {
          className: 'jp-JobsResultsChart-empty',
          textContent: trans.__('No run has recorded %1 yet.', yName)
        })
      );
      return;
    }
    const svg = el('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      width: '100%',
      role: 'img',
      'aria-label': trans.__('%1 against %2, %3 points', yName, xName, points.length)
    });
    const left = MARGIN.left;
    const right = WIDTH - MARGIN.right;
    const top = MARGIN.top;
    const bottom = HEIGHT - MARGIN.bottom;
    const x = xScale(
      points.map(p => p.x),
      left,
      right
    );
    const ys = points.map(p => p.y);
    const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 4);
    const y = linearScale(yTicks[0], yTicks[yTicks.length - 1], bottom, top);

    const axes = el('g', { class: 'jp-JobsResultsChart-axes' });
    axes.appendChild(el('line', { x1: left, y1: bottom, x2: right, y2: bottom }));
    axes.appendChild(el('line', { x1: left, y1: top, x2: left, y2: bottom }));
    for (const t of x.ticks) {
      axes.appendChild(el('line', { x1: t.at, y1: bottom, x2: t.at, y2: bottom + 4 }));
      axes.appendChild(
        el(
          'text',
          { x: t.at, y: bottom + 16, 'text-anchor': 'middle', class: 'jp-JobsResultsChart-tick' },
          t.value
        )
      );
    }
    for (const t of yTicks) {
      const at = y(t);
      axes.appendChild(el('line', { x1: left - 4, y1: at, x2: left, y2: at }));
      axes.appendChild(
        el('line', { x1: left, y1: at, x2: right, y2: at, class: 'jp-JobsResultsChart-grid' })
      );
      axes.appendChild(
        el(
          'text',
          { x: left - 6, y: at + 4, 'text-anchor': 'end', class: 'jp-JobsResultsChart-tick' },
          formatTick(t)
        )
      );
    }
    axes.appendChild(
      el(
        'text',
        {
          x: (left + right) / 2,
          y: HEIGHT - 4,
          'text-anchor': 'middle',
          class: 'jp-JobsResultsChart-label'
        },
        xName
      )
    );
    axes.appendChild(
      el(
        'text',
        {
          x: 12,
          y: (top + bottom) / 2,
          'text-anchor': 'middle',
          transform: `rotate(-90 12 ${(top + bottom) / 2})`,
          class: 'jp-JobsResultsChart-label'
        },
        yName
      )
    );
    svg.appendChild(axes);
    const dots = el('g', {});
    for (const p of points) {
      const dot = el('circle', {
        cx: x.at(p.x),
        cy: y(p.y),
        r: 4,
        class: 'jp-JobsResultsChart-point',
        'data-x': String(p.x),
        'data-y': String(p.y)
      });
      const text = `${xName} = ${String(p.x)}, ${yName} = ${formatTick(p.y)}${p.label ? ` (${p.label})` : ''}`;
      dot.appendChild(el('title', {}, text));
      dot.addEventListener('mouseenter', () => {
        this._tooltip.textContent = text;
        this._tooltip.hidden = false;
        const box = this.node.getBoundingClientRect();
        const r = dot.getBoundingClientRect();
        this._tooltip.style.left = `${r.left - box.left + 8}px`;
        this._tooltip.style.top = `${r.top - box.top - 24}px`;
      });
      dot.addEventListener('mouseleave', () => {
        this._tooltip.hidden = true;
      });
      dots.appendChild(dot);
    }
    svg.appendChild(dots);
    this.node.append(svg, this._tooltip);
  }

  private _trans: TranslationBundle;
  private _tooltip: HTMLDivElement;
}
