/**
 * The GCE firewall rules of a cluster: one per role, opening the role's port table (common.ts
 * rolePortTable, the same table the node's own firewall gets) from the node subnets to the role's
 * network tag, and one for Google's health checkers when there is an internal load balancer.
 */
import type {Cluster} from '../../profile/index.js'
import {nodeSubnets, requestId, rolePortTable} from '../common.js'
import type {LaunchReport} from '../types.js'
import type {Compute} from './client.js'
import {gceName, networkTag, networkUrl, platformOf} from './platform.js'

/** Google's health-check probers, which must reach the API server port (documented ranges). */
export const HEALTH_CHECK_RANGES = ['35.191.0.0/16', '130.211.0.0/22']

/** The firewall rules: one per role with its port and protocol table from the node subnets, and the health checkers. */
export function firewallRules(cluster: Cluster): Array<Record<string, unknown>> {
  const gcp = platformOf(cluster)
  const sources = nodeSubnets(cluster)
  const rules: Array<Record<string, unknown>> = rolePortTable(cluster).map((t) => {
    const by = (proto: string) =>
      t.ports.filter((p) => p.protocol === proto).map((p) => (p.from === p.to ? String(p.from) : `${p.from}-${p.to}`))
    return {
      name: gceName('nodegen', cluster.name, t.role),
      description: `nodegen ${cluster.name}: ${t.role} ports`,
      network: networkUrl(gcp),
      direction: 'INGRESS',
      sourceRanges: sources,
      targetTags: [networkTag(cluster.name, t.role)],
      allowed: [
        ...['tcp', 'udp'].filter((p) => by(p).length > 0).map((p) => ({IPProtocol: p, ports: by(p)})),
        // A whole IP protocol by number (GCE takes numbers as well as names; 4 is its "ipip").
        ...t.protocols.map((n) => ({IPProtocol: String(n)})),
      ],
    }
  })
  if (gcp.endpoint === 'internal-lb' && cluster.nodes.some((n) => n.role === 'control-plane'))
    rules.push({
      name: gceName('nodegen', cluster.name, 'health-checks'),
      description: `nodegen ${cluster.name}: load balancer health checks`,
      network: networkUrl(gcp),
      direction: 'INGRESS',
      sourceRanges: HEALTH_CHECK_RANGES,
      targetTags: [networkTag(cluster.name, 'control-plane')],
      allowed: [{IPProtocol: 'tcp', ports: [String(cluster.loadBalancer.apiServerPort)]}],
    })
  return rules
}

/** The firewall rules, created or reused by name. */
export async function ensureFirewallRules(api: Compute, cluster: Cluster, runId: string, report: LaunchReport): Promise<void> {
  const {project} = platformOf(cluster)
  for (const rule of firewallRules(cluster)) {
    const name = rule.name as string
    const status = (await api.find('firewalls', {project, firewall: name}))
      ? 'existing'
      : await api.insert('firewalls', project, {
          project,
          firewallResource: rule,
          requestId: requestId(cluster.name, 'firewall', name, runId),
        })
    report.firewall[name] = status
  }
}
