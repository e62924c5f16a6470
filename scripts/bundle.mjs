#!/usr/bin/env node
/**
 * Builds dist/ from src/ with esbuild: every command module oclif loads (dist/commands/…), the
 * worker threads' modules (dist/app/render-worker.js, profile-worker.js) and the CLI's entry
 * (dist/cli.js, which bin/run.js imports) are bundled, the code they share split into dist/chunks/ and dynamic imports left as
 * lazy chunks. A command then loads a handful of files instead of the hundreds of modules tsc emits
 * and its dependencies spread over (@oclif/core, yaml, zod, @peculiar/x509 and the asn1 packages),
 * which was most of a small command's start. `npm run build` type-checks with tsc first; tsc's own
 * output (test/support/cli.ts builds one) runs the same, module by module.
 *
 * @oclif/core is bundled too, once, in a chunk bin/run.js and the commands share (the commands must
 * extend the Command class of the oclif that runs them); @oclif/plugin-autocomplete keeps its own
 * from node_modules. Left external, loaded from node_modules as before: the cloud SDKs (they read
 * data files beside themselves, and only launch/destroy load them), archiver (bundles only), and
 * what oclif requires only in development (typescript, ts-node).
 *
 *   node scripts/bundle.mjs      (`npm run build` runs it after tsc, before the oclif manifest)
 */
import {readdirSync, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const src = path.join(root, 'src')
const dist = path.join(root, 'dist')
const EXTERNAL = ['@aws-sdk/*', '@google-cloud/*', 'archiver', 'typescript', 'ts-node']

/** Command modules as oclif's globPatterns in package.json find them (no base, no _-prefixed files). */
function commandModules(dir) {
  const found = []
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) found.push(...commandModules(p))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && e.name !== 'base.ts' && !e.name.startsWith('_')) found.push(p)
  }
  return found
}

// The worker threads' modules are entry points too: src/app/threads.ts starts dist/app/<module>.js.
const THREAD_MODULES = ['render-worker', 'profile-worker']
const entryPoints = [
  ...commandModules(path.join(src, 'commands')),
  ...THREAD_MODULES.map((m) => path.join(src, 'app', `${m}.ts`)),
  path.join(src, 'cli.ts'),
]
rmSync(dist, {recursive: true, force: true})
await build({
  entryPoints,
  outdir: dist,
  outbase: src,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  tsconfig: path.join(root, 'tsconfig.build.json'),
  external: EXTERNAL,
  // CommonJS dependencies (oclif, yaml's Node.js build, tsyringe, …) require Node.js's own modules.
  banner: {
    js: "import {createRequire as __nodegenCreateRequire} from 'node:module';\nconst require = __nodegenCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
})
console.error(`dist/: ${entryPoints.length} entry points bundled`)
