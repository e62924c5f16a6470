/**
 * `nodegen launch gcp` / `destroy gcp` with the official client (@google-cloud/compute, REST
 * transport). The same shape as AWS: firewall rules per role → the endpoint (an internal passthrough
 * load balancer: address, regional HTTPS health check on /readyz, unmanaged instance groups,
 * regional backend service, forwarding rule) → the secrets hook → instances.insert per missing node
 * (fixed networkIP, labels, metadata `user-data`, a requestId derived from cluster and node) → wait
 * on each operation and for RUNNING → control planes into the load balancer's instance groups.
 *
 * Why the control planes join the backend one by one: on GCE every backend of an internal passthrough
 * load balancer answers the forwarding rule's address itself (the guest agent installs a local route
 * for it). A control plane that is a backend before its API server runs would wait for the endpoint
 * forever, talking to itself. So control plane 0 is a backend from the start, and each other control
 * plane becomes one once its serial console shows `nodegen: <node> control-plane ready`; a re-run of
 * launch adds those that became ready since.
 */

import {randomUUID} from 'node:crypto'
import {
  AddressesClient,
  FirewallsClient,
  ForwardingRulesClient,
  GlobalOperationsClient,
  InstanceGroupsClient,
  InstancesClient,
  RegionBackendServicesClient,
  RegionHealthChecksClient,
  RegionOperationsClient,
  ZoneOperationsClient,
} from '@google-cloud/compute'
import type {Cluster, ClusterNode, OsId, Role} from '../profile/index.js'
import {isIPv4} from '../profile/net.js'
import {boundedName, errorText, nodeSubnets, pool, requestId, rolePortTable} from './common.js'
import {newLaunchReport, type ProviderAdapter, runLaunchSequence} from './launch-sequence.js'
import {CallRecorder, type Redact, userDataRedaction} from './recorder.js'
import {
  DEFAULT_PACE,
  type DestroyReport,
  LaunchError,
  type LaunchNode,
  type LaunchReport,
  type NodeOutcome,
  type OnProgress,
  type Pace,
  type PrepareSecrets,
} from './types.js'

type GcpPlatform = NonNullable<Cluster['platform']['gcp']>

export const LABEL_CLUSTER = 'nodegen-cluster'
export const LABEL_NODE = 'nodegen-node'
export const LABEL_ROLE = 'nodegen-role'

/** gRPC status codes the REST transport maps HTTP errors to. */
const NOT_FOUND = 5
const ALREADY_EXISTS = 6
const ABORTED = 10
const RESOURCE_EXHAUSTED = 8
const UNAVAILABLE = 14

/** Google's health-check probers, which must reach the API server port (documented ranges). */
export const HEALTH_CHECK_RANGES = ['35.191.0.0/16', '130.211.0.0/22']

/**
 * The vendors' public image families on GCE, used when the profile names no image and the cluster
 * is not baked (a baked cluster must use the image `nodegen image build` made).
 */
export const PUBLIC_IMAGE_FAMILY: Readonly<Partial<Record<OsId, string>>> = Object.freeze({
  'almalinux-9': 'projects/almalinux-cloud/global/images/family/almalinux-9',
  'almalinux-10': 'projects/almalinux-cloud/global/images/family/almalinux-10',
  'rocky-9': 'projects/rocky-linux-cloud/global/images/family/rocky-linux-9',
  'centos-stream-9': 'projects/centos-cloud/global/images/family/centos-stream-9',
  'centos-stream-10': 'projects/centos-cloud/global/images/family/centos-stream-10',
  'debian-12': 'projects/debian-cloud/global/images/family/debian-12',
  'debian-13': 'projects/debian-cloud/global/images/family/debian-13',
  'ubuntu-24.04': 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
  flatcar: 'projects/kinvolk-public/global/images/family/flatcar-stable',
})

type Collection =
  | 'instances'
  | 'firewalls'
  | 'addresses'
  | 'regionHealthChecks'
  | 'regionBackendServices'
  | 'forwardingRules'
  | 'instanceGroups'
  | 'zoneOperations'
  | 'regionOperations'
  | 'globalOperations'

