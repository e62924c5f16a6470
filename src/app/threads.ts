/** Starting nodegen's own worker threads, from the built package or from the TypeScript sources. */
import path from 'node:path'
import {Worker, type WorkerOptions} from 'node:worker_threads'
import {PACKAGE_ROOT} from './package-root.js'

/** The modules in src/app/ that run as worker threads. */
export type ThreadModule = 'render-worker' | 'profile-worker'

export function startThread(module: ThreadModule, options: WorkerOptions): Worker {
  // Built, the module is dist/app/<module>.js however its caller was bundled (scripts/bundle.mjs).
  if (!import.meta.url.endsWith('.ts')) return new Worker(path.join(PACKAGE_ROOT, 'dist', 'app', `${module}.js`), options)
  // From the TypeScript sources (tsx, the tests): a worker thread does not inherit tsx's loader,
  // so it registers tsx before importing the module.
  const src = new URL(`./${module}.ts`, import.meta.url).href
  const code = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(src)}) })`
  return new Worker(code, {...options, eval: true})
}
