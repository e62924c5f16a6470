/** Starting nodegen's own worker threads, from the built package or from the TypeScript sources. */
import path from 'node:path'
import {Worker, type WorkerOptions} from 'node:worker_threads'
import {PACKAGE_ROOT} from './package-root.js'

/**
 * Profiles from this size on (about 1200 nodes written one per line) load in a thread of their own.
 * Parsing builds a YAML tree with every node's source position, and grew the heap by about 50 MB
 * for a 5000-node profile (270 KB); V8 does not give back a heap it has grown, so the main thread
 * would carry that through the whole render. A thread's heap goes when the thread ends, and the
 * loaded profile comes back as plain data.
 */
export const OWN_THREAD_BYTES = 64 * 1024

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