/** The Compute Engine clients launch uses. */
export type ComputeClients = Record<Collection, unknown>

/** Client options for tests: a local endpoint over plain HTTP and a fixed token. */
export interface ComputeClientOptions {
  apiEndpoint?: string
  port?: number
  protocol?: 'http' | 'https'
  authClient?: unknown
}

/**
 * Clients on the REST transport (`fallback`); credentials from Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, the metadata server); nodegen stores nothing.
 */
export function gcpClients(options: ComputeClientOptions = {}): ComputeClients {
  const o = {fallback: true, ...options} as ConstructorParameters<typeof InstancesClient>[0]
  return {
    instances: new InstancesClient(o),
    firewalls: new FirewallsClient(o),
    addresses: new AddressesClient(o),
    regionHealthChecks: new RegionHealthChecksClient(o),
    regionBackendServices: new RegionBackendServicesClient(o),
    forwardingRules: new ForwardingRulesClient(o),
    instanceGroups: new InstanceGroupsClient(o),
    zoneOperations: new ZoneOperationsClient(o),
    regionOperations: new RegionOperationsClient(o),
    globalOperations: new GlobalOperationsClient(o),
  }
}

export async function closeGcpClients(c: ComputeClients): Promise<void> {
  await Promise.all(Object.values(c).map((x) => (x as {close?: () => Promise<void>}).close?.()))
}

interface Operation {
  name?: string
  status?: string
  zone?: string
  region?: string
  error?: {errors?: Array<{code?: string; message?: string}>}
  httpErrorMessage?: string
}

/** Calls one method, records it (user-data redacted), and retries throttling and unavailability. */
class Compute {
  constructor(
    private readonly clients: ComputeClients,
    private readonly recorder: CallRecorder,
    private readonly pace: Pace,
    readonly dryRun: boolean,
  ) {}

  async call<T = Record<string, unknown>>(collection: Collection, method: string, request: object): Promise<T> {
    this.recorder.record(collection, method, request)
    if (this.dryRun) return dryRunAnswer(method, request) as T
    const client = this.clients[collection] as Record<string, (r: object) => Promise<unknown[]>>
    for (let attempt = 0; ; attempt++) {
      try {
        const [r] = await client[method]!.call(client, request)
        // Mutations resolve to {latestResponse: Operation, …}; reads to the resource.
        const x = r as {latestResponse?: unknown}
        return (x && typeof x === 'object' && 'latestResponse' in x ? x.latestResponse : r) as T
      } catch (e) {
        const code = statusOf(e)
        if ((code !== RESOURCE_EXHAUSTED && code !== UNAVAILABLE) || attempt >= 6) throw e
        // Mutations carry a requestId, so a retry after a lost answer changes nothing twice.
        await this.pace.sleep(this.pace.retryMs * 2 ** attempt)
      }
    }
  }

  /** A get that answers undefined for 404. */
  async find<T = Record<string, unknown>>(collection: Collection, request: object): Promise<T | undefined> {
    try {
      return await this.call<T>(collection, 'get', request)
    } catch (e) {
      if (statusOf(e) === NOT_FOUND) return undefined
      throw e
    }
  }

  /** Waits on an operation until DONE; throws its errors. */
  async wait(project: string, op: Operation): Promise<void> {
    let cur = op
    const deadline = Date.now() + this.pace.timeoutMs
    while (cur.status !== 'DONE') {
      if (Date.now() > deadline) throw new Error(`operation ${cur.name} still ${cur.status} after ${this.pace.timeoutMs / 1000} s`)
      const zone = cur.zone?.split('/').pop()
      const region = cur.region?.split('/').pop()
      const req = {project, operation: cur.name}
      cur = zone
        ? await this.call<Operation>('zoneOperations', 'wait', {...req, zone})
        : region
          ? await this.call<Operation>('regionOperations', 'wait', {...req, region})
          : await this.call<Operation>('globalOperations', 'wait', req)
    }
    const errs = cur.error?.errors ?? []
    if (errs.length > 0) throw Object.assign(new Error(errs.map((x) => `${x.code}: ${x.message}`).join('; ')), {code: errs[0]?.code})
  }

