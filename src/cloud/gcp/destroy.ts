/**
 * `nodegen destroy gcp`: removes what launch made, found by name (instances only when they carry the
 * cluster's label), each deletion waited on, users before what they use (the forwarding rule before
 * its backend service, the instances before the firewall rules).
 */
import {randomUUID} from 'node:crypto'
import type {Cluster} from '../../profile/index.js'
import {errorText, pool, requestId} from '../common.js'
import {CallRecorder} from '../recorder.js'
import {DEFAULT_PACE, type DestroyReport, type OnProgress, type Pace} from '../types.js'
import {type Collection, Compute, type ComputeClients, NOT_FOUND, type Operation, statusOf} from './client.js'
import {firewallRules} from './firewall.js'
import {LABEL_CLUSTER, lbNames, platformOf, regionOf, zoneOf} from './platform.js'

export interface GcpDestroyOptions {
  cluster: Cluster
  dryRun: boolean
  onProgress?: OnProgress
  pace?: Partial<Pace>
}

/**
 * Removes what launch made: the forwarding rule, backend service, health check, instance groups and
 * address, the cluster's instances (only those labelled with the cluster), then the firewall rules.
 */
export async function destroyGcp(opts: GcpDestroyOptions, clients: ComputeClients): Promise<DestroyReport> {
  const {cluster} = opts
  const gcp = platformOf(cluster)
  const {project} = gcp
  const region = regionOf(gcp)
  const pace: Pace = {...DEFAULT_PACE, ...opts.pace}
  const report: DestroyReport = {platform: 'gcp', cluster: cluster.name, dryRun: opts.dryRun, calls: [], deleted: [], failed: []}
  // Reads go to the API even in a dry run (it must know what exists); deletes are only listed.
  const recorder = new CallRecorder(report.calls)
  const api = new Compute(clients, recorder, pace, false)
  const runId = randomUUID()
  const del = async (collection: Collection, key: string, where: Record<string, string>, name: string) => {
    const req = {project, ...where, [key]: name}
    const found = await api.find(collection, req)
    if (!found) return
    if (opts.dryRun) {
      recorder.add({service: collection, operation: 'delete', input: req})
      report.deleted.push({kind: collection, id: name})
      return
    }
    try {
      await api.wait(
        project,
        await api.call<Operation>(collection, 'delete', {...req, requestId: requestId(cluster.name, 'delete', collection, name, runId)}),
      )
      report.deleted.push({kind: collection, id: name})
      opts.onProgress?.(`${collection} ${name}`)
    } catch (e) {
      if (statusOf(e) !== NOT_FOUND) report.failed.push({kind: collection, id: name, error: errorText(e)})
    }
  }
  const {lbName, groupName} = lbNames(cluster)
  const zones = [...new Set(cluster.nodes.map((n) => zoneOf(gcp, n)))]
  await del('forwardingRules', 'forwardingRule', {region}, lbName)
  await del('regionBackendServices', 'backendService', {region}, lbName)
  await del('regionHealthChecks', 'healthCheck', {region}, lbName)
  for (const zone of zones) await del('instanceGroups', 'instanceGroup', {zone}, groupName)
  await del('addresses', 'address', {region}, lbName)
  await pool(cluster.nodes, 4, async (n) => {
    const zone = zoneOf(gcp, n)
    const i = await api.find<{labels?: Record<string, string>}>('instances', {project, zone, instance: n.name})
    if (i && i.labels?.[LABEL_CLUSTER] === cluster.name) await del('instances', 'instance', {zone}, n.name)
  })
  for (const rule of firewallRules(cluster)) await del('firewalls', 'firewall', {}, rule.name as string)
  return report
}
