/**
 * Which image each node boots on a cloud: the profile's (`ami`, `image`), else the image
 * `nodegen image build` recorded in the state's images.json for the node's OS and the platform's
 * builder, else on GCE — for a cluster that is not baked — the vendor's public image family.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import type {Cluster, ClusterNode} from '../profile/index.js'
import {PUBLIC_IMAGE_FAMILY} from './gcp/platform.js'

/** The part of a state's images.json (schemaVersion 1) launch reads. */
interface ImageRecordLike {
  os?: string
  builder?: string
  kubernetesVersion?: string
  containerRuntime?: string
  artifact?: {id?: string; ami?: string; region?: string; image?: string}
}

export function readImageRecords(stateDir: string): ImageRecordLike[] {
  let text: string
  try {
    text = readFileSync(path.join(stateDir, 'images.json'), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const doc = JSON.parse(text) as {schemaVersion?: number; images?: ImageRecordLike[]}
  if (doc.schemaVersion !== 1 || !Array.isArray(doc.images))
    throw new Error(`${path.join(stateDir, 'images.json')}: expected schemaVersion 1 and an images list`)
  return doc.images
}

export type ImageChoice = {image: string; source: 'profile' | 'baked' | 'public'} | {problem: string}

export function imageFor(cluster: Cluster, node: ClusterNode, records: ImageRecordLike[]): ImageChoice {
  const platform = cluster.platform.type
  const field = platform === 'aws' ? 'spec.platform.aws.ami' : 'spec.platform.gcp.image'
  const own = platform === 'aws' ? cluster.platform.aws?.ami : cluster.platform.gcp?.image
  if (own) return {image: own, source: 'profile'}
  const builder = platform === 'aws' ? 'amazon-ebs' : 'googlecompute'
  const r = records.find((x) => x.os === node.os && x.builder === builder)
  if (r) {
    if (r.kubernetesVersion !== undefined && r.kubernetesVersion !== cluster.kubernetes.version)
      return {
        problem: `the ${builder} image of ${node.os} was baked for Kubernetes ${r.kubernetesVersion}, the profile asks for ${cluster.kubernetes.version}: rebuild it or set ${field}`,
      }
    if (r.containerRuntime !== undefined && r.containerRuntime !== cluster.runtime.type)
      return {
        problem: `the ${builder} image of ${node.os} was baked with ${r.containerRuntime}, the profile asks for ${cluster.runtime.type}`,
      }
    const region = cluster.platform.aws?.region
    if (platform === 'aws' && r.artifact?.region && region && r.artifact.region !== region)
      return {
        problem: `the recorded AMI of ${node.os} is in ${r.artifact.region}, the profile launches in ${region}: copy it or set ${field}`,
      }
    const id = platform === 'aws' ? r.artifact?.ami : r.artifact?.image
    if (id) return {image: id, source: 'baked'}
  }
  if (platform === 'gcp' && !cluster.image.baked) {
    const family = PUBLIC_IMAGE_FAMILY[node.os]
    if (family) return {image: family, source: 'public'}
  }
  return {
    problem: `no image for ${node.os}: set ${field}, or bake one with \`nodegen image build --os ${node.os} --builder ${builder}\` (it is recorded in the state and used from then on)`,
  }
}
