// `sif --help` as installed (the bundle, run as the unprivileged user): wrapped at word
// boundaries to $COLUMNS (the terminal's width on a terminal).
import { requireHost, sifAsUser } from '../support/unprivileged.js';

beforeAll(() => requireHost());

const words = (text: string) => text.split(/\s+/).filter(Boolean).sort();

async function help(args: string[], columns: number): Promise<string> {
  const r = await sifAsUser([...args, '--help'], { env: { COLUMNS: String(columns) } });
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

it.each([[[]], [['build']], [['exec']]])('sif %j --help breaks no word at 60, 100 and 150 columns', async (args: string[]) => {
  const whole = words(await help(args, 10_000));
  for (const columns of [60, 100, 150]) {
    const text = await help(args, columns);
    expect(words(text)).toEqual(whole);
    const widest = Math.max(...text.split('\n').map((l) => l.length));
    expect(widest).toBeLessThanOrEqual(columns);
    if (columns === 150 && args.length) expect(widest).toBeGreaterThan(100);
  }
}, 60_000);

it('reports a usage error as `sif: error:` and a hint, or as a JSON line with --log-format json', async () => {
  const pretty = await sifAsUser(['bogus']);
  expect(pretty.exitCode).toBe(125);
  expect(pretty.stderr).toBe('sif: error: Unknown argument: bogus\nhint: sif --help\n');
  const json = await sifAsUser(['--log-format', 'json', 'bogus']);
  expect(json.exitCode).toBe(125);
  expect(JSON.parse(json.stderr)).toMatchObject({ level: 50, msg: 'Unknown argument: bogus', hint: 'sif --help' });
});
