/**
 * A local stand-in for the Compute Engine REST API (v1 JSON), on 127.0.0.1 only, for the real
 * @google-cloud/compute clients on their REST transport. Mutations answer with an operation that is
 * RUNNING until waited on; requestId is honoured like GCE does; 409 for an existing name; throttling
 * (429) and failed operations are injected on demand; every request is recorded.
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {OAuth2Client} from 'google-auth-library'
import {type ComputeClients, gcpClients} from '../../src/cloud/gcp/client.js'

export interface GcpRequest {
  method: string
  path: string
  query: URLSearchParams
  body: Record<string, unknown> | undefined
  authorization: string
}

interface Op {
  id: string
  name: string
  status: 'RUNNING' | 'DONE'
  zone?: string
  region?: string
  targetLink: string
  operationType: string
  error?: {errors: Array<{code: string; message: string}>}
  /** Applied when the operation is done. */
  apply: () => void
}

const BASE = 'https://www.googleapis.com/compute/v1'

export class FakeGcp {
  readonly requests: GcpRequest[] = []
  /** Resources by their path under /compute/v1 (projects/p/zones/z/instances/n …). */
  readonly resources = new Map<string, Record<string, unknown>>()
  readonly members = new Map<string, Set<string>>()
  readonly serial = new Map<string, string>()
  /** "METHOD collection" (like `POST instances`) → how many next calls answer 429. */
  readonly throttle = new Map<string, number>()
  /** Instance name → an error its insert operation ends with (once). */
  readonly failInsert = new Map<string, string>()
  private readonly ops = new Map<string, Op>()
  private readonly byRequestId = new Map<string, Op>()
  private server?: http.Server
  private seq = 0
  port = 0

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => this.answer(req, body, res))
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    this.port = (this.server.address() as AddressInfo).port
    return this.port
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise<void>((r) => this.server?.close(() => r()))
  }

  /** Real clients over HTTP/1 REST to this server, with a fixed bearer token instead of ADC. */
  clients(): ComputeClients {
    const auth = new OAuth2Client()
    auth.setCredentials({access_token: 'nodegen-test-token', expiry_date: Date.now() + 3_600_000})
    return gcpClients({apiEndpoint: '127.0.0.1', port: this.port, protocol: 'http', authClient: auth})
  }

  calls(method: string, pattern: RegExp): GcpRequest[] {
    return this.requests.filter((r) => r.method === method && pattern.test(r.path))
  }

  private send(res: http.ServerResponse, status: number, body: unknown): true {
    res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body))
    return true
  }

  private error(res: http.ServerResponse, code: number, reason: string, message: string): true {
    return this.send(res, code, {error: {code, message, errors: [{domain: 'global', reason, message}]}})
  }

  private opJson(op: Op) {
    const {apply: _apply, ...rest} = op
    return {
      kind: 'compute#operation',
      ...rest,
      ...(op.zone ? {zone: `${BASE}/${op.zone}`} : {}),
      ...(op.region ? {region: `${BASE}/${op.region}`} : {}),
    }
  }

  private newOp(scope: string, target: string, type: string, apply: () => void, requestId: string | null): Op {
    if (requestId) {
      const seen = this.byRequestId.get(requestId)
      if (seen) return seen
    }
    const id = String(++this.seq)
    const op: Op = {id, name: `operation-${id}`, status: 'RUNNING', targetLink: `${BASE}/${target}`, operationType: type, apply}
    const parts = scope.split('/')
    if (parts[2] === 'zones') op.zone = parts.slice(0, 4).join('/')
    if (parts[2] === 'regions') op.region = parts.slice(0, 4).join('/')
    this.ops.set(`${parts.slice(0, 4).join('/')}/${op.name}`, op)
    if (requestId) this.byRequestId.set(requestId, op)
    return op
  }

  private answer(req: http.IncomingMessage, raw: string, res: http.ServerResponse): true {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined
    const method = req.method ?? 'GET'
    this.requests.push({method, path: url.pathname, query: url.searchParams, body, authorization: String(req.headers.authorization ?? '')})
    const m = /^\/compute\/v1\/(projects\/[^/]+(?:\/(?:zones|regions)\/[^/]+|\/global))\/([A-Za-z]+)(?:\/([^/]+))?(?:\/([A-Za-z]+))?$/.exec(
      url.pathname,
    )
    if (!m) return this.error(res, 404, 'notFound', `no route ${url.pathname}`)
    const [, scope, collection, name, verb] = m as unknown as [string, string, string, string | undefined, string | undefined]
    const key = `${method} ${collection}`
    const left = this.throttle.get(key) ?? 0
    if (left > 0) {
      this.throttle.set(key, left - 1)
      return this.error(res, 429, 'rateLimitExceeded', 'Rate Limit Exceeded')
    }
    const requestId = url.searchParams.get('requestId')
    if (collection === 'operations' && name && verb === 'wait') {
      const op = this.ops.get(`${scope}/${name}`)
      if (!op) return this.error(res, 404, 'notFound', `operation ${name} not found`)
      if (op.status !== 'DONE') {
        op.status = 'DONE'
        if (!op.error) op.apply()
      }
      return this.send(res, 200, this.opJson(op))
    }
    const path = `${scope}/${collection}/${name ?? ''}`.replace(/\/$/, '')
    if (method === 'GET' && name && !verb) {
      const r = this.resources.get(path)
      if (!r) return this.error(res, 404, 'notFound', `The resource '${path}' was not found`)
      // An instance is PROVISIONING on its first look, then RUNNING.
      if (collection === 'instances' && r.status !== 'RUNNING') {
        const out = {...r}
        r.status = 'RUNNING'
        return this.send(res, 200, out)
      }
      return this.send(res, 200, r)
    }
    if (method === 'GET' && verb === 'serialPort')
      return this.send(res, 200, {contents: this.serial.get(name ?? '') ?? '', start: '0', next: '0'})
    if (method === 'POST' && !name) {
      const resourceName = String(body?.name)
      const target = `${path}/${resourceName}`
      const seen = requestId ? this.byRequestId.get(requestId) : undefined
      if (!seen && this.resources.has(target)) return this.error(res, 409, 'alreadyExists', `The resource '${target}' already exists`)
      const op = this.newOp(
        scope,
        target,
        'insert',
        () => {
          this.resources.set(target, {
            ...body,
            selfLink: `${BASE}/${target}`,
            ...(collection === 'instances' ? {status: 'PROVISIONING'} : {}),
          })
        },
        requestId,
      )
      const fail = collection === 'instances' ? this.failInsert.get(resourceName) : undefined
      if (fail && !seen) {
        this.failInsert.delete(resourceName)
        op.error = {
          errors: [{code: fail, message: `The zone does not have enough resources available to fulfill the request for ${resourceName}.`}],
        }
      }
      return this.send(res, 200, this.opJson(op))
    }
    if (method === 'DELETE' && name) {
      if (!this.resources.has(path)) return this.error(res, 404, 'notFound', `The resource '${path}' was not found`)
      const op = this.newOp(scope, path, 'delete', () => this.resources.delete(path), requestId)
      return this.send(res, 200, this.opJson(op))
    }
    if (method === 'POST' && collection === 'instanceGroups' && verb === 'addInstances') {
      const add = ((body?.instances as Array<{instance: string}>) ?? []).map((i) => i.instance.split('/').pop()!)
      const op = this.newOp(
        scope,
        path,
        'addInstances',
        () => {
          const set = this.members.get(path) ?? new Set()
          for (const a of add) set.add(a)
          this.members.set(path, set)
        },
        requestId,
      )
      return this.send(res, 200, this.opJson(op))
    }
    if (method === 'POST' && collection === 'instanceGroups' && verb === 'listInstances') {
      const items = [...(this.members.get(path) ?? [])].map((n) => ({instance: `${BASE}/${scope}/instances/${n}`, status: 'RUNNING'}))
      return this.send(res, 200, {kind: 'compute#instanceGroupsListInstances', items})
    }
    return this.error(res, 400, 'invalid', `the fake does not know ${method} ${url.pathname}`)
  }
}
