import {Args} from '@oclif/core'
import {table} from '../app/table.js'
import type {Cluster} from '../profile/index.js'
import {BaseCommand} from './base.js'

export interface PlanNode {
  name: string
  role: string
  ordinal: number
  os: string
  format: string
  ip: string
  prefix: number
  mac?: string
  gateway?: string
}

export interface PlanResult {
  cluster: {
    name: string
    kubernetes: {version: string; kubeadmApi: string; imageRepository: string; packageRepository: string}
    topology: string
    endpoint: {host: string; port: number; kind: string}
    loadBalancer: string
    networking: {podSubnet: string; serviceSubnet: string; dnsDomain: string; cni: string}
    platform: string
  }
  nodes: PlanNode[]
}

export function planSummary(c: Cluster): PlanResult {
  return {
    cluster: {
      name: c.name,
      kubernetes: {
        version: c.kubernetes.version,
        kubeadmApi: c.kubernetes.kubeadmApi,
        imageRepository: c.kubernetes.imageRepository,
        packageRepository: c.kubernetes.packageRepository,
      },
      topology: c.topology,
      endpoint: c.endpoint,
      loadBalancer: c.loadBalancer.type,
      networking: {
        podSubnet: c.networking.podSubnet,
        serviceSubnet: c.networking.serviceSubnet,
        dnsDomain: c.networking.dnsDomain,
        cni: c.networking.cni.type,
      },
      platform: c.platform.type,
    },
    nodes: c.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      ordinal: n.ordinal,
      os: n.os,
      format: n.format,
      ip: n.ip,
      prefix: n.prefix,
      ...(n.mac ? {mac: n.mac} : {}),
      ...(n.gateway ? {gateway: n.gateway} : {}),
    })),
  }
}

export default class Plan extends BaseCommand {
  static override summary = 'Show what nodegen will make of a profile: every node, its role, ordinal, OS and format.'
  static override description =
    'Reads and validates the profile, then lists the nodes in bootstrap order with the endpoint and topology. Writes nothing.'
  static override examples = [
    '<%= config.bin %> plan profiles/quickstart.yaml',
    '<%= config.bin %> plan cluster.yaml --json | jq ".nodes[].ip"',
  ]
  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}

  async run(): Promise<PlanResult> {
    const {args} = await this.parse(Plan)
    const {cluster} = this.loadCluster(args.profile)
    const result = planSummary(cluster)
    if (!this.jsonEnabled()) {
      this.log(
        table(
          ['NODE', 'ROLE', 'ORDINAL', 'OS', 'FORMAT', 'IP', 'MAC'],
          result.nodes.map((n) => [n.name, n.role, n.ordinal, n.os, n.format, `${n.ip}/${n.prefix}`, n.mac]),
        ),
      )
      const c = result.cluster
      this.log('')
      this.log(
        `endpoint   ${c.endpoint.host}:${c.endpoint.port} (${c.endpoint.kind === 'vip' ? `VIP, ${c.loadBalancer}` : c.endpoint.kind})`,
      )
      this.log(`topology   ${c.topology} etcd`)
      this.log(`kubernetes ${c.kubernetes.version} (kubeadm ${c.kubernetes.kubeadmApi}), images from ${c.kubernetes.imageRepository}`)
      this.log(
        `network    pods ${c.networking.podSubnet} (${c.networking.cni}), services ${c.networking.serviceSubnet}, ${c.networking.dnsDomain}`,
      )
      this.log(`platform   ${c.platform}`)
    }
    return result
  }
}
