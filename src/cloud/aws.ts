/**
 * `nodegen launch aws` / `destroy aws` with the official SDK (@aws-sdk/client-ec2 and the ELBv2
 * client). One code path for real runs and dry runs: a dry run swaps the clients for a recorder
 * that answers "nothing exists yet", so the calls it lists are the calls a first launch makes.
 *
 * Order: subnets (VPC, CIDRs) → security groups per role (created or reused, missing rules added)
 * → the endpoint (NLB, target group, listener) → the secrets hook → one RunInstances per missing
 * node (fixed private IP, IMDSv2 only with hop limit 1, tags, a ClientToken from cluster and node)
 * → wait for running → register the control planes with the target group. Every node is launched
 * independently: a failure is reported for that node, the others go on, and a re-run finds what
 * exists by tag and creates only the rest.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type Instance,
  type IpPermission,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
  type Tag,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import type {Cluster, ClusterNode, Role} from '../profile/index.js'
import {isIPv4} from '../profile/net.js'
import {boundedName, clientToken, errorText, inCidr, nodeSubnets, rolePortTable} from './common.js'
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

export const TAG_CLUSTER = 'nodegen.dev/cluster'
export const TAG_NODE = 'nodegen.dev/node'
export const TAG_ROLE = 'nodegen.dev/role'

type AwsPlatform = NonNullable<Cluster['platform']['aws']>

/** The two SDK clients launch needs (tests point them at local endpoints). */
export interface AwsClients {
  ec2: EC2Client
  elb: ElasticLoadBalancingV2Client
}

/**
 * Clients from the SDK's standard chains: credentials (environment, shared config and SSO, IMDS…)
 * and endpoints (`AWS_ENDPOINT_URL_EC2` and friends) are the SDK's; nodegen stores nothing.
 */
export function awsClients(region: string): AwsClients {
  return {ec2: new EC2Client({region, maxAttempts: 8}), elb: new ElasticLoadBalancingV2Client({region, maxAttempts: 8})}
}

export interface AwsLaunchOptions {
  cluster: Cluster
  nodes: LaunchNode[]
  /** Each node's AMI, by node name: the profile's, or the one `nodegen image build` recorded. */
  images: Map<string, string>
  dryRun: boolean
  prepareSecrets?: PrepareSecrets
  onProgress?: OnProgress
  pace?: Partial<Pace>
  /** Concurrent RunInstances calls. @default 4 */
  concurrency?: number
  warnings?: string[]
}

function platformOf(cluster: Cluster): AwsPlatform {
  const aws = cluster.platform.aws
  if (!aws) throw new LaunchError('spec.platform.aws is missing: launch aws needs the region, subnet and instance type')
  return aws
}

export function securityGroupName(cluster: string, role: Role): string {
  return boundedName(['nodegen', cluster, role], 255)
}

/** NLB and target group names: at most 32 characters, letters, digits and hyphens. */
export function elbName(cluster: string): string {
  return boundedName([cluster, 'api'], 32)
}

function tags(cluster: Cluster, extra: Record<string, string>): Array<{Key: string; Value: string}> {
  const all: Record<string, string> = {...platformOf(cluster).tags, [TAG_CLUSTER]: cluster.name, ...extra}
  return Object.keys(all)
    .sort()
    .map((Key) => ({Key, Value: all[Key] as string}))
}

function instanceType(aws: AwsPlatform, node: ClusterNode): string {
  return node.instanceType ?? (node.role === 'control-plane' ? (aws.controlPlaneInstanceType ?? aws.instanceType) : aws.instanceType)
}

/**
 * The RunInstances request for one node. Pure: the dry run shows exactly this (user-data redacted).
 * IMDSv2 only, with a hop limit of 1: a pod (one hop further, behind the node's network namespace)
 * can reach neither the metadata service nor the user-data.
 */
