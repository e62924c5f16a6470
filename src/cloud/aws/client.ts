/**
 * The EC2 and ELBv2 clients (@aws-sdk/client-ec2 and the ELBv2 client) and how their calls are
 * recorded. One code path serves real runs and dry runs: a dry run swaps the clients for stand-ins
 * that send nothing and answer "nothing exists yet", so the calls a dry run lists are the calls a
 * first launch makes.
 */
import {EC2Client, type Tag} from '@aws-sdk/client-ec2'
import {ElasticLoadBalancingV2Client} from '@aws-sdk/client-elastic-load-balancing-v2'
import type {Cluster} from '../../profile/index.js'
import {type CallRecorder, type Redact, userDataRedaction} from '../recorder.js'
import type {LaunchNode} from '../types.js'
import {type AwsPlatform, platformOf, TAG_NODE} from './platform.js'

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

/** An AWS error's code without its `Exception` suffix (LoadBalancerNotFound, DependencyViolation…). */
export function codeOf(e: unknown): string {
  const err = e as {name?: string; Code?: string}
  return (err.Code ?? err.name ?? '').replace(/Exception$/, '')
}

/** What the report shows of an EC2 or ELBv2 request: a copy, with RunInstances' UserData redacted. */
export function ec2Redactor(nodes: LaunchNode[]): Redact {
  const userData = userDataRedaction(nodes, 'base64', 'base64')
  return (input) => {
    const i = input as {UserData?: string}
    if (!i || typeof i.UserData !== 'string') return structuredClone(input)
    return {...structuredClone(input as object), UserData: userData(i.UserData)}
  }
}

/** Records every command a client sends (once, before the SDK's retries). */
function addRecordingMiddleware(clients: AwsClients, recorder: CallRecorder): void {
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
export function recordCalls(clients: AwsClients, recorder: CallRecorder): void {
  const dry = (clients.ec2 as unknown as Partial<DryRunSender>)[DRY_RUN]
  if (!dry) {
    addRecordingMiddleware(clients, recorder)
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
