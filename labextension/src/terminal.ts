/**
 * A log's text as a terminal shows it, line by line, while it grows.
 *
 * A carriage return (`\r`) moves back to the start of the line and what follows overwrites it
 * (tqdm redraws its bar this way): only the last state of each line is kept. `\r\n` is a newline.
 * This works across the chunks of a followed log: a line still being redrawn is held back as the
 * *partial* line until its newline comes, a `\r` at the end of one chunk may meet its `\n` at the
 * start of the next.
 *
 * ANSI colours are not handled here: the text keeps its escape sequences, and rendermime's
 * `renderText` turns them into the theme's `ansi-*` classes (see log-viewer.ts). The SGR
 * (colour) state is carried from one rendered chunk to the next by `sgrCarry`.
 */

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
// an escape sequence cut by the end of a chunk (the rest comes with the next one)
// eslint-disable-next-line no-control-regex
const CUT_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?$/;
// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[([0-9;:]*)m/g;

/** What one `push` changed. */
export interface ITerminalUpdate {
  /** Lines completed by this push, each as its last state, each ending with `\n` ('' for none). */
  complete: string;
  /** The current unfinished line as it shows now ('' when the text ended with a newline). */
  partial: string;
  /** The raw text of this push after its last newline (all of it when it had none). */
  tail: string;
}

/** Turns the chunks of a log into finished lines and the line still being written. */
export class TerminalLines {
  /** Add the next chunk of the log. */
  push(text: string): ITerminalUpdate {
    const nl = text.lastIndexOf('\n');
    if (nl < 0) {
      this._pending = holdLine(this._pending + text);
      return { complete: '', partial: showLine(this._pending), tail: text };
    }
    const done = this._pending + text.slice(0, nl + 1);
    const tail = text.slice(nl + 1);
    this._pending = holdLine(tail);
    return { complete: collapseLines(done), partial: showLine(this._pending), tail };
  }

  /** The unfinished line as it shows now. */
  get partial(): string {
    return showLine(this._pending);
  }

  // the unfinished line, already collapsed; ends with '\r' when the last chunk did
  private _pending = '';
}

/**
 * Every line of `text` as a terminal leaves it (a whole text at once, e.g. an earlier part of a
 * log loaded on demand).
 */
export function collapseText(text: string): string {
  const lines = new TerminalLines();
  const update = lines.push(text);
  return update.complete + update.partial;
}

/** Complete lines (`text` ends with `\n`) → their last states. */
function collapseLines(text: string): string {
  const lines = text.split('\n');
  lines.pop(); // after the final newline
  return lines.map(line => overwriteLine(line.replace(/\r+$/, ''))).join('\n') + '\n';
}

/** The unfinished line, collapsed, keeping a final `\r` (its `\n` may be in the next chunk). */
function holdLine(line: string): string {
  const trailing = line.endsWith('\r');
  return overwriteLine(line.replace(/\r+$/, '')) + (trailing ? '\r' : '');
}

function showLine(pending: string): string {
  return pending.replace(/\r+$/, '').replace(CUT_ESCAPE, '');
}

/**
 * One line (no `\n`) with carriage returns → what a terminal shows: each part after a `\r`
 * overwrites the start of what was there (`abcdef\rXY` → `XYcdef`). Escape sequences take no
 * columns; the ones of overwritten text are kept so the colours after them stay right.
 */
export function overwriteLine(line: string): string {
  if (!line.includes('\r')) {
    return line;
  }
  const parts = line.split('\r');
  let shown = parts[0];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (part === '') {
      continue;
    }
    const { escapes, rest } = skipColumns(shown, visibleLength(part));
    const restyle = rest !== '' && part.includes('\x1b') ? '\x1b[0m' : '';
    shown = part + restyle + escapes + rest;
  }
  return shown;
}

/** The number of columns `text` takes (characters, not counting escape sequences). */
export function visibleLength(text: string): number {
  return Array.from(text.replace(ESCAPE, '')).length;
}

/** Skip `columns` characters of `text`: the escape sequences met on the way, and what is left. */
function skipColumns(text: string, columns: number): { escapes: string; rest: string } {
  let escapes = '';
  let seen = 0;
  let i = 0;
  while (i < text.length && seen < columns) {
    if (text[i] === '\x1b') {
      ESCAPE.lastIndex = i;
      const match = ESCAPE.exec(text);
      if (match && match.index === i) {
        escapes += match[0];
        i += match[0].length;
        continue;
      }
    }
    const code = text.codePointAt(i) ?? 0;
    i += code > 0xffff ? 2 : 1;
    seen++;
  }
  return { escapes, rest: text.slice(i) };
}

/**
 * The SGR sequences still in effect after `text`, given those in effect before it (`carry`):
 * prefixed to the next chunk, they keep a colour that one chunk set and the next continues.
 */
export function sgrCarry(carry: string, text: string): string {
  let out = carry;
  SGR.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = SGR.exec(text)) !== null) {
    const params = match[1];
    if (params === '' || /^0*$/.test(params) || /(^|;)0*$/.test(params)) {
      out = ''; // a reset (possibly last of several codes) ends everything before it
    } else {
      out += match[0];
    }
  }
  // a long run of colour changes without a reset: only the recent ones can still matter
  return out.length > 256 ? out.slice(out.lastIndexOf('\x1b', out.length - 128)) : out;
}
