import type {CloudPlatform} from '../../app/launch.js'
import {DestroyCommand} from './_command.js'

export default class DestroyGcp extends DestroyCommand {
  static override summary = 'Remove what `launch gcp` created: instances, the internal load balancer, firewall rules.'
  static override description = `Deletes the forwarding rule, backend service, health check, instance groups and address of the
endpoint, the cluster's instances (only those labelled nodegen-cluster with this cluster) and
nodegen's firewall rules, waiting on each operation. The state directory (the PKI) is kept.`

  static override examples = [
    '<%= config.bin %> destroy gcp profiles/gcp.yaml --dry-run',
    '<%= config.bin %> destroy gcp cluster.yaml --yes',
  ]

  // oclif spreads the command class into its parser options: only own statics count.
  static override args = DestroyCommand.args
  static override flags = DestroyCommand.flags

  protected readonly platform: CloudPlatform = 'gcp'
}
