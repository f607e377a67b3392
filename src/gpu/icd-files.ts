/**
 * An ICD or vendor file as the container should see it. The loaders read a library
 * name from it (JSON `library_path`, or the one line of an OpenCL .icd): a bare soname
 * is found on the library path (/.singularity.d/libs); an absolute host path would
 * point where the container has no driver, so it becomes the file's name alone.
 * Returns the text unchanged when nothing moves, undefined when it cannot be read.
 */
export function rewriteIcd(path: string, text: string): string | undefined {
  const bare = (p: string) => (p.startsWith('/') ? p.slice(p.lastIndexOf('/') + 1) : p);
  if (path.endsWith('.icd')) {
    const line = text.trim();
    return line && !line.includes('\n') ? `${bare(line)}\n` : undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  let moved = false;
  // library_path sits in ICD (Vulkan), layer (Vulkan layers) and vendor (EGL) objects.
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'library_path' && typeof x === 'string' && x.startsWith('/')) {
        (v as Record<string, unknown>)[k] = bare(x);
        moved = true;
      } else visit(x);
    }
  };
  visit(json);
  return moved ? `${JSON.stringify(json, null, 4)}\n` : text;
}