export function runInstancesInput(
  cluster: Cluster,
  n: LaunchNode,
  refs: {imageId: string; subnetId: string; securityGroupIds: string[]},
  attempt = 0,
): RunInstancesCommandInput {
  const aws = platformOf(cluster)
  const t = tags(cluster, {Name: n.node.name, [TAG_NODE]: n.node.name, [TAG_ROLE]: n.node.role})
  return {
    ClientToken: clientToken(cluster.name, n.node.name, attempt),
    ImageId: refs.imageId,
    InstanceType: instanceType(aws, n.node) as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    ...(aws.keyName ? {KeyName: aws.keyName} : {}),
    SubnetId: refs.subnetId,
    PrivateIpAddress: n.node.ip,
    SecurityGroupIds: refs.securityGroupIds,
    UserData: n.userData.toString('base64'),
    MetadataOptions: {HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'disabled'},
    ...(n.identity?.aws ? {IamInstanceProfile: n.identity.aws.iamInstanceProfile} : {}),
    TagSpecifications: [
      {ResourceType: 'instance', Tags: t},
      {ResourceType: 'volume', Tags: t},
    ],
  }
}

/** Records every command a client sends (once, before the SDK's retries). */
function recordCalls(clients: AwsClients, recorder: CallRecorder): void {
  type Next = (args: {input: unknown}) => Promise<unknown>
  interface Stack {
    add(mw: (next: Next, context: {commandName?: string}) => Next, options: {step: 'initialize'; name: string}): void
  }
  for (const [service, client] of [
    ['ec2', clients.ec2],
    ['elbv2', clients.elb],
  ] as const) {
    ;(client.middlewareStack as unknown as Stack).add(
      (next, context) => async (args) => {
        recorder.record(service, String(context.commandName).replace(/Command$/, ''), args.input)
        return next(args)
      },
      {step: 'initialize', name: 'nodegenRecordCalls'},
    )
  }
}

/** What the report shows of an EC2 or ELBv2 request: a copy, with RunInstances' UserData redacted. */
function ec2Redactor(nodes: LaunchNode[]): Redact {
  const userData = userDataRedaction(nodes, 'base64', 'base64')
  return (input) => {
    const i = input as {UserData?: string}
    if (!i || typeof i.UserData !== 'string') return structuredClone(input)
    return {...structuredClone(input as object), UserData: userData(i.UserData)}
  }
}

const DRY_RUN = Symbol('nodegen dry run')

interface DryRunSender {
  [DRY_RUN]: {sink?: (op: string, service: string, input: unknown) => void}
}

/**
 * Clients for a dry run: nothing is sent; each command is recorded and answered as if nothing of the
 * cluster existed yet, with placeholders for the ids AWS would assign.
 */
export function dryRunClients(cluster: Cluster): AwsClients {
  const aws = platformOf(cluster)
  const fake = (service: string) => {
    const state: DryRunSender[typeof DRY_RUN] = {}
    return {
      [DRY_RUN]: state,
      send: async (cmd: {input: unknown; constructor: {name: string}}) => {
        const op = cmd.constructor.name.replace(/Command$/, '')
        state.sink?.(op, service, cmd.input)
        return dryRunAnswer(cluster, aws, op, cmd.input as Record<string, unknown>)
      },
    }
  }
  return {ec2: fake('ec2') as unknown as EC2Client, elb: fake('elbv2') as unknown as ElasticLoadBalancingV2Client}
}

/** Records calls of real clients (SDK middleware) or of dry-run clients. */
function record(clients: AwsClients, recorder: CallRecorder): void {
  const dry = (clients.ec2 as unknown as Partial<DryRunSender>)[DRY_RUN]
  if (!dry) {
    recordCalls(clients, recorder)
    return
  }
  for (const c of [clients.ec2, clients.elb])
    (c as unknown as DryRunSender)[DRY_RUN].sink = (operation, service, input) => recorder.record(service, operation, input)
}

