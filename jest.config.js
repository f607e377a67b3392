// Two projects: unit tests run anywhere; integration tests need the host set up by
// scripts/setup-host.sh (an unprivileged user, /dev/fuse 0666, built native parts).
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // cliui's CommonJS build, which wraps help at word boundaries, as the bundle does (scripts/bundle.mjs).
    '^cliui$': '<rootDir>/node_modules/cliui/build/index.cjs',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
  ],
};
