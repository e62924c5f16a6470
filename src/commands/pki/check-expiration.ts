import {Args, Flags} from '@oclif/core'
import {parseWindowFlag} from '../../app/inputs.js'
import {type CheckExpirationResult, checkExpiration, expirationReport} from '../../app/state.js'
import {BaseCommand} from '../base.js'

export default class PkiCheckExpiration extends BaseCommand {
  static override summary = "Check when the state's certificates expire; exit 1 when one expires inside the window."
  static override description = `Lists every certificate nodegen issued (CAs, external etcd certificates, admin.conf's client
certificate) with its expiry and time left. Exit status: 0 when none expires within --within, 1 when at
least one does (or has expired). With --kubeconfig (or --server) the running cluster is asked too: the
certificate chain its API server presents over TLS (the leaf kubeadm issued on the control plane that
answered) and, with credentials, its version. Certificates kubeadm issues on the nodes are renewed
there by nodegen-cert-renewal.timer; \`kubeadm certs check-expiration\` lists them on each node.`

  static override examples = [
    '<%= config.bin %> pki check-expiration profiles/quickstart.yaml',
    '<%= config.bin %> pki check-expiration cluster.yaml --within 90d',
    '<%= config.bin %> pki check-expiration cluster.yaml --within 720h --json',
    '<%= config.bin %> pki check-expiration cluster.yaml --kubeconfig admin.conf',
    '<%= config.bin %> pki check-expiration cluster.yaml --server https://10.0.0.100:6443',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {
    state: BaseCommand.stateFlag,
    within: Flags.string({
      description: 'Window to check: Go durations (720h, 1h30m) or days (30d).',
      default: '30d',
      helpValue: 'DURATION',
    }),
    kubeconfig: Flags.string({
      description: "Also check the running cluster: its API server's certificate as presented over TLS, and its version.",
      helpValue: 'FILE',
      exclusive: ['server'],
    }),
    server: Flags.string({
      description: 'Also check the API server at this URL (https://host:port): the certificate it presents, without credentials.',
      helpValue: 'URL',
    }),
  }

  async run(): Promise<CheckExpirationResult> {
    const {args, flags} = await this.parse(PkiCheckExpiration)
    const withinSeconds = parseWindowFlag(flags.within, (e) => this.usageError(e))
    const {cluster, profile} = await this.loadCluster(args.profile)
    const running = flags.kubeconfig !== undefined || flags.server !== undefined
    const result = await checkExpiration(cluster, this.stateDir(flags.state, profile, cluster), {
      profileArg: args.profile,
      within: flags.within,
      withinSeconds,
      ...(running ? {running: {kubeconfig: flags.kubeconfig, server: flags.server}} : {}),
    })
    // Exit 1 without throwing: oclif would print an error object after the --json result.
    if (result.expiring > 0) process.exitCode = 1
    if (!this.jsonEnabled()) this.log(expirationReport(result))
    return result
  }
}
