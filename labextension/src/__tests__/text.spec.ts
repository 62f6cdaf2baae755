import { joinArgs, parseEnv, splitArgs } from '../argv';
import { afterFirstNewline } from '../log-viewer';
import { formatParameterValue, parseParameterValue, readParameters } from '../parameters';

describe('arguments and environment', () => {
  it('splits arguments like a shell would, without running one', () => {
    expect(splitArgs(`--name "a b" 'c d' e\\ f $HOME;ls`)).toEqual([
      '--name',
      'a b',
      'c d',
      'e f',
      '$HOME;ls'
    ]);
  });

  it('round-trips through joinArgs', () => {
    const args = ['x', 'with space', "it's", ''];
    expect(splitArgs(joinArgs(args))).toEqual(args);
  });

  it('refuses an unclosed quote', () => {
    expect(() => splitArgs('"open')).toThrow('Arguments: a " quote is not closed');
  });

  it('parses NAME=value lines and refuses a line without a name', () => {
    expect(parseEnv('A=1\n# comment\n\nB=x=y')).toEqual({ A: '1', B: 'x=y' });
    expect(() => parseEnv('A=1\nnot a pair')).toThrow('Environment: line 2 is not NAME=value');
  });
});

describe('notebook parameters', () => {
  const notebook = {
    cells: [
      { cell_type: 'code', source: 'import os', metadata: {} },
      {
        cell_type: 'code',
        metadata: { tags: ['parameters'] },
        source: [
          'alpha = 0.5  # learning rate\n',
          "name = 'run #1'\n",
          'flags: list = [1, 2]\n',
          'debug = False\n',
          'if x == 1: pass\n'
        ]
      }
    ]
  };

  it('reads name = value lines of the cell tagged parameters', () => {
    expect(readParameters(notebook)).toEqual([
      { name: 'alpha', text: '0.5' },
      { name: 'name', text: "'run #1'" },
      { name: 'flags', text: '[1, 2]' },
      { name: 'debug', text: 'False' }
    ]);
  });

  it('reads nothing from a notebook without such a cell', () => {
    expect(readParameters({ cells: [notebook.cells[0]] })).toEqual([]);
  });

  it('parses Python literals into JSON values', () => {
    expect(parseParameterValue('0.25')).toBe(0.25);
    expect(parseParameterValue("'text'")).toBe('text');
    expect(parseParameterValue('True')).toBe(true);
    expect(parseParameterValue('None')).toBeNull();
    expect(parseParameterValue("{'a': [1, 'b'], 'c': (1, 2),}")).toEqual({
      a: [1, 'b'],
      c: [1, 2]
    });
    expect(parseParameterValue('some words')).toBe('some words');
    expect(formatParameterValue(false)).toBe('False');
  });
});

describe('log tail', () => {
  it('starts the tail after the first newline so no line is cut in half', () => {
    expect(afterFirstNewline(new TextEncoder().encode('rtial line\nnext'))).toBe(11);
    expect(afterFirstNewline(new TextEncoder().encode('no newline'))).toBe(0);
  });
});
