/**
 * A local stand-in for EC2 (query protocol, XML answers in EC2's own element names) and ELBv2 (AWS
 * query protocol, `member` lists), on 127.0.0.1 only, for the real SDK clients to talk to. It keeps
 * the little state launch and destroy touch, honours ClientToken like EC2 does, records every
 * request as parsed parameters, and injects throttling and per-node failures on demand.
 */
import {randomBytes} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {EC2Client} from '@aws-sdk/client-ec2'
import {ElasticLoadBalancingV2Client} from '@aws-sdk/client-elastic-load-balancing-v2'
import type {AwsClients} from '../../src/cloud/aws/client.js'

export interface AwsRequest {
  service: 'ec2' | 'elbv2'
  action: string
  params: Record<string, unknown>
  authorization: string
}

interface FakeInstance {
  id: string
  ip: string
  subnet: string
  state: string
  tags: Record<string, string>
  token: string
  userData: string
  groups: string[]
  /** Describe calls left before pending becomes running. */
  pendingPolls: number
}

/** `A.1.B=x` → {A: [{B: 'x'}]}; ELBv2's `A.member.1` → {A: [...]}. */
export function parseQuery(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {}
  for (const [k, v] of new URLSearchParams(body)) {
    const parts = k.split('.')
    let cur = root
    parts.forEach((p, i) => {
      if (i === parts.length - 1) cur[p] = v
      else {
        if (cur[p] === undefined) cur[p] = {}
        cur = cur[p] as Record<string, unknown>
      }
    })
  }
  const norm = (x: unknown): unknown => {
    if (typeof x !== 'object' || x === null) return x
    const o = x as Record<string, unknown>
    const keys = Object.keys(o)
    if (keys.length === 1 && keys[0] === 'member') return norm(o.member)
    if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) return keys.sort((a, b) => Number(a) - Number(b)).map((k) => norm(o[k]))
    return Object.fromEntries(keys.map((k) => [k, norm(o[k])]))
  }
  return norm(root) as Record<string, unknown>
}

