// The console's browser tests (`npm run test:browser`): headless Chromium (Debian's `chromium`,
// driven by playwright-core) against a service instance on loopback. Apart from `npm test`, which
// stays within its time budget; `.ci/run` runs them after it.
const { resolve } = require('node:path');
const base = require('../../jest.config.js');
const root = resolve(__dirname, '../..');

module.exports = {
  rootDir: root,
  testTimeout: 120_000,
  projects: [
    {
      ...base.projects[0],
      rootDir: root,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
    },
  ],
};
