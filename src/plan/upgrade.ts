/**
 * An upgrade of a running cluster to the profile's spec.kubernetes.version, as kubeadm's procedure
 * has it ("Upgrading kubeadm clusters"): the version step checked against kubeadm's skew rules, then
 * the control planes one at a time (the first `kubeadm upgrade apply`, the others `kubeadm upgrade
 * node`, each with nodegen's UpgradeConfiguration so the patches are kept), then kubelet and
 * kubectl, then the workers a bounded number at a time (drain, `kubeadm upgrade node`, packages,
 * uncordon). Pure: the current version and the inventories come in as arguments.
 */
import {createHash} from 'node:crypto'
import {CodedError, fillTemplate, type Params} from '../errors.js'
import {type Cluster, controlPlanes, etcdMembers, kubernetesTarget, parseVersion, workers} from '../profile/index.js'
import {CONTAINERD_VERSIONS} from '../profile/kubernetes.js'
import {etcdImageTag} from './etcd/versions.js'
import type {Inventory} from './inventory.js'
import {patchesDirectory} from './kubeadm/build.js'
import {KUBEADM_PATCHES_DIR, KUBEADM_UPGRADE_CONFIG} from './kubeadm/index.js'
import {kubeadmApiFor} from './target.js'

/** Problems with an upgrade step; the command prints `NG12xx: <message>` and exits 1. */
export const UPGRADE_CATALOGUE = Object.freeze({
  NG1201: '{from} is not a Kubernetes version (like 1.33.5)',
  NG1202: 'from {from} to {to} is a downgrade: kubeadm upgrades only forward',
  NG1203:
    'from {from} to {to} skips {skipped}: kubeadm upgrades one minor at a time; upgrade to 1.{next}.x first (set spec.kubernetes.version to it), then to {to}',
  NG1204: 'from {from} to {to} changes the major version, which kubeadm does not upgrade',
  NG1205: "the cluster's current version is unknown: give --from VERSION or --kubeconfig FILE (the state {state} records none)",
  NG1206: 'cannot ask the API server at {server} for its version: {reason}',
  NG1207: 'cannot hand the upgrade over to the cluster at {server}: {reason}',
  NG1208: 'the kubeconfig {file} cannot be used: {reason}',
} as const)

export type UpgradeCode = keyof typeof UPGRADE_CATALOGUE

export class UpgradeError extends CodedError {
  declare readonly code: UpgradeCode

  constructor(code: UpgradeCode, params: Params = {}) {
    super(code, fillTemplate(UPGRADE_CATALOGUE[code], params), params)
    this.name = 'UpgradeError'
  }
}

export type UpgradeKind = 'none' | 'patch' | 'minor'

/** Classifies the step from `from` to `to` by kubeadm's rules, or throws UpgradeError. */
export function upgradeStep(from: string, to: string): UpgradeKind {
  const f = parseVersion(from)
  const t = parseVersion(to)
  if (!f) throw new UpgradeError('NG1201', {from})
  if (!t) throw new UpgradeError('NG1201', {from: to})
  const fs = `${f.major}.${f.minor}.${f.patch}`
  const ts = `${t.major}.${t.minor}.${t.patch}`
  if (f.major !== t.major) throw new UpgradeError('NG1204', {from: fs, to: ts})
  if (t.minor < f.minor || (t.minor === f.minor && t.patch < f.patch)) throw new UpgradeError('NG1202', {from: fs, to: ts})
  if (t.minor > f.minor + 1) {
    const skipped = Array.from({length: t.minor - f.minor - 1}, (_, i) => `1.${f.minor + 1 + i}`).join(', ')
    throw new UpgradeError('NG1203', {from: fs, to: ts, skipped, next: f.minor + 1})
  }
  if (t.minor === f.minor + 1) return 'minor'
  return t.patch === f.patch ? 'none' : 'patch'
}

export interface ControlPlaneStep {
  node: string
  /** 1-based place in the roll. */
  order: number
  /** What the node runs, after installing the new kubeadm. */
  command: string
}

export interface PackageChange {
  os: string
  /** The nodes on this OS. */
  nodes: string[]
  /** What the package manager is asked for, as `nodegen images` lists it: `kubelet-1.35.0`, `kubeadm=1.35.0-*`. */
  requests: string[]
  /** The Kubernetes repository the packages come from (a minor upgrade switches the pkgs.k8s.io stream). */
  repository?: string
  /** Flatcar: the sysext image that replaces the old one. */
  sysext?: string
}

export interface UpgradePlan {
  cluster: string
  from: string
  to: string
  kind: UpgradeKind
  /** Where `from` came from: `--from`, the API server, or the state. */
  fromSource: 'flag' | 'api' | 'state'
  controlPlanes: ControlPlaneStep[]
  /** External etcd members: their etcd static pod (rendered by nodegen) when kubeadm's etcd version changes. */
  etcd: {stacked: boolean; from: string; to: string; changes: boolean; members: string[]}
  packages: PackageChange[]
  /** The containerd release nodegen pins, when it differs between the minors. */
  containerd?: {from: string; to: string}
  workers: {maxUnavailable: number; batches: string[][]; steps: string[]}
  /** Images the new version needs that the old one did not (pre-pull, or put in the mirror first). */
  images: Array<{image: string; component: string; roles: string[]}>
  /** sha256 of the plan's content above (without this field): what the hand-over names. */
  hash: string
}

