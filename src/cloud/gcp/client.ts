/**
 * The Compute Engine clients (@google-cloud/compute, REST transport) and Compute, the one way
 * launch and destroy call them: every call recorded (user-data redacted), throttling retried,
 * operations waited on, an existing resource counted as done. A dry run sends nothing: Compute
 * answers as if nothing existed yet, so the calls it lists are the calls a first launch makes.
 */
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
import type {CallRecorder} from '../recorder.js'
import type {Pace} from '../types.js'

/** gRPC status codes the REST transport maps HTTP errors to. */
export const NOT_FOUND = 5
const ALREADY_EXISTS = 6
const ABORTED = 10
const RESOURCE_EXHAUSTED = 8
const UNAVAILABLE = 14

export type Collection =
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

export interface Operation {
  name?: string
  status?: string
  zone?: string
  region?: string
  error?: {errors?: Array<{code?: string; message?: string}>}
  httpErrorMessage?: string
}

/** Calls one method, records it (user-data redacted), and retries throttling and unavailability. */
export class Compute {
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
