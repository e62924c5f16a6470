/**
 * The network side of an EC2 launch: the nodes' subnets checked against the profile (one VPC, every
 * node IP inside its subnet), and one security group per role opening the role's port table
 * (common.ts rolePortTable, the same table the node's own firewall gets) to every node subnet.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  type IpPermission,
} from '@aws-sdk/client-ec2'
import type {Cluster, Role} from '../../profile/index.js'
import {inCidr, nodeSubnets, rolePortTable} from '../common.js'
import {LaunchError, type LaunchReport} from '../types.js'
import {codeOf} from './client.js'
import {platformOf, securityGroupName, subnetOf, TAG_ROLE, tags} from './platform.js'

/**
 * The nodes' subnets: one VPC, and every node IP inside its subnet (RunInstances would refuse it
 * anyway, after the others had started). Answers the VPC.
 */
export async function checkSubnets(ec2: EC2Client, cluster: Cluster, report: LaunchReport): Promise<string> {
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

/** One security group per role with the role's port table (created or reused, missing rules added). */
export async function ensureSecurityGroups(
  ec2: EC2Client,
  cluster: Cluster,
  vpcId: string,
  report: LaunchReport,
): Promise<Map<Role, string>> {
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