function dryRunAnswer(cluster: Cluster, aws: AwsPlatform, op: string, input: Record<string, unknown>): unknown {
  switch (op) {
    case 'DescribeSubnets':
      return {
        Subnets: (input.SubnetIds as string[]).map((id) => {
          const node = cluster.nodes.find((n) => (n.subnetId ?? aws.subnetId) === id)
          return {SubnetId: id, VpcId: aws.vpcId ?? `<vpc of ${id}>`, CidrBlock: node?.subnet}
        }),
      }
    case 'DescribeSecurityGroups':
      return {SecurityGroups: []}
    case 'CreateSecurityGroup':
      return {GroupId: `<new security group ${input.GroupName}>`}
    case 'DescribeInstances':
      return input.InstanceIds
        ? {
            Reservations: [
              {
                Instances: (input.InstanceIds as string[]).map((id) => ({InstanceId: id, State: {Name: 'running'}, Tags: []})),
              },
            ],
          }
        : {Reservations: []}
    case 'RunInstances': {
      const spec = (input.TagSpecifications as Array<{Tags: Tag[]}>)[0]!
      const name = spec.Tags.find((t) => t.Key === TAG_NODE)?.Value
      return {Instances: [{InstanceId: `<instance ${name}>`, State: {Name: 'pending'}, PrivateIpAddress: input.PrivateIpAddress}]}
    }
    case 'DescribeLoadBalancers':
      throw Object.assign(new Error('dry run: no load balancer yet'), {name: 'LoadBalancerNotFoundException'})
    case 'CreateLoadBalancer':
      return {LoadBalancers: [{LoadBalancerArn: `<arn of load balancer ${input.Name}>`, DNSName: `<dns name of ${input.Name}>`}]}
    case 'DescribeTargetGroups':
      throw Object.assign(new Error('dry run: no target group yet'), {name: 'TargetGroupNotFoundException'})
    case 'CreateTargetGroup':
      return {TargetGroups: [{TargetGroupArn: `<arn of target group ${input.Name}>`}]}
    case 'DescribeListeners':
      return {Listeners: []}
    default:
      return {}
  }
}

function codeOf(e: unknown): string {
  const err = e as {name?: string; Code?: string}
  return (err.Code ?? err.name ?? '').replace(/Exception$/, '')
}

async function describeClusterInstances(ec2: EC2Client, cluster: string): Promise<Instance[]> {
  const out: Instance[] = []
  let NextToken: string | undefined
  do {
    const r: DescribeInstancesCommandOutput = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          {Name: `tag:${TAG_CLUSTER}`, Values: [cluster]},
          {Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped']},
        ],
        ...(NextToken ? {NextToken} : {}),
      }),
    )
    for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []))
    NextToken = r.NextToken
  } while (NextToken)
  return out
}

function tagOf(i: Instance, key: string): string | undefined {
  return i.Tags?.find((t) => t.Key === key)?.Value
}

/**
 * The desired ingress rules of one role's group: its port table from every node subnet, and its
 * whole IP protocols (by number; EC2 takes no ports for a protocol other than TCP, UDP or ICMP).
 */
export function ingressRules(cluster: Cluster, role: Role): IpPermission[] {
  const table = rolePortTable(cluster).find((r) => r.role === role)
  const sources = nodeSubnets(cluster)
  const IpRanges = sources.map((CidrIp) => ({CidrIp, Description: `nodegen ${cluster.name} ${role}`}))
  return [
    ...(table?.ports ?? []).map((p) => ({IpProtocol: p.protocol, FromPort: p.from, ToPort: p.to, IpRanges})),
    ...(table?.protocols ?? []).map((n) => ({IpProtocol: String(n), IpRanges})),
  ]
}

/** One rule's identity; ports count only for TCP and UDP (EC2 keeps none for a whole protocol). */
function ruleKey(p: IpPermission, cidr: string | undefined): string {
  const ports = p.IpProtocol === 'tcp' || p.IpProtocol === 'udp' ? `${p.FromPort}-${p.ToPort}` : 'all'
  return `${p.IpProtocol}/${ports}/${cidr}`
}

