import { elapsedSeconds, formatBytes, formatDuration, formatResources } from '../format';
import { makeJob } from './fake-server';

describe('one byte formatter', () => {
  it('uses binary units with one decimal below ten', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(131 * 1024 * 1024)).toBe('131 MiB');
    expect(formatBytes(4 * 1024 ** 3)).toBe('4.0 GiB');
    expect(formatBytes(3 * 1024 ** 5)).toBe('3072 TiB');
  });
});

describe('one duration formatter', () => {
  it('reads seconds, minutes:seconds and hours:minutes:seconds', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(5.9)).toBe('5s');
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3600)).toBe('1:00:00');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(-4)).toBe('0s');
    // a duration not known (a remote kernel's time left without a limit)
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(4 * 3600 + 30)).toBe('4:00:30');
  });

  it('is what resources and elapsed times use', () => {
    expect(formatResources({ cpus: 2, memory: 4 * 1024 ** 3, time_limit: 5400 })).toBe(
      'cpus=2 memory=4.0 GiB time_limit=1:30:00'
    );
    const job = makeJob({
      started_at: '2026-01-01T00:00:00Z',
      finished_at: '2026-01-01T00:01:05Z'
    });
    expect(formatDuration(elapsedSeconds(job)!)).toBe('1:05');
  });
});
