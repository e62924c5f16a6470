/**
 * `nodegen launch aws`: the AWS steps of the shared launch sequence. Order: subnets (VPC, CIDRs) →
 * security groups per role (created or reused, missing rules added) → the endpoint (NLB, target
 * group, listener) → the secrets hook → one RunInstances per missing node → wait for running →
 * register the control planes with the target group.
 */
import type {Role} from '../../profile/index.js'
import {newLaunchReport, type ProviderAdapter, runLaunchSequence} from '../launch-sequence.js'
import {CallRecorder} from '../recorder.js'
import {DEFAULT_PACE, type LaunchOptions, type LaunchReport, type Pace} from '../types.js'
import {type AwsClients, ec2Redactor, recordCalls} from './client.js'
import {findExisting, runInstance, waitRunning} from './instances.js'
import {checkSubnets, ensureSecurityGroups} from './network.js'
import {ensureNlb, registerControlPlanes} from './nlb.js'
import {platformOf, subnetOf} from './platform.js'

export type AwsLaunchOptions = LaunchOptions

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
  recordCalls(clients, recorder)
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
    register: async (outcome, ready) => {
      if (ready.targetGroupArn) await registerControlPlanes(elb, cluster, ready.targetGroupArn, outcome)
    },
  }
  report.nodes = await runLaunchSequence(adapter, {...opts, recorder})
  return report
}