function ruleKeys(perms: IpPermission[]): Set<string> {
  const s = new Set<string>()
  for (const p of perms) for (const r of p.IpRanges ?? []) s.add(ruleKey(p, r.CidrIp))
  return s
}

/** A node's subnet: its own, or the platform's. */
function subnetOf(aws: AwsPlatform, n: ClusterNode): string {
  return n.subnetId ?? aws.subnetId
}

/** What the instances need from preparing: each role's security group, and the NLB's target group. */
interface AwsReady {
  groupOf: Map<Role, string>
  targetGroupArn?: string
}

export async function launchAws(opts: AwsLaunchOptions, clients: AwsClients): Promise<LaunchReport> {
  const {cluster} = opts
  const aws = platformOf(cluster)
  const pace: Pace = {...DEFAULT_PACE, ...opts.pace}
  const report = newLaunchReport('aws', cluster, opts.dryRun, aws.endpoint, opts.warnings)
  const recorder = new CallRecorder(report.calls, ec2Redactor(opts.nodes))
  record(clients, recorder)
  const {ec2, elb} = clients
  const cps = cluster.nodes.filter((n) => n.role === 'control-plane')
  const adapter: ProviderAdapter<AwsReady> = {
    async prepare() {
      const vpcId = await checkSubnets(ec2, cluster, report)
      const groupOf = await ensureSecurityGroups(ec2, cluster, vpcId, report)
      // The endpoint before any instance: control plane 0's kubeadm init already talks to it.
      if (aws.endpoint === 'nlb') return {groupOf, targetGroupArn: await ensureNlb(cluster, elb, vpcId, cps, report)}
      report.endpoint.notes.push(
        `endpoint dns: ${cluster.endpoint.host} must resolve to the control planes (${cps.map((n) => n.ip).join(', ')}) or a load balancer of yours`,
      )
      return {groupOf}
    },
    findExisting: (nodes) => findExisting(ec2, cluster.name, nodes),
    base: (n) => ({name: n.node.name, role: n.node.role, ip: n.node.ip}),
    create: (n, ready) =>
      runInstance(ec2, cluster, n, {
        imageId: opts.images.get(n.node.name)!,
        subnetId: subnetOf(aws, n.node),
        securityGroupIds: [ready.groupOf.get(n.node.role)!, ...aws.securityGroupIds],
        dryRun: opts.dryRun,
        pace,
      }),
    waitRunning: (outcome) => waitRunning(ec2, outcome, pace, opts.onProgress),
    async register(outcome, ready) {
      // Control planes behind the NLB.
      if (!ready.targetGroupArn) return
      const ids = cps.map((n) => outcome.get(n.name)).filter((o) => o && o.status !== 'failed' && o.id) as NodeOutcome[]
      if (ids.length > 0)
        await elb.send(
          new RegisterTargetsCommand({
            TargetGroupArn: ready.targetGroupArn,
            Targets: ids.map((o) => ({Id: o.id!, Port: cluster.loadBalancer.apiServerPort})),
          }),
        )
    },
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

/**
 * The nodes' subnets: one VPC, and every node IP inside its subnet (RunInstances would refuse it
 * anyway, after the others had started). Answers the VPC.
 */
async function checkSubnets(ec2: EC2Client, cluster: Cluster, report: LaunchReport): Promise<string> {
  const aws = platformOf(cluster)
  const subnetIds = [...new Set(cluster.nodes.map((n) => subnetOf(aws, n)))]
  const subnets = (await ec2.send(new DescribeSubnetsCommand({SubnetIds: subnetIds}))).Subnets ?? []
  const vpcs = new Set(subnets.map((s) => s.VpcId))
  const vpcId = aws.vpcId ?? subnets[0]?.VpcId
  if (!vpcId) throw new LaunchError(`subnet ${subnetIds.join(', ')} not found in ${aws.region}`, report)
  if (vpcs.size > 1) throw new LaunchError(`the nodes' subnets are in different VPCs (${[...vpcs].join(', ')})`, report)
  for (const n of cluster.nodes) {
    const s = subnets.find((x) => x.SubnetId === subnetOf(aws, n))
    if (!s) throw new LaunchError(`node ${n.name}: subnet ${subnetOf(aws, n)} not found in ${aws.region}`, report)
    if (s.CidrBlock && !inCidr(s.CidrBlock, n.ip))
      throw new LaunchError(`node ${n.name}: ${n.ip} is not in subnet ${s.SubnetId} (${s.CidrBlock})`, report)
  }
  return vpcId
}

/** One security group per role with the role's port table (created or reused, missing rules added). */
async function ensureSecurityGroups(ec2: EC2Client, cluster: Cluster, vpcId: string, report: LaunchReport): Promise<Map<Role, string>> {
  const roles = [...new Set(cluster.nodes.map((n) => n.role))]
  const names = roles.map((r) => securityGroupName(cluster.name, r))
  const existing =
    (
      await ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            {Name: 'vpc-id', Values: [vpcId]},
            {Name: 'group-name', Values: names},
          ],
        }),
      )
    ).SecurityGroups ?? []
  const groupOf = new Map<Role, string>()
  for (const role of roles) {
    const name = securityGroupName(cluster.name, role)
    const found = existing.find((g) => g.GroupName === name)
    let id = found?.GroupId
    if (!id) {
      const created = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          Description: `nodegen ${cluster.name}: ${role} ports`,
          VpcId: vpcId,
          TagSpecifications: [{ResourceType: 'security-group', Tags: tags(cluster, {Name: name, [TAG_ROLE]: role})}],
        }),
      )
      id = created.GroupId as string
    }
    const have = ruleKeys(found?.IpPermissions ?? [])
    const missing = ingressRules(cluster, role)
      .map((p) => ({...p, IpRanges: (p.IpRanges ?? []).filter((r) => !have.has(ruleKey(p, r.CidrIp)))}))
      .filter((p) => (p.IpRanges ?? []).length > 0)
    if (missing.length > 0) {
      try {
        await ec2.send(new AuthorizeSecurityGroupIngressCommand({GroupId: id, IpPermissions: missing}))
      } catch (e) {
        if (codeOf(e) !== 'InvalidPermission.Duplicate') throw e
      }
    }
    groupOf.set(role, id)
    report.firewall[name] = id
  }
  return groupOf
}

