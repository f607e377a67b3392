/**
 * WWW-Authenticate challenges (RFC 7235): `Bearer realm="...",service="...",scope="..."`,
 * `Basic realm="..."`, several in one header. Commas separate both parameters and
 * challenges, so a token not followed by `=` starts a new challenge. Pure.
 */

export interface Challenge {
  /** Lower case: 'basic', 'bearer', ... */
  scheme: string;
  /** Parameter names in lower case. */
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when used instead of parameters. */
  token68?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

class Scanner {
  constructor(private readonly s: string, public i = 0) {}
  skipSpace(): void {
    while (this.i < this.s.length && /[ \t]/.test(this.s[this.i]!)) this.i++;
  }
  skipCommas(): void {
    for (;;) {
      this.skipSpace();
      if (this.s[this.i] !== ',') return;
      this.i++;
    }
  }
  peek(): string | undefined {
    return this.s[this.i];
  }
  done(): boolean {
    return this.i >= this.s.length;
  }
  match(re: RegExp): string | undefined {
    const m = re.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0];
  }
  /** A quoted-string with backslash escapes; unterminated strings run to the end. */
  quoted(): string {
    let out = '';
    this.i++; // opening quote
    while (this.i < this.s.length) {
      const c = this.s[this.i++]!;
      if (c === '"') return out;
      if (c === '\\' && this.i < this.s.length) out += this.s[this.i++]!;
      else out += c;
    }
    return out;
  }
  /** Whether `name =` starts here, without consuming it. */
  paramAhead(): boolean {
    const save = this.i;
    const name = this.match(TOKEN);
    this.skipSpace();
    // `name=value`, not the `=` padding that ends a token68 (`abc==`, `abc=`).
    const after = this.s.slice(this.i + 1).trimStart();
    const isParam = name !== undefined && this.peek() === '=' && after !== '' && !after.startsWith('=') && !after.startsWith(',');
    this.i = save;
    return isParam;
  }
}

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseChallenges(h));
  const sc = new Scanner(header);
  const out: Challenge[] = [];
  for (;;) {
    sc.skipCommas();
    if (sc.done()) break;
    const scheme = sc.match(TOKEN);
    if (!scheme) {
      sc.i++; // junk: skip a character and look for the next challenge
      continue;
    }
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    sc.skipSpace();
    if (!sc.done() && sc.peek() !== ',' && !sc.paramAhead()) {
      const t68 = sc.match(TOKEN68);
      if (t68) ch.token68 = t68;
    }
    // Parameters until a token that is not `name=` (the next scheme) or the end.
    for (;;) {
      sc.skipCommas();
      if (sc.done() || !sc.paramAhead()) break;
      const name = sc.match(TOKEN)!.toLowerCase();
      sc.skipSpace();
      sc.i++; // '='
      sc.skipSpace();
      const value = sc.peek() === '"' ? sc.quoted() : (sc.match(TOKEN) ?? '');
      ch.params[name] = value;
    }
  }
  return out;
}
