import { splitActionArgv } from '../../../src/cli/split-argv.js';

const values = new Set(['bind', 'B', 'env']);

describe('splitActionArgv', () => {
  it('stops at the image: later tokens belong to the payload, even options', () => {
    expect(splitActionArgv(['--contain', '-B', '/a:/b', 'img.sif', 'ls', '--bind', '-la'], values)).toEqual({
      own: ['--contain', '-B', '/a:/b', 'img.sif'],
      payload: ['ls', '--bind', '-la'],
    });
  });
  it('handles --opt=value and --', () => {
    expect(splitActionArgv(['--bind=/x', '--', 'img', '-v'], values)).toEqual({ own: ['--bind=/x', 'img'], payload: ['-v'] });
  });
  it('returns no payload when there is no image', () => {
    expect(splitActionArgv(['--help'], values)).toEqual({ own: ['--help'], payload: [] });
  });
});