/** The nodes whose instance exists (found by the cluster's tag), as `existing` outcomes. */
async function findExisting(ec2: EC2Client, cluster: string, nodes: LaunchNode[]): Promise<Map<string, NodeOutcome>> {
  const found = await describeClusterInstances(ec2, cluster)
  const byNode = new Map(found.map((i) => [tagOf(i, TAG_NODE) ?? '', i]))
  const outcome = new Map<string, NodeOutcome>()
  for (const n of nodes) {
    const i = byNode.get(n.node.name)
    if (i)
      outcome.set(n.node.name, {
        name: n.node.name,
        role: n.node.role,
        ip: n.node.ip,
        status: 'existing',
        ...(i.InstanceId ? {id: i.InstanceId} : {}),
        ...(i.State?.Name ? {state: i.State.Name} : {}),
      })
  }
  return outcome
}

/**
 * One RunInstances for one node. IAM is eventually consistent, so an instance profile made seconds
 * ago may be unknown to EC2 yet: that is retried. A token whose instance is terminated (a destroyed
 * cluster launched again) moves on to the next token.
 */
async function runInstance(
  ec2: EC2Client,
  cluster: Cluster,
  n: LaunchNode,
  refs: {imageId: string; subnetId: string; securityGroupIds: string[]; dryRun: boolean; pace: Pace},
): Promise<Pick<NodeOutcome, 'status' | 'id' | 'state'>> {
  const {pace} = refs
  for (let attempt = 0, wait = 0; attempt < 5; ) {
    let r: RunInstancesCommandOutput
    try {
      r = await ec2.send(new RunInstancesCommand(runInstancesInput(cluster, n, refs, attempt)))
    } catch (e) {
      if (n.identity?.aws && /Invalid IAM Instance Profile/i.test(errorText(e)) && wait < 6) {
        await pace.sleep(pace.retryMs * 2 ** wait++)
        continue
      }
      throw e
    }
    attempt++
    const inst = r.Instances?.[0]
    const state = inst?.State?.Name
    if (state === 'terminated' || state === 'shutting-down') continue
    return {
      status: refs.dryRun ? 'planned' : 'created',
      ...(inst?.InstanceId ? {id: inst.InstanceId} : {}),
      ...(state ? {state} : {}),
    }
  }
  throw new Error('five idempotency tokens in a row belong to terminated instances')
}

