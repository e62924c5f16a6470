/**
 * `nodegen launch gcp`: the GCE steps of the shared launch sequence. Order: firewall rules per role →
 * the endpoint (the internal load balancer, see load-balancer.ts) → the secrets hook →
 * instances.insert per missing node, each operation waited on → wait for RUNNING → control planes
 * into the load balancer's instance groups.
 */
import {randomUUID} from 'node:crypto'
import {newLaunchReport, type ProviderAdapter, runLaunchSequence} from '../launch-sequence.js'
import {CallRecorder} from '../recorder.js'
import {DEFAULT_PACE, type LaunchOptions, type LaunchReport, type Pace} from '../types.js'
import {Compute, type ComputeClients} from './client.js'
import {ensureFirewallRules} from './firewall.js'
import {findExisting, insertInstance, waitRunning} from './instances.js'
import {addReadyControlPlanes, checkEndpoint, ensureLoadBalancer} from './load-balancer.js'
import {metadataRedactor} from './metadata.js'
import {platformOf} from './platform.js'

export interface GcpLaunchOptions extends LaunchOptions {
  /**
   * Part of every requestId: GCE answers a requestId it has seen with that request's operation,
   * failed ones included, so retries within one run share it and a re-run (which finds existing
   * resources by name) gets fresh ones. @default a random UUID
   */
  runId?: string
}

export async function launchGcp(opts: GcpLaunchOptions, clients: ComputeClients): Promise<LaunchReport> {
  const {cluster} = opts
  const gcp = platformOf(cluster)
  const pace: Pace = {...DEFAULT_PACE, ...opts.pace}
  const report = newLaunchReport('gcp', cluster, opts.dryRun, gcp.endpoint, opts.warnings)
  const recorder = new CallRecorder(report.calls, metadataRedactor(opts.nodes))
  const api = new Compute(clients, recorder, pace, opts.dryRun)
  const runId = opts.runId ?? randomUUID()
  const adapter: ProviderAdapter<void> = {
    async prepare() {
      checkEndpoint(cluster)
      await ensureFirewallRules(api, cluster, runId, report)
      // The endpoint, before any instance.
      await ensureLoadBalancer(api, cluster, runId, report)
    },
    findExisting: (nodes) => findExisting(api, cluster, nodes),
    base: (n) => ({name: n.node.name, role: n.node.role, ip: n.node.ip, id: n.node.name}),
    create: (n) => insertInstance(api, cluster, n, opts.images.get(n.node.name)!, runId),
    waitRunning: (outcome) => waitRunning(api, cluster, outcome, pace, opts.onProgress),
    // Control planes into the backend: control plane 0 at once, the others when they report ready.
    register: (outcome) => addReadyControlPlanes(api, cluster, outcome, runId, report),
  }
  report.nodes = await runLaunchSequence(adapter, {...opts, recorder})
  return report
}
