import {Args, Flags} from '@oclif/core'
import {materialFromSecrets} from '../app/material.js'
import {readTls, startServer} from '../app/serve.js'
import {table} from '../app/table.js'
import {loadOrCreateCalendar, loadOrCreateState, passphraseFrom, systemPkiContext} from '../pki/index.js'
import {BaseCommand} from './base.js'

export default class Serve extends BaseCommand {
  static override enableJsonFlag = false
  static override summary = 'Serve iPXE scripts, NoCloud-net and Ignition seeds to network-booting machines, chosen by MAC.'
  static override description = `Machines boot iPXE (DHCP/proxy-DHCP points them at /boot.ipxe), which chains to a script for
their MAC: the kernel and initrd of spec.platform.pxe.kernel[<os>] with ds=nocloud-net;s=<this server>/nocloud/<mac>/
(cloud-init) or ignition.config.url=<this server>/ignition/<mac> (Flatcar). Seeds are rendered per
request from the profile and the state, and the profile is re-read when it changes. Nodes whose
profile names this server in spec.bootstrap.statusUrl POST their phases; the table of the fleet is
shown on a terminal and at GET /status. Unknown machines get 404. Stop with Ctrl-C.`
  static override examples = [
    '<%= config.bin %> serve cluster.yaml --listen 0.0.0.0:8080',
    '<%= config.bin %> serve cluster.yaml --listen 10.0.0.2:8443 --tls-cert server.crt --tls-key server.key --require-token',
  ]
  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {
    listen: Flags.string({description: 'Address and port to listen on.', default: '0.0.0.0:8080', helpValue: 'ADDR:PORT'}),
    'public-url': Flags.string({
      description: 'Base URL machines reach this server at. Default: spec.platform.pxe.serverUrl, else http(s)://ADDR:PORT.',
    }),
    'tls-cert': Flags.string({description: 'Serve HTTPS with this certificate (PEM).', dependsOn: ['tls-key']}),
    'tls-key': Flags.string({description: 'Private key of --tls-cert (PEM).', dependsOn: ['tls-cert']}),
    assets: Flags.string({
      description: 'Directory served under /assets/ (the kernels and initrds spec.platform.pxe.kernel names).',
      helpValue: 'DIR',
    }),
    'require-token': Flags.boolean({
      description: 'Node URLs must carry a per-node token (derived from the cluster state).',
      default: false,
    }),
    state: BaseCommand.stateFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Serve)
    const {cluster, profile} = this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const m = /^(.*):(\d+)$/.exec(flags.listen)
    if (!m) this.error(`--listen ${flags.listen} is not ADDR:PORT`, {exit: 2})
    const ctx = systemPkiContext({passphrase: passphraseFrom(process.env)})
    const state = await loadOrCreateState(dir, cluster, ctx)
    const calendar = await loadOrCreateCalendar(dir, ctx)
    const tty = process.stdout.isTTY === true
    const server = await startServer({
      profilePath: profile.path,
      material: async (c) => materialFromSecrets(c, state.secrets, calendar, new Date()),
      host: m?.[1] as string,
      port: Number(m?.[2]),
      ...((flags['public-url'] ?? cluster.platform.pxe?.serverUrl)
        ? {publicUrl: (flags['public-url'] ?? cluster.platform.pxe?.serverUrl) as string}
        : {}),
      ...(flags['require-token'] ? {tokenKey: calendar.secret} : {}),
      ...(flags.assets ? {assetsDir: flags.assets} : {}),
      ...(readTls(flags['tls-cert'], flags['tls-key']) ? {tls: readTls(flags['tls-cert'], flags['tls-key'])} : {}),
      log: (line) => {
        if (!tty) process.stdout.write(`${new Date().toISOString()} ${line}\n`)
      },
    })
    this.log(`serving ${cluster.nodes.length} nodes of ${cluster.name} at ${server.url} (iPXE entry: ${server.url}/boot.ipxe)`)
    const timer = tty
      ? setInterval(() => {
          const rows = cluster.nodes.map((n) => {
            const s = server.status.get(n.name)
            return [n.name, n.role, n.mac, s?.phase, s?.state, s?.reason, s?.received]
          })
          process.stdout.write(
            `\x1b[H\x1b[2J${server.url}\n\n${table(['NODE', 'ROLE', 'MAC', 'PHASE', 'STATE', 'REASON', 'LAST REPORT'], rows)}\n`,
          )
        }, 1000)
      : undefined
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