async function waitRunning(ec2: EC2Client, outcome: Map<string, NodeOutcome>, pace: Pace, onProgress?: OnProgress): Promise<void> {
  for (const o of outcome.values()) if (o.state === 'running' && o.status !== 'failed') onProgress?.(`${o.name} running`)
  const deadline = Date.now() + pace.timeoutMs
  for (;;) {
    const waiting = [...outcome.values()].filter((o) => o.status !== 'failed' && o.id && o.state !== 'running')
    if (waiting.length === 0) return
    if (Date.now() > deadline) {
      for (const o of waiting) {
        o.status = 'failed'
        o.error = `still ${o.state ?? 'pending'} after ${Math.round(pace.timeoutMs / 1000)} s (the instance exists; a re-run waits again)`
      }
      return
    }
    const r = await ec2.send(new DescribeInstancesCommand({InstanceIds: waiting.map((o) => o.id!)}))
    for (const res of r.Reservations ?? [])
      for (const i of res.Instances ?? []) {
        const o = waiting.find((w) => w.id === i.InstanceId)
        if (!o) continue
        o.state = i.State?.Name ?? o.state
        if (o.state === 'running') onProgress?.(`${o.name} running`)
        else if (o.state === 'terminated' || o.state === 'shutting-down') {
          o.status = 'failed'
          o.error = `the instance ${o.state}: ${i.StateReason?.Message ?? 'no reason given'}`
          onProgress?.(`${o.name} failed`)
        }
      }
    if ([...outcome.values()].some((o) => o.status !== 'failed' && o.id && o.state !== 'running')) await pace.sleep(pace.pollMs)
  }
}