function xml(value: unknown, listTag: 'item' | 'member'): string {
  if (Array.isArray(value)) return value.map((v) => `<${listTag}>${xml(v, listTag)}</${listTag}>`).join('')
  if (value && typeof value === 'object')
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${xml(v, listTag)}</${k}>`)
      .join('')
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

const list = <T>(x: unknown): T[] => (Array.isArray(x) ? (x as T[]) : x === undefined ? [] : [x as T])

export class FakeAws {
  readonly requests: AwsRequest[] = []
  /** Action → how many of its next calls answer RequestLimitExceeded / Throttling. */
  readonly throttle = new Map<string, number>()
  /** Private IP → error code RunInstances answers for it with HTTP 400, which the SDK does not retry (once). */
  readonly failIp = new Map<string, string>()
  readonly subnets = new Map<string, {vpc: string; cidr: string}>()
  readonly groups = new Map<string, {id: string; name: string; vpc: string; tags: Record<string, string>; perms: Set<string>}>()
  readonly instances: FakeInstance[] = []
  readonly lbs = new Map<
    string,
    {arn: string; name: string; dns: string; mappings: unknown; scheme: string; tags: Record<string, string>}
  >()
  readonly tgs = new Map<
    string,
    {
      arn: string
      name: string
      port: number
      attrs: Record<string, string>
      targets: Set<string>
      tags: Record<string, string>
      health: string
    }
  >()
  readonly listeners: Array<{lb: string; port: number; tg: string}> = []
  private server?: http.Server
  private seq = 0
  /** Describe polls an instance stays pending. */
  pendingPolls = 1

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => this.answer(req, body, res))
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()))
  }

  /** Real SDK clients pointed here with fake static credentials and quick retries. */
  clients(endpoint: string): AwsClients {
    const common = {
      region: 'eu-west-1',
      endpoint,
      credentials: {accessKeyId: 'AKIDNODEGENTEST', secretAccessKey: 'nodegen-test-secret'},
      maxAttempts: 5,
    }
    return {ec2: new EC2Client(common), elb: new ElasticLoadBalancingV2Client(common)}
  }

  calls(action: string): AwsRequest[] {
    return this.requests.filter((r) => r.action === action)
  }

  private id(prefix: string): string {
    return `${prefix}-${(++this.seq).toString(16).padStart(17, '0')}`
  }

  private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const params = parseQuery(body)
    const action = String(params.Action)
    const service = params.Version === '2016-11-15' ? 'ec2' : 'elbv2'
    this.requests.push({service, action, params, authorization: String(req.headers.authorization ?? '')})
    const listTag = service === 'ec2' ? 'item' : 'member'
    const rid = randomBytes(8).toString('hex')
    try {
      const left = this.throttle.get(action) ?? 0
      if (left > 0) {
        this.throttle.set(action, left - 1)
        throw new AwsFault(
          service === 'ec2' ? 'RequestLimitExceeded' : 'Throttling',
          'Request limit exceeded.',
          service === 'ec2' ? 503 : 400,
        )
      }
      const out = service === 'ec2' ? this.ec2(action, params) : this.elb(action, params)
      const inner =
        service === 'ec2'
          ? `<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${rid}</requestId>${xml(out, listTag)}</${action}Response>`
          : `<${action}Response xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><${action}Result>${xml(out, listTag)}</${action}Result><ResponseMetadata><RequestId>${rid}</RequestId></ResponseMetadata></${action}Response>`
      res.writeHead(200, {'content-type': 'text/xml'}).end(`<?xml version="1.0" encoding="UTF-8"?>\n${inner}`)
    } catch (e) {
      const f = e instanceof AwsFault ? e : new AwsFault('InternalError', String(e), 500)
      const text =
        service === 'ec2'
          ? `<Response><Errors><Error><Code>${f.code}</Code><Message>${xml(f.message, 'item')}</Message></Error></Errors><RequestID>${rid}</RequestID></Response>`
          : `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>${f.code}</Code><Message>${xml(f.message, 'member')}</Message></Error><RequestId>${rid}</RequestId></ErrorResponse>`
      res.writeHead(f.status, {'content-type': 'text/xml'}).end(text)
    }
  }

  private instanceXml(i: FakeInstance) {
    const code = {pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80}[i.state] ?? 0
    return {
      instanceId: i.id,
      instanceState: {code, name: i.state},
      privateIpAddress: i.ip,
      subnetId: i.subnet,
      clientToken: i.token,
      tagSet: Object.entries(i.tags).map(([key, value]) => ({key, value})),
    }
  }

  private ec2(action: string, p: Record<string, unknown>): unknown {
    const filters = list<{Name: string; Value: unknown}>(p.Filter).map((f) => ({name: f.Name, values: list<string>(f.Value)}))
    switch (action) {
      case 'DescribeSubnets':
        return {
          subnetSet: list<string>(p.SubnetId).map((id) => {
            const s = this.subnets.get(id)
            if (!s) throw new AwsFault('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`)
            return {subnetId: id, vpcId: s.vpc, cidrBlock: s.cidr}
          }),
        }
      case 'DescribeSecurityGroups': {
        const match = [...this.groups.values()].filter((g) =>
          filters.every((f) =>
            f.name === 'vpc-id'
              ? f.values.includes(g.vpc)
              : f.name === 'group-name'
                ? f.values.includes(g.name)
                : f.name.startsWith('tag:')
                  ? f.values.includes(g.tags[f.name.slice(4)] ?? '')
                  : true,
          ),
        )
        return {
          securityGroupInfo: match.map((g) => ({
            groupId: g.id,
            groupName: g.name,
            vpcId: g.vpc,
            ipPermissions: [...g.perms].map((k) => {
              const [proto, range, cidr] = k.split('/') as [string, string, string]
              const [from, to] = range.split('-')
              // As EC2: a whole protocol (no ports given) is listed without ports.
              const ports = from === 'undefined' ? {} : {fromPort: from, toPort: to}
              return {ipProtocol: proto, ...ports, ipRanges: [{cidrIp: `${cidr}/${k.split('/')[3]}`}]}
            }),
          })),
        }
      }
      case 'CreateSecurityGroup': {
        const name = String(p.GroupName)
        if ([...this.groups.values()].some((g) => g.name === name && g.vpc === p.VpcId))
          throw new AwsFault('InvalidGroup.Duplicate', `The security group '${name}' already exists`)
        const id = this.id('sg')
        const spec = list<{Tag: unknown}>(p.TagSpecification)[0]
        const tags = Object.fromEntries(list<{Key: string; Value: string}>(spec?.Tag).map((t) => [t.Key, t.Value]))
        this.groups.set(id, {id, name, vpc: String(p.VpcId), tags, perms: new Set()})
        return {groupId: id}
      }
      case 'AuthorizeSecurityGroupIngress': {
        const g = this.groups.get(String(p.GroupId))
        if (!g) throw new AwsFault('InvalidGroup.NotFound', 'no such group')
        for (const perm of list<{IpProtocol: string; FromPort: string; ToPort: string; IpRanges: unknown}>(p.IpPermissions))
          for (const r of list<{CidrIp: string}>(perm.IpRanges)) {
            const k = `${perm.IpProtocol}/${perm.FromPort}-${perm.ToPort}/${r.CidrIp}`
            if (g.perms.has(k)) throw new AwsFault('InvalidPermission.Duplicate', `the rule ${k} already exists`)
            g.perms.add(k)
          }
        return {return: 'true'}
      }
      case 'DeleteSecurityGroup': {
        const id = String(p.GroupId)
        if (this.instances.some((i) => i.state !== 'terminated' && i.groups.includes(id)))
          throw new AwsFault('DependencyViolation', `resource ${id} has a dependent object`)
        this.groups.delete(id)
        return {return: 'true'}
      }
      case 'RunInstances': {
        const token = String(p.ClientToken ?? '')
        const again = this.instances.find((i) => token && i.token === token)
        if (again) return {reservationId: 'r-again', instancesSet: [this.instanceXml(again)]}
        const ip = String(p.PrivateIpAddress)
        const fail = this.failIp.get(ip)
        if (fail) {
          this.failIp.delete(ip)
          throw new AwsFault(fail, `We currently do not have sufficient capacity for ${ip}.`)
        }
        if (this.instances.some((i) => i.ip === ip && i.state !== 'terminated'))
          throw new AwsFault('InvalidIPAddress.InUse', `Address ${ip} is in use.`)
        const spec = list<{ResourceType: string; Tag: unknown}>(p.TagSpecification).find((s) => s.ResourceType === 'instance')
        const tags = Object.fromEntries(list<{Key: string; Value: string}>(spec?.Tag).map((t) => [t.Key, t.Value]))
        const i: FakeInstance = {
          id: this.id('i'),
          ip,
          subnet: String(p.SubnetId),
          state: 'pending',
          tags,
          token,
          userData: String(p.UserData ?? ''),
          groups: list<string>(p.SecurityGroupId),
          pendingPolls: this.pendingPolls,
        }
        this.instances.push(i)
        return {reservationId: this.id('r'), instancesSet: [this.instanceXml(i)]}
      }
      case 'DescribeInstances': {
        const ids = list<string>(p.InstanceId)
        const match = this.instances.filter(
          (i) =>
            (ids.length === 0 || ids.includes(i.id)) &&
            filters.every((f) =>
              f.name === 'instance-state-name'
                ? f.values.includes(i.state)
                : f.name.startsWith('tag:')
                  ? f.values.includes(i.tags[f.name.slice(4)] ?? '')
                  : true,
            ),
        )
        for (const i of match) {
          if (ids.length === 0) continue
          if (i.state === 'pending' && i.pendingPolls-- <= 0) i.state = 'running'
          if (i.state === 'shutting-down') i.state = 'terminated'
        }
        return {reservationSet: match.length ? [{reservationId: 'r-1', instancesSet: match.map((i) => this.instanceXml(i))}] : []}
      }
      case 'TerminateInstances': {
        const ids = list<string>(p.InstanceId)
        const match = this.instances.filter((i) => ids.includes(i.id))
        for (const i of match) i.state = 'shutting-down'
        return {
          instancesSet: match.map((i) => ({
            instanceId: i.id,
            currentState: {code: 32, name: 'shutting-down'},
            previousState: {code: 16, name: 'running'},
          })),
        }
      }
      default:
        throw new AwsFault('InvalidAction', `the fake does not know ${action}`)
    }
  }

  private elb(action: string, p: Record<string, unknown>): unknown {
    const tagMap = (x: unknown) => Object.fromEntries(list<{Key: string; Value: string}>(x).map((t) => [t.Key, t.Value]))
    switch (action) {
      case 'DescribeLoadBalancers': {
        const names = list<string>(p.Names)
        const found = [...this.lbs.values()].filter((l) => names.includes(l.name))
        if (found.length === 0) throw new AwsFault('LoadBalancerNotFound', `Load balancers '[${names}]' not found`)
        return {LoadBalancers: found.map((l) => ({LoadBalancerArn: l.arn, LoadBalancerName: l.name, DNSName: l.dns, Scheme: l.scheme}))}
      }
      case 'CreateLoadBalancer': {
        const name = String(p.Name)
        const arn = `arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/${name}/${this.id('lb')}`
        const l = {
          arn,
          name,
          dns: `${name}-0123.elb.eu-west-1.amazonaws.com`,
          mappings: p.SubnetMappings,
          scheme: String(p.Scheme),
          tags: tagMap(p.Tags),
        }
        this.lbs.set(arn, l)
        return {LoadBalancers: [{LoadBalancerArn: arn, LoadBalancerName: name, DNSName: l.dns}]}
      }
      case 'DescribeTargetGroups': {
        const names = list<string>(p.Names)
        const found = [...this.tgs.values()].filter((t) => names.includes(t.name))
        if (found.length === 0) throw new AwsFault('TargetGroupNotFound', `One or more target groups not found`)
        return {TargetGroups: found.map((t) => ({TargetGroupArn: t.arn, TargetGroupName: t.name, Port: t.port}))}
      }
      case 'CreateTargetGroup': {
        const name = String(p.Name)
        const arn = `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${name}/${this.id('tg')}`
        this.tgs.set(arn, {
          arn,
          name,
          port: Number(p.Port),
          attrs: {},
          targets: new Set(),
          tags: tagMap(p.Tags),
          health: `${p.HealthCheckProtocol} ${p.HealthCheckPath}`,
        })
        return {TargetGroups: [{TargetGroupArn: arn, TargetGroupName: name}]}
      }
      case 'ModifyTargetGroupAttributes': {
        const t = this.tgs.get(String(p.TargetGroupArn))
        if (!t) throw new AwsFault('TargetGroupNotFound', 'no such target group')
        for (const a of list<{Key: string; Value: string}>(p.Attributes)) t.attrs[a.Key] = a.Value
        return {Attributes: Object.entries(t.attrs).map(([Key, Value]) => ({Key, Value}))}
      }
      case 'DescribeListeners':
        return {
          Listeners: this.listeners
            .filter((l) => l.lb === p.LoadBalancerArn)
            .map((l) => ({ListenerArn: `${l.lb}/listener/${l.port}`, Port: l.port, Protocol: 'TCP'})),
        }
      case 'CreateListener': {
        const action0 = list<{TargetGroupArn: string}>(p.DefaultActions)[0]
        this.listeners.push({lb: String(p.LoadBalancerArn), port: Number(p.Port), tg: String(action0?.TargetGroupArn)})
        return {Listeners: [{ListenerArn: `${p.LoadBalancerArn}/listener/${p.Port}`, Port: Number(p.Port)}]}
      }
      case 'RegisterTargets': {
        const t = this.tgs.get(String(p.TargetGroupArn))
        if (!t) throw new AwsFault('TargetGroupNotFound', 'no such target group')
        for (const x of list<{Id: string; Port: string}>(p.Targets)) t.targets.add(`${x.Id}:${x.Port}`)
        return {}
      }
      case 'DescribeTags':
        return {
          TagDescriptions: list<string>(p.ResourceArns).map((arn) => ({
            ResourceArn: arn,
            Tags: Object.entries(this.lbs.get(arn)?.tags ?? this.tgs.get(arn)?.tags ?? {}).map(([Key, Value]) => ({Key, Value})),
          })),
        }
      case 'DeleteLoadBalancer':
        this.lbs.delete(String(p.LoadBalancerArn))
        return {}
      case 'DeleteTargetGroup': {
        const arn = String(p.TargetGroupArn)
        if (this.listeners.some((l) => l.tg === arn && this.lbs.has(l.lb))) throw new AwsFault('ResourceInUse', 'target group in use')
        this.tgs.delete(arn)
        return {}
      }
      default:
        throw new AwsFault('InvalidAction', `the fake does not know ${action}`)
    }
  }
}