/** The `kubeadm upgrade` command lines of a control plane, given the API its seed's upgrade.yaml was written with. */
function upgradeCommands(cluster: Cluster, fromCluster: Cluster, node: Cluster['nodes'][number], first: boolean, to: string): string {
  // The file on the node is the one rendered for the version it booted with; the new kubeadm reads
  // a v1beta4 UpgradeConfiguration (1.31 and later), and an older node's comment-only file means
  // the patches go by flag.
  const seedApi = kubeadmApiFor(fromCluster.kubernetes)
  const patches = patchesDirectory(cluster, node)
  const how = seedApi.upgradeConfiguration
    ? `--config ${KUBEADM_UPGRADE_CONFIG}`
    : patches !== undefined
      ? `--patches ${KUBEADM_PATCHES_DIR}`
      : ''
  const cmd = first ? `kubeadm upgrade apply v${to} ${how} --yes` : `kubeadm upgrade node ${how}`
  return cmd.replace(/ +/g, ' ').trim()
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : value,
  )
}

/** The cluster as it runs now: the profile with the old version's meaning (kubeadm API, images, pins). */
export function clusterAt(cluster: Cluster, version: string): Cluster {
  const v = parseVersion(version)
  if (!v) throw new UpgradeError('NG1201', {from: version})
  return {...cluster, kubernetes: {...cluster.kubernetes, ...kubernetesTarget(v)}}
}

/**
 * The upgrade of `cluster` (the profile, with its new version) from `from`. The inventories are the
 * cluster's at the old and the new version (plan/inventory), passed in by the caller.
 */
export function buildUpgradePlan(
  cluster: Cluster,
  from: string,
  fromSource: UpgradePlan['fromSource'],
  inventories: {from: Inventory; to: Inventory},
): UpgradePlan {
  const to = cluster.kubernetes.version
  const kind = upgradeStep(from, to)
  const old = clusterAt(cluster, from)
  const cps = controlPlanes(cluster)
  const controlPlaneSteps = cps.map((n, i) => ({node: n.name, order: i + 1, command: upgradeCommands(cluster, old, n, i === 0, to)}))
  const oldEtcd = etcdTag(old.kubernetes.minor)
  const newEtcd = etcdTag(cluster.kubernetes.minor)
  const had = new Set(inventories.from.images.map((i) => i.image))
  const images = inventories.to.images
    .filter((i) => !had.has(i.image))
    .map((i) => ({image: i.image, component: i.component, roles: i.roles}))
  const packages: PackageChange[] = inventories.to.os.map((o) => {
    const kube = o.packages.filter((p) => ['kubeadm', 'kubelet', 'kubectl'].includes(p.name)).map((p) => p.request)
    const repo = o.repositories.find((r) => r.name === 'kubernetes')
    return {
      os: o.os,
      nodes: o.nodes,
      requests: kube,
      ...(repo ? {repository: repo.url} : {}),
      ...(o.sysext ? {sysext: o.sysext.url} : {}),
    }
  })
  const oldContainerd = old.runtime.version !== undefined ? (CONTAINERD_VERSIONS[old.kubernetes.minor] ?? old.runtime.version) : undefined
  const pinned = cluster.runtime.version
  const n = Math.max(1, cluster.upgrade.maxUnavailableWorkers)
  const ws = workers(cluster).map((w) => w.name)
  const batches: string[][] = []
  for (let i = 0; i < ws.length; i += n) batches.push(ws.slice(i, i + n))
  const body = {
    cluster: cluster.name,
    from,
    to,
    kind,
    fromSource,
    controlPlanes: kind === 'none' ? [] : controlPlaneSteps,
    etcd: {
      stacked: cluster.topology === 'stacked',
      from: oldEtcd,
      to: newEtcd,
      changes: oldEtcd !== newEtcd,
      members: etcdMembers(cluster).map((m) => m.name),
    },
    packages: kind === 'none' ? [] : packages,
    ...(kind !== 'none' && oldContainerd !== undefined && pinned !== undefined && oldContainerd !== pinned
      ? {containerd: {from: oldContainerd, to: pinned}}
      : {}),
    workers: {
      maxUnavailable: n,
      batches: kind === 'none' ? [] : batches,
      steps: [
        'kubectl drain <node> --ignore-daemonsets --delete-emptydir-data (from a control plane)',
        'kubeadm upgrade node',
        'kubelet and kubectl of the new version; systemctl daemon-reload; systemctl restart kubelet',
        'kubectl uncordon <node>',
      ],
    },
    images: kind === 'none' ? [] : images,
  }
  return {...body, hash: `sha256:${sha256(sortedJson(body))}`}
}

/** kubeadm's etcd for a minor; a minor nodegen has no row for (an older cluster) is named as unknown. */
function etcdTag(minor: number): string {
  try {
    return etcdImageTag(minor)
  } catch {
    return 'unknown'
  }
}
