import { execFileSync } from 'node:child_process';
import { userEntry } from '../../../src/host/user-entry.js';

// The addon asks the C library's name service, as getent and id do.
const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' }).trim();

describe('userEntry', () => {
  it('is the caller as getent passwd and id see them', () => {
    const uid = process.getuid!();
    const [user, , , gid, gecos, home, shell] = run('getent', ['passwd', String(uid)]).split(':');
    expect(userEntry()).toEqual({
      uid,
      gid: process.getgid!(),
      user,
      home,
      shell,
      gecos,
      group: run('id', ['-gn']),
    });
    expect(Number(gid)).toBe(process.getgid!());
  });
});