  /** Inserts and waits; an existing resource of that name counts as done. */
  async insert(collection: Collection, project: string, request: object): Promise<'created' | 'existing'> {
    try {
      await this.wait(project, await this.call<Operation>(collection, 'insert', request))
      return 'created'
    } catch (e) {
      if (alreadyExists(e)) return 'existing'
      throw e
    }
  }
}

/**
 * The gRPC status of an error: the REST transport gives GoogleError with a gRPC code, or (when the
 * auth client's fetch rejects a non-2xx answer first) a GaxiosError with the HTTP status.
 */
export function statusOf(e: unknown): number | undefined {
  const code = (e as {code?: unknown}).code
  if (typeof code !== 'number') return undefined
  if (code < 100) return code
  return (
    ({400: 3, 401: 16, 403: 7, 404: NOT_FOUND, 409: ABORTED, 429: RESOURCE_EXHAUSTED, 503: UNAVAILABLE, 504: 4} as Record<number, number>)[
      code
    ] ?? 2
  )
}

/** GCE answers HTTP 409 (ABORTED on the REST transport) with reason alreadyExists, or fails the operation. */
function alreadyExists(e: unknown): boolean {
  const {code, message} = e as {code?: number | string; message?: string}
  const status = statusOf(e)
  return status === ALREADY_EXISTS || code === 'RESOURCE_ALREADY_EXISTS' || (status === ABORTED && /already exists/i.test(message ?? ''))
}

function dryRunAnswer(method: string, request: object): unknown {
  if (method === 'get') throw Object.assign(new Error('dry run: nothing exists yet'), {code: NOT_FOUND})
  if (method === 'listInstances') return []
  if (method === 'getSerialPortOutput') return {contents: ''}
  const r = request as {zone?: string; region?: string}
  return {name: '<operation>', status: 'DONE', ...(r.zone ? {zone: r.zone} : {}), ...(r.region ? {region: r.region} : {})}
}

function platformOf(cluster: Cluster): GcpPlatform {
  const gcp = cluster.platform.gcp
  if (!gcp) throw new LaunchError('spec.platform.gcp is missing: launch gcp needs the project, zone and machine type')
  return gcp
}

export function regionOf(gcp: GcpPlatform): string {
  return gcp.region ?? gcp.zone.replace(/-[a-z]$/, '')
}

/** GCE resource names: lowercase RFC 1035, at most 63 characters. */
export function gceName(...parts: string[]): string {
  return boundedName(parts, 63)
}

export function networkTag(cluster: string, role: Role): string {
  return gceName('nodegen', cluster, role)
}

function networkUrl(gcp: GcpPlatform): string {
  return gcp.network.includes('/') ? gcp.network : `projects/${gcp.project}/global/networks/${gcp.network}`
}

function subnetworkUrl(gcp: GcpPlatform): string | undefined {
  if (!gcp.subnetwork) return undefined
  return gcp.subnetwork.includes('/') ? gcp.subnetwork : `projects/${gcp.project}/regions/${regionOf(gcp)}/subnetworks/${gcp.subnetwork}`
}

export function imageUrl(gcp: GcpPlatform, image: string): string {
  return image.includes('/') ? image : `projects/${gcp.project}/global/images/${image}`
}

function zoneOf(gcp: GcpPlatform, n: ClusterNode): string {
  return n.zone ?? gcp.zone
}

function labels(cluster: Cluster, extra: Record<string, string>): Record<string, string> {
  const all: Record<string, string> = {...platformOf(cluster).labels, [LABEL_CLUSTER]: cluster.name, ...extra}
  return Object.fromEntries(Object.keys(all).map((k) => [k, all[k] as string]))
}

/** The metadata items one node boots with: `user-data` for cloud-init and for Ignition alike. */
export function userDataItems(n: LaunchNode): Array<{key: string; value: string}> {
  const items = [{key: 'user-data', value: n.userData.toString('utf8')}]
  // cloud-init base64-decodes with this key (and then gunzips what it finds); Ignition reads
  // `user-data` verbatim and knows no such key.
  if (n.encoding === 'gzip+base64') items.push({key: 'user-data-encoding', value: 'base64'})
  return items
}

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

