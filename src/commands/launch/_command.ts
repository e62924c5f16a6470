/** What `launch aws` and `launch gcp` share: flags, the state and material, the report and exit code. */
import {Args, Flags} from '@oclif/core'
import {parseAt} from '../../app/inputs.js'
import {type CloudPlatform, formatLaunchReport, type LaunchReport, launch} from '../../app/launch.js'
import {openClusterState} from '../../app/material.js'
import {progress} from '../../app/progress.js'
import {BaseCommand} from '../base.js'

export abstract class LaunchCommand extends BaseCommand {
  static override args = {profile: Args.string({description: 'Cluster profile (YAML) with spec.platform.type aws or gcp.', required: true})}
  static override flags = {
    'dry-run': Flags.boolean({
      description: 'List every API call a first launch makes (user-data redacted, as size and sha256) and send none; needs no credentials.',
      default: false,
    }),
    'insecure-inline-secrets': BaseCommand.insecureInlineSecretsFlag,
    at: Flags.string({
      description: "When the nodes will boot (ISO 8601), for the bootstrap token's window. Default: now.",
      helpValue: 'TIME',
    }),
    state: BaseCommand.stateFlag,
  }

  protected abstract readonly platform: CloudPlatform

  async run(): Promise<LaunchReport> {
    const {args, flags} = await this.parse(this.constructor as typeof LaunchCommand)
    const {cluster, profile} = await this.loadCluster(args.profile, {insecureInlineSecrets: flags['insecure-inline-secrets']})
    const dir = this.stateDir(flags.state, profile, cluster)
    let report: LaunchReport
    const at = parseAt(flags.at, (m) => this.error(m, {exit: 2}))
    const state = await openClusterState(cluster, dir)
    for (const w of state.warnings) this.warn(w)
    if (state.created && !this.jsonEnabled()) this.log(`created the cluster's PKI in ${dir}`)
    const bar = progress(cluster.nodes.length, 'instances', process.stderr, !this.jsonEnabled())
    report = await launch({
      platform: this.platform,
      cluster,
      profilePath: profile.path,
      stateDir: dir,
      material: state.material(at),
      dryRun: flags['dry-run'],
      insecureInlineSecrets: flags['insecure-inline-secrets'],
      progress: bar,
      warn: (m) => this.warn(m),
    })
    const ok = report.nodes.filter((n) => n.status !== 'failed').length
    bar.done(
      report.dryRun
        ? `dry run: ${report.nodes.length} node(s) would be launched on ${this.platform}`
        : `${ok}/${report.nodes.length} node(s) of ${cluster.name} running on ${this.platform}`,
    )
    if (!this.jsonEnabled()) for (const line of formatLaunchReport(report)) this.log(line)
    if (report.nodes.some((n) => n.status === 'failed')) process.exitCode = 1
    return report
  }
}
