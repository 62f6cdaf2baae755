/**
 * A small SVG chart of CPU and memory over time (from `GET jobs/{id}/usage`).
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { h } from './dom';
import { formatBytes } from './format';
import { IUsageSample } from './tokens';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 240;
const HEIGHT = 48;

/** Points of a polyline for `values` scaled into the chart box. */
export function polylinePoints(values: number[], max: number): string {
  if (values.length === 0) {
    return '';
  }
  const top = max > 0 ? max : 1;
  const step = values.length > 1 ? WIDTH / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const x = values.length > 1 ? i * step : WIDTH;
      const y = HEIGHT - (Math.max(0, v) / top) * (HEIGHT - 2) - 1;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

export class UsageChart {
  constructor(private _trans: TranslationBundle) {
    this.node = h('div', { class: 'jp-JobsUsage' });
    this._svg = document.createElementNS(SVG_NS, 'svg');
    this._svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    this._svg.setAttribute('preserveAspectRatio', 'none');
    this._svg.setAttribute('class', 'jp-JobsUsage-chart');
    this._svg.setAttribute('role', 'img');
    this._cpu = document.createElementNS(SVG_NS, 'polyline');
    this._cpu.setAttribute('class', 'jp-JobsUsage-cpu');
    this._mem = document.createElementNS(SVG_NS, 'polyline');
    this._mem.setAttribute('class', 'jp-JobsUsage-mem');
    this._svg.append(this._mem, this._cpu);
    this._legend = h('div', { class: 'jp-JobsUsage-legend' });
    this.node.append(this._svg, this._legend);
    this.update([]);
  }

  readonly node: HTMLElement;

  update(samples: IUsageSample[]): void {
    const trans = this._trans;
    this.node.hidden = samples.length === 0;
    if (samples.length === 0) {
      return;
    }
    // keep the chart light: at most WIDTH points
    const stride = Math.ceil(samples.length / WIDTH);
    const shown = samples.filter((_, i) => i % stride === 0 || i === samples.length - 1);
    const cpu = shown.map(s => s.cpu_percent);
    const mem = shown.map(s => s.rss_bytes);
    const cpuMax = Math.max(100, ...cpu);
    const memMax = Math.max(...mem, 1);
    this._cpu.setAttribute('points', polylinePoints(cpu, cpuMax));
    this._mem.setAttribute('points', polylinePoints(mem, memMax));
    const last = samples[samples.length - 1];
    const peak = Math.max(...samples.map(s => s.rss_bytes));
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
    this._svg.setAttribute(
      'aria-label',
      trans.__(
        'CPU and memory over time; now %1% CPU, %2',
        Math.round(last.cpu_percent),
        formatBytes(last.rss_bytes)
      )
    );
  }

  private _svg: SVGSVGElement;
  private _cpu: SVGPolylineElement;
  private _mem: SVGPolylineElement;
  private _legend: HTMLElement;
}
