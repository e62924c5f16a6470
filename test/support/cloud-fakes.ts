/**
 * Local stand-ins for the cloud APIs the secret backends use, speaking their wire protocols on
 * 127.0.0.1 only: Secrets Manager and SSM (JSON 1.1 with X-Amz-Target, SigV4-signed: every request
 * is verified by test/support/sigv4.ts and re-signed with the SDK's signer), IAM (the Query
 * protocol with XML responses), the EC2 instance metadata service (IMDSv2 tokens), Secret Manager
 * REST (v1, as the client's `fallback` REST transport sends it), the IAM REST API's service
 * accounts and the GCE metadata server. They keep state, enforce the roles' and secrets' policies
 * (a node reads only what its identity is granted) and record every call without secret values.
 */
import {createHash, randomBytes} from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import {type Credentials, type SignedRequest, smithySignature, verifySigV4} from './sigv4.js'

export const ACCOUNT = '123456789012'

export interface Tls {
  cert: string
  key: string
}

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return (server.address() as AddressInfo).port
}

async function closeAll(servers: Array<http.Server | https.Server>): Promise<void> {
  for (const s of servers) s.closeAllConnections()
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => resolve(Buffer.concat(parts)))
    req.on('error', reject)
  })
}

interface Call {
  service: string
  action: string
  principal: string
  target: string
}

// ---------------------------------------------------------------------------------------------
// AWS
// ---------------------------------------------------------------------------------------------

interface Statement {
  Effect: string
  Action: string | string[]
  Resource: string | string[]
}

export class FakeAws {
  readonly secrets = new Map<string, {arn: string; value: string; tags: Record<string, string>; description?: string}>()
  readonly parameters = new Map<string, {arn: string; value: string; type: string; tier: string; tags: Record<string, string>}>()
  readonly roles = new Map<string, {path: string; trust: string; policies: Map<string, string>; tags: Record<string, string>}>()
  readonly instanceProfiles = new Map<string, {roles: string[]; tags: Record<string, string>}>()
  readonly calls: Call[] = []
  /** Every signature check: the verifier written from the docs and the SDK's signer must agree. */
  readonly signatures: Array<{ok: boolean; smithyAgrees: boolean; reason?: string}> = []
  /** Make DeleteSecret / DeleteParameter fail (AccessDenied) for everyone. */
  refuseDelete = false
  /** Return this SecretString / Value instead of the stored one (a tampered or stale bundle). */
  corruptValue?: string
  private readonly keys = new Map<string, Credentials & {principal: string}>()
  private servers: Array<http.Server | https.Server> = []
  httpUrl = ''
  httpsUrl = ''
  region = 'eu-west-1'

  constructor(private readonly tls?: Tls) {}

  /** Credentials of the operator running `launch`: allowed everything. */
  operator(): Credentials {
    return this.addKey('operator')
  }

  /** Temporary credentials of a role, as the instance metadata service hands them out. */
  roleCredentials(role: string): Credentials {
    return this.addKey(`role:${role}`, true)
  }

