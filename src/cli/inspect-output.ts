/**
 * `sif inspect` output in Apptainer's two forms (cmd/internal/cli/inspect.go): JSON as
 * Go's json.MarshalIndent writes pkg/inspect's Metadata, and plain text sections.
 */
import { ATTRIBUTE_NAMES, type ContainerAttributes } from '../image/container-attributes.js';

const sortedMap = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));

/**
 * `{"data":{"attributes":{...}},"type":"container"}`: tab-indented, attributes in
 * Apptainer's order, empty ones left out (Go's omitempty), map keys sorted and <, >, &
 * escaped (Go's encoder does both).
 */
export function inspectJson(attrs: ContainerAttributes): string {
  const attributes: Record<string, unknown> = {};
  for (const name of ATTRIBUTE_NAMES) {
    const v = attrs[name];
    if (typeof v === 'string' ? v !== '' : v !== undefined && Object.keys(v).length > 0) attributes[name] = typeof v === 'string' ? v : sortedMap(v!);
  }
  const text = JSON.stringify({ data: { attributes }, type: 'container' }, null, '\t');
  return `${text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

/**
 * Apptainer's plain form: the definition file, runscript, startscript, test and help
 * text as they are; then each environment script under `=== PATH ===`; then the
 * labels as `KEY: VALUE`, sorted.
 */
export function inspectText(attrs: ContainerAttributes): string {
  let out = '';
  for (const name of ['deffile', 'runscript', 'startscript', 'test', 'helpfile'] as const) {
    if (attrs[name]) out += `${attrs[name]}\n`;
  }
  for (const [path, script] of Object.entries(sortedMap(attrs.environment ?? {}))) out += `=== ${path} ===\n${script}\n\n`;
  for (const [key, value] of Object.entries(sortedMap(attrs.labels ?? {}))) out += `${key}: ${value}\n`;
  return out;
}
