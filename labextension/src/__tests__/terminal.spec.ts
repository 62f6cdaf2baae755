import { collapseText, overwriteLine, sgrCarry, TerminalLines, visibleLength } from '../terminal';

/** Feed `chunks` one by one; what the log shows at the end (finished lines + the last one). */
function show(chunks: string[]): string {
  const lines = new TerminalLines();
  let complete = '';
  let partial = '';
  for (const chunk of chunks) {
    const update = lines.push(chunk);
    complete += update.complete;
    partial = update.partial;
  }
  return complete + partial;
}

describe('carriage returns, as a terminal shows them', () => {
  const tqdm = [
    '\r  0%|          | 0/3 [00:00<?, ?it/s]',
    '\r 33%|███▎      | 1/3 [00:00<00:01,  1.9it/s]',
    '\r 67%|██████▋   | 2/3 [00:01<00:00,  1.9it/s]',
    '\r100%|██████████| 3/3 [00:01<00:00,  1.9it/s]',
    '\n'
  ];

  it('keeps the last state of a tqdm bar, not one line per update', () => {
    expect(show([tqdm.join('') + 'next print\n'])).toBe(
      '100%|██████████| 3/3 [00:01<00:00,  1.9it/s]\nnext print\n'
    );
  });

  it('does the same when every update arrives in a chunk of its own', () => {
    expect(show([...tqdm, 'next print\n'])).toBe(
      '100%|██████████| 3/3 [00:01<00:00,  1.9it/s]\nnext print\n'
    );
  });

  it('shows the line being redrawn as its latest state while it is followed', () => {
    const lines = new TerminalLines();
    expect(lines.push('epoch 1\n').complete).toBe('epoch 1\n');
    expect(lines.push('\r 10%').partial).toBe(' 10%');
    const update = lines.push('\r 50%');
    expect(update.complete).toBe('');
    expect(update.partial).toBe(' 50%');
    expect(update.tail).toBe('\r 50%');
  });

  it('does not glue the next print to the bar', () => {
    expect(show(['\r 50%', '\r100%\n', 'done\n'])).toBe('100%\ndone\n');
  });

  it('takes \\r\\n as one newline, also split between two chunks', () => {
    expect(show(['a\r\nb\r\n'])).toBe('a\nb\n');
    expect(show(['first line\r', '\nsecond\r', '\n'])).toBe('first line\nsecond\n');
    // a bare \r at the end of a chunk still overwrites when more of the line follows
    expect(show(['old text\r', 'new'])).toBe('new text');
  });

  it('overwrites the start of the line only, as a terminal does', () => {
    expect(overwriteLine('abcdef\rXY')).toBe('XYcdef');
    expect(overwriteLine('abc\r\r\rZ')).toBe('Zbc');
    expect(collapseText('long line\rshort\nend')).toBe('shortline\nend');
  });

  it('counts columns without escape sequences and keeps colours of what stays', () => {
    expect(visibleLength('\x1b[32mok\x1b[0m')).toBe(2);
    expect(overwriteLine('\x1b[31mred text\x1b[0m\rXY')).toBe('XY\x1b[31md text\x1b[0m');
  });

  it('hides an escape sequence cut by the end of a chunk until the rest comes', () => {
    const lines = new TerminalLines();
    expect(lines.push('\x1b[3').partial).toBe('');
    expect(lines.push('2mgreen').partial).toBe('\x1b[32mgreen');
  });
});

describe('colours across chunks', () => {
  it('carries the codes in effect to the next chunk and forgets them after a reset', () => {
    expect(sgrCarry('', 'plain')).toBe('');
    expect(sgrCarry('', '\x1b[32mgreen starts\n')).toBe('\x1b[32m');
    expect(sgrCarry('\x1b[32m', 'bold too \x1b[1m\n')).toBe('\x1b[32m\x1b[1m');
    expect(sgrCarry('\x1b[32m', 'ends \x1b[0m\n')).toBe('');
    expect(sgrCarry('\x1b[32m', 'ends \x1b[m here \x1b[31m')).toBe('\x1b[31m');
  });
});
