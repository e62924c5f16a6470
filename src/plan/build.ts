/**
 * Cluster × Node → NodePlan. Pure: the secrets, the shipped scripts and any file the profile points
 * at come in as arguments.
 */

import {imageMirrorOf, imageMirrorsTsv, mirrorManifest} from '../profile/image-mirror.js'
import type {Cluster, ClusterNode, PlatformType} from '../profile/index.js'
import {buildBootstrapFiles, buildBootstrapUnits, buildCalendarFiles} from './bootstrap/index.js'
import {buildEtcdMemberFiles} from './etcd/index.js'
import {file} from './files.js'
import {buildFlatcarFiles} from './flatcar/index.js'
import {buildEndpointFiles} from './ha/index.js'
import {buildKubeadmFiles, KUBEADM_CONFIG} from './kubeadm/index.js'
import {buildOsFiles} from './os/index.js'
import {IMAGE_MIRRORS_FILE} from './params.js'
import {type Assets, BOOTSTRAP_UNIT, KUBEADM_NEXT_CONFIG_PATH, type NodePlan, type PlanFile, type PlanLink, type PlanUnit} from './types.js'

/** A file from the cluster's PKI destined for one node (see pki/distribute). */
export interface NodeSecretFile {
  path: string
  content: string
  mode: number
  secret: boolean
}

/** What the planners need from the cluster's state. */
export interface ClusterMaterial {
  /** The cluster CA certificate (public): every Kubernetes node verifies the endpoint with it. */
  caCert: string
  /** `sha256:<hex>` of the CA's SubjectPublicKeyInfo, for join discovery. */
  caCertHash: string
  /** The bootstrap token `abcdef.0123456789abcdef` nodes are rendered with (the render time's window). */
  token: string
  tokenTtlSeconds: number
  /** The next window's token and the Unix second it takes over: a boot that straddles the boundary uses it. */
  nextToken?: {token: string; from: number}
  /** The token calendar, for control planes (never workers): they register the tokens of each window. */
  calendar?: {secret: string; windowSeconds: number; windowsAhead: number}
  /** The PKI files this node receives: exactly what kubeadm's manual distribution requires. */
  pkiFiles(node: ClusterNode): NodeSecretFile[]
}

export interface PlanInputs {
  assets: Assets
  material: ClusterMaterial
  /** Contents of spec.networking.cni.manifestFile, read by the caller. */
  cniManifest?: string
}

/** User-data size limits per platform, in bytes (raw, before any encoding the platform adds). */
export const SIZE_BUDGET: Readonly<Record<PlatformType, number>> = Object.freeze({
  nocloud: Number.POSITIVE_INFINITY,
  configdrive: Number.POSITIVE_INFINITY,
  pxe: Number.POSITIVE_INFINITY,
  aws: 16384,
  gcp: 262144,
})

