/**
 * The YAML that CDI spec generators write (nvidia-ctk through Go's yaml package), not
 * YAML at large: block mappings and block sequences (a sequence may sit at its key's
 * indentation, as Go writes it), plain, 'single' and "double" quoted scalars (a long one
 * continued on more indented lines), the empty flow collections [] and {} and flow
 * sequences of scalars, comments, and a leading `---`. Block scalars (| and >), anchors,
 * aliases, tags, flow mappings with content and several documents are refused with the
 * line that has them: a spec written that way can be given as JSON instead.
 * Plain scalars are typed as YAML's core schema types them (numbers, true/false, null).
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  no: number;
  indent: number;
  text: string;
}

export class YamlSubsetError extends Error {}

/** Removes a comment: '#' at the start or after a space, outside quotes. */
function stripComment(text: string): string {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s:\-[{,]/.test(text[i - 1]!)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text.trimEnd();
}

function toLines(text: string): Line[] {
  const out: Line[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    if (raw.includes('\t') && /^\s*\t/.test(raw)) throw new YamlSubsetError(`line ${i + 1}: a tab in the indentation`);
    const text = stripComment(raw);
    if (!text.trim()) continue;
    const indent = text.length - text.trimStart().length;
    out.push({ no: i + 1, indent, text: text.trimStart() });
  }
  if (out[0]?.indent === 0 && /^---(\s|$)/.test(out[0].text)) {
    const rest = out[0].text.slice(3).trim();
    if (rest) out[0].text = rest;
    else out.shift();
  }
  if (out.length && out[out.length - 1]!.indent === 0 && out[out.length - 1]!.text === '...') out.pop();
  const second = out.find((l) => l.indent === 0 && /^(---|\.\.\.)(\s|$)/.test(l.text));
  if (second) throw new YamlSubsetError(`line ${second.no}: more than one document`);
  return out;
}

/** A scalar as YAML's core schema reads a plain one. */
function plain(text: string, no: number): YamlValue {
  if (/^[&*!|>%@`]/.test(text)) throw new YamlSubsetError(`line ${no}: '${text[0]}' (anchors, aliases, tags, block scalars) is not supported`);
  if (/^(null|Null|NULL|~)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  return text;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '"': '"', '\\': '\\', '/': '/', ' ': ' ', e: '\x1b', a: '\x07', b: '\b' };

/** A quoted scalar starting at text[0]; returns the value and the length it used. */
function quoted(text: string, no: number): { value: string; used: number } | undefined {
  const q = text[0]!;
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (q === "'" && c === "'") {
      if (text[i + 1] === "'") (value += "'"), i++;
      else return { value, used: i + 1 };
    } else if (q === '"' && c === '"') {
      return { value, used: i + 1 };
    } else if (q === '"' && c === '\\') {
      const e = text[++i];
      if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = text.slice(i + 1, i + 1 + n);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new YamlSubsetError(`line ${no}: a bad \\${e} escape`);
        value += String.fromCodePoint(parseInt(hex, 16));
        i += n;
      } else if (e !== undefined && e in ESCAPES) value += ESCAPES[e];
      else throw new YamlSubsetError(`line ${no}: an unknown escape \\${e ?? ''}`);
    } else value += c;
  }
  return undefined;
}

class Parser {
  private at = 0;
  constructor(private readonly lines: Line[]) {}

  parse(): YamlValue {
    if (this.lines.length === 0) return null;
    const v = this.block(this.lines[0]!.indent);
    const left = this.lines[this.at];
    if (left) throw new YamlSubsetError(`line ${left.no}: unexpected indentation`);
    return v;
  }

  private get line(): Line | undefined {
    return this.lines[this.at];
  }

  private block(indent: number): YamlValue {
    const l = this.line!;
    if (l.indent !== indent) throw new YamlSubsetError(`line ${l.no}: unexpected indentation`);
    if (isItem(l.text)) return this.sequence(indent);
    if (keyOf(l) !== undefined) return this.mapping(indent);
    this.at++;
    return this.scalar(l.text, l.no, indent - 1);
  }

  private sequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    for (let l = this.line; l && l.indent === indent && isItem(l.text); l = this.line) {
      const rest = l.text.slice(1).trimStart();
      if (!rest) {
        this.at++;
        const next = this.line;
        out.push(next && next.indent > indent ? this.block(next.indent) : null);
        continue;
      }
      // "- key: value" opens a mapping whose keys line up after the dash.
      const shifted = { no: l.no, indent: indent + (l.text.length - rest.length), text: rest };
      if (isItem(rest) || keyOf(shifted) !== undefined) {
        this.lines[this.at] = shifted;
        out.push(this.block(shifted.indent));
      } else {
        this.at++;
        out.push(this.scalar(rest, l.no, indent));
      }
    }
    return out;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    for (let l = this.line; l && l.indent === indent && !isItem(l.text); l = this.line) {
      const k = keyOf(l);
      if (k === undefined) throw new YamlSubsetError(`line ${l.no}: expected 'key: value'`);
      if (Object.hasOwn(out, k.key)) throw new YamlSubsetError(`line ${l.no}: the key '${k.key}' is repeated`);
      this.at++;
      if (k.rest) {
        out[k.key] = this.scalar(k.rest, l.no, indent);
        continue;
      }
      const next = this.line;
      // Go writes a mapping's sequence at the key's own indentation.
      if (next && (next.indent > indent || (next.indent === indent && isItem(next.text)))) out[k.key] = this.block(next.indent);
      else out[k.key] = null;
    }
    return out;
  }

  /** A scalar or flow collection, continued on following lines indented more than `parent`. */
  private scalar(first: string, no: number, parent: number): YamlValue {
    let text = first;
    for (let l = this.line; l && l.indent > parent; l = this.line) {
      const q = text.startsWith('"') || text.startsWith("'");
      if (q ? closes(text) : text.startsWith('[') ? text.endsWith(']') : isItem(l.text) || keyOf(l) !== undefined) break;
      // A folded line break is a space; "\" at the end of a line in double quotes joins without one.
      text = text.startsWith('"') && text.endsWith('\\') ? text.slice(0, -1) + l.text : `${text} ${l.text}`;
      this.at++;
    }
    return value(text, no);
  }
}

/** Whether a quoted scalar is complete in text. */
function closes(text: string): boolean {
  try {
    return quoted(text, 0) !== undefined;
  } catch {
    return true;
  }
}

function isItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** The key of a `key: value` line and what follows the colon; undefined when it is not one. */
function keyOf(l: Line): { key: string; rest: string } | undefined {
  let key: string;
  let after: number;
  if (l.text.startsWith('"') || l.text.startsWith("'")) {
    const q = quoted(l.text, l.no);
    if (!q) return undefined;
    key = q.value;
    after = q.used;
    if (l.text[after] !== ':') return undefined;
  } else {
    if (l.text.startsWith('[') || l.text.startsWith('{')) return undefined;
    const m = /:(\s|$)/.exec(l.text);
    if (!m) return undefined;
    key = l.text.slice(0, m.index).trimEnd();
    after = m.index;
    if (key.startsWith('? ')) throw new YamlSubsetError(`line ${l.no}: complex keys are not supported`);
  }
  const rest = l.text.slice(after + 1);
  if (rest && !/^\s/.test(rest)) return undefined;
  return { key, rest: rest.trim() };
}

/** A complete scalar or flow collection of scalars. */
function value(text: string, no: number): YamlValue {
  if (text.startsWith('"') || text.startsWith("'")) {
    const q = quoted(text, no);
    if (!q) throw new YamlSubsetError(`line ${no}: a quoted string is not closed`);
    if (text.slice(q.used).trim()) throw new YamlSubsetError(`line ${no}: text after a quoted string`);
    return q.value;
  }
  if (text === '{}') return {};
  if (text.startsWith('{')) throw new YamlSubsetError(`line ${no}: flow mappings ({...}) are not supported`);
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new YamlSubsetError(`line ${no}: a flow sequence is not closed`);
    const inner = text.slice(1, -1).trim();
    if (!inner) return [];
    const out: YamlValue[] = [];
    let rest = inner;
    while (rest) {
      let item: YamlValue;
      if (rest.startsWith('"') || rest.startsWith("'")) {
        const q = quoted(rest, no);
        if (!q) throw new YamlSubsetError(`line ${no}: a quoted string is not closed`);
        item = q.value;
        rest = rest.slice(q.used).trim();
      } else {
        const comma = rest.indexOf(',');
        const word = (comma < 0 ? rest : rest.slice(0, comma)).trim();
        if (/^[[{]/.test(word)) throw new YamlSubsetError(`line ${no}: nested flow collections are not supported`);
        item = plain(word, no);
        rest = comma < 0 ? '' : rest.slice(comma);
      }
      out.push(item);
      if (rest && !rest.startsWith(',')) throw new YamlSubsetError(`line ${no}: expected ',' in a flow sequence`);
      rest = rest.slice(1).trim();
    }
    return out;
  }
  return plain(text, no);
}

/** Parses the YAML subset described above; a YamlSubsetError names the line it cannot read. */
export function parseYamlSubset(text: string): YamlValue {
  return new Parser(toLines(text)).parse();
}
