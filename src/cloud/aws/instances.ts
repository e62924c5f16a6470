/**
 * The EC2 instances of a launch: the RunInstances request of each node (fixed private IP, IMDSv2
 * only with a hop limit of 1, tags, user-data, a ClientToken from cluster and node), finding the
 * instances that exist by tag, creating one, and waiting for them to run.
 */
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  type EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
} from '@aws-sdk/client-ec2'
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {clientToken, errorText} from '../common.js'
import type {LaunchNode, NodeOutcome, OnProgress, Pace} from '../types.js'
import {type AwsPlatform, platformOf, TAG_CLUSTER, TAG_NODE, TAG_ROLE, tags} from './platform.js'

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

export async function describeClusterInstances(ec2: EC2Client, cluster: string): Promise<Instance[]> {
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

export function tagOf(i: Instance, key: string): string | undefined {
  return i.Tags?.find((t) => t.Key === key)?.Value
}

/** The nodes whose instance exists (found by the cluster's tag), as `existing` outcomes. */
export async function findExisting(ec2: EC2Client, cluster: string, nodes: LaunchNode[]): Promise<Map<string, NodeOutcome>> {
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
export async function runInstance(
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

export async function waitRunning(ec2: EC2Client, outcome: Map<string, NodeOutcome>, pace: Pace, onProgress?: OnProgress): Promise<void> {
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
