import { actionCommand } from './action.js';

/** bash without rc files when the image has it, else sh (as Apptainer does). */
const DEFAULT_SHELL = 'if test -x /bin/bash; then exec /bin/bash --norc "$@"; else exec /bin/sh "$@"; fi';

export const shellCommand = actionCommand(
  'shell <image>',
  'start an interactive shell in a container',
  (_image, args, a) => (typeof a.shell === 'string' ? [a.shell, ...args] : ['/bin/sh', '-c', DEFAULT_SHELL, 'sh', ...args]),
  (y) => y.option('shell', { type: 'string', describe: 'the shell to run', ...(process.env.SIF_SHELL ? { default: process.env.SIF_SHELL } : {}) }),
);
