import path from 'node:path'
import {Args, Flags} from '@oclif/core'
import {parseAt} from '../app/inputs.js'
import {QUICKSTART_PROFILE} from '../app/profile-file.js'
import {progress} from '../app/progress.js'
import {type MediaKind, type RenderResult, renderReport} from '../app/render.js'
import {prestartRenderThreads} from '../app/render-pool.js'
import {renderProfile} from '../app/render-profile.js'
import {BaseCommand} from './base.js'

export default class Render extends BaseCommand {
  static override summary = 'Render every node of a profile: cloud-init (or Ignition) seeds and boot media.'
  static override description = `Builds one NodePlan per node from the profile and the cluster's state, emits it as cloud-init
user-data, meta-data and network-config (Ignition for Flatcar), fits it into the platform's size
budget and writes the boot media. With no PROFILE it renders the bundled quickstart profile.

The PKI state is created on the first render and reused after: in --state DIR, by default
.nodegen/<cluster>/ beside the profile, or in the current directory for a bundled profile (and with
no PROFILE). Output is built beside DIR and swapped in at the end: an interrupted render leaves the
previous output whole. The render ends with the next step: which file goes to which machine.

Output: DIR/cluster.json, DIR/admin.conf (0600), DIR/<node>/user-data, meta-data, network-config
(Ignition nodes: DIR/<node>/config.ign; --no-seed-files leaves these out), and per node DIR/<node>.iso (NoCloud, volume cidata, or with
--media configdrive a config-2 drive, the one Ignition nodes can use) or a bundle. Ignition nodes
cannot boot from a NoCloud ISO: --media iso is refused for them.
With --media pxe (the default on the pxe platform): DIR/pxe/ is the tree to serve at
spec.platform.pxe.serverUrl from any web server — boot.ipxe, ipxe/<machine>, nocloud/<machine>/…,
ignition/<machine> — plus DIR/dnsmasq-proxy.conf (beside an existing DHCP server) and
DIR/dnsmasq-dhcp.conf (dnsmasq as the DHCP server, a fixed lease per MAC) for TFTP of iPXE.`

  static override examples = [
    '<%= config.bin %> render -o out',
    '<%= config.bin %> render profiles/quickstart.yaml -o out --node kube-alma-n-01',
    '<%= config.bin %> render cluster.yaml -o out --media bundle --json',
    '<%= config.bin %> render bare-metal.yaml -o /srv/www --media pxe',
    '<%= config.bin %> render cluster.yaml -o out --node worker-7 --at 2026-12-24T08:00:00Z',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML). Default: the bundled quickstart.', required: false})}
  static override flags = {
    output: Flags.string({char: 'o', description: 'Output directory.', default: 'out', helpValue: 'DIR'}),
    node: Flags.string({description: 'Render only this node (repeatable).', multiple: true}),
    media: Flags.string({
      description:
        'Boot media per node. Default: iso for NoCloud nodes, configdrive for config-drive nodes, pxe for PXE nodes, none elsewhere.',
      options: ['iso', 'configdrive', 'bundle', 'pxe', 'none'],
    }),
    'require-token': Flags.boolean({
      description:
        'With --media pxe: dnsmasq-dhcp.conf gives each machine its own tokened script URL (an HMAC under the serve key of the state), which `nodegen serve` requires.',
      default: false,
    }),
    'seed-files': Flags.boolean({
      description:
        "Also write each node's loose seed (DIR/<node>/user-data, meta-data, network-config; Ignition: config.ign) beside its boot medium. --no-seed-files writes only the media (with --media none the seed is the output and is always written).",
      default: true,
      allowNo: true,
    }),
    'bundle-format': Flags.string({description: 'Archive format with --media bundle.', options: ['tar.gz', 'zip'], default: 'tar.gz'}),
    at: Flags.string({
      description:
        "When the nodes will boot (ISO 8601). Joining nodes get the bootstrap token of that time's window, and the next one's. Default: now.",
      helpValue: 'TIME',
    }),
    state: BaseCommand.stateFlag,
    'insecure-inline-secrets': BaseCommand.insecureInlineSecretsFlag,
  }

  async run(): Promise<RenderResult> {
    const {args, flags} = await this.parse(Render)
    prestartRenderThreads(args.profile ?? QUICKSTART_PROFILE, flags.media as MediaKind | undefined)
    const {cluster, profile} = await this.loadCluster(args.profile, {insecureInlineSecrets: flags['insecure-inline-secrets']})
    const dir = this.stateDir(flags.state, profile, cluster)
    const quiet = this.jsonEnabled()
    const {result, media, bar} = await renderProfile(cluster, profile.path, {
      stateDir: dir,
      outDir: flags.output,
      ...(flags.node ? {nodes: flags.node} : {}),
      ...(flags.media ? {media: flags.media as MediaKind} : {}),
      at: parseAt(flags.at, (m) => this.error(m, {exit: 2})),
      requireToken: flags['require-token'],
      seedFiles: flags['seed-files'],
      bundleFormat: flags['bundle-format'] as 'tar.gz' | 'zip',
      onState: (created, warnings) => {
        for (const w of warnings) this.warn(w)
        if (created && !quiet)
          this.log(`created the cluster's PKI in ${path.resolve(dir)} (its CA keys and tokens: keep it, later runs reuse it)`)
      },
      progress: (count) => progress(count, 'render', process.stderr, !quiet),
    })
    bar.done(`rendered ${result.nodes.length} node(s) into ${flags.output} (${result.bytes} bytes)`)
    if (!quiet) {
      // One write for the whole report: a large render's is thousands of lines.
      const launch = `${this.config.bin} launch ${cluster.platform.type} ${args.profile ?? 'PROFILE'}`
      this.log(renderReport(cluster, result, media, flags.output, launch).join('\n'))
    }
    return result
  }
}
