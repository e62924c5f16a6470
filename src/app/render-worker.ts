/**
 * One of render's worker threads (render-pool.ts): its first message is the render's setup (the
 * thread may start before the profile is parsed), every later one a node to render and write.
 */
import {parentPort} from 'node:worker_threads'
import type {NodeSecretFile} from '../plan/build.js'
import type {ClusterNode} from '../profile/index.js'
import {DirWriter} from './output.js'
import {renderAndWriteNode} from './render.js'
import type {WorkerJob, WorkerReply, WorkerSetup} from './render-pool.js'

const port = parentPort
if (!port) throw new Error('internal: render-worker runs as a worker thread')

port.once('message', (setup: WorkerSetup) => {
  const opts = {
    cluster: setup.cluster,
    profilePath: '',
    outDir: setup.tmp,
    material: {...setup.material, pkiFiles: (): NodeSecretFile[] => []},
    adminConf: '',
    media: setup.media,
    epoch: setup.epoch,
    seedFiles: setup.seedFiles,
    ...(setup.images ? {images: setup.images} : {}),
  }
  port.on('message', (job: WorkerJob) => void renderJob(setup, opts, job))
})

async function renderJob(setup: WorkerSetup, opts: Parameters<typeof renderAndWriteNode>[1], job: WorkerJob): Promise<void> {
  let reply: WorkerReply
  // The node's files are written asynchronously: while they reach the disk, the next node handed
  // to this thread (the pool keeps a few queued) is rendered. The reply waits for the files.
  const out = new DirWriter(setup.tmp, true)
  try {
    const node = setup.cluster.nodes[job.node] as ClusterNode
    const material = {...opts.material, pkiFiles: () => job.pkiFiles}
    const outcome = await renderAndWriteNode(out, opts, node, material, setup.cniManifest)
    await out.settled()
    reply = {i: job.i, outcome, written: out.written, bytes: out.bytes}
  } catch (e) {
    // Nothing of this node may still be writing when the failure reaches the main thread.
    await out.settled().catch(() => undefined)
    const err = e as NodeJS.ErrnoException
    reply = {
      i: job.i,
      error: {
        message: err.message ?? String(e),
        ...(err.code ? {code: err.code} : {}),
        ...(err.syscall ? {syscall: err.syscall} : {}),
        ...(err.path ? {path: err.path} : {}),
      },
    }
  }
  port?.postMessage(reply)
}
