// The layer order of docs/architecture.md ("Layers: who may import whom"), as rules that fail
// `npm run check` (scripts/check.sh). Each rule names what may not import what, and why.
// Imports point down only:
//   server/  →  cli/ → client/ → api/contract/
//               api/ (handlers, access, sockets) → api/contract/
//   api/, controllers/  →  domain/  →  store/  →  lib/, config*.ts
//   and, beside domain/, the interfaces (runtime/types.ts, router/types.ts, ...) and the toolkits
//   (builder/, tls/, acme/, registry/) that lean only on lib/ and config.
// The adapters (the Docker runtime, HAProxy, buildah) are made by server/main.ts alone.

/** Interfaces and pure helpers inside the adapter folders: what the layers above may import. */
const INTERFACES = [
  '^src/runtime/(types|labels|image-user|hardening)\\.ts$',
  '^src/runtime/swarm/(types|volume-placement)\\.ts$',
  '^src/router/(types|routes)\\.ts$',
  '^src/imagebuild/types\\.ts$',
];
const ADAPTERS = '^src/(runtime|router|imagebuild)/';
const ABOVE_API = '^src/(server|cli|client)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle has no bottom layer: split the shared part out, below both.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'floor-imports-nothing-above',
      severity: 'error',
      comment: 'lib/ and config*.ts are the floor: they import only each other.',
      from: { path: '^src/(lib/|config[^/]*\\.ts$)' },
      to: { path: '^src/', pathNot: '^src/(lib/|config[^/]*\\.ts$)' },
    },
    {
      name: 'store-below-domain',
      severity: 'error',
      comment: 'store/ holds queries and row types; it imports only lib/ and config, never domain/ or above.',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/(store/|lib/|config[^/]*\\.ts$)' },
    },
    {
      name: 'domain-below-controllers-and-api',
      severity: 'error',
      comment: 'domain/ is shared by handlers and controllers: it imports store/, lib/, config and interfaces, nothing that uses it.',
      from: { path: '^src/domain/' },
      to: { path: '^src/(api|controllers|server|cli|client|builder|tls|acme|registry)/' },
    },
    {
      name: 'toolkits-below-domain',
      severity: 'error',
      comment: 'builder/, tls/, acme/ and registry/ are tools of the layers above: they import lib/, config and each other, nothing that uses them.',
      from: { path: '^src/(builder|tls|acme|registry)/' },
      to: { path: '^src/(api|controllers|domain|store|server|cli|client)/' },
    },
    {
      name: 'api-not-controllers',
      severity: 'error',
      comment: 'Handlers write desired state and reach controllers only through ApiContext (api/context.ts): no api/ file imports controllers/.',
      from: { path: '^src/api/' },
      to: { path: '^src/controllers/' },
    },
    {
      name: 'controllers-not-api',
      severity: 'error',
      comment: 'Controllers work from ControllerDeps; no controllers/ file imports api/.',
      from: { path: '^src/controllers/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'nothing-below-imports-the-top',
      severity: 'error',
      comment: 'server/ wires everything; cli/ and client/ are the API\'s clients: no layer below imports them.',
      from: { path: '^src/', pathNot: ABOVE_API },
      to: { path: ABOVE_API },
    },
    {
      name: 'client-only-contract',
      severity: 'error',
      comment: 'The client (and the dashboard) speak the contract: client/ imports api/contract/ and nothing else of the server.',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client/|api/contract/|lib/)' },
    },
    {
      name: 'contract-self-contained',
      severity: 'error',
      comment: 'api/contract/ is shared with the client, the CLI and the dashboard bundle: it imports only itself.',
      from: { path: '^src/api/contract/' },
      to: { path: '^src/', pathNot: '^src/api/contract/' },
    },
    {
      name: 'controller-folders-private',
      severity: 'error',
      comment: 'A controller\'s folder is its own; runs/ and backups/ are the only ones shared (release phase, backup jobs).',
      from: { path: '^src/controllers/([^/]+)/', pathNot: '^src/controllers/(runs|backups)/' },
      to: { path: '^src/controllers/[^/]+/', pathNot: '^src/controllers/($1|runs|backups)/' },
    },
    {
      name: 'controller-files-use-shared-folders-only',
      severity: 'error',
      comment: 'A top-level controller file may use runs/ and backups/, not another controller\'s folder.',
      from: { path: '^src/controllers/[^/]+\\.ts$' },
      to: { path: '^src/controllers/[^/]+/', pathNot: '^src/controllers/(runs|backups)/' },
    },
    {
      name: 'shared-controller-folders-below-the-rest',
      severity: 'error',
      comment: 'runs/ and backups/ are used by the other controllers, so they import no other controller folder.',
      from: { path: '^src/controllers/(runs|backups)/' },
      to: { path: '^src/controllers/[^/]+/', pathNot: '^src/controllers/$1/' },
    },
    {
      name: 'adapters-only-from-server',
      severity: 'error',
      comment: 'The Docker runtime, HAProxy and buildah implementations are made by server/main.ts; the rest imports their interfaces (type-only imports of an adapter\'s interface are allowed).',
      from: { path: '^src/', pathNot: [ADAPTERS, '^src/server/'] },
      to: { path: ADAPTERS, pathNot: INTERFACES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'engine-libraries-in-adapters',
      severity: 'error',
      comment: 'Domain logic imports interfaces, not libraries: the engine and database drivers stay in their adapters and store/.',
      from: { path: '^src/(api|controllers|domain|builder|tls|acme)/' },
      to: { path: 'node_modules/(dockerode|docker-modem|pg|better-sqlite3|kysely)/' },
    },
    {
      name: 'web-only-contract',
      severity: 'error',
      comment: 'The dashboard is a client of the API: from the server\'s sources it imports the contract and pure lib/ helpers only.',
      from: { path: '^web/' },
      to: { path: '^src/', pathNot: '^src/(api/contract/|lib/argv\\.ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    cache: { folder: 'node_modules/.cache/dependency-cruiser', strategy: 'content' },
  },
};
