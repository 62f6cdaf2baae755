/**
 * Split what the user typed in "Arguments" into an argv list, with shell-like quoting.
 *
 * This only tokenises: the server receives a list and runs it without a shell, so `$HOME`, `;`
 * or `|` stay literal text.
 */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) {
        quote = null;
      } else if (ch === '\\' && quote === '"' && i + 1 < text.length) {
        current += text[++i];
      } else {
        current += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) {
        out.push(current);
        current = '';
        inToken = false;
      }
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) {
    throw new Error(`Arguments: a ${quote} quote is not closed (close it, or put \\ before it)`);
  }
  if (inToken) {
    out.push(current);
  }
  return out;
}

/** The reverse of `splitArgs`, to show a remembered argv in the field. */
export function joinArgs(args: string[]): string {
  return args
    .map(a => (a === '' || /[\s'"\\]/.test(a) ? `'${a.replace(/'/g, "'\\''")}'` : a))
    .join(' ');
}

/** `KEY=VALUE` lines → object; a line without `=` or with a bad name is an error. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      return;
    }
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new Error(
        `Environment: line ${i + 1} is not NAME=value (a name of letters, digits and _, then =, e.g. SEED=1)`
      );
    }
    env[key] = line.slice(eq + 1);
  });
  return env;
}

export function formatEnv(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}
