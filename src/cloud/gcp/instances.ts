/**
 * The GCE instances of a launch: the instances.insert request of each node (fixed networkIP, labels,
 * metadata `user-data`, network tag, a requestId from cluster and node), finding the instances that
 * exist by name, inserting one, and waiting for them to be RUNNING.
 */
import type {Cluster} from '../../profile/index.js'
import {pool, requestId} from '../common.js'
import type {LaunchNode, NodeOutcome, OnProgress, Pace} from '../types.js'
import type {Compute} from './client.js'
import {userDataItems} from './metadata.js'
import {
  imageUrl,
  LABEL_CLUSTER,
  LABEL_NODE,
  LABEL_ROLE,
  labels,
  networkTag,
  networkUrl,
  platformOf,
  subnetworkUrl,
  zoneOf,
} from './platform.js'

/** The instances.insert request of one node. Pure: the dry run shows exactly this, user-data redacted. */
export function instanceInsertRequest(cluster: Cluster, n: LaunchNode, image: string, runId: string): Record<string, unknown> {
  const gcp = platformOf(cluster)
  const zone = zoneOf(gcp, n.node)
  const type = n.node.instanceType ?? (n.node.role === 'control-plane' ? (gcp.controlPlaneMachineType ?? gcp.machineType) : gcp.machineType)
  const sub = subnetworkUrl(gcp)
  return {
    project: gcp.project,
    zone,
    requestId: requestId(cluster.name, n.node.name, 'insert', runId),
    instanceResource: {
      name: n.node.name,
      machineType: `zones/${zone}/machineTypes/${type}`,
      disks: [{boot: true, autoDelete: true, initializeParams: {sourceImage: imageUrl(gcp, image)}}],
      networkInterfaces: [{network: networkUrl(gcp), ...(sub ? {subnetwork: sub} : {}), networkIP: n.node.ip}],
      metadata: {items: userDataItems(n)},
      labels: labels(cluster, {[LABEL_NODE]: n.node.name, [LABEL_ROLE]: n.node.role}),
      tags: {items: [networkTag(cluster.name, n.node.role)]},
      ...(n.identity?.gcp ? {serviceAccounts: [n.identity.gcp.serviceAccount]} : {}),
    },
  }
}

/** Polls the instances until RUNNING (a dry run does not wait: it ticks every node not failed). */
export async function waitRunning(
  api: Compute,
  cluster: Cluster,
  outcome: Map<string, NodeOutcome>,
  pace: Pace,
  onProgress?: OnProgress,
): Promise<void> {
  const gcp = platformOf(cluster)
  const deadline = Date.now() + pace.timeoutMs
  for (;;) {
    const waiting = [...outcome.values()].filter((o) => o.status !== 'failed' && o.state !== 'RUNNING')
    if (waiting.length === 0 || api.dryRun) break
    if (Date.now() > deadline) {
      for (const o of waiting) Object.assign(o, {status: 'failed', error: `still ${o.state ?? 'PROVISIONING'} (the instance exists)`})
      break
    }
    for (const o of waiting) {
      const node = cluster.nodes.find((x) => x.name === o.name)!
      const i = await api.find<{status?: string}>('instances', {project: gcp.project, zone: zoneOf(gcp, node), instance: o.name})
      if (i?.status) o.state = i.status
      if (o.state === 'RUNNING') onProgress?.(`${o.name} running`)
    }
    if ([...outcome.values()].some((o) => o.status !== 'failed' && o.state !== 'RUNNING')) await pace.sleep(pace.pollMs)
  }
  for (const o of outcome.values()) if (api.dryRun && o.status !== 'failed') onProgress?.(o.name)
}

/**
 * The nodes whose instance exists (looked up by name): `existing` when it carries the cluster's
 * label, `failed` when an instance of that name belongs to something else.
 */
export async function findExisting(api: Compute, cluster: Cluster, nodes: LaunchNode[]): Promise<Map<string, NodeOutcome>> {
  const gcp = platformOf(cluster)
  const existing = await pool(nodes, api.dryRun ? 1 : 8, (n) =>
    api.find<{name?: string; status?: string; labels?: Record<string, string>}>('instances', {
      project: gcp.project,
      zone: zoneOf(gcp, n.node),
      instance: n.node.name,
    }),
  )
  const outcome = new Map<string, NodeOutcome>()
  nodes.forEach((n, i) => {
    const e = existing[i]
    if (!e) return
    const base = {name: n.node.name, role: n.node.role, ip: n.node.ip, id: n.node.name, ...(e.status ? {state: e.status} : {})}
    if (e.labels?.[LABEL_CLUSTER] !== cluster.name)
      outcome.set(n.node.name, {...base, status: 'failed', error: `an instance named ${n.node.name} exists and is not this cluster's`})
    else outcome.set(n.node.name, {...base, status: 'existing'})
  })
  return outcome
}

/** One instances.insert, waited on; an instance of that name made by an earlier attempt counts as there. */
export async function insertInstance(
  api: Compute,
  cluster: Cluster,
  n: LaunchNode,
  image: string,
  runId: string,
): Promise<Pick<NodeOutcome, 'status'>> {
  if (n.node.format === 'ignition' && n.encoding !== 'raw')
    throw new Error(`Ignition reads user-data verbatim on GCE, and this config is ${n.encoding}`)
  const r = await api.insert('instances', platformOf(cluster).project, instanceInsertRequest(cluster, n, image, runId))
  return {status: api.dryRun ? 'planned' : r === 'existing' ? 'existing' : 'created'}
}