  private addKey(principal: string, session = false): Credentials {
    const c = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      ...(session ? {sessionToken: randomBytes(48).toString('base64')} : {}),
    }
    this.keys.set(c.accessKeyId, {...c, principal})
    return c
  }

  async start(): Promise<this> {
    const h = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e) => res.writeHead(500).end(String(e)))
    }
    const plain = http.createServer(h)
    this.servers.push(plain)
    this.httpUrl = `http://127.0.0.1:${await listen(plain)}`
    if (this.tls) {
      const secure = https.createServer({cert: this.tls.cert, key: this.tls.key}, h)
      this.servers.push(secure)
      this.httpsUrl = `https://127.0.0.1:${await listen(secure)}`
    }
    return this
  }

  close(): Promise<void> {
    return closeAll(this.servers)
  }

  private allowed(principal: string, action: string, arn: string): boolean {
    if (principal === 'operator') return true
    const role = this.roles.get(principal.slice('role:'.length))
    if (!role) return false
    for (const doc of role.policies.values()) {
      const p = JSON.parse(doc) as {Statement: Statement[]}
      for (const s of p.Statement) {
        const actions = ([] as string[]).concat(s.Action)
        const resources = ([] as string[]).concat(s.Resource)
        if (s.Effect === 'Allow' && actions.includes(action) && resources.includes(arn)) return true
      }
    }
    return false
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const body = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://x')
    const signed: SignedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search.slice(1),
      headers: req.headers as SignedRequest['headers'],
      body,
    }
    const verdict = verifySigV4(signed, (k) => this.keys.get(k))
    let smithyAgrees = false
    if (verdict.ok) {
      const creds = this.keys.get(verdict.accessKeyId) as Credentials
      const sig = /Signature=([0-9a-f]{64})/.exec(String(req.headers.authorization))?.[1]
      smithyAgrees = (await smithySignature(signed, creds, String(req.headers.host))) === sig
    }
    this.signatures.push({ok: verdict.ok, smithyAgrees, ...(verdict.ok ? {} : {reason: verdict.reason})})
    const target = String(req.headers['x-amz-target'] ?? '')
    const isQuery = !target && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
    if (!verdict.ok || !smithyAgrees) {
      const reason = verdict.ok ? 'the SDK signer computes another signature' : verdict.reason
      if (isQuery) return this.iamError(res, 403, 'SignatureDoesNotMatch', reason)
      return this.jsonError(res, 400, 'InvalidSignatureException', reason)
    }
    const principal = (this.keys.get(verdict.accessKeyId) as {principal: string}).principal
    if (isQuery) return this.iam(res, principal, new URLSearchParams(body.toString('utf8')))
    const input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>
    const [prefix, action] = target.split('.')
    if (prefix === 'secretsmanager') return this.secretsManager(res, principal, action ?? '', input)
    if (prefix === 'AmazonSSM') return this.ssm(res, principal, action ?? '', input)
    return this.jsonError(res, 400, 'UnknownOperationException', target)
  }

  private json(res: http.ServerResponse, value: unknown): void {
    res.writeHead(200, {'content-type': 'application/x-amz-json-1.1'}).end(JSON.stringify(value))
  }

  private jsonError(res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, {'content-type': 'application/x-amz-json-1.1'}).end(JSON.stringify({__type: type, message}))
  }

  private findSecret(id: unknown) {
    for (const [name, s] of this.secrets) if (name === id || s.arn === id) return {name, ...s}
    return undefined
  }

  private secretsManager(res: http.ServerResponse, principal: string, action: string, input: Record<string, unknown>): unknown {
    const id = (input.SecretId ?? input.Name) as string
    this.calls.push({service: 'secretsmanager', action, principal, target: String(id ?? '')})
    const tagsOf = (t: unknown) => Object.fromEntries(((t as Array<{Key: string; Value: string}>) ?? []).map((x) => [x.Key, x.Value]))
    switch (action) {
      case 'CreateSecret': {
        if (this.secrets.has(id)) return this.jsonError(res, 400, 'ResourceExistsException', `${id} exists`)
        const arn = `arn:aws:secretsmanager:${this.region}:${ACCOUNT}:secret:${id}-${randomBytes(3).toString('hex')}`
        this.secrets.set(id, {
          arn,
          value: String(input.SecretString),
          tags: tagsOf(input.Tags),
          description: String(input.Description ?? ''),
        })
        return this.json(res, {ARN: arn, Name: id, VersionId: randomBytes(8).toString('hex')})
      }
      case 'ListSecrets': {
        const filters = (input.Filters as Array<{Key: string; Values: string[]}>) ?? []
        const prefixes = filters.filter((f) => f.Key === 'name').flatMap((f) => f.Values)
        const list = [...this.secrets.entries()]
          .filter(([n]) => prefixes.length === 0 || prefixes.some((p) => n.startsWith(p)))
          .map(([n, s]) => ({ARN: s.arn, Name: n, Tags: Object.entries(s.tags).map(([Key, Value]) => ({Key, Value}))}))
        return this.json(res, {SecretList: list})
      }
    }
    const s = this.findSecret(id)
    if (!s) return this.jsonError(res, 400, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret.`)
    if (!this.allowed(principal, `secretsmanager:${action}`, s.arn))
      return this.jsonError(
        res,
        400,
        'AccessDeniedException',
        `${principal} is not authorized to perform secretsmanager:${action} on ${s.arn}`,
      )
    switch (action) {
      case 'GetSecretValue':
        return this.json(res, {
          ARN: s.arn,
          Name: s.name,
          SecretString: this.corruptValue ?? s.value,
          VersionId: 'v1',
          VersionStages: ['AWSCURRENT'],
        })
      case 'PutSecretValue':
        this.secrets.set(s.name, {...s, value: String(input.SecretString)})
        return this.json(res, {ARN: s.arn, Name: s.name, VersionId: 'v2'})
      case 'TagResource':
        this.secrets.set(s.name, {...s, tags: {...s.tags, ...tagsOf(input.Tags)}})
        return this.json(res, {})
      case 'DescribeSecret':
        return this.json(res, {ARN: s.arn, Name: s.name, Tags: Object.entries(s.tags).map(([Key, Value]) => ({Key, Value}))})
      case 'DeleteSecret':
        if (this.refuseDelete) return this.jsonError(res, 400, 'AccessDeniedException', 'deletion refused by the test')
        if (input.ForceDeleteWithoutRecovery !== true)
          return this.jsonError(res, 400, 'InvalidParameterException', 'the test expects a forced delete')
        this.secrets.delete(s.name)
        return this.json(res, {ARN: s.arn, Name: s.name, DeletionDate: Date.now() / 1000})
    }
    return this.jsonError(res, 400, 'UnknownOperationException', action)
  }

  private ssm(res: http.ServerResponse, principal: string, action: string, input: Record<string, unknown>): unknown {
    const name = String(input.Name ?? input.ResourceId ?? input.Path ?? '')
    this.calls.push({service: 'ssm', action, principal, target: name})
    const arn = `arn:aws:ssm:${this.region}:${ACCOUNT}:parameter${name}`
    if (action === 'GetParametersByPath') {
      const list = [...this.parameters.entries()]
        .filter(([n]) => n.startsWith(`${name}/`))
        .map(([n, p]) => ({Name: n, ARN: p.arn, Type: p.type}))
      return this.json(res, {Parameters: list})
    }
    if (!this.allowed(principal, `ssm:${action}`, arn))
      return this.jsonError(res, 400, 'AccessDeniedException', `${principal} is not authorized to perform ssm:${action} on ${arn}`)
    const p = this.parameters.get(name)
    switch (action) {
      case 'PutParameter':
        if (p && input.Overwrite !== true) return this.jsonError(res, 400, 'ParameterAlreadyExists', name)
        if (String(input.Value).length > 8192) return this.jsonError(res, 400, 'ValidationException', 'value longer than 8 KB')
        this.parameters.set(name, {
          arn,
          value: String(input.Value),
          type: String(input.Type),
          tier: String(input.Tier),
          tags: p?.tags ?? {},
        })
        return this.json(res, {Version: 1, Tier: input.Tier})
      case 'AddTagsToResource':
        if (!p) return this.jsonError(res, 400, 'InvalidResourceId', name)
        for (const t of (input.Tags as Array<{Key: string; Value: string}>) ?? []) p.tags[t.Key] = t.Value
        return this.json(res, {})
      case 'GetParameter':
        if (!p) return this.jsonError(res, 400, 'ParameterNotFound', name)
        return this.json(res, {
          Parameter: {
            Name: name,
            ARN: p.arn,
            Type: p.type,
            Version: 1,
            Value: input.WithDecryption ? (this.corruptValue ?? p.value) : 'AQICAH-ciphertext',
          },
        })
      case 'DeleteParameter':
        if (!p) return this.jsonError(res, 400, 'ParameterNotFound', name)
        if (this.refuseDelete) return this.jsonError(res, 400, 'AccessDeniedException', 'deletion refused by the test')
        this.parameters.delete(name)
        return this.json(res, {})
    }
    return this.jsonError(res, 400, 'UnknownOperationException', action)
  }

  private xml(res: http.ServerResponse, action: string, result: string): void {
    res
      .writeHead(200, {'content-type': 'text/xml'})
      .end(
        `<${action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></${action}Response>`,
      )
  }

  private iamError(res: http.ServerResponse, status: number, code: string, message: string): void {
    res
      .writeHead(status, {'content-type': 'text/xml'})
      .end(
        `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
      )
  }

  private roleXml(name: string): string {
    const r = this.roles.get(name) as {path: string}
    return `<Path>${r.path}</Path><RoleName>${name}</RoleName><RoleId>AROA${name.length}</RoleId><Arn>arn:aws:iam::${ACCOUNT}:role${r.path}${name}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>`
  }

  private iam(res: http.ServerResponse, principal: string, q: URLSearchParams): unknown {
    const action = q.get('Action') ?? ''
    const roleName = q.get('RoleName') ?? ''
    const ipName = q.get('InstanceProfileName') ?? ''
    this.calls.push({service: 'iam', action, principal, target: roleName || ipName})
    if (principal !== 'operator') return this.iamError(res, 403, 'AccessDenied', `${principal} may not call IAM`)
    const tags: Record<string, string> = {}
    for (let i = 1; q.has(`Tags.member.${i}.Key`); i++)
      tags[q.get(`Tags.member.${i}.Key`) as string] = q.get(`Tags.member.${i}.Value`) ?? ''
    const noRole = () => this.iamError(res, 404, 'NoSuchEntity', `The role with name ${roleName} cannot be found.`)
    const noProfile = () => this.iamError(res, 404, 'NoSuchEntity', `Instance Profile ${ipName} cannot be found.`)
    switch (action) {
      case 'CreateRole':
        if (this.roles.has(roleName)) return this.iamError(res, 409, 'EntityAlreadyExists', `Role with name ${roleName} already exists.`)
        this.roles.set(roleName, {path: q.get('Path') ?? '/', trust: q.get('AssumeRolePolicyDocument') ?? '', policies: new Map(), tags})
        return this.xml(res, action, `<Role>${this.roleXml(roleName)}</Role>`)
      case 'UpdateAssumeRolePolicy': {
        const r = this.roles.get(roleName)
        if (!r) return noRole()
        r.trust = q.get('PolicyDocument') ?? ''
        return this.xml(res, action, '')
      }
      case 'PutRolePolicy': {
        const r = this.roles.get(roleName)
        if (!r) return noRole()
        r.policies.set(q.get('PolicyName') ?? '', q.get('PolicyDocument') ?? '')
        return this.xml(res, action, '')
      }
      case 'DeleteRolePolicy': {
        const r = this.roles.get(roleName)
        if (!r?.policies.delete(q.get('PolicyName') ?? '')) return noRole()
        return this.xml(res, action, '')
      }
      case 'DeleteRole': {
        const r = this.roles.get(roleName)
        if (!r) return noRole()
        if (r.policies.size > 0) return this.iamError(res, 409, 'DeleteConflict', 'Cannot delete entity, must delete policies first.')
        if ([...this.instanceProfiles.values()].some((p) => p.roles.includes(roleName)))
          return this.iamError(res, 409, 'DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.')
        this.roles.delete(roleName)
        return this.xml(res, action, '')
      }
      case 'CreateInstanceProfile':
        if (this.instanceProfiles.has(ipName))
          return this.iamError(res, 409, 'EntityAlreadyExists', `Instance Profile ${ipName} already exists.`)
        this.instanceProfiles.set(ipName, {roles: [], tags})
        return this.xml(res, action, `<InstanceProfile>${this.profileXml(ipName)}</InstanceProfile>`)
      case 'GetInstanceProfile':
        if (!this.instanceProfiles.has(ipName)) return noProfile()
        return this.xml(res, action, `<InstanceProfile>${this.profileXml(ipName)}</InstanceProfile>`)
      case 'AddRoleToInstanceProfile': {
        const p = this.instanceProfiles.get(ipName)
        if (!p) return noProfile()
        if (!this.roles.has(roleName)) return noRole()
        if (p.roles.length > 0)
          return this.iamError(res, 409, 'LimitExceeded', 'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1')
        p.roles.push(roleName)
        return this.xml(res, action, '')
      }
      case 'RemoveRoleFromInstanceProfile': {
        const p = this.instanceProfiles.get(ipName)
        if (!p?.roles.includes(roleName)) return noProfile()
        p.roles = p.roles.filter((r) => r !== roleName)
        return this.xml(res, action, '')
      }
      case 'DeleteInstanceProfile': {
        const p = this.instanceProfiles.get(ipName)
        if (!p) return noProfile()
        if (p.roles.length > 0)
          return this.iamError(res, 409, 'DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.')
        this.instanceProfiles.delete(ipName)
        return this.xml(res, action, '')
      }
    }
    return this.iamError(res, 400, 'InvalidAction', action)
  }

  private profileXml(name: string): string {
    const p = this.instanceProfiles.get(name) as {roles: string[]}
    const roles = p.roles.map((r) => `<member>${this.roleXml(r)}</member>`).join('')
    return `<Path>/nodegen/</Path><InstanceProfileName>${name}</InstanceProfileName><InstanceProfileId>AIPA${name.length}</InstanceProfileId><Arn>arn:aws:iam::${ACCOUNT}:instance-profile/nodegen/${name}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><Roles>${roles}</Roles>`
  }
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** EC2's instance metadata service, IMDSv2 only: a PUT token first, then GETs carrying it. */
export class FakeImds {
  private readonly tokens = new Set<string>()
  private server?: http.Server
  url = ''
  /** The instance's role and the credentials handed out for it; undefined: no instance profile. */
  role?: {name: string; credentials: Credentials}
  readonly requests: string[] = []

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`)
      if (req.method === 'PUT' && req.url === '/latest/api/token') {
        if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return res.writeHead(400).end()
        const t = randomBytes(16).toString('base64')
        this.tokens.add(t)
        return res.writeHead(200).end(t)
      }
      if (!this.tokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return res.writeHead(401).end()
      const base = '/latest/meta-data/iam/security-credentials/'
      if (!this.role) return res.writeHead(404).end()
      if (req.url === base) return res.writeHead(200).end(this.role.name)
      if (req.url === `${base}${this.role.name}`) {
        const c = this.role.credentials
        return res.writeHead(200).end(
          JSON.stringify(
            {
              Code: 'Success',
              LastUpdated: '2026-01-01T00:00:00Z',
              Type: 'AWS-HMAC',
              AccessKeyId: c.accessKeyId,
              SecretAccessKey: c.secretAccessKey,
              Token: c.sessionToken,
              Expiration: '2099-01-01T00:00:00Z',
            },
            null,
            2,
          ),
        )
      }
      res.writeHead(404).end()
    })
    this.url = `http://127.0.0.1:${await listen(this.server)}`
    return this
  }

  close(): Promise<void> {
    return this.server ? closeAll([this.server]) : Promise.resolve()
  }
}

