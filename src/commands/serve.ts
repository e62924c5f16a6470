import {Args, Flags} from '@oclif/core'
import {parseListen, parseSeedTtl} from '../app/inputs.js'
import {serveProfile, statusScreen} from '../app/serve-profile.js'
import {BaseCommand} from './base.js'

export default class Serve extends BaseCommand {
  static override enableJsonFlag = false
  static override summary = 'Serve iPXE scripts, NoCloud-net and Ignition seeds to network-booting machines, chosen by MAC.'
  static override description = `Machines boot iPXE, which chains to a script for their identity (spec.platform.pxe.matchBy: MAC,
SMBIOS UUID or hostname) with the kernel and initrd of spec.platform.pxe.kernel[<os>] and the node's seed URL:
ds=nocloud-net;s=<this server>/nocloud/<id>/<token>/ (cloud-init) or ignition.config.url=<this server>/ignition/<id>?token=
(Flatcar). Every per-node URL needs the node's token (an HMAC of its name under the serve key, a secret of its
own in the state): give each machine its tokened script through the dnsmasq-dhcp.conf of
\`nodegen render --media pxe --require-token\`. A node's seed (which holds its secrets) is served until it
reports ready, or for --seed-ttl after it was first served. Nodes whose profile names this server in
spec.bootstrap.statusUrl POST their phases with their status token; the table of the fleet is shown on a
terminal and at GET /status. Unknown machines get 404. With --bundle DIR it also serves an air-gap bundle
(nodegen bundle's output) read-only and without a token, at the path of spec.airgap.bundle (/bundle/ when
the profile names none): GET and HEAD, byte ranges, files streamed; only the bundle's layout, never a
file outside it (symbolic links only into the bundle or a --bundle-link-root). Stop with Ctrl-C.`
  static override examples = [
    '<%= config.bin %> serve cluster.yaml --listen 10.0.0.2:8080',
    '<%= config.bin %> serve cluster.yaml --listen 10.0.0.2:8443 --tls-cert server.crt --tls-key server.key',
    '<%= config.bin %> serve cluster.yaml --listen 10.0.0.2:8080 --bundle /srv/bundle   # spec.airgap.bundle: http://10.0.0.2:8080/bundle/',
  ]
  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {
    listen: Flags.string({
      description: 'Address and port to listen on (no default: name the provisioning interface).',
      required: true,
      helpValue: 'ADDR:PORT',
    }),
    'public-url': Flags.string({
      description: 'Base URL machines reach this server at. Default: spec.platform.pxe.serverUrl, else http(s)://ADDR:PORT.',
    }),
    'tls-cert': Flags.string({description: 'Serve HTTPS with this certificate (PEM).', dependsOn: ['tls-key']}),
    'tls-key': Flags.string({description: 'Private key of --tls-cert (PEM).', dependsOn: ['tls-cert']}),
    assets: Flags.string({
      description: 'Directory served under /assets/ (the kernels and initrds spec.platform.pxe.kernel names).',
      helpValue: 'DIR',
    }),
    bundle: Flags.string({
      description:
        'Air-gap bundle directory (nodegen bundle -o DIR) served read-only, without a token, at the path of spec.airgap.bundle (default /bundle/).',
      helpValue: 'DIR',
    }),
    'bundle-link-root': Flags.string({
      description:
        "A directory the bundle's symbolic links may point into (a bundle made of links into artifact caches); links elsewhere are refused. Repeatable.",
      multiple: true,
      dependsOn: ['bundle'],
      helpValue: 'DIR',
    }),
    'seed-ttl': Flags.string({
      description: "How long a node's seed is served after it was first served (it stops at once when the node reports ready).",
      default: '2h',
      helpValue: 'DURATION',
    }),
    'insecure-no-token': Flags.boolean({
      description:
        'Labs only: serve every seed, CA keys included, to anyone who can reach the server, and accept status reports without a token.',
      default: false,
    }),
    state: BaseCommand.stateFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Serve)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const {host, port} = parseListen(flags.listen, (m) => this.error(m, {exit: 2}))
    const seedTtlSeconds = parseSeedTtl(flags['seed-ttl'], (m) => this.error(m, {exit: 2}))
    if (flags['insecure-no-token'])
      process.stderr.write(
        'WARNING: --insecure-no-token: every node seed, control-plane CA keys included, is served to ANYONE who can reach this server, and anyone can post status reports. Use only on an isolated lab network.\n',
      )
    const tty = process.stdout.isTTY === true
    const {server, notes, warnings} = await serveProfile(cluster, profile.path, {
      stateDir: dir,
      host,
      port,
      ...(flags['public-url'] ? {publicUrl: flags['public-url']} : {}),
      insecureNoToken: flags['insecure-no-token'],
      seedTtlSeconds,
      ...(flags.assets ? {assetsDir: flags.assets} : {}),
      ...(flags.bundle ? {bundleDir: flags.bundle} : {}),
      bundleLinkRoots: flags['bundle-link-root'] ?? [],
      ...(flags['tls-cert'] ? {tlsCert: flags['tls-cert']} : {}),
      ...(flags['tls-key'] ? {tlsKey: flags['tls-key']} : {}),
      log: (line) => {
        if (!tty) process.stdout.write(`${new Date().toISOString()} ${line}\n`)
      },
    })
    for (const n of notes) this.log(n)
    for (const w of warnings) process.stderr.write(`${w}\n`)
    const timer = tty ? setInterval(() => process.stdout.write(statusScreen(cluster, server)), 1000) : undefined
    await new Promise<void>((resolve) => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    if (timer) clearInterval(timer)
    await server.close()
    this.log('stopped')
  }
}
