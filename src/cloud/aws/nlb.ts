/**
 * The API endpoint on EC2: an internal network load balancer with a target group (health checked on
 * /readyz) and a listener, made before any instance, and the control planes registered as its targets
 * once they run.
 */
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  type ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {isIPv4} from '../../profile/net.js'
import {inCidr} from '../common.js'
import {LaunchError, type LaunchReport, type NodeOutcome} from '../types.js'
import {codeOf} from './client.js'
import {elbName, platformOf, subnetOf, tags} from './platform.js'

export async function ensureNlb(
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

/** The control planes that run (or are starting) as the target group's targets, on the API server port. */
export async function registerControlPlanes(
  elb: ElasticLoadBalancingV2Client,
  cluster: Cluster,
  targetGroupArn: string,
  outcome: Map<string, NodeOutcome>,
): Promise<void> {
  const cps = cluster.nodes.filter((n) => n.role === 'control-plane')
  const ids = cps.map((n) => outcome.get(n.name)).filter((o) => o && o.status !== 'failed' && o.id) as NodeOutcome[]
  if (ids.length > 0)
    await elb.send(
      new RegisterTargetsCommand({
        TargetGroupArn: targetGroupArn,
        Targets: ids.map((o) => ({Id: o.id!, Port: cluster.loadBalancer.apiServerPort})),
      }),
    )
}