/** What the report shows of a Compute Engine request: a copy, with the `user-data` metadata item redacted. */
function metadataRedactor(nodes: LaunchNode[]): Redact {
  const userData = userDataRedaction(nodes, 'utf8', 'text')
  return (input) => {
    const copy = structuredClone(input) as {instanceResource?: {metadata?: {items?: Array<{key: string; value: string}>}}}
    for (const it of copy?.instanceResource?.metadata?.items ?? []) if (it.key === 'user-data') it.value = userData(it.value)
    return copy
  }
}

export interface GcpLaunchOptions {
  cluster: Cluster
  nodes: LaunchNode[]
  /** Each node's image name or URL, by node name: the profile's, the baked one, or the OS's public family. */
  images: Map<string, string>
  dryRun: boolean
  prepareSecrets?: PrepareSecrets
  onProgress?: OnProgress
  pace?: Partial<Pace>
  /** Concurrent inserts. @default 4 */
  concurrency?: number
  warnings?: string[]
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
  const project = gcp.project
  const adapter: ProviderAdapter<void> = {
    async prepare() {
      checkEndpoint(cluster)
      await ensureFirewallRules(api, cluster, runId, report)
      // The endpoint, before any instance.
      await ensureLoadBalancer(api, cluster, runId, report)
    },
    async findExisting(nodes) {
      const existing = await pool(nodes, opts.dryRun ? 1 : 8, (n) =>
        api.find<{name?: string; status?: string; labels?: Record<string, string>}>('instances', {
          project,
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
    },
    base: (n) => ({name: n.node.name, role: n.node.role, ip: n.node.ip, id: n.node.name}),
    async create(n) {
      if (n.node.format === 'ignition' && n.encoding !== 'raw')
        throw new Error(`Ignition reads user-data verbatim on GCE, and this config is ${n.encoding}`)
      const r = await api.insert('instances', project, instanceInsertRequest(cluster, n, opts.images.get(n.node.name)!, runId))
      return {status: opts.dryRun ? 'planned' : r === 'existing' ? 'existing' : 'created'}
    },
    waitRunning: (outcome) => waitRunning(api, cluster, outcome, pace, opts.onProgress),
    // Control planes into the backend: control plane 0 at once, the others when they report ready.
    register: (outcome) => addReadyControlPlanes(api, cluster, outcome, runId, report),
  }
  report.nodes = await runLaunchSequence(adapter, {
    cluster,
    nodes: opts.nodes,
    dryRun: opts.dryRun,
    prepareSecrets: opts.prepareSecrets,
    concurrency: opts.concurrency,
    recorder,
    onProgress: opts.onProgress,
  })
  return report
}

/** An internal passthrough load balancer takes an IPv4 address and does not translate ports. */
function checkEndpoint(cluster: Cluster): void {
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

/** The firewall rules, created or reused by name. */
async function ensureFirewallRules(api: Compute, cluster: Cluster, runId: string, report: LaunchReport): Promise<void> {
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

/** The load balancer's names: one for the address, health check, backend service and forwarding rule, one for the instance groups. */
function lbNames(cluster: Cluster): {lbName: string; groupName: string} {
  return {lbName: gceName(cluster.name, 'api'), groupName: gceName(cluster.name, 'control-planes')}
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
async function ensureLoadBalancer(api: Compute, cluster: Cluster, runId: string, report: LaunchReport): Promise<void> {
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

/** Polls the instances until RUNNING (a dry run does not wait: it ticks every node not failed). */
async function waitRunning(
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
 * Control planes into the load balancer's instance groups: control plane 0 at once, each other one
 * once its serial console shows it ready (see the header); the others are left for a re-run.
 */
async function addReadyControlPlanes(
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
  const lbName = gceName(cluster.name, 'api')
  const groupName = gceName(cluster.name, 'control-planes')
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
