import { SifError } from '../../errors.js';
import { actionCommand } from './action.js';

export const execCommand = actionCommand('exec <image> [command..]', 'run a command in a container', (_image, args) => {
  if (args.length === 0) throw new SifError('SIF_E_USAGE', 'no command given', { hint: 'sif exec IMAGE COMMAND [ARGS...]' });
  return args;
});
