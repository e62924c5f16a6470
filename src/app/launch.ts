/**
 * The launch and destroy use cases: profile + state → every node's user-data from the render
 * pipeline (byte for byte what `nodegen render` writes) → the secret policy → the cloud module.
 */
import {createHash} from 'node:crypto'
import {type AwsClients, awsClients, dryRunClients} from '../cloud/aws/client.js'
import {destroyAws} from '../cloud/aws/destroy.js'
import {launchAws} from '../cloud/aws/launch.js'
import {type ComputeClients, closeGcpClients, gcpClients} from '../cloud/gcp/client.js'
import {destroyGcp} from '../cloud/gcp/destroy.js'
import {launchGcp} from '../cloud/gcp/launch.js'
import {imageFor, readImageRecords} from '../cloud/images.js'
import {
  type CloudSecretClients,
  defaultAwsSecretClients,
  defaultGcpSecretClients,
  destroyCloudSecrets,
  prepareCloudSecrets,
  type SecretCall,
} from '../cloud/secrets/index.js'
import {
  type ApiCall,
  type DestroyReport,
  LaunchError,
  type LaunchNode,
  type LaunchReport,
  type NodeIdentity,
  type OnProgress,
  type Pace,
  type PrepareSecrets,
} from '../cloud/types.js'
import {isBudgetProblem} from '../emit/budget.js'
import type {ClusterMaterial} from '../plan/build.js'
import {type SecretBundle, secretBackendOf} from '../plan/secrets/index.js'
import type {Cluster} from '../profile/index.js'
import type {Progress} from './progress.js'
import {readCniManifest, renderNode} from './render.js'

export type CloudPlatform = 'aws' | 'gcp'

export interface LaunchOptions {
  platform: CloudPlatform
  cluster: Cluster
  profilePath: string
  stateDir: string
  material: ClusterMaterial
  dryRun: boolean
  /** `--insecure-inline-secrets`: CA keys travel in user-data (instance metadata). */
  insecureInlineSecrets: boolean
  progress?: Progress
  /** The secret backend's hook; without it only inline secrets can be launched. */
  prepareSecrets?: PrepareSecrets
  /** The secret backend's clients (tests point them at local endpoints). Default: the SDKs' own chains. */
  secretClients?: CloudSecretClients
  /** Per-node identities known before launch (an instance profile or service account per node). */
  identities?: Map<string, NodeIdentity>
  /** Tests inject clients pointed at local endpoints. */
  clients?: AwsClients | ComputeClients
  pace?: Partial<Pace>
  /** Called with each warning as soon as it is known, before anything is created. */
  warn?: (message: string) => void
  /** GCE requestIds' per-run part (tests fix it). */
  runId?: string
}

/** Every node's user-data, exactly as `render` produces it (size budget and encoding included). */
export function launchNodes(
  cluster: Cluster,
  profilePath: string,
  material: ClusterMaterial,
  bundles: Map<string, SecretBundle> = new Map(),
): LaunchNode[] {
  const cni = readCniManifest(cluster, profilePath)
  const problems: string[] = []
  const out: LaunchNode[] = []
  for (const node of cluster.nodes) {
    // Cloud-init and Ignition alike: the fitted bytes render writes (Ignition's own budget wrapper included).
    const {fitted, bundle} = renderNode(cluster, node, material, cni)
    if (bundle) bundles.set(node.name, bundle)
    if (isBudgetProblem(fitted)) {
      problems.push(
        `node ${node.name}: user-data is ${fitted.size} bytes after compression, over the ${cluster.platform.type} limit of ${fitted.budget}; largest parts: ${fitted.largest.map((l) => `${l.path} (${l.bytes} B)`).join(', ')}`,
      )
      continue
    }
    const data = fitted.data
    const encoding = fitted.encoding as LaunchNode['encoding']
    out.push({node, userData: data, encoding, digest: createHash('sha256').update(data).digest('hex')})
  }
  if (problems.length > 0) throw new LaunchError(problems.join('\n'))
  return out
}

/**
 * Whether the CA keys may go in user-data. Only control planes and external etcd members carry
 * keys. Until a secret backend is wired in, the only way is inline, and only when asked for.
 */
