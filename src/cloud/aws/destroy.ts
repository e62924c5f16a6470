/**
 * `nodegen destroy aws`: removes what launch made, found by nodegen's tags and names only, and waits
 * for what must be gone before the next deletion can succeed.
 */
import {
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import {
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import type {Cluster} from '../../profile/index.js'
import {errorText} from '../common.js'
import {CallRecorder} from '../recorder.js'
import {DEFAULT_PACE, type DestroyReport, type OnProgress, type Pace} from '../types.js'
import {type AwsClients, codeOf, ec2Redactor, recordCalls} from './client.js'
import {describeClusterInstances, tagOf} from './instances.js'
import {elbName, platformOf, TAG_CLUSTER, TAG_NODE} from './platform.js'

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
  recordCalls(clients, recorder)
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
