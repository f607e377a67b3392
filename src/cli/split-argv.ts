/**
 * Splits `sif exec [options] IMAGE COMMAND [ARGS...]`: everything after IMAGE belongs
 * to the payload, untouched, even when it looks like one of sif's options.
 * `valueOptions` are the option names (without dashes) that take a separate value.
 */
export function splitActionArgv(tokens: readonly string[], valueOptions: ReadonlySet<string>): { own: string[]; payload: string[] } {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '--') return { own: [...tokens.slice(0, i), ...tokens.slice(i + 1, i + 2)], payload: tokens.slice(i + 2) };
    if (!t.startsWith('-') || t === '-') return { own: tokens.slice(0, i + 1), payload: tokens.slice(i + 1) };
    const name = t.replace(/^--?/, '');
    if (!name.includes('=') && valueOptions.has(name)) i++;
  }
  return { own: [...tokens], payload: [] };
}