export function buildNodePlan(cluster: Cluster, node: ClusterNode, inputs: PlanInputs): NodePlan {
  const {material} = inputs
  const files: PlanFile[] = []
  const units: PlanUnit[] = []

  files.push(...buildOsFiles(cluster, node))
  const links: PlanLink[] = []
  if (node.family === 'flatcar') {
    const fc = buildFlatcarFiles(cluster, node)
    files.push(...fc.files)
    links.push(...fc.links)
    units.push(...fc.units)
  }
  files.push(...buildBootstrapFiles(cluster, node, inputs.assets, material.caCert, material.nextToken?.from))
  units.push(...buildBootstrapUnits(cluster, node, material.calendar !== undefined))
  for (const f of material.pkiFiles(node)) {
    files.push({path: f.path, content: f.content, mode: f.secret ? 0o600 : f.mode, owner: 'root:root', secret: f.secret, origin: 'pki'})
  }
  if (node.role === 'etcd') {
    const etcd = buildEtcdMemberFiles(cluster, node)
    files.push(...etcd.files)
    units.push(...etcd.units)
  } else {
    const kubeadm = (token: string) =>
      buildKubeadmFiles(cluster, node, {token, tokenTtlSeconds: material.tokenTtlSeconds, caCertHash: material.caCertHash})
    files.push(...kubeadm(material.token))
    // A joining node also carries the next window's join configuration, for a boot that straddles
    // the window boundary; the bootstrap program picks by its clock.
    const joins = !(node.role === 'control-plane' && node.ordinal === 0)
    const next = joins && material.nextToken ? kubeadm(material.nextToken.token).find((f) => f.path === KUBEADM_CONFIG) : undefined
    if (next) files.push({...next, path: KUBEADM_NEXT_CONFIG_PATH, origin: 'kubeadm:next-window'})
  }
  if (node.role === 'control-plane') {
    if (material.calendar) files.push(...buildCalendarFiles(cluster, node, material.calendar, inputs.assets))
    const ep = buildEndpointFiles(cluster, node)
    files.push(...ep.files)
    // Units of packages installed later (keepalived, haproxy) are started by the bootstrap program.
    units.push(...ep.units.filter((u) => u.content !== undefined || u.dropIns.length > 0))
    const mirror = imageMirrorOf(cluster.kubernetes.imageRepository, cluster.kubernetes.imageMirrors)
    if (node.ordinal === 0 && cluster.networking.cni.manifestFile !== undefined && inputs.cniManifest !== undefined) {
      // The manifest applied names its images under the profile's mirror, as `nodegen images` lists them.
      const manifest = mirrorManifest(inputs.cniManifest, mirror).text
      files.push(file('/etc/nodegen/cni.yaml', manifest, 'profile:spec.networking.cni.manifestFile', {mode: 0o600}))
    } else if (node.ordinal === 0 && cluster.networking.cni.type !== 'none' && Object.keys(mirror.mirrors).length > 0) {
      files.push(file(IMAGE_MIRRORS_FILE, imageMirrorsTsv(mirror), 'profile:spec.kubernetes.imageMirrors'))
    }
  }
  cluster.files.forEach((f, i) => {
    if (f.roles && !f.roles.includes(node.role)) return
    files.push({
      path: f.path,
      content: f.content,
      mode: Number.parseInt(f.mode, 8),
      owner: f.owner,
      secret: false,
      origin: `profile:spec.files[${i}]`,
    })
  })

  const byPath = new Map<string, PlanFile>()
  for (const f of files) {
    const prev = byPath.get(f.path)
    // A profile file may replace a generated one on purpose; two generated files on one path is a bug.
    if (prev && !f.origin.startsWith('profile:')) throw new Error(`internal: ${f.path} planned twice (${prev.origin}, ${f.origin})`)
    byPath.set(f.path, f)
  }
  const network =
    node.ip !== '0.0.0.0'
      ? {
          interface: node.interface,
          ...(node.mac ? {mac: node.mac} : {}),
          address: node.ip,
          prefix: node.prefix,
          ...(node.gateway ? {gateway: node.gateway} : {}),
          dns: cluster.networking.dnsServers,
          search: cluster.networking.searchDomains,
        }
      : undefined
  return {
    cluster: cluster.name,
    node: node.name,
    role: node.role,
    ordinal: node.ordinal,
    os: node.os,
    family: node.family,
    format: node.format,
    source: {profile: cluster.source, path: node.path},
    hostname: node.name,
    ...(network ? {network} : {}),
    users: cluster.users.map((u) => ({
      name: u.name,
      sshAuthorizedKeys: u.sshAuthorizedKeys,
      sudo: u.sudo,
      groups: u.groups,
      shell: u.shell,
    })),
    files: [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    links,
    directories: [
      {path: '/etc/nodegen', mode: 0o755},
      {path: '/var/lib/nodegen', mode: 0o700},
      {path: '/var/log/nodegen', mode: 0o750},
    ],
    units: units.sort((a, b) => (a.name < b.name ? -1 : 1)),
    bootstrapUnit: BOOTSTRAP_UNIT,
    sizeBudget: SIZE_BUDGET[cluster.platform.type],
  }
}

/** Every node's plan, in profile order. */
export function buildClusterPlans(cluster: Cluster, inputs: PlanInputs): NodePlan[] {
  return cluster.nodes.map((n) => buildNodePlan(cluster, n, inputs))
}
