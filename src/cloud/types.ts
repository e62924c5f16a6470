/**
 * What `launch` and `destroy` share across clouds: the nodes to launch with the user-data the render
 * pipeline produced, the per-node identity a secret backend may attach, the hook that prepares
 * secrets before any instance exists, and the report (which API calls were made, which nodes exist).
 */
import type {UserDataEncoding} from '../emit/budget.js'
import {UserError} from '../errors.js'
import type {Cluster, ClusterNode} from '../profile/index.js'

/** One API call as nodegen made it (or, in a dry run, would make it); user-data is redacted. */
export interface ApiCall {
  /** `ec2`, `elbv2`, or a Compute Engine collection such as `instances` or `firewalls`. */
  service: string
  operation: string
  input: unknown
}

/**
 * The cloud identity one node runs as, so a secret backend can grant exactly that node read access to
 * its secrets: an IAM instance profile on EC2, a service account on GCE.
 */
export interface NodeIdentity {
  aws?: {iamInstanceProfile: {Arn?: string; Name?: string}}
  gcp?: {serviceAccount: {email: string; scopes: string[]}}
}

/** One node to launch: the bytes `nodegen render` writes as its user-data, and how they are encoded. */
export interface LaunchNode {
  node: ClusterNode
  userData: Buffer
  encoding: UserDataEncoding
  /** sha256 of userData, hex: the dry run shows it instead of the content. */
  digest: string
  identity?: NodeIdentity
}

/**
 * Runs after the network and endpoint are in place and before any instance is created, with only the
 * nodes that do not exist yet. A secret backend stores each node's secrets, creates its identity, and
 * returns what changes for that node (its identity, user-data without the keys).
 */
export type PrepareSecrets = (ctx: {
  cluster: Cluster
  nodes: LaunchNode[]
  dryRun: boolean
  record: (call: ApiCall) => void
}) => Promise<Map<string, Partial<Pick<LaunchNode, 'identity' | 'userData' | 'encoding' | 'digest'>>>>

export type NodeStatus = 'created' | 'existing' | 'failed' | 'planned'

export interface NodeOutcome {
  name: string
  role: string
  ip: string
  status: NodeStatus
  /** Instance id (EC2) or instance name (GCE). */
  id?: string
  /** The instance's state when nodegen last looked (running, pending, RUNNING…). */
  state?: string
  error?: string
}

export interface EndpointOutcome {
  kind: 'nlb' | 'dns' | 'internal-lb' | 'address'
  host: string
  port: number
  /** The load balancer's own DNS name (NLB), when nodegen made one. */
  dnsName?: string
  /** Resources nodegen made or found for the endpoint, by kind. */
  resources: Record<string, string>
  /** What the operator still has to do, if anything (a DNS record, a re-run). */
  notes: string[]
}

export interface LaunchReport {
  platform: 'aws' | 'gcp'
  cluster: string
  dryRun: boolean
  calls: ApiCall[]
  nodes: NodeOutcome[]
  endpoint: EndpointOutcome
  /** Security groups (EC2) or firewall rules (GCE) used, by name. */
  firewall: Record<string, string>
  warnings: string[]
  /** Why the launch cannot go ahead as it is (a dry run reports these instead of failing). */
  blockers: string[]
}

export interface DestroyReport {
  platform: 'aws' | 'gcp'
  cluster: string
  dryRun: boolean
  calls: ApiCall[]
  deleted: Array<{kind: string; id: string}>
  failed: Array<{kind: string; id: string; error: string}>
}

/** Something that stops a launch before it creates anything; the message names the field or flag. */
export class LaunchError extends UserError {
  constructor(
    message: string,
    readonly report?: LaunchReport | DestroyReport,
  ) {
    super(message)
    this.name = 'LaunchError'
  }
}

/**
 * How the cloud code reports progress: one call per step done (a node running, failed or deleted),
 * with a short label. The caller decides what to show; the cloud code knows nothing of terminals.
 */
export type OnProgress = (label: string) => void

/** Timing of polls and retries: real defaults, tests pass milliseconds. */
export interface Pace {
  /** @default 5000 */
  pollMs: number
  /** How long to wait for instances (and operations) before giving up. @default 900000 */
  timeoutMs: number
  /** First delay of a retry after throttling (doubles each time). @default 1000 */
  retryMs: number
  sleep: (ms: number) => Promise<void>
}

export const DEFAULT_PACE: Pace = {
  pollMs: 5000,
  timeoutMs: 15 * 60_000,
  retryMs: 1000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
}

/** What `nodegen launch` gives either cloud. */
export interface LaunchOptions {
  cluster: Cluster
  nodes: LaunchNode[]
  /**
   * Each node's image, by node name: the profile's, the one `nodegen image build` recorded, or (on
   * GCE) the OS's public family. An AMI ID on AWS, an image name or URL on GCE.
   */
  images: Map<string, string>
  dryRun: boolean
  prepareSecrets?: PrepareSecrets
  onProgress?: OnProgress
  pace?: Partial<Pace>
  /** Concurrent instance creations. @default 4 */
  concurrency?: number
  warnings?: string[]
}