async function ensureNlb(
  cluster: Cluster,
  elb: ElasticLoadBalancingV2Client,
  vpcId: string,
  cps: ClusterNode[],
  report: LaunchReport,
): Promise<string> {
  const aws = platformOf(cluster)
  const subnetIdOf = (n: ClusterNode) => subnetOf(aws, n)
  const name = elbName(cluster.name)
  const host = cluster.endpoint.host
  const subnetIds = [...new Set(cps.map(subnetIdOf))]
  // An IPv4 endpoint becomes the NLB's own private address in the subnet that holds it.
  const fixedIn = isIPv4(host) ? cps.find((n) => inCidr(n.subnet, host)) : undefined
  if (isIPv4(host) && !fixedIn)
    throw new LaunchError(
      `spec.controlPlaneEndpoint.host ${host} is not in any control plane subnet (${[...new Set(cps.map((n) => n.subnet))].join(', ')}): the NLB cannot take that address`,
      report,
    )
  let lbArn: string
  let dnsName: string | undefined
  try {
    const r = await elb.send(new DescribeLoadBalancersCommand({Names: [name]}))
    lbArn = r.LoadBalancers?.[0]?.LoadBalancerArn as string
    dnsName = r.LoadBalancers?.[0]?.DNSName
  } catch (e) {
    if (codeOf(e) !== 'LoadBalancerNotFound') throw e
    const r = await elb.send(
      new CreateLoadBalancerCommand({
        Name: name,
        Type: 'network',
        Scheme: 'internal',
        IpAddressType: 'ipv4',
        SubnetMappings: subnetIds.map((SubnetId) => ({
          SubnetId,
          ...(fixedIn && subnetIdOf(fixedIn) === SubnetId ? {PrivateIPv4Address: host} : {}),
        })),
        Tags: tags(cluster, {Name: name}),
      }),
    )
    lbArn = r.LoadBalancers?.[0]?.LoadBalancerArn as string
    dnsName = r.LoadBalancers?.[0]?.DNSName
  }
  let tgArn: string
  try {
    const r = await elb.send(new DescribeTargetGroupsCommand({Names: [name]}))
    tgArn = r.TargetGroups?.[0]?.TargetGroupArn as string
  } catch (e) {
    if (codeOf(e) !== 'TargetGroupNotFound') throw e
    const r = await elb.send(
      new CreateTargetGroupCommand({
        Name: name,
        Protocol: 'TCP',
        Port: cluster.loadBalancer.apiServerPort,
        VpcId: vpcId,
        TargetType: 'instance',
        // kube-apiserver answers /readyz anonymously: a target is healthy only when it serves.
        HealthCheckProtocol: 'HTTPS',
        HealthCheckPath: '/readyz',
        HealthCheckPort: 'traffic-port',
        Tags: tags(cluster, {Name: name}),
      }),
    )
    tgArn = r.TargetGroups?.[0]?.TargetGroupArn as string
  }
  // With client IP preservation an instance target cannot reach itself through the NLB, and every
  // control plane does (kubeadm's kubeconfigs point at the endpoint).
  await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: tgArn,
      Attributes: [{Key: 'preserve_client_ip.enabled', Value: 'false'}],
    }),
  )
  const listeners = (await elb.send(new DescribeListenersCommand({LoadBalancerArn: lbArn}))).Listeners ?? []
  if (!listeners.some((l) => l.Port === cluster.endpoint.port))
    await elb.send(
      new CreateListenerCommand({
        LoadBalancerArn: lbArn,
        Protocol: 'TCP',
        Port: cluster.endpoint.port,
        DefaultActions: [{Type: 'forward', TargetGroupArn: tgArn}],
        Tags: tags(cluster, {Name: name}),
      }),
    )
  report.endpoint.resources = {loadBalancer: lbArn, targetGroup: tgArn}
  if (dnsName) report.endpoint.dnsName = dnsName
  if (!isIPv4(host))
    report.endpoint.notes.push(
      `point ${host} at the NLB: a CNAME to ${dnsName ?? name}, in a zone the nodes resolve (e.g. a Route 53 private zone of ${vpcId})`,
    )
  return tgArn
}

export interface AwsDestroyOptions {
  cluster: Cluster
  dryRun: boolean
  onProgress?: OnProgress
  pace?: Partial<Pace>
}

/**
 * Removes what launch made, found by nodegen's tags and names only: instances tagged with the
 * cluster, then the NLB and target group, then (once the instances are gone) nodegen's security
 * groups. The profile's own security groups are never touched.
 */
