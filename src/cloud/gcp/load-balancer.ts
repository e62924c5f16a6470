/**
 * The API endpoint on GCE: an internal passthrough load balancer (address, regional HTTPS health
 * check on /readyz, an unmanaged instance group per zone, regional backend service, forwarding rule)
 * made before any instance, and the control planes added to its instance groups.
 *
 * Why the control planes join the backend one by one: on GCE every backend of an internal passthrough
 * load balancer answers the forwarding rule's address itself (the guest agent installs a local route
 * for it). A control plane that is a backend before its API server runs would wait for the endpoint
 * forever, talking to itself. So control plane 0 is a backend from the start, and each other control
 * plane becomes one once its serial console shows `nodegen: <node> control-plane ready`; a re-run of
 * launch adds those that became ready since.
 */
import type {Cluster} from '../../profile/index.js'
import {isIPv4} from '../../profile/net.js'
import {requestId} from '../common.js'
import {LaunchError, type LaunchReport, type NodeOutcome} from '../types.js'
import type {Collection, Compute, Operation} from './client.js'
import {lbNames, networkUrl, platformOf, regionOf, subnetworkUrl, zoneOf} from './platform.js'

/** An internal passthrough load balancer takes an IPv4 address and does not translate ports. */
export function checkEndpoint(cluster: Cluster): void {
  if (platformOf(cluster).endpoint !== 'internal-lb') return
  if (!isIPv4(cluster.endpoint.host))
    throw new LaunchError(
      `spec.controlPlaneEndpoint.host must be an IPv4 address in the subnetwork with endpoint internal-lb (the forwarding rule's address); it is ${cluster.endpoint.host}`,
    )
  if (cluster.endpoint.port !== cluster.loadBalancer.apiServerPort)
    throw new LaunchError(
      `an internal passthrough load balancer does not translate ports: spec.controlPlaneEndpoint.port (${cluster.endpoint.port}) must equal the API server port (${cluster.loadBalancer.apiServerPort})`,
    )
}

/** The control planes' zones, each with an instance group of the backend. */
function controlPlaneZones(cluster: Cluster): string[] {
  const gcp = platformOf(cluster)
  return [...new Set(cluster.nodes.filter((n) => n.role === 'control-plane').map((n) => zoneOf(gcp, n)))]
}

/**
 * The internal passthrough load balancer (address, regional HTTPS health check on /readyz, an
 * unmanaged instance group per zone, regional backend service, forwarding rule), each created
 * unless it exists; with endpoint `address`, only a note.
 */
