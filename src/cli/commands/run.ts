import { actionCommand } from './action.js';

/** OCI images run ENTRYPOINT + CMD (arguments replace CMD); others their runscript. */
export const runCommand = actionCommand("run <image> [args..]", "run the image's runscript (or its OCI ENTRYPOINT and CMD)", (image, args) => {
  const cfg = image.ociConfig;
  if (cfg && (cfg.Entrypoint?.length || cfg.Cmd?.length)) {
    return [...(cfg.Entrypoint ?? []), ...(args.length ? args : (cfg.Cmd ?? []))];
  }
  return ['/.singularity.d/runscript', ...args];
});
