// The drills (`npm run test:drills`): tests that drive the real service as separate OS processes and
// break something from outside at a chosen moment (SIGKILL, SIGSTOP, a lock held from a control
// connection, a Redis or PostgreSQL of the drill's own). Slower than the e2e tests and apart from
// them; `.ci/run` runs them after the README's test command.
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
      displayName: 'drills',
      testMatch: ['<rootDir>/test/drills/**/*.drill-spec.ts'],
    },
  ],
};
