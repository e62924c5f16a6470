/**
 * Clusters for the kubeadm/endpoint/etcd planner tests: the example profiles, varied through their
 * YAML (so every variant still passes the profile's own validation), and fixed secrets.
 */
import {parse, stringify} from 'yaml'
import type {KubeadmSecrets} from '../../../../src/plan/kubeadm/index.js'
import type {Cluster, ClusterNode, KeyAlgorithm} from '../../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../../support/profiles.js'

/**
 * The quickstart fixture state's token (test/fixtures/state/quickstart/tokens.json) and the hash of
 * its CA's public key when this was written; fixed here so goldens survive a fixture regeneration.
 */
export const SECRETS: KubeadmSecrets = Object.freeze({
  token: 'kb13gy.zppwozckhqu6sm10',
  tokenTtlSeconds: 86400,
  caCertHash: 'sha256:2dc4d0cc7df60020b2c1b340900b706cac822ccf3b9d92c6290e862ac91600be',
})

export type Base = 'quickstart' | 'ha-external-etcd'

// biome-ignore lint/suspicious/noExplicitAny: a profile is edited as plain parsed YAML
export type Spec = any

/** An example profile with `edit` applied to its parsed `spec`, loaded and validated. */
export function cluster(base: Base, edit: (spec: Spec) => void = () => {}): Cluster {
  const doc = parse(profileText(`${base}.yaml`)) as {spec: Spec}
  edit(doc.spec)
  return loadCluster(`${PROFILES_DIR}/${base}.yaml`, stringify(doc))
}

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384']

/** Kubernetes versions on either side of the kubeadm API change, with the API each must get. */
export const VERSIONS = [
  {version: '1.30.14', api: 'v1beta3'},
  {version: '1.34.2', api: 'v1beta4'},
] as const

export function nodeNamed(c: Cluster, name: string): ClusterNode {
  const n = c.nodes.find((x) => x.name === name)
  if (!n) throw new Error(`no node ${name}`)
  return n
}

export function firstOf(c: Cluster, role: ClusterNode['role'], ordinal = 0): ClusterNode {
  const n = c.nodes.find((x) => x.role === role && x.ordinal === ordinal)
  if (!n) throw new Error(`no ${role} ${ordinal}`)
  return n
}
