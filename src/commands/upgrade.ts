import {Args, Flags} from '@oclif/core'
import {table} from '../app/table.js'
import {type UpgradeResult, upgrade} from '../app/upgrade.js'
import {BaseCommand} from './base.js'

export default class Upgrade extends BaseCommand {
  static override summary = "Plan the upgrade to the profile's spec.kubernetes.version and hand it over to the running cluster."
  static override description = `Reads the new version from the profile and the cluster's current one (--from, else the API server's
/version through --kubeconfig, else the version the state was made for), checks the step with kubeadm's
rules (one minor at a time, no downgrade; patch releases freely) and prints the plan: the control
planes in order (the first runs \`kubeadm upgrade apply\` with nodegen's UpgradeConfiguration, the
others \`kubeadm upgrade node\`), the kubelet/kubectl/kubeadm packages per OS, etcd's version, the
workers in batches of spec.upgrade.maxUnavailableWorkers, and the images the new version adds.

Without --dry-run (and with --kubeconfig) the plan is handed over: the ConfigMap
kube-system/nodegen-upgrade gets the desired version and the plan's hash, applied server-side. The node
agent that carries it out is not part of nodegen yet; docs/day-two.md says how to run the steps.
Exit status: 0 planned (or handed over), 1 the step is not allowed or the cluster cannot be reached, 2 usage.`

  static override examples = [
    '<%= config.bin %> upgrade cluster.yaml --dry-run --from 1.33.5',
    '<%= config.bin %> upgrade cluster.yaml --dry-run --kubeconfig admin.conf --json | jq .controlPlanes',
    '<%= config.bin %> upgrade cluster.yaml --kubeconfig admin.conf',
  ]

  static override args = {
    profile: Args.string({description: 'Cluster profile (YAML) with the new spec.kubernetes.version.', required: true}),
  }
  static override flags = {
    state: BaseCommand.stateFlag,
    'dry-run': Flags.boolean({description: 'Print the plan only; change nothing in the cluster.', default: false}),
    from: Flags.string({
      description: "The cluster's current Kubernetes version (default: the API server's, or the state's).",
      helpValue: 'VERSION',
    }),
    kubeconfig: Flags.string({
      description: 'Kubeconfig of the running cluster (embedded client certificate or token): its version, and the hand-over.',
      helpValue: 'FILE',
    }),
  }

  async run(): Promise<UpgradeResult> {
    const {args, flags} = await this.parse(Upgrade)
    if (!flags['dry-run'] && flags.kubeconfig === undefined)
      this.error('without --dry-run the plan goes to the cluster: give --kubeconfig FILE (or --dry-run)', {exit: 2})
    const {cluster, profile} = await this.loadCluster(args.profile)
    const result = await upgrade({
      cluster,
      profilePath: profile.path,
      stateDir: this.stateDir(flags.state, profile, cluster),
      ...(flags.from !== undefined ? {from: flags.from} : {}),
      ...(flags.kubeconfig !== undefined ? {kubeconfig: flags.kubeconfig} : {}),
      handOver: !flags['dry-run'],
    })
    if (!this.jsonEnabled()) this.log(formatUpgrade(result))
    return result
  }
}

function formatUpgrade(r: UpgradeResult): string {
  const p = r.plan
  const from = {flag: '--from', api: 'the API server', state: 'the state'}[p.fromSource]
  const out = [
    `upgrade ${p.cluster}: ${p.from} to ${p.to} (${p.kind === 'none' ? 'nothing to do' : `${p.kind} release`}; ${p.from} from ${from})`,
  ]
  if (p.kind === 'none') return out.join('\n')
  out.push('', 'control planes, one at a time (after installing the new kubeadm on each):')
  out.push(
    table(
      ['ORDER', 'NODE', 'RUNS'],
      p.controlPlanes.map((c) => [c.order, c.node, c.command]),
    ),
  )
  out.push('  then on each, once its turn is done: the new kubelet and kubectl, systemctl daemon-reload, systemctl restart kubelet')
  out.push('', 'packages:')
  out.push(
    table(
      ['OS', 'NODES', 'PACKAGES', 'FROM'],
      p.packages.map((k) => [k.os, k.nodes.join(','), k.requests.join(' ') || undefined, k.sysext ?? k.repository]),
    ),
  )
  out.push(
    '',
    p.etcd.stacked
      ? `etcd (stacked): kubeadm upgrades it with each control plane, ${p.etcd.changes ? `${p.etcd.from} to ${p.etcd.to}` : `${p.etcd.to} unchanged`}`
      : `etcd (external: ${p.etcd.members.join(', ')}): ${p.etcd.changes ? `${p.etcd.from} to ${p.etcd.to}; re-render the members' seeds, kubeadm does not upgrade external etcd` : `${p.etcd.to} unchanged`}`,
  )
  if (p.containerd)
    out.push(`containerd: nodegen pins ${p.containerd.to} for the new minor (was ${p.containerd.from}); new seeds install it`)
  out.push(
    '',
    p.workers.batches.length > 0
      ? `workers, ${p.workers.maxUnavailable} at a time: ${p.workers.batches.map((b) => b.join(', ')).join(' | ')}`
      : 'workers: none',
  )
  for (const s of p.workers.steps) out.push(`  - ${s}`)
  out.push(
    '',
    p.images.length > 0 ? `images new in ${p.to} (pre-pull them, or put them in the mirror first):` : `no image is new in ${p.to}`,
  )
  if (p.images.length > 0)
    out.push(
      table(
        ['IMAGE', 'COMPONENT', 'ROLES'],
        p.images.map((i) => [i.image, i.component, i.roles.join(',')]),
      ),
    )
  out.push('', `plan ${p.hash}`)
  if (r.handedOver)
    out.push(
      `handed over: ConfigMap ${r.handedOver.namespace}/${r.handedOver.name} at ${r.handedOver.server} holds version ${r.handedOver.version} and the plan's hash; run the steps above on the nodes (docs/day-two.md)`,
    )
  else out.push('dry run: nothing was changed')
  return out.join('\n')
}
