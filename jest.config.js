// Jest 30 cannot load ESM-only packages (@nestjs/*, canonicalize, the `cookie` that Fastify's
// inject loads: the console calls the API through it) on Node 20 by itself, so swc
// transforms TypeScript and those packages' JavaScript to CommonJS. swc does not type-check:
// `npm run typecheck` does that.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

const shared = {
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|canonicalize|content-disposition|light-my-request/node_modules/cookie|cookie)/)',
  ],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  // The packages' builds (`npm run build:packages`): tests load the libraries' sources.
  modulePathIgnorePatterns: ['<rootDir>/libs/[^/]+/dist/'],
  moduleNameMapper: {
    '^@audit/ledger$': '<rootDir>/libs/ledger/src/index.ts',
    '^@audit/hold-guard$': '<rootDir>/libs/hold-guard/src/index.ts',
    '^@audit/client$': '<rootDir>/libs/audit-client/src/index.ts',
    '^@audit/nestjs$': '<rootDir>/libs/audit-nestjs/src/index.ts',
  },
  testEnvironment: 'node',
};

module.exports = {
  // Integration and e2e tests start services against the real PostgreSQL and Redis on a shared
  // 2-core machine; Jest's 5 s default fails them there for load, not for bugs.
  testTimeout: 30_000,
  // With --coverage, every source file counts, not only those some test imported: a file no test
  // loads shows as 0 % instead of vanishing from the report. Tests, their data and the two entry
  // points (process start-up, nothing to unit-test) are left out.
  collectCoverageFrom: [
    'src/**/*.ts',
    'libs/**/*.ts',
    '!**/*.spec.ts',
    '!**/*.int-spec.ts',
    '!**/*.e2e-spec.ts',
    '!**/*.d.ts',
    '!libs/**/testdata/**',
    '!src/main.ts',
    '!src/cli.ts',
  ],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{src,libs}/**/*.spec.ts'] },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/{src,libs}/**/*.int-spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
