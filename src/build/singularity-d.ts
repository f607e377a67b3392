/**
 * The files Apptainer expects inside an image built from an OCI image: the
 * environment scripts under /.singularity.d/env, a runscript that runs ENTRYPOINT
 * and CMD, labels.json and the definition file, plus the empty mount points a
 * read-only image needs (Apptainer's builder adds them too). Pure: the pipeline
 * turns these into two synthetic layers, the metadata on top of the image and the
 * mount points underneath it, so the image's own files win over the placeholders.
 */
import type { OciConfigFile } from './image-source.js';

export interface SyntheticEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  /** File contents, or the symlink's target. */
  data?: string;
}

export interface SingularityDInput {
  config: OciConfigFile;
  deffile: string;
  labels: Record<string, string>;
}

/** Single-quotes a word for sh: nothing inside is expanded. */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `export NAME=value` lines from OCI Env; entries that are not NAME=value are skipped. */
export function envScript(env: readonly string[]): string {
  const lines = ['#!/bin/sh', '# The image\'s OCI environment, written by sif build.'];
  for (const item of env) {
    const eq = item.indexOf('=');
    const name = eq > 0 ? item.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    lines.push(`export ${name}=${shQuote(item.slice(eq + 1))}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Docker's rule: ENTRYPOINT followed by CMD; arguments given to `run` replace CMD.
 * Words are passed as they are (exec form), never re-evaluated by the shell.
 */
export function runscript(entrypoint: readonly string[], cmd: readonly string[]): string {
  const quote = (words: readonly string[]): string => words.map(shQuote).join(' ');
  const lines = ['#!/bin/sh', '# ENTRYPOINT and CMD of the OCI image, written by sif build.'];
  if (cmd.length > 0) lines.push(`[ "$#" -gt 0 ] || set -- ${quote(cmd)}`);
  if (entrypoint.length > 0) {
    lines.push(`exec ${quote(entrypoint)} "$@"`);
  } else {
    lines.push(
      'if [ "$#" -eq 0 ]; then',
      '  echo "sif: this image has no ENTRYPOINT or CMD: give a command to run" >&2',
      '  exit 1',
      'fi',
      'exec "$@"',
    );
  }
  return lines.join('\n') + '\n';
}

// Appends the directory that --nv and --mpi bind host libraries into, as Apptainer does.
const BASE_ENV = `#!/bin/sh
# Host libraries bound in by the runtime (--nv, --mpi) are found last, after the image's own.
if [ -z "\${LD_LIBRARY_PATH:-}" ]; then
    LD_LIBRARY_PATH=/.singularity.d/libs
else
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/.singularity.d/libs"
fi
PS1=\${PS1:-"Apptainer> "}
export LD_LIBRARY_PATH PS1
`;

// Apptainer's runtime passes PATH overrides (APPTAINERENV_PATH and friends) through these.
const RUNTIME_VARS_ENV = `#!/bin/sh
# PATH set, prepended or appended by the runtime's environment options.
[ -z "\${SING_USER_DEFINED_PREPEND_PATH:-}" ] || PATH="$SING_USER_DEFINED_PREPEND_PATH:$PATH"
[ -z "\${SING_USER_DEFINED_APPEND_PATH:-}" ] || PATH="$PATH:$SING_USER_DEFINED_APPEND_PATH"
[ -z "\${SING_USER_DEFINED_PATH:-}" ] || PATH=$SING_USER_DEFINED_PATH
unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH
export PATH
`;

export const ENV_DOCKER = '/.singularity.d/env/10-docker2singularity.sh';
export const ENV_CUSTOM = '/.singularity.d/env/90-environment.sh';
const ENV_CUSTOM_TEXT = '#!/bin/sh\n# Environment of the definition file goes here.\n';
const STARTSCRIPT = '#!/bin/sh\n';

/** labels.json as Apptainer writes it: tab-indented, keys sorted. */
export function labelsJson(labels: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.keys(labels).sort().map((k) => [k, labels[k]]));
  return JSON.stringify(sorted, null, '\t');
}

/** The metadata placed over the image: /.singularity.d and its conventional symlinks. */
export function singularityDEntries(input: SingularityDInput): SyntheticEntry[] {
  const c = input.config.config ?? {};
  const d = '/.singularity.d';
  const file = (path: string, data: string, mode = 0o755): SyntheticEntry => ({ path, type: 'file', mode, data });
  const dir = (path: string): SyntheticEntry => ({ path, type: 'dir', mode: 0o755 });
  const link = (path: string, data: string): SyntheticEntry => ({ path, type: 'symlink', mode: 0o777, data });
  return [
    dir(d),
    dir(`${d}/env`),
    dir(`${d}/libs`),
    file(`${d}/env/01-base.sh`, '#!/bin/sh\n'),
    file(ENV_DOCKER, envScript(c.Env ?? [])),
    file(ENV_CUSTOM, ENV_CUSTOM_TEXT),
    file(`${d}/env/99-base.sh`, BASE_ENV),
    file(`${d}/env/99-runtimevars.sh`, RUNTIME_VARS_ENV),
    file(`${d}/runscript`, runscript(c.Entrypoint ?? [], c.Cmd ?? [])),
    file(`${d}/startscript`, STARTSCRIPT),
    file(`${d}/labels.json`, labelsJson(input.labels), 0o644),
    file(`${d}/Singularity`, input.deffile, 0o644),
    link('/singularity', '.singularity.d/runscript'),
    link('/environment', '.singularity.d/env/90-environment.sh'),
  ];
}

/**
 * Mount points for the runtime's default binds, used only where the image has none
 * (they go below the image's layers). A read-only image cannot grow them later.
 */
export function mountPointEntries(): SyntheticEntry[] {
  const dir = (path: string, mode = 0o755): SyntheticEntry => ({ path, type: 'dir', mode });
  const empty = (path: string): SyntheticEntry => ({ path, type: 'file', mode: 0o644, data: '' });
  return [
    dir('/proc', 0o555),
    dir('/sys', 0o555),
    dir('/dev'),
    dir('/home'),
    dir('/tmp', 0o1777),
    dir('/var'),
    dir('/var/tmp', 0o1777),
    dir('/etc'),
    empty('/etc/hosts'),
    empty('/etc/resolv.conf'),
  ];
}

/** Apptainer's build labels, with the image's own labels (the image's win). */
export function buildLabels(config: OciConfigFile, bootstrap: string, from: string, arch: string, version: string,
  date: Date): Record<string, string> {
  return {
    'org.label-schema.build-arch': arch,
    'org.label-schema.build-date': date.toISOString(),
    'org.label-schema.schema-version': '1.0',
    'org.label-schema.usage.singularity.deffile.bootstrap': bootstrap,
    'org.label-schema.usage.singularity.deffile.from': from,
    'org.label-schema.usage.sif.version': version,
    ...(config.config?.Labels ?? {}),
  };
}

/** The inspect-metadata.json object Apptainer stores in the SIF: texts without their trailing newlines, as Apptainer's. */
export function inspectMetadata(entries: readonly SyntheticEntry[], labels: Record<string, string>, deffile: string) {
  const text = (path: string): string => (entries.find((e) => e.path === path)?.data ?? '').replace(/\n+$/, '');
  return {
    data: {
      attributes: {
        environment: { [ENV_DOCKER]: text(ENV_DOCKER), [ENV_CUSTOM]: text(ENV_CUSTOM) },
        labels,
        runscript: text('/.singularity.d/runscript'),
        deffile: deffile.replace(/\n+$/, ''),
        startscript: text('/.singularity.d/startscript'),
      },
    },
    type: 'container',
  };
}
