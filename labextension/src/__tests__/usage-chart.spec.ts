import { nullTranslator } from '@jupyterlab/translation';

import {
  byteTicks,
  HEIGHT,
  niceStep,
  niceTicks,
  PLOT,
  scale,
  timeTicks,
  UsageChart,
  WIDTH
} from '../usage-chart';

const MiB = 1024 * 1024;

describe('usage chart scales', () => {
  it('maps a domain onto a range linearly', () => {
    const y = scale([0, 100], [100, 0]);
    expect(y(0)).toBe(100);
    expect(y(50)).toBe(50);
    expect(y(100)).toBe(0);
  });

  it('picks round steps and ticks that cover the maximum', () => {
    expect(niceStep(100, 4)).toBe(25);
    expect(niceTicks(100, 4)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(180, 4)).toEqual([0, 50, 100, 150, 200]);
    expect(niceTicks(0.3, 3)).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('puts memory ticks on round numbers of one unit', () => {
    expect(byteTicks(131 * MiB, 3)).toEqual([0, 50 * MiB, 100 * MiB, 150 * MiB]);
    expect(byteTicks(3 * 1024 * MiB, 3)).toEqual([0, 1024 * MiB, 2048 * MiB, 3072 * MiB]);
    expect(byteTicks(500, 3)).toEqual([0, 200, 400, 600]);
  });

  it('puts time ticks at round durations', () => {
    expect(timeTicks(40, 4)).toEqual([0, 10, 20, 30, 40]);
    expect(timeTicks(125, 4)).toEqual([0, 60, 120]);
    expect(timeTicks(3 * 3600, 4)).toEqual([0, 3600, 7200, 10800]);
  });
});

describe('usage chart', () => {
  const samples = [0, 1, 2, 3, 4].map(i => ({
    t: 1000 + i * 10,
    cpu_percent: i * 20,
    rss_bytes: (i + 1) * 20 * MiB
  }));

  it('draws axes with units, both series inside the plot and the memory limit', () => {
    const chart = new UsageChart(nullTranslator.load('jupyter_jobs'));
    chart.update(samples, 256 * MiB);
    const node = chart.node;
    const labels = (cls: string) =>
      Array.from(node.querySelectorAll(`text.${cls}`)).map(t => t.textContent);
    expect(labels('jp-JobsUsage-timeAxis')).toEqual(['0s', '10s', '20s', '30s', '40s']);
    expect(labels('jp-JobsUsage-cpuAxis')).toEqual(['0%', '25%', '50%', '75%', '100%']);
    expect(labels('jp-JobsUsage-memAxis')).toEqual(['0 B', '100 MiB', '200 MiB', '300 MiB']);
    for (const cls of ['jp-JobsUsage-cpu', 'jp-JobsUsage-mem']) {
      const points = node
        .querySelector(`polyline.${cls}`)!
        .getAttribute('points')!
        .split(' ')
        .map(p => p.split(',').map(Number));
      expect(points).toHaveLength(5);
      for (const [x, y] of points) {
        expect(x).toBeGreaterThanOrEqual(PLOT.left);
        expect(x).toBeLessThanOrEqual(PLOT.right);
        expect(y).toBeGreaterThanOrEqual(PLOT.top);
        expect(y).toBeLessThanOrEqual(PLOT.bottom);
      }
    }
    const limit = node.querySelector('.jp-JobsUsage-limit line')!;
    // 256 MiB of a 300 MiB axis
    const expected = PLOT.bottom - (256 / 300) * (PLOT.bottom - PLOT.top);
    expect(Number(limit.getAttribute('y1'))).toBeCloseTo(expected, 0);
    expect(node.querySelector('.jp-JobsUsage-legend')!.textContent).toContain('peak 100 MiB');
    expect(node.querySelector('.jp-JobsUsage-limitKey')!.textContent).toBe('limit 256 MiB');
    expect(node.querySelector('svg')!.getAttribute('viewBox')).toBe(`0 0 ${WIDTH} ${HEIGHT}`);
  });

  it('draws no limit line for a job without one, and hides when there are no samples', () => {
    const chart = new UsageChart(nullTranslator.load('jupyter_jobs'));
    chart.update(samples);
    expect(chart.node.querySelector('.jp-JobsUsage-limit line')).toBeNull();
    chart.update([]);
    expect(chart.node.hidden).toBe(true);
  });
});