export async function destroyAws(opts: AwsDestroyOptions, clients: AwsClients): Promise<DestroyReport> {
  const {cluster} = opts
  platformOf(cluster)
  const pace: Pace = {...DEFAULT_PACE, ...opts.pace}
  const report: DestroyReport = {platform: 'aws', cluster: cluster.name, dryRun: opts.dryRun, calls: [], deleted: [], failed: []}
  const {ec2, elb} = clients
  const recorder = new CallRecorder(report.calls, ec2Redactor([]))
  record(clients, recorder)
  const act = async (kind: string, id: string, fn: () => Promise<unknown>) => {
    if (opts.dryRun) {
      report.deleted.push({kind, id})
      return
    }
    try {
      await fn()
      report.deleted.push({kind, id})
    } catch (e) {
      report.failed.push({kind, id, error: errorText(e)})
    }
  }
  const instances = await describeClusterInstances(ec2, cluster.name)
  const ids = instances.map((i) => i.InstanceId!).filter(Boolean)
  if (ids.length > 0) {
    if (opts.dryRun) recorder.add({service: 'ec2', operation: 'TerminateInstances', input: {InstanceIds: ids}})
    await act('instances', ids.join(','), () => ec2.send(new TerminateInstancesCommand({InstanceIds: ids})))
  }
  const name = elbName(cluster.name)
  const owned = async (arn: string) => {
    const r = await elb.send(new DescribeTagsCommand({ResourceArns: [arn]}))
    return r.TagDescriptions?.[0]?.Tags?.some((t) => t.Key === TAG_CLUSTER && t.Value === cluster.name) === true
  }
  try {
    const lb = (await elb.send(new DescribeLoadBalancersCommand({Names: [name]}))).LoadBalancers?.[0]
    if (lb?.LoadBalancerArn && (await owned(lb.LoadBalancerArn))) {
      if (opts.dryRun) recorder.add({service: 'elbv2', operation: 'DeleteLoadBalancer', input: {LoadBalancerArn: lb.LoadBalancerArn}})
      await act('load-balancer', lb.LoadBalancerArn, () => elb.send(new DeleteLoadBalancerCommand({LoadBalancerArn: lb.LoadBalancerArn})))
    }
  } catch (e) {
    if (codeOf(e) !== 'LoadBalancerNotFound') throw e
  }
  try {
    const tg = (await elb.send(new DescribeTargetGroupsCommand({Names: [name]}))).TargetGroups?.[0]
    if (tg?.TargetGroupArn && (await owned(tg.TargetGroupArn))) {
      if (opts.dryRun) recorder.add({service: 'elbv2', operation: 'DeleteTargetGroup', input: {TargetGroupArn: tg.TargetGroupArn}})
      // The target group is in use until the load balancer's deletion has gone through.
      await act('target-group', tg.TargetGroupArn, () =>
        retrying(() => elb.send(new DeleteTargetGroupCommand({TargetGroupArn: tg.TargetGroupArn})), ['ResourceInUse'], pace),
      )
    }
  } catch (e) {
    if (codeOf(e) !== 'TargetGroupNotFound') throw e
  }
  if (ids.length > 0 && !opts.dryRun) await waitTerminated(ec2, ids, pace, opts.onProgress)
  const groups =
    (await ec2.send(new DescribeSecurityGroupsCommand({Filters: [{Name: `tag:${TAG_CLUSTER}`, Values: [cluster.name]}]}))).SecurityGroups ??
    []
  for (const g of groups) {
    if (!g.GroupId) continue
    if (opts.dryRun) recorder.add({service: 'ec2', operation: 'DeleteSecurityGroup', input: {GroupId: g.GroupId}})
    // Network interfaces of terminated instances linger a little: DependencyViolation until then.
    await act('security-group', g.GroupId, () =>
      retrying(() => ec2.send(new DeleteSecurityGroupCommand({GroupId: g.GroupId})), ['DependencyViolation'], pace),
    )
  }
  return report
}

async function retrying<T>(fn: () => Promise<T>, codes: string[], pace: Pace): Promise<T> {
  const deadline = Date.now() + pace.timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (e) {
      if (!codes.includes(codeOf(e)) || Date.now() > deadline) throw e
      await pace.sleep(pace.pollMs)
    }
  }
}

async function waitTerminated(ec2: EC2Client, ids: string[], pace: Pace, onProgress?: OnProgress): Promise<void> {
  const deadline = Date.now() + pace.timeoutMs
  const done = new Set<string>()
  while (done.size < ids.length && Date.now() < deadline) {
    const r = await ec2.send(new DescribeInstancesCommand({InstanceIds: ids.filter((i) => !done.has(i))}))
    for (const res of r.Reservations ?? [])
      for (const i of res.Instances ?? [])
        if (i.State?.Name === 'terminated' && i.InstanceId && !done.has(i.InstanceId)) {
          done.add(i.InstanceId)
          onProgress?.(`${tagOf(i, TAG_NODE) ?? i.InstanceId} terminated`)
        }
    if (done.size < ids.length) await pace.sleep(pace.pollMs)
  }
}