export function secretPolicy(cluster: Cluster, platform: CloudPlatform, insecure: boolean): {warnings: string[]; blockers: string[]} {
  const withKeys = cluster.nodes.filter((n) => n.role !== 'worker').map((n) => n.name)
  if (withKeys.length === 0) return {warnings: [], blockers: []}
  const backend = (platform === 'aws' ? cluster.platform.aws?.secretBackend : cluster.platform.gcp?.secretBackend) ?? 'inline'
  const field = `spec.platform.${platform}.secretBackend`
  // A secret backend keeps the keys out of user-data: launch stores them (secretBackendHook).
  if (backend !== 'inline') return {warnings: [], blockers: []}
  if (!insecure)
    return {
      warnings: [],
      blockers: [
        `${field} is inline: the CA private keys of ${withKeys.join(', ')} would be in instance metadata. Pass --insecure-inline-secrets to accept that.`,
      ],
    }
  const reader =
    platform === 'aws'
      ? 'IMDSv2 with a hop limit of 1 keeps pods out, but any process on the node, and anyone allowed ec2:DescribeInstanceAttribute, can read them'
      : 'anything on the node or in a pod that reaches the metadata server (169.254.169.254; block it with a network policy), and anyone allowed compute.instances.get, can read them'
  return {
    warnings: [
      `--insecure-inline-secrets: the CA private keys of ${withKeys.join(', ')} are in instance metadata for the life of the instances; ${reader}`,
    ],
    blockers: [],
  }
}

export type {DestroyReport, LaunchReport} from '../cloud/types.js'

export async function launch(opts: LaunchOptions): Promise<LaunchReport> {
  const {cluster, platform} = opts
  if (cluster.platform.type !== platform)
    throw new LaunchError(`spec.platform.type is ${cluster.platform.type}: \`launch ${platform}\` needs a profile for ${platform}`)
  const bundles = new Map<string, SecretBundle>()
  const prepareSecrets =
    opts.prepareSecrets ??
    (secretBackendOf(cluster) ? secretBackendHook(bundles, () => opts.secretClients ?? defaultSecretClients(cluster)) : undefined)
  const policy = secretPolicy(cluster, platform, opts.insecureInlineSecrets)
  const blockers = [...policy.blockers]
  if (!opts.dryRun || blockers.length === 0) for (const w of policy.warnings) opts.warn?.(w)
  const records = readImageRecords(opts.stateDir)
  const images = new Map<string, string>()
  for (const n of cluster.nodes) {
    const c = imageFor(cluster, n, records)
    if ('problem' in c) {
      if (!blockers.includes(c.problem)) blockers.push(c.problem)
    } else images.set(n.name, c.image)
  }
  if (blockers.length > 0 && !opts.dryRun) throw new LaunchError(blockers.join('\n'))
  for (const n of cluster.nodes) if (!images.has(n.name)) images.set(n.name, `<no image: see blockers>`)
  const nodes = launchNodes(cluster, opts.profilePath, opts.material, bundles).map((n) => {
    const identity = opts.identities?.get(n.node.name)
    return identity ? {...n, identity} : n
  })
  const common = {
    cluster,
    nodes,
    images,
    dryRun: opts.dryRun,
    warnings: policy.warnings,
    ...(prepareSecrets ? {prepareSecrets} : {}),
    ...(opts.progress ? {onProgress: ticker(opts.progress)} : {}),
    ...(opts.pace ? {pace: opts.pace} : {}),
  }
  let report: LaunchReport
  if (platform === 'aws') {
    const clients = opts.dryRun ? dryRunClients(cluster) : ((opts.clients as AwsClients) ?? awsClients(cluster.platform.aws!.region))
    report = await launchAws(common, clients)
  } else {
    // A dry run sends nothing: no client is made, so no credentials are looked up.
    const own = !opts.dryRun && !opts.clients
    const clients = opts.dryRun ? ({} as ComputeClients) : ((opts.clients as ComputeClients) ?? gcpClients())
    try {
      report = await launchGcp({...common, ...(opts.runId ? {runId: opts.runId} : {})}, clients)
    } finally {
      if (own) await closeGcpClients(clients)
    }
  }
  report.blockers = blockers
  return report
}

export interface DestroyOptions {
  platform: CloudPlatform
  cluster: Cluster
  dryRun: boolean
  secretClients?: CloudSecretClients
  progress?: Progress
  clients?: AwsClients | ComputeClients
  pace?: Partial<Pace>
}

