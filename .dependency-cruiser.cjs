/**
 * The architecture as rules, checked by `npm test` (tests/architecture.test.ts): the layers of the tree
 * (schemas < core < infra < modules < services, sdk < cli) and the public entries of the modules.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import cycles hide the order of the layers.', from: {}, to: { circular: true } },
    {
      name: 'schemas-are-contracts',
      severity: 'error',
      comment: 'The zod contracts depend on nothing of ours but each other.',
      from: { path: '^schemas/' },
      to: { path: '^(core|infra|modules|services|sdk|cli|flows|bench|dashboard)/' },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'The kernel (errors, ids, names, events, config) does no I/O and knows no layer above it.',
      from: { path: '^core/' },
      to: { path: '^(infra|modules|services|sdk|cli|flows|bench|dashboard)/' },
    },
    {
      name: 'infra-is-generic',
      severity: 'error',
      comment: 'Adapters (bus, database, queues, connections) know no domain module and no service.',
      from: { path: '^infra/' },
      to: { path: '^(modules|services|sdk|cli|flows|bench|dashboard)/' },
    },
    {
      name: 'modules-never-import-services',
      severity: 'error',
      comment: 'A module owns data and logic; services run it. The other way round only.',
      from: { path: '^modules/' },
      to: { path: '^(services|sdk|cli|flows|bench|dashboard)/' },
    },
    {
      name: 'modules-are-independent',
      severity: 'error',
      comment: 'A module never reaches into another; what two modules share lives in core/ or schemas/.',
      from: { path: '^modules/([^/]+)/' },
      to: { path: '^modules/', pathNot: '^modules/$1/' },
    },
    {
      name: 'module-entries-only',
      severity: 'error',
      comment: 'Services, the SDK and the CLI use a module only through its index.ts.',
      from: { path: '^(services|sdk|cli)/' },
      to: { path: '^modules/[^/]+/', pathNot: '^modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'sdk-is-not-a-service',
      severity: 'error',
      comment: 'Flow code never loads a service (the worker binds the SDK, not the other way round).',
      from: { path: '^sdk/' },
      to: { path: '^(services|cli|bench)/' },
    },
    {
      name: 'services-are-apart',
      severity: 'error',
      comment: 'A service never imports another service; shared parts are modules. (The registry and engine list them all.)',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/[^/]+/', pathNot: '^services/$1/' },
    },
    {
      name: 'dashboard-is-a-browser-app',
      severity: 'error',
      comment: 'The dashboard client reaches the server only over HTTP; it takes its types from the zod contracts in schemas/.',
      from: { path: '^dashboard/src/' },
      to: { path: '^(core|infra|modules|services|sdk|cli|flows|bench|scripts)/' },
    },
    {
      name: 'dashboard-takes-types-only',
      severity: 'error',
      comment: 'Only type imports of the contracts (erased from the bundle): a value import would ship zod to every browser.',
      from: { path: '^dashboard/src/' },
      to: { path: '^(schemas/|node_modules/zod/)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A file nothing imports is dead code (entry points excepted).',
      from: { orphan: true, pathNot: ['^cli/main\\.ts$', '^bench/', '^scripts/', '^flows/', '^examples/', '^faults/', '\\.d\\.ts$', '^dashboard/'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|tests|dist|dashboard/dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