// ---------------------------------------------------------------------------------------------
// Google Cloud
// ---------------------------------------------------------------------------------------------

interface GcpSecret {
  labels: Record<string, string>
  bindings: Array<{role: string; members: string[]}>
  versions: Array<{data: string; state: 'ENABLED' | 'DESTROYED'}>
}

/** Secret Manager REST v1, the IAM API's service accounts and the GCE metadata server, on one port per scheme. */
export class FakeGcp {
  readonly secrets = new Map<string, GcpSecret>()
  readonly serviceAccounts = new Map<string, {accountId: string; displayName: string}>()
  readonly calls: Call[] = []
  refuseDestroy = false
  corruptValue?: string
  /** Access tokens to principals (`operator` or a service-account email). */
  private readonly tokens = new Map<string, string>([['operator-token', 'operator']])
  /** The service account the metadata server serves tokens for; undefined: none attached. */
  instanceAccount?: string
  private servers: Array<http.Server | https.Server> = []
  httpUrl = ''
  httpsUrl = ''
  metadataUrl = ''

  constructor(
    readonly project: string,
    private readonly tls?: Tls,
  ) {}

  async start(): Promise<this> {
    const h = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e) => res.writeHead(500).end(String(e)))
    }
    const plain = http.createServer(h)
    this.servers.push(plain)
    this.httpUrl = `http://127.0.0.1:${await listen(plain)}`
    if (this.tls) {
      const secure = https.createServer({cert: this.tls.cert, key: this.tls.key}, h)
      this.servers.push(secure)
      this.httpsUrl = `https://127.0.0.1:${await listen(secure)}`
    }
    const md = http.createServer((req, res) => {
      if (req.headers['metadata-flavor'] !== 'Google') return res.writeHead(403).end()
      if (req.url === '/computeMetadata/v1/instance/service-accounts/default/token' && this.instanceAccount) {
        const t = `ya29.${randomBytes(24).toString('base64url')}`
        this.tokens.set(t, this.instanceAccount)
        return res
          .writeHead(200, {'content-type': 'application/json', 'metadata-flavor': 'Google'})
          .end(JSON.stringify({access_token: t, expires_in: 3599, token_type: 'Bearer'}))
      }
      res.writeHead(404).end()
    })
    this.servers.push(md)
    this.metadataUrl = `http://127.0.0.1:${await listen(md)}`
    return this
  }

  close(): Promise<void> {
    return closeAll(this.servers)
  }

  private error(res: http.ServerResponse, code: number, status: string, message: string): void {
    res.writeHead(code, {'content-type': 'application/json'}).end(JSON.stringify({error: {code, message, status}}))
  }

  private ok(res: http.ServerResponse, value: unknown): void {
    res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(value))
  }

  private secretJson(id: string, s: GcpSecret) {
    return {
      name: `projects/${this.project}/secrets/${id}`,
      labels: s.labels,
      replication: {automatic: {}},
      createTime: '2026-01-01T00:00:00Z',
    }
  }

  private granted(principal: string, s: GcpSecret, role: string): boolean {
    return principal === 'operator' || s.bindings.some((b) => b.role === role && b.members.includes(`serviceAccount:${principal}`))
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const body = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://x')
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? ''
    const principal = this.tokens.get(bearer)
    const method = req.method ?? 'GET'
    const path = decodeURIComponent(url.pathname)
    const input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {}
    const note = (service: string, action: string, target: string) =>
      this.calls.push({service, action, principal: principal ?? '?', target})
    if (!principal) return this.error(res, 401, 'UNAUTHENTICATED', 'no valid access token')
    const p = `/v1/projects/${this.project}`
    // IAM: service accounts
    let m = new RegExp(`^${p}/serviceAccounts(?:/([^/]+))?$`).exec(path)
    if (m) {
      if (principal !== 'operator') return this.error(res, 403, 'PERMISSION_DENIED', 'iam.serviceAccounts.* denied')
      const email = m[1]
      if (!email && method === 'POST') {
        const accountId = String(input.accountId)
        const e = `${accountId}@${this.project}.iam.gserviceaccount.com`
        note('iam', 'serviceAccounts.create', e)
        if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(accountId)) return this.error(res, 400, 'INVALID_ARGUMENT', 'bad accountId')
        if (this.serviceAccounts.has(e)) return this.error(res, 409, 'ALREADY_EXISTS', `${e} exists`)
        const sa = (input.serviceAccount as {displayName?: string}) ?? {}
        this.serviceAccounts.set(e, {accountId, displayName: sa.displayName ?? ''})
        return this.ok(res, {name: `projects/${this.project}/serviceAccounts/${e}`, email: e, projectId: this.project})
      }
      if (email && method === 'GET') {
        note('iam', 'serviceAccounts.get', email)
        if (!this.serviceAccounts.has(email)) return this.error(res, 404, 'NOT_FOUND', email)
        return this.ok(res, {name: `projects/${this.project}/serviceAccounts/${email}`, email})
      }
      if (email && method === 'DELETE') {
        note('iam', 'serviceAccounts.delete', email)
        if (!this.serviceAccounts.delete(email)) return this.error(res, 404, 'NOT_FOUND', email)
        return this.ok(res, {})
      }
    }
    // Secret Manager
    if (path === `${p}/secrets` && method === 'POST') {
      const id = url.searchParams.get('secretId') ?? ''
      note('secretmanager', 'createSecret', id)
      if (this.secrets.has(id)) return this.error(res, 409, 'ALREADY_EXISTS', `Secret [${id}] already exists.`)
      const s: GcpSecret = {labels: (input.labels as Record<string, string>) ?? {}, bindings: [], versions: []}
      this.secrets.set(id, s)
      return this.ok(res, this.secretJson(id, s))
    }
    if (path === `${p}/secrets` && method === 'GET') {
      const filter = url.searchParams.get('filter') ?? ''
      note('secretmanager', 'listSecrets', filter)
      const fm = /^labels\.([a-z0-9_-]+)=([a-z0-9_-]+)$/.exec(filter)
      const list = [...this.secrets.entries()]
        .filter(([, s]) => !fm || s.labels[fm[1] as string] === fm[2])
        .map(([id, s]) => this.secretJson(id, s))
      return this.ok(res, {secrets: list, totalSize: list.length})
    }
    m = new RegExp(`^${p}/secrets/([A-Za-z0-9_-]+)(?:/versions/([a-z0-9]+))?(?::([a-zA-Z]+))?$`).exec(path)
    if (!m) return this.error(res, 404, 'NOT_FOUND', `no route ${method} ${path}`)
    const [, id, version, verb] = m as unknown as [string, string, string | undefined, string | undefined]
    const action = verb ?? (method === 'DELETE' ? 'deleteSecret' : version ? 'getSecretVersion' : 'getSecret')
    note('secretmanager', action, version ? `${id}/versions/${version}` : id)
    const s = this.secrets.get(id)
    if (!s) return this.error(res, 404, 'NOT_FOUND', `Secret [projects/${this.project}/secrets/${id}] not found or has no versions.`)
    const vname = (n: number) => `projects/${this.project}/secrets/${id}/versions/${n}`
    switch (action) {
      case 'getSecret':
        if (principal !== 'operator') return this.error(res, 403, 'PERMISSION_DENIED', 'secretmanager.secrets.get denied')
        return this.ok(res, this.secretJson(id, s))
      case 'deleteSecret':
        if (principal !== 'operator') return this.error(res, 403, 'PERMISSION_DENIED', 'secretmanager.secrets.delete denied')
        this.secrets.delete(id)
        return this.ok(res, {})
      case 'addVersion': {
        if (principal !== 'operator') return this.error(res, 403, 'PERMISSION_DENIED', 'secretmanager.versions.add denied')
        const data = String((input.payload as {data?: string})?.data ?? '')
        if (Buffer.from(data, 'base64').length > 65536) return this.error(res, 400, 'INVALID_ARGUMENT', 'payload larger than 64 KiB')
        s.versions.push({data, state: 'ENABLED'})
        return this.ok(res, {name: vname(s.versions.length), state: 'ENABLED'})
      }
      case 'setIamPolicy':
        if (principal !== 'operator') return this.error(res, 403, 'PERMISSION_DENIED', 'secretmanager.secrets.setIamPolicy denied')
        s.bindings = ((input.policy as {bindings?: GcpSecret['bindings']})?.bindings ?? []).map((b) => ({
          role: b.role,
          members: [...b.members],
        }))
        return this.ok(res, {version: 1, bindings: s.bindings, etag: 'BwX='})
      case 'access': {
        if (!this.granted(principal, s, 'roles/secretmanager.secretAccessor'))
          return this.error(res, 403, 'PERMISSION_DENIED', `Permission 'secretmanager.versions.access' denied for ${principal}`)
        let n = version === 'latest' ? s.versions.length : Number(version)
        while (version === 'latest' && n > 0 && s.versions[n - 1]?.state !== 'ENABLED') n--
        const v = s.versions[n - 1]
        if (v?.state !== 'ENABLED') return this.error(res, 400, 'FAILED_PRECONDITION', `${vname(n)} is in DESTROYED state.`)
        const data = this.corruptValue !== undefined ? Buffer.from(this.corruptValue).toString('base64') : v.data
        const crc = createHash('sha256').update(data).digest('hex').slice(0, 8)
        return this.ok(res, {name: vname(n), payload: {data, dataCrc32c: String(Number.parseInt(crc, 16))}})
      }
      case 'destroy': {
        if (!this.granted(principal, s, 'roles/secretmanager.secretVersionManager'))
          return this.error(res, 403, 'PERMISSION_DENIED', `Permission 'secretmanager.versions.destroy' denied for ${principal}`)
        if (this.refuseDestroy) return this.error(res, 403, 'PERMISSION_DENIED', 'destroy refused by the test')
        const v = s.versions[Number(version) - 1]
        if (!v) return this.error(res, 404, 'NOT_FOUND', vname(Number(version)))
        if (v.state === 'DESTROYED') return this.error(res, 400, 'FAILED_PRECONDITION', `${vname(Number(version))} is in DESTROYED state.`)
        v.state = 'DESTROYED'
        v.data = ''
        return this.ok(res, {name: vname(Number(version)), state: 'DESTROYED'})
      }
    }
    return this.error(res, 404, 'NOT_FOUND', `no route ${method} ${path}`)
  }
}
