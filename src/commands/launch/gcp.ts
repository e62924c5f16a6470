import type {CloudPlatform} from '../../app/launch.js'
import {LaunchCommand} from './_command.js'

export default class LaunchGcp extends LaunchCommand {
  static override summary = "Launch the profile's nodes on Compute Engine, with the user-data `render` produces."
  static override description = `One instances.insert per node: its networkIP, the image (spec.platform.gcp.image, the image
\`nodegen image build\` recorded, or the OS's public image family), the machine type, labels
(nodegen-cluster, -node, -role), metadata user-data (with user-data-encoding: base64 only when it
is gzip+base64; Ignition reads user-data as it is), a network tag per role with a firewall rule for
the role's ports, and a requestId derived from cluster and node. With endpoint internal-lb, an
internal passthrough load balancer (address, /readyz health check, instance groups, backend
service, forwarding rule) is created first; control plane 0 is its backend at once, the others once
their consoles report ready (run launch again to add them). Waits on every operation. Existing
instances are left alone. Credentials: Application Default Credentials; nodegen stores none.`

  static override examples = [
    '<%= config.bin %> launch gcp profiles/gcp.yaml --dry-run',
    '<%= config.bin %> launch gcp profiles/gcp.yaml --dry-run --json',
    '<%= config.bin %> launch gcp cluster.yaml --insecure-inline-secrets',
  ]

  // oclif spreads the command class into its parser options: only own statics count.
  static override args = LaunchCommand.args
  static override flags = LaunchCommand.flags

  protected readonly platform: CloudPlatform = 'gcp'
}
