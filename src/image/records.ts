/**
 * The baked images a cluster's nodes boot, recorded in the state dir as `images.json` (0600): one
 * record per OS and builder, the newest build replacing the older one. Written with the state's own
 * crash-safe replace under the state's lock; nothing else in the state is touched, so the PKI is
 * never rewritten. `render` and `launch` read it to find the image of each node.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {FILE_MODE, removeStaleTemps, replaceFile, withLock} from '../pki/store/durable.js'
import type {Cluster, ClusterNode} from '../profile/index.js'
import {ImageError} from './errors.js'
import type {Artifact} from './machine-readable.js'
import {type Builder, builderForPlatform} from './os.js'

export const IMAGES_JSON = 'images.json'
export const IMAGES_SCHEMA_VERSION = 1

export interface ImageRecord {
  os: string
  builder: Builder
  artifact: Artifact
  kubernetesVersion: string
  containerRuntime: string
  /** The containerd.io release baked in; absent for CRI-O, the distribution's containerd, and older records. */
  containerdVersion?: string
  imageRepository: string
  /** ISO 8601, when the build finished. */
  built: string
  packerVersion: string
  buildDir: string
}

interface ImagesFile {
  schemaVersion: number
  images: ImageRecord[]
}

export async function readImageRecords(stateDir: string): Promise<ImageRecord[]> {
  const file = path.join(stateDir, IMAGES_JSON)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new ImageError('NG1007', {file, reason: (e as Error).message})
  }
  let doc: ImagesFile
  try {
    doc = JSON.parse(text) as ImagesFile
  } catch {
    throw new ImageError('NG1007', {file, reason: 'not JSON'})
  }
  if (doc?.schemaVersion !== IMAGES_SCHEMA_VERSION || !Array.isArray(doc.images))
    throw new ImageError('NG1007', {file, reason: `expected schemaVersion ${IMAGES_SCHEMA_VERSION} and an images list`})
  return doc.images
}

/** Adds (or replaces, for the same OS and builder) one record; returns every record. */
export async function recordImage(stateDir: string, record: ImageRecord): Promise<ImageRecord[]> {
  return withLock(
    stateDir,
    async () => {
      await removeStaleTemps(stateDir, IMAGES_JSON)
      const others = (await readImageRecords(stateDir)).filter((r) => !(r.os === record.os && r.builder === record.builder))
      const images = [...others, record].sort((a, b) => (a.os + a.builder < b.os + b.builder ? -1 : 1))
      try {
        await replaceFile(
          path.join(stateDir, IMAGES_JSON),
          `${JSON.stringify({schemaVersion: IMAGES_SCHEMA_VERSION, images}, null, 2)}\n`,
          FILE_MODE,
        )
      } catch (e) {
        throw new ImageError('NG1009', {dir: stateDir, reason: (e as Error).message})
      }
      return images
    },
    (pid, lock) => new ImageError('NG1009', {dir: stateDir, reason: `locked by process ${pid} (${lock})`}),
  )
}

export interface NodeImage {
  record?: ImageRecord
  /** What is wrong with using it (no record, or baked for another version or runtime). */
  problem?: string
}

/** The recorded image a node boots: its OS, built by the builder of the cluster's platform. */
export function imageForNode(cluster: Cluster, node: ClusterNode, records: ImageRecord[]): NodeImage {
  const builder = builderForPlatform(cluster.platform.type)
  const record = records.find((r) => r.os === node.os && r.builder === builder)
  if (!record)
    return {problem: `no ${builder} image of ${node.os} is recorded: run \`nodegen image build --os ${node.os} --builder ${builder}\``}
  if (record.kubernetesVersion !== cluster.kubernetes.version)
    return {
      record,
      problem: `the ${builder} image of ${node.os} (${record.artifact.id}) was baked for Kubernetes ${record.kubernetesVersion}, the profile asks for ${cluster.kubernetes.version}: rebuild it`,
    }
  if (record.containerRuntime !== cluster.runtime.type)
    return {
      record,
      problem: `the ${builder} image of ${node.os} (${record.artifact.id}) was baked with ${record.containerRuntime}, the profile asks for ${cluster.runtime.type}: rebuild it`,
    }
  if (
    record.containerdVersion !== undefined &&
    cluster.runtime.version !== undefined &&
    record.containerdVersion !== cluster.runtime.version
  )
    return {
      record,
      problem: `the ${builder} image of ${node.os} (${record.artifact.id}) was baked with containerd ${record.containerdVersion}, the profile asks for ${cluster.runtime.version}: rebuild it`,
    }
  return {record}
}
