/**
 * The context map as rules (docs/architecture.md): contexts under src/ talk to each other only
 * through each other's index.ts, the platform and the libraries know no context, and no two
 * contexts depend on each other in a cycle. Run by `npm run lint` (and so by `npm test`).
 */
const CONTEXT = '^src/([^/]+)/';

module.exports = {
  forbidden: [
    {
      name: 'only-through-index',
      comment:
        "A context uses another only through that context's index.ts (its public face). Two exceptions, " +
        'framework-free, for worker threads that must not load the whole platform: the tenant-scoped read ' +
        '(verification) and the webhook signature (sink formatting).',
      severity: 'error',
      from: { path: CONTEXT },
      to: {
        path: '^src/[^/]+/',
        pathNot: [
          '^src/$1/',
          '^src/[^/]+/index\\.ts$',
          '^src/platform/database/tenant-scoped-reads\\.ts$',
          '^src/notifications/webhook-signature\\.ts$',
        ],
      },
    },
    {
      name: 'platform-knows-no-context',
      comment: 'The platform (config, database, HTTP edge, queues, metrics) serves every context and names none.',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: '^src/', pathNot: '^src/platform/' },
    },
    {
      name: 'libraries-know-no-context',
      comment: 'libs/ are framework-free libraries any verifier can use; they import nothing of the service.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^(src|test|bench|migrations)/' },
    },
    {
      name: 'libraries-use-only-declared-libraries',
      comment:
        'Each library is an npm package (libs/*/package.json): it imports another library only when its package.json depends on it.',
      severity: 'error',
      from: { path: '^libs/(ledger|hold-guard)/' },
      to: { path: '^libs/', pathNot: '^libs/$1/' },
    },
    {
      name: 'audit-client-uses-only-ledger',
      comment: '@audit/client depends on @audit/ledger only (libs/audit-client/package.json).',
      severity: 'error',
      from: { path: '^libs/audit-client/' },
      to: { path: '^libs/', pathNot: '^libs/(audit-client|ledger)/' },
    },
    {
      name: 'audit-nestjs-uses-only-audit-client',
      comment: '@audit/nestjs depends on @audit/client only (libs/audit-nestjs/package.json).',
      severity: 'error',
      from: { path: '^libs/audit-nestjs/' },
      to: { path: '^libs/', pathNot: '^libs/(audit-nestjs|audit-client)/' },
    },
    {
      name: 'no-cycle-between-contexts',
      comment: 'Contexts form a directed graph: a cycle welds them into one.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+$' },
      to: { path: '^src/[^/]+$', circular: true },
    },
    {
      name: 'contexts-not-the-root',
      comment: 'The composition root (src/*.ts) wires the contexts; no context imports it.',
      severity: 'error',
      from: { path: CONTEXT },
      to: { path: '^src/[^/]+\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^libs/[^/]+/dist/|\\.(spec|int-spec|e2e-spec)\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
