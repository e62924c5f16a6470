import {Args, Flags} from '@oclif/core'
import {type UpgradeResult, upgrade, upgradeReport} from '../app/upgrade.js'
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
    if (!this.jsonEnabled()) this.log(upgradeReport(result))
    return result
  }
}
