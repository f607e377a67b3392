import { configureLogger, logger, note, prettyLine, setLiveDisplay } from '../../../src/cli/logger.js';

/** A stand-in for stderr that keeps what was written. */
function capture(): { write(s: string): boolean; text(): string } {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(String(s)) > 0, text: () => chunks.join('') };
}

afterEach(() => {
  setLiveDisplay(undefined);
  configureLogger('warn', false);
});

describe('the logger, --log-format pretty (the default)', () => {
  it('prints a warning as `sif: warning: ...`, one line, no JSON', () => {
    const out = capture();
    configureLogger('warn', false, out);
    logger().warn('layer sha256:abc: skipping /x: unknown tar entry type "V"');
    expect(out.text()).toBe('sif: warning: layer sha256:abc: skipping /x: unknown tar entry type "V"\n');
  });

  it('prints fields after the message, and a hint and a cause on lines of their own', () => {
    const out = capture();
    configureLogger('debug', false, out);
    logger().info({ layers: 3, path: '/a b', ok: true }, 'wrote x.sif');
    logger().error({ hint: 'use --force', cause: 'EEXIST' }, 'x.sif already exists');
    expect(out.text()).toBe('sif: info: wrote x.sif layers=3 path="/a b" ok=true\nsif: error: x.sif already exists\nhint: use --force\ncause: EEXIST\n');
  });

  it('prints only the levels asked for: info and debug with -v and -d, errors only with -q', () => {
    const out = capture();
    configureLogger('warn', false, out);
    logger().info('hidden');
    logger().debug('hidden');
    configureLogger('error', false, out);
    logger().warn('hidden');
    logger().error('shown');
    expect(out.text()).toBe('sif: error: shown\n');
  });

  it('prints a note without a level word, and none with --quiet', () => {
    const out = capture();
    configureLogger('warn', false, out);
    note('wrote x.sif (1.0 MiB, amd64)');
    configureLogger('error', false, out);
    note('not shown');
    expect(out.text()).toBe('sif: wrote x.sif (1.0 MiB, amd64)\n');
  });

  it('clears the progress display before a line and draws it again after', () => {
    const out = capture();
    configureLogger('warn', false, out);
    setLiveDisplay({ clear: () => out.write('<clear>'), redraw: () => out.write('<redraw>') });
    logger().warn('w');
    expect(out.text()).toBe('<clear>sif: warning: w\n<redraw>');
  });

  it('writes an object field as JSON', () => {
    expect(prettyLine('debug', 'launch plan', { plan: { argv: ['true'] } })).toBe('sif: debug: launch plan plan={"argv":["true"]}\n');
  });
});

describe('the logger, --log-format json', () => {
  it("prints pino's JSON lines: a warning is level 40, a note level 30", () => {
    const out = capture();
    configureLogger('warn', true, out);
    logger().warn('w1');
    logger().info('hidden');
    note('wrote x.sif');
    const lines = out.text().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'w1' });
    expect(typeof lines[0]!.time).toBe('number');
    expect(lines[1]).toMatchObject({ level: 30, msg: 'wrote x.sif' });
  });

  it('keeps a hint as a field', () => {
    const out = capture();
    configureLogger('warn', true, out);
    logger().error({ hint: 'sif --help' }, 'bad');
    expect(JSON.parse(out.text())).toMatchObject({ level: 50, msg: 'bad', hint: 'sif --help' });
  });
});
