import {Args, Flags} from '@oclif/core'
import {parseAt} from '../app/inputs.js'
import {type PlanNode, type PlanResult, planCluster} from '../app/plan.js'
import {table} from '../app/table.js'
import {BaseCommand} from './base.js'

export default class Plan extends BaseCommand {
  static override summary = 'Show what nodegen will make of a profile: every node, its role, ordinal, OS and format.'
  static override description =
    'Reads and validates the profile, then lists the nodes in bootstrap order with the endpoint and topology. Writes nothing.'
  static override examples = [
    '<%= config.bin %> plan profiles/quickstart.yaml',
    '<%= config.bin %> plan cluster.yaml --json | jq ".nodes[].ip"',
  ]
  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {
    state: BaseCommand.stateFlag,
    at: Flags.string({description: 'When the nodes will boot (ISO 8601): decides the token window. Default: now.', helpValue: 'TIME'}),
  }

  async run(): Promise<PlanResult> {
    const {args, flags} = await this.parse(Plan)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const at = parseAt(flags.at, (m) => this.error(m, {exit: 2}))
    const result = await planCluster(cluster, {
      stateDir: this.stateDir(flags.state, profile, cluster),
      profilePath: profile.path,
      at,
      warn: (m) => this.warn(m),
    })
    if (!this.jsonEnabled()) {
      const fmt = (n: PlanNode) =>
        n.userData
          ? `${n.userData.size} B ${n.userData.encoding}${n.userData.budget === null ? '' : ` / ${n.userData.budget}`}${n.userData.fits ? '' : ' OVER'}`
          : '-'
      this.log(
        table(
          ['NODE', 'ROLE', 'ORDINAL', 'OS', 'FORMAT', 'IP', 'MAC', 'USER-DATA', 'TOKEN (WINDOW, EXPIRES)'],
          result.nodes.map((n) => [
            n.name,
            n.role,
            n.ordinal,
            n.os,
            n.format,
            `${n.ip}/${n.prefix}`,
            n.mac,
            fmt(n),
            n.token ? `${n.token.tokenId} (${n.token.window}, ${n.token.expires})` : undefined,
          ]),
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
      if (result.sizes === 'estimated') this.log("sizes      estimated with a throwaway PKI of the profile's key algorithm (no state yet)")
    }
    return result
  }
}