export async function ensureLoadBalancer(api: Compute, cluster: Cluster, runId: string, report: LaunchReport): Promise<void> {
  const gcp = platformOf(cluster)
  const {project} = gcp
  const region = regionOf(gcp)
  const cps = cluster.nodes.filter((n) => n.role === 'control-plane')
  const zones = controlPlaneZones(cluster)
  const {lbName, groupName} = lbNames(cluster)
  if (gcp.endpoint === 'internal-lb' && cps.length > 0) {
    const sub = subnetworkUrl(gcp)
    const ensure = async (collection: Collection, key: string, where: {region?: string; zone?: string}, body: string, resource: object) => {
      const name = (resource as {name: string}).name
      if (!(await api.find(collection, {project, ...where, [key]: name})))
        await api.insert(collection, project, {
          project,
          ...where,
          [body]: resource,
          requestId: requestId(cluster.name, collection, name, where.zone ?? where.region ?? '', runId),
        })
    }
    await ensure('addresses', 'address', {region}, 'addressResource', {
      name: lbName,
      addressType: 'INTERNAL',
      purpose: 'GCE_ENDPOINT',
      address: cluster.endpoint.host,
      ...(sub ? {subnetwork: sub} : {}),
    })
    await ensure('regionHealthChecks', 'healthCheck', {region}, 'healthCheckResource', {
      name: lbName,
      type: 'HTTPS',
      // kube-apiserver answers /readyz anonymously: a backend is healthy only when it serves.
      httpsHealthCheck: {port: cluster.loadBalancer.apiServerPort, requestPath: '/readyz'},
      checkIntervalSec: 5,
      timeoutSec: 5,
    })
    for (const zone of zones)
      await ensure('instanceGroups', 'instanceGroup', {zone}, 'instanceGroupResource', {
        name: groupName,
        network: networkUrl(gcp),
        description: `nodegen ${cluster.name}: control planes behind ${cluster.endpoint.host}`,
      })
    await ensure('regionBackendServices', 'backendService', {region}, 'backendServiceResource', {
      name: lbName,
      loadBalancingScheme: 'INTERNAL',
      protocol: 'TCP',
      network: networkUrl(gcp),
      healthChecks: [`projects/${project}/regions/${region}/healthChecks/${lbName}`],
      backends: zones.map((z) => ({group: `projects/${project}/zones/${z}/instanceGroups/${groupName}`, balancingMode: 'CONNECTION'})),
    })
    await ensure('forwardingRules', 'forwardingRule', {region}, 'forwardingRuleResource', {
      name: lbName,
      loadBalancingScheme: 'INTERNAL',
      IPAddress: cluster.endpoint.host,
      IPProtocol: 'TCP',
      ports: [String(cluster.endpoint.port)],
      network: networkUrl(gcp),
      ...(sub ? {subnetwork: sub} : {}),
      backendService: `projects/${project}/regions/${region}/backendServices/${lbName}`,
    })
    report.endpoint.resources = {
      address: `projects/${project}/regions/${region}/addresses/${lbName}`,
      healthCheck: `projects/${project}/regions/${region}/healthChecks/${lbName}`,
      backendService: `projects/${project}/regions/${region}/backendServices/${lbName}`,
      forwardingRule: `projects/${project}/regions/${region}/forwardingRules/${lbName}`,
      ...Object.fromEntries(zones.map((z) => [`instanceGroup:${z}`, `projects/${project}/zones/${z}/instanceGroups/${groupName}`])),
    }
  } else if (gcp.endpoint === 'address') {
    report.endpoint.notes.push(
      `endpoint address: ${cluster.endpoint.host} must reach the control planes (${cps.map((n) => n.ip).join(', ')}) through a load balancer of yours`,
    )
  }
}

/**
 * Control planes into the load balancer's instance groups: control plane 0 at once, each other one
 * once its serial console shows it ready (see the header); the others are left for a re-run.
 */
export async function addReadyControlPlanes(
  api: Compute,
  cluster: Cluster,
  outcome: Map<string, NodeOutcome>,
  runId: string,
  report: LaunchReport,
): Promise<void> {
  const gcp = platformOf(cluster)
  const {project} = gcp
  const cps = cluster.nodes.filter((n) => n.role === 'control-plane')
  if (gcp.endpoint !== 'internal-lb' || cps.length === 0) return
  const {groupName} = lbNames(cluster)
  const pending: string[] = []
  for (const zone of controlPlaneZones(cluster)) {
    const members = await api.call<Array<{instance?: string}>>('instanceGroups', 'listInstances', {
      project,
      zone,
      instanceGroup: groupName,
      instanceGroupsListInstancesRequestResource: {instanceState: 'ALL'},
    })
    const have = new Set((members ?? []).map((m) => m.instance?.split('/').pop()))
    const add: string[] = []
    for (const n of cps.filter((c) => zoneOf(gcp, c) === zone)) {
      const o = outcome.get(n.name)
      if (!o || o.status === 'failed' || have.has(n.name)) continue
      if (n.ordinal === 0) add.push(n.name)
      else if (!api.dryRun) {
        const out = await api.call<{contents?: string}>('instances', 'getSerialPortOutput', {project, zone, instance: n.name, port: 1})
        if ((out.contents ?? '').includes(`nodegen: ${n.name} control-plane ready`)) add.push(n.name)
        else pending.push(n.name)
      } else pending.push(n.name)
    }
    if (add.length > 0)
      await api.wait(
        project,
        await api.call<Operation>('instanceGroups', 'addInstances', {
          project,
          zone,
          instanceGroup: groupName,
          instanceGroupsAddInstancesRequestResource: {
            instances: add.map((a) => ({instance: `projects/${project}/zones/${zone}/instances/${a}`})),
          },
          requestId: requestId(cluster.name, 'addInstances', zone, runId, ...add),
        }),
      )
  }
  if (pending.length > 0)
    report.endpoint.notes.push(
      `${pending.join(', ')} join the load balancer once they report ready (a backend answers the endpoint address itself, so it must not be one before its API server runs): run launch again after their consoles show "control-plane ready"`,
    )
}
