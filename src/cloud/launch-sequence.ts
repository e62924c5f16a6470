/**
 * The order every cloud launches in, written once: the cloud's own preparation (network, firewall,
 * endpoint) → the instances that exist already → the secrets hook, which sees only the nodes still
 * to create → one create per missing node → wait until they run → register them behind the
 * endpoint. A cloud supplies the steps as a ProviderAdapter; this module keeps their order, how many
 * creates run at once, and what a failed create means: that node is reported failed, the others go
 * on, and a re-run finds what exists and creates only the rest.
 */
import type {Cluster} from '../profile/index.js'
import {errorText, pool} from './common.js'
import type {CallRecorder} from './recorder.js'
import type {EndpointOutcome, LaunchNode, LaunchReport, NodeOutcome, OnProgress, PrepareSecrets} from './types.js'

/**
 * One cloud's launch steps. `Ready` is what preparing gives the later steps (the security groups of
 * each role, a target group…). A step stops the launch by throwing (a LaunchError carries the report).
 */
export interface ProviderAdapter<Ready> {
  /** Everything instances need before the first one exists: network checks, firewall, the endpoint. */
  prepare(): Promise<Ready>
  /**
   * The outcomes of the nodes whose instance exists already, in node order: `existing`, or `failed`
   * when something else holds the node's name. The nodes not in the map are created.
   */
  findExisting(nodes: LaunchNode[]): Promise<Map<string, NodeOutcome>>
  /** What a node's outcome starts with: name, role, IP, and the id where the cloud knows it up front. */
  base(n: LaunchNode): Pick<NodeOutcome, 'name' | 'role' | 'ip' | 'id'>
  /** Creates one node's instance and says how it stands; throws when it could not. */
  create(n: LaunchNode, ready: Ready): Promise<Pick<NodeOutcome, 'status' | 'id' | 'state'>>
  /** Waits until the instances run, updating their outcomes; those that never do are marked failed. */
  waitRunning(outcome: Map<string, NodeOutcome>): Promise<void>
  /** Puts the control planes that are up behind the endpoint. */
  register(outcome: Map<string, NodeOutcome>, ready: Ready): Promise<void>
}

export interface LaunchSequenceOptions {
  cluster: Cluster
  nodes: LaunchNode[]
  dryRun: boolean
  prepareSecrets?: PrepareSecrets
  /** Creates at once; a dry run creates one at a time, so its list of calls has one order. @default 4 */
  concurrency?: number
  /** The report's recorder: the secrets hook's calls go in it too. */
  recorder: CallRecorder
  onProgress?: OnProgress
}

/** Runs the steps in order; answers every node's outcome, in node order. */
export async function runLaunchSequence<Ready>(adapter: ProviderAdapter<Ready>, opts: LaunchSequenceOptions): Promise<NodeOutcome[]> {
  const ready = await adapter.prepare()

  // What exists; the secrets hook sees only the nodes still to create.
  const outcome = await adapter.findExisting(opts.nodes)
  let todo = opts.nodes.filter((n) => !outcome.has(n.node.name))
  if (opts.prepareSecrets && todo.length > 0) {
    const changes = await opts.prepareSecrets({
      cluster: opts.cluster,
      nodes: todo,
      dryRun: opts.dryRun,
      record: (c) => opts.recorder.add(c),
    })
    todo = todo.map((n) => ({...n, ...changes.get(n.node.name)}))
  }

  // One create per missing node, each on its own.
  await pool(todo, opts.dryRun ? 1 : (opts.concurrency ?? 4), async (n) => {
    const base = adapter.base(n)
    try {
      outcome.set(n.node.name, {...base, ...(await adapter.create(n, ready))})
    } catch (e) {
      outcome.set(n.node.name, {...base, status: 'failed', error: errorText(e)})
      opts.onProgress?.(`${n.node.name} failed`)
    }
  })

  await adapter.waitRunning(outcome)
  await adapter.register(outcome, ready)
  return opts.nodes.map((n) => outcome.get(n.node.name)!)
}

/** An empty report of a launch on `platform`, before any call. */
export function newLaunchReport(
  platform: LaunchReport['platform'],
  cluster: Cluster,
  dryRun: boolean,
  endpointKind: EndpointOutcome['kind'],
  warnings: string[] = [],
): LaunchReport {
  return {
    platform,
    cluster: cluster.name,
    dryRun,
    calls: [],
    nodes: [],
    endpoint: {kind: endpointKind, host: cluster.endpoint.host, port: cluster.endpoint.port, resources: {}, notes: []},
    firewall: {},
    warnings: [...warnings],
    blockers: [],
  }
}
