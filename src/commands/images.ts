import {Args} from '@oclif/core'
import {formatInventory, type Inventory, inventoryOf} from '../app/inventory.js'
import {type Diagnostic, formatPath} from '../profile/index.js'
import {BaseCommand} from './base.js'

export type ImagesResult = Omit<Inventory, 'diagnostics'> & {
  profile: string
  diagnostics: Array<Omit<Diagnostic, 'path'> & {path: string}>
}

export default class Images extends BaseCommand {
  static override summary = "List every image and package (with versions) the cluster's nodes download: what a mirror must hold."
  static override description = `Like \`kubeadm config images list\`, but complete: kubeadm's images with the profile's
imageRepository applied as kubeadm applies it, the external etcd members' and kube-vip's images, and
the CNI's (from manifestFile, or nodegen's table of the default release manifest); then, per OS, the
package repositories and the packages the package phase installs with the versions nodegen pins
(Flatcar: the kubernetes sysext image). Writes nothing. Exit status: 0 listed (warnings say what is
unknown), 1 problems found, 2 usage error.`

  static override examples = [
    '<%= config.bin %> images profiles/quickstart.yaml',
    '<%= config.bin %> images cluster.yaml --json | jq -r ".images[].image"',
    "<%= config.bin %> images cluster.yaml --json | jq -r '.os[].packages[] | select(.version) | .request'",
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}

  async run(): Promise<ImagesResult> {
    const {args} = await this.parse(Images)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const inventory = inventoryOf(cluster, profile.path)
    const failed = inventory.diagnostics.some((d) => d.severity === 'error')
    const result: ImagesResult = {
      profile: args.profile,
      ...inventory,
      diagnostics: inventory.diagnostics.map((d) => ({...d, path: formatPath(d.path)})),
    }
    if (this.jsonEnabled()) {
      if (failed) process.exitCode = 1
      return result
    }
    this.printDiagnostics(inventory.diagnostics)
    if (failed) this.exit(1)
    this.log(formatInventory(inventory))
    return result
  }
}
