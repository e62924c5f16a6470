/** What `destroy aws` and `destroy gcp` share. */
import {Args, Flags} from '@oclif/core'
import {type CloudPlatform, type DestroyReport, destroy} from '../../app/launch.js'
import {progress} from '../../app/progress.js'
import {BaseCommand} from '../base.js'

export abstract class DestroyCommand extends BaseCommand {
  static override args = {profile: Args.string({description: 'Cluster profile (YAML) the cluster was launched from.', required: true})}
  static override flags = {
    'dry-run': Flags.boolean({
      description: 'Look up what exists and list the deletions without making them (read calls only).',
      default: false,
    }),
    yes: Flags.boolean({char: 'y', description: 'Delete without asking: required unless --dry-run.', default: false}),
  }

  protected abstract readonly platform: CloudPlatform

  async run(): Promise<DestroyReport> {
    const {args, flags} = await this.parse(this.constructor as typeof DestroyCommand)
    if (!flags['dry-run'] && !flags.yes)
      this.error(
        'destroy deletes the instances, load balancer and firewall rules of the cluster: pass --yes (or look first with --dry-run)',
        {
          exit: 2,
        },
      )
    // destroy writes no user-data: an inline secret backend is no reason to refuse the profile.
    const {cluster} = await this.loadCluster(args.profile, {insecureInlineSecrets: true})
    const bar = progress(cluster.nodes.length, 'destroy', process.stderr, !this.jsonEnabled())
    let report: DestroyReport
    report = await destroy({platform: this.platform, cluster, dryRun: flags['dry-run'], progress: bar})
    bar.done(`${report.dryRun ? 'would delete' : 'deleted'} ${report.deleted.length} resource(s) of ${cluster.name}`)
    if (!this.jsonEnabled()) {
      for (const d of report.deleted) this.log(`  ${report.dryRun ? 'would delete' : 'deleted'} ${d.kind} ${d.id}`)
      for (const f of report.failed) this.log(`  FAILED ${f.kind} ${f.id}: ${f.error}`)
    }
    if (report.failed.length > 0) process.exitCode = 1
    return report
  }
}
