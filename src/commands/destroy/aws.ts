import type {CloudPlatform} from '../../app/launch.js'
import {DestroyCommand} from './_command.js'

export default class DestroyAws extends DestroyCommand {
  static override summary = 'Remove what `launch aws` created: instances, the NLB and target group, security groups.'
  static override description = `Finds resources by nodegen's tags (nodegen.dev/cluster) and names only: terminates the
cluster's instances, deletes the NLB and its target group, waits for the instances to be gone and
deletes nodegen's security groups. The profile's own security groups are never touched; the
state directory (the PKI) is kept.`

  static override examples = [
    '<%= config.bin %> destroy aws profiles/aws.yaml --dry-run',
    '<%= config.bin %> destroy aws cluster.yaml --yes',
  ]

  // oclif spreads the command class into its parser options: only own statics count.
  static override args = DestroyCommand.args
  static override flags = DestroyCommand.flags

  protected readonly platform: CloudPlatform = 'aws'
}
