/**
 * ANSI SGR escape sequences → DOM spans with classes (`jp-JobsAnsi-fg-red`, …).
 *
 * Only colours and bold/italic/underline are rendered; other escape sequences (cursor moves) are
 * dropped. Text is always inserted as text nodes, never as HTML.
 */

const COLORS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

export interface IAnsiState {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  italic: boolean;
  underline: boolean;
}

export function initialAnsiState(): IAnsiState {
  return { fg: null, bg: null, bold: false, italic: false, underline: false };
}

export interface IAnsiSegment {
  text: string;
  classes: string[];
  /** 24-bit or 256-colour foreground/background, as CSS colour. */
  style?: { color?: string; background?: string };
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]/g;

/**
 * Split text into styled segments. `state` carries the style across calls (a colour set in one
 * chunk of a log applies to the next).
 */
export function parseAnsi(text: string, state: IAnsiState = initialAnsiState()): IAnsiSegment[] {
  const segments: IAnsiSegment[] = [];
  let last = 0;
  ESCAPE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = ESCAPE.exec(text)) !== null) {
    if (match.index > last) {
      segments.push(segment(text.slice(last, match.index), state));
    }
    last = ESCAPE.lastIndex;
    if (match[2] === 'm') {
      applySGR(match[1], state);
    }
  }
  if (last < text.length) {
    segments.push(segment(text.slice(last), state));
  }
  return segments;
}

function segment(text: string, state: IAnsiState): IAnsiSegment {
  const classes: string[] = [];
  const style: { color?: string; background?: string } = {};
  if (state.fg) {
    if (state.fg.startsWith('#') || state.fg.startsWith('rgb')) {
      style.color = state.fg;
    } else {
      classes.push(`jp-JobsAnsi-fg-${state.fg}`);
    }
  }
  if (state.bg) {
    if (state.bg.startsWith('#') || state.bg.startsWith('rgb')) {
      style.background = state.bg;
    } else {
      classes.push(`jp-JobsAnsi-bg-${state.bg}`);
    }
  }
  if (state.bold) {
    classes.push('jp-JobsAnsi-bold');
  }
  if (state.italic) {
    classes.push('jp-JobsAnsi-italic');
  }
  if (state.underline) {
    classes.push('jp-JobsAnsi-underline');
  }
  const out: IAnsiSegment = { text, classes };
  if (style.color || style.background) {
    out.style = style;
  }
  return out;
}

function applySGR(params: string, state: IAnsiState): void {
  const codes = params === '' ? [0] : params.split(';').map(p => Number(p) || 0);
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) {
      Object.assign(state, initialAnsiState());
    } else if (code === 1) {
      state.bold = true;
    } else if (code === 3) {
      state.italic = true;
    } else if (code === 4) {
      state.underline = true;
    } else if (code === 22) {
      state.bold = false;
    } else if (code === 23) {
      state.italic = false;
    } else if (code === 24) {
      state.underline = false;
    } else if (code >= 30 && code <= 37) {
      state.fg = COLORS[code - 30];
    } else if (code >= 90 && code <= 97) {
      state.fg = `bright-${COLORS[code - 90]}`;
    } else if (code === 39) {
      state.fg = null;
    } else if (code >= 40 && code <= 47) {
      state.bg = COLORS[code - 40];
    } else if (code >= 100 && code <= 107) {
      state.bg = `bright-${COLORS[code - 100]}`;
    } else if (code === 49) {
      state.bg = null;
    } else if (code === 38 || code === 48) {
      const target = code === 38 ? 'fg' : 'bg';
      if (codes[i + 1] === 5 && i + 2 < codes.length) {
        state[target] = xterm256(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2 && i + 4 < codes.length) {
        state[target] = `rgb(${codes[i + 2]}, ${codes[i + 3]}, ${codes[i + 4]})`;
        i += 4;
      }
    }
  }
}

function xterm256(n: number): string {
  if (n < 8) {
    return COLORS[n];
  }
  if (n < 16) {
    return `bright-${COLORS[n - 8]}`;
  }
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))}, ${level(Math.floor(i / 6) % 6)}, ${level(i % 6)})`;
  }
  const grey = 8 + (n - 232) * 10;
  return `rgb(${grey}, ${grey}, ${grey})`;
}

/** Render segments into a fragment of spans (text nodes only). */
export function renderAnsi(segments: IAnsiSegment[]): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const seg of segments) {
    if (seg.classes.length === 0 && !seg.style) {
      fragment.appendChild(document.createTextNode(seg.text));
      continue;
    }
    const span = document.createElement('span');
    span.className = seg.classes.join(' ');
    if (seg.style?.color) {
      span.style.color = seg.style.color;
    }
    if (seg.style?.background) {
      span.style.background = seg.style.background;
    }
    span.textContent = seg.text;
    fragment.appendChild(span);
  }
  return fragment;
}

/**
 * Within each line keep only what follows the last bare carriage return, as a terminal shows
 * it (tqdm redraws its bar with `\r`). Only works inside one chunk of text.
 */
export function collapseCarriageReturns(text: string): string {
  if (!text.includes('\r')) {
    return text;
  }
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map(line => {
      const trimmed = line.replace(/\r+$/, '');
      return trimmed.slice(trimmed.lastIndexOf('\r') + 1);
    })
    .join('\n');
}
