/**
 * Render's worker threads: a large render spreads its nodes over one thread per core. Each thread
 * plans, emits and writes whole nodes into the render's temporary directory (render-worker.ts) and
 * sends back the node's line for cluster.json and the files it wrote; the main thread hands out
 * nodes a few at a time (so memory stays flat however many nodes there are), reassembles the
 * results in node order and commits the output as a serial render does.
 */
import {statSync} from 'node:fs'
import os from 'node:os'
import type {Worker} from 'node:worker_threads'
import type {NodeSecretFile} from '../plan/build.js'
import type {ClusterNode} from '../profile/index.js'
import type {DirWriter} from './output.js'
import type {MediaKind, NodeOutcome, RenderOptions} from './render.js'
import {OWN_THREAD_BYTES, startThread} from './threads.js'

/** Below this many nodes per thread, starting threads costs more than it saves. */
const MIN_NODES_PER_WORKER = 24
/**
 * Nodes handed to a thread before it reports back: a thread answers for a node once its files are
 * on their way to the disk, and on a slow disk 4 left it waiting; 8 keeps it rendering while
 * staying small (a node's files are about 100 KB).
 */
const IN_FLIGHT = 8

/** What a thread needs besides its nodes; everything structured-clonable. */
export interface WorkerSetup {
  tmp: string
  cluster: RenderOptions['cluster']
  material: Omit<RenderOptions['material'], 'pkiFiles'>
  cniManifest: string | undefined
  media: MediaKind
  epoch: number
  seedFiles: boolean
  images: Record<string, string> | undefined
}
export interface WorkerJob {
  i: number
  node: number
  pkiFiles: NodeSecretFile[]
}
export type WorkerReply =
  | {i: number; outcome: NodeOutcome; written: string[]; bytes: number}
  | {i: number; error: {message: string; code?: string; syscall?: string; path?: string}}

/**
 * How many threads render `nodes` nodes: one per core (NODEGEN_RENDER_THREADS overrides, 0 or 1
 * renders in the main thread), none for a small render. Bundles (an archive per node, the cluster
 * archive from all of them) and PXE trees render in the main thread.
 */
export function workerCount(nodes: number, media: MediaKind): number {
  if (media === 'bundle' || media === 'pxe') return 0
  const env = process.env.NODEGEN_RENDER_THREADS
  const max = env !== undefined && /^[0-9]+$/.test(env) ? Number(env) : os.availableParallelism()
  return Math.min(max, Math.floor(nodes / MIN_NODES_PER_WORKER))
}

/**
 * A thread's young generation, capped at what a small render's threads use anyway: left to grow,
 * V8 took it from 8 to 32 MB per thread over a large render, the main part of render's memory
 * growing with the cluster. A node's garbage is small and short-lived, so this costs no time.
 */
const RESOURCE_LIMITS = {maxYoungGenerationSizeMb: 8}

/** A thread waiting for its setup (its first message) and then for nodes. */
function startWorker(): Worker {
  return startThread('render-worker', {resourceLimits: RESOURCE_LIMITS})
}

/** Threads started ahead of the render that takes them; unreferenced until then. */
let spare: Worker[] = []

/** From this size a profile most likely has enough nodes for threads (about 250 nodes). */
const PRESTART_PROFILE_BYTES = 16 * 1024

/**
 * Starts render's threads before the profile is parsed when the profile file is large enough that
 * the render will use them: a thread's start (loading its modules) then overlaps the parse and the
 * state's loading instead of following them. Not for a profile that loads in a thread of its own
 * (OWN_THREAD_BYTES and up): that parse takes long enough that starting later costs little, and
 * its heap and theirs would add up. A render that needs fewer threads ends the rest; a command that
 * ends before rendering leaves them to the process's exit (they hold no reference to it).
 */
export function prestartRenderThreads(profilePath: string, media: MediaKind | undefined): void {
  if (media === 'bundle' || media === 'pxe') return
  let size = 0
  try {
    size = statSync(profilePath).size
  } catch {
    return
  }
  if (size < PRESTART_PROFILE_BYTES || size >= OWN_THREAD_BYTES) return
  const count = workerCount(Number.POSITIVE_INFINITY, 'none')
  if (count < 2) return
  spare = Array.from({length: count}, () => {
    const w = startWorker()
    w.unref()
    // One that fails before it is taken is left out, and the render starts another, whose failure
    // then reaches the render.
    const drop = () => {
      spare = spare.filter((x) => x !== w)
    }
    w.once('error', drop)
    w.once('exit', drop)
    return w
  })
}

/** Up to `count` threads: the spare ones first, then new ones; spare ones not taken are ended. */
function takeThreads(count: number): Worker[] {
  const taken = spare.splice(0, count)
  for (const w of spare) void w.terminate()
  spare = []
  for (const w of taken) {
    w.removeAllListeners()
    w.ref()
  }
  while (taken.length < count) taken.push(startWorker())
  return taken
}

/** Ends spare threads a render did not take (it rendered in the main thread). */
export function endSpareThreads(): void {
  takeThreads(0)
}

export async function renderInWorkers(
  out: DirWriter,
  opts: RenderOptions,
  nodes: ClusterNode[],
  cniManifest: string | undefined,
): Promise<NodeOutcome[]> {
  const {pkiFiles, ...material} = opts.material
  const setup: WorkerSetup = {
    tmp: out.tmp,
    cluster: opts.cluster,
    material,
    cniManifest,
    media: opts.media,
    epoch: opts.epoch,
    seedFiles: opts.seedFiles !== false,
    images: opts.images,
  }
  const indexOf = new Map(opts.cluster.nodes.map((n, i) => [n.name, i]))
  const outcomes: NodeOutcome[] = new Array(nodes.length)
  const threads = takeThreads(workerCount(nodes.length, opts.media))
  for (const w of threads) w.postMessage(setup)
  let next = 0
  let done = 0
  let outstanding = 0
  let failed: Error | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      const give = (w: Worker) => {
        if (failed || next >= nodes.length) return
        const i = next++
        const node = nodes[i] as ClusterNode
        const job: WorkerJob = {i, node: indexOf.get(node.name) as number, pkiFiles: pkiFiles(node)}
        outstanding++
        w.postMessage(job)
      }
      // After a failure no node is handed out, and the error is raised once every node already
      // handed out has answered: a thread answers after its files are written, so nothing is still
      // writing into the temporary directory when the caller removes it.
      const settle = () => {
        if (failed && outstanding === 0) reject(failed)
      }
      for (const w of threads) {
        w.on('message', (r: WorkerReply) => {
          outstanding--
          if ('error' in r) {
            failed ??= Object.assign(new Error(r.error.message), r.error)
            settle()
            return
          }
          outcomes[r.i] = r.outcome
          out.adopt(r.written, r.bytes)
          opts.progress?.tick((nodes[r.i] as ClusterNode).name)
          if (++done === nodes.length) resolve()
          else if (failed) settle()
          else give(w)
        })
        w.on('error', (e: Error) => {
          failed = e
          reject(e)
        })
        w.on('exit', (code) => {
          if (done < nodes.length && !failed) reject(new Error(`internal: a render thread exited (code ${code}) with nodes left to render`))
        })
        for (let k = 0; k < IN_FLIGHT; k++) give(w)
      }
    })
  } finally {
    await Promise.all(threads.map((w) => w.terminate()))
  }
  return outcomes
}
