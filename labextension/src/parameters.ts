/**
 * Notebook parameters: read the cell tagged `parameters` (papermill's convention) into editable
 * text, and turn the edited text back into JSON values for `POST jobs`.
 */

export interface IParameter {
  name: string;
  /** The value as written in the cell (a Python literal). */
  text: string;
}

interface ICell {
  cell_type?: string;
  source?: string | string[];
  metadata?: { tags?: string[] } & Record<string, unknown>;
}

/** The `name = value` lines of the first cell tagged `parameters`. */
export function readParameters(notebook: { cells?: ICell[] } | null | undefined): IParameter[] {
  const cell = (notebook?.cells ?? []).find(
    c => c.cell_type === 'code' && (c.metadata?.tags ?? []).includes('parameters')
  );
  if (!cell) {
    return [];
  }
  const source = Array.isArray(cell.source) ? cell.source.join('') : (cell.source ?? '');
  const out: IParameter[] = [];
  for (const raw of source.split('\n')) {
    const line = stripComment(raw).trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[^=]+)?=\s*(.+)$/.exec(line);
    if (m && !m[2].startsWith('=')) {
      out.push({ name: m[1], text: m[2].trim() });
    }
  }
  return out;
}

function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\') {
        i++;
      } else if (ch === quote) {
        quote = null;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}

/**
 * A Python literal (or JSON) → a JSON value: numbers, strings in either quote, True/False/None,
 * lists and dicts of those. Anything else is passed as the string the user typed.
 */
export function parseParameterValue(text: string): unknown {
  const t = text.trim();
  if (t === '') {
    return '';
  }
  try {
    return JSON.parse(t);
  } catch {
    // not JSON: try the Python spelling below
  }
  const pythonAsJson = pythonLiteralToJson(t);
  if (pythonAsJson !== null) {
    try {
      return JSON.parse(pythonAsJson);
    } catch {
      // fall through
    }
  }
  return t;
}

/** Rewrite a Python literal into JSON text, or null if it has anything else in it. */
function pythonLiteralToJson(t: string): string | null {
  let out = '';
  for (let i = 0; i < t.length;) {
    const ch = t[i];
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      let value = '';
      while (j < t.length && t[j] !== ch) {
        if (t[j] === '\\' && j + 1 < t.length) {
          value += t[j + 1] === ch ? ch : t[j] + t[j + 1];
          j += 2;
        } else {
          value += t[j];
          j++;
        }
      }
      if (j >= t.length) {
        return null;
      }
      out += JSON.stringify(value.replace(/\\\\/g, '\\'));
      i = j + 1;
      continue;
    }
    const word = /^[A-Za-z_]+/.exec(t.slice(i));
    if (word) {
      const map: Record<string, string> = { True: 'true', False: 'false', None: 'null' };
      if (!(word[0] in map)) {
        return null;
      }
      out += map[word[0]];
      i += word[0].length;
      continue;
    }
    out += ch === '(' ? '[' : ch === ')' ? ']' : ch;
    i++;
  }
  return out.replace(/,\s*([\]}])/g, '$1');
}

/** A JSON value → how it is written in the dialog (Python spelling). */
export function formatParameterValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (value === true) {
    return 'True';
  }
  if (value === false) {
    return 'False';
  }
  if (value === null || value === undefined) {
    return 'None';
  }
  return JSON.stringify(value);
}
