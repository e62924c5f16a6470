/** One of render's worker threads (render-pool.ts): renders and writes the nodes it is handed. */
import {parentPort, workerData} from 'node:worker_threads'
import type {NodeSecretFile} from '../plan/build.js'
import type {ClusterNode} from '../profile/index.js'
import {DirWriter} from './output.js'
import {renderAndWriteNode} from './render.js'
import type {WorkerJob, WorkerReply, WorkerSetup} from './render-pool.js'

const setup = workerData as WorkerSetup
const port = parentPort
if (!port) throw new Error('internal: render-worker runs as a worker thread')
const out = new DirWriter(setup.tmp)
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

port.on('message', async (job: WorkerJob) => {
  let reply: WorkerReply
  try {
    const node = setup.cluster.nodes[job.node] as ClusterNode
    const material = {...opts.material, pkiFiles: () => job.pkiFiles}
    const outcome = await renderAndWriteNode(out, opts, node, material, setup.cniManifest)
    reply = {i: job.i, outcome, written: out.written.splice(0), bytes: out.bytes}
    out.bytes = 0
  } catch (e) {
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
  port.postMessage(reply)
})