export async function destroy(opts: DestroyOptions): Promise<DestroyReport> {
  const {cluster, platform} = opts
  if (cluster.platform.type !== platform)
    throw new LaunchError(`spec.platform.type is ${cluster.platform.type}: \`destroy ${platform}\` needs a profile for ${platform}`)
  const common = {
    cluster,
    dryRun: opts.dryRun,
    ...(opts.progress ? {onProgress: ticker(opts.progress)} : {}),
    ...(opts.pace ? {pace: opts.pace} : {}),
  }
  let report: DestroyReport
  if (platform === 'aws') report = await destroyAws(common, (opts.clients as AwsClients) ?? awsClients(cluster.platform.aws!.region))
  else {
    const own = !opts.clients
    const clients = (opts.clients as ComputeClients) ?? gcpClients()
    try {
      report = await destroyGcp(common, clients)
    } finally {
      if (own) await closeGcpClients(clients)
    }
  }
  // The instances are gone (or listed for deletion): then their secrets and identities.
  if (secretBackendOf(cluster)) {
    const clients = opts.secretClients ?? (opts.dryRun ? DRY_RUN_SECRET_CLIENTS : defaultSecretClients(cluster))
    await destroyCloudSecrets(cluster, clients, {dryRun: opts.dryRun, onCall: (c) => report.calls.push(apiCall(c))})
  }
  return report
}

/** The cloud code's progress callback, drawn on the command's progress bar. */
function ticker(progress: Progress): OnProgress {
  return (label) => progress.tick(label)
}

/** A dry run sends nothing: the secret backends never touch their clients then. */
const DRY_RUN_SECRET_CLIENTS: CloudSecretClients = {aws: {} as never, gcp: {} as never}

/** A secret backend's call in the launch report's shape (a target name, never a value). */
function apiCall(c: SecretCall): ApiCall {
  return {service: c.service, operation: c.action, input: {target: c.target}}
}

/** The secret backend's SDK clients with their default credential chains, for the profile's cloud. */
function defaultSecretClients(cluster: Cluster): CloudSecretClients {
  return cluster.platform.type === 'gcp' ? {gcp: defaultGcpSecretClients()} : {aws: defaultAwsSecretClients(cluster.platform.aws!.region)}
}

/**
 * The launch step of the secret backends: before any instance exists, store the bundles of the nodes
 * about to be created and give each its identity (an instance profile on EC2, a service account with
 * the cloud-platform scope on GCE). A dry run lists the calls and sends none.
 */
export function secretBackendHook(bundles: Map<string, SecretBundle>, clients: () => CloudSecretClients): PrepareSecrets {
  return async ({cluster, nodes, dryRun, record}) => {
    const todo = nodes.map((n) => bundles.get(n.node.name)).filter((b): b is SecretBundle => b !== undefined)
    const r = await prepareCloudSecrets(cluster, todo, dryRun ? DRY_RUN_SECRET_CLIENTS : clients(), {
      dryRun,
      onCall: (c) => record(apiCall(c)),
    })
    const changes = new Map<string, {identity: NodeIdentity}>()
    for (const [node, id] of Object.entries(r.perNode)) {
      if (id.instanceProfileName) changes.set(node, {identity: {aws: {iamInstanceProfile: {Name: id.instanceProfileName}}}})
      else if (id.serviceAccountEmail)
        changes.set(node, {
          identity: {gcp: {serviceAccount: {email: id.serviceAccountEmail, scopes: ['https://www.googleapis.com/auth/cloud-platform']}}},
        })
    }
    return changes
  }
}

/** The human summary of a launch: one line per node, then the endpoint, notes and what is left. */
export function formatLaunchReport(r: LaunchReport): string[] {
  const lines: string[] = []
  if (r.dryRun) {
    lines.push(`dry run: ${r.calls.length} API call(s) a first launch of ${r.cluster} on ${r.platform} makes:`)
    for (const c of r.calls) lines.push(`  ${c.service} ${c.operation} ${JSON.stringify(c.input)}`)
  }
  for (const n of r.nodes)
    lines.push(
      `  ${n.name.padEnd(24)} ${n.role.padEnd(14)} ${n.ip.padEnd(15)} ${n.status.padEnd(8)} ${n.id ?? ''}${n.state ? ` ${n.state}` : ''}${n.error ? `  ${n.error}` : ''}`,
    )
  const ep = r.endpoint
  lines.push(`endpoint ${ep.host}:${ep.port} (${ep.kind})${ep.dnsName ? ` -> ${ep.dnsName}` : ''}`)
  for (const note of ep.notes) lines.push(`  note: ${note}`)
  for (const b of r.blockers) lines.push(`blocker: ${b}`)
  const failed = r.nodes.filter((n) => n.status === 'failed')
  if (failed.length > 0) {
    const exist = r.nodes.filter((n) => n.status === 'created' || n.status === 'existing').map((n) => n.name)
    lines.push(
      `${failed.length} node(s) not launched: ${failed.map((n) => n.name).join(', ')}; running: ${exist.join(', ') || 'none'}. Run the same command again to launch the rest (existing nodes are kept).`,
    )
  }
  return lines
}
