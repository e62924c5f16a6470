import {Args, Flags} from '@oclif/core'
import {type ServedCertificates, servedCertificates} from '../../app/served-certificates.js'
import {table} from '../../app/table.js'
import {type Expiring, expirations, inventoryState, PkiError, parseWindow} from '../../pki/index.js'
import {BaseCommand} from '../base.js'

export interface CheckExpirationResult {
  cluster: string
  state: string
  now: string
  within: string
  withinSeconds: number
  /** Certificates that expire inside the window (or have expired). */
  expiring: number
  certificates: Expiring[]
  /** With --kubeconfig or --server: what the running API server presents over TLS. */
  served?: ServedCertificates
}

/** `400d`, `23h`, `expired`: the time left, coarse like `kubeadm certs check-expiration`. */
export function residual(seconds: number): string {
  if (seconds <= 0) return 'expired'
  if (seconds >= 365 * 86400) return `${Math.floor(seconds / (365 * 86400))}y`
  if (seconds >= 86400) return `${Math.floor(seconds / 86400)}d`
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`
  return `${Math.ceil(seconds / 60)}m`
}

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
    const withinSeconds = parseWindow(flags.within)
    if (withinSeconds === undefined) this.usageError(new PkiError('NG0910', {value: flags.within}))
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const now = new Date()
    const certificates = expirations((await inventoryState(dir, cluster, args.profile)).certificates, now, withinSeconds)
    let served: ServedCertificates | undefined
    if (flags.kubeconfig !== undefined || flags.server !== undefined) {
      try {
        served = await servedCertificates({kubeconfig: flags.kubeconfig, server: flags.server}, now, withinSeconds)
      } catch (e) {
        throw new PkiError('NG0914', {reason: (e as Error).message})
      }
    }
    const result: CheckExpirationResult = {
      cluster: cluster.name,
      state: dir,
      now: now.toISOString(),
      within: flags.within,
      withinSeconds,
      expiring: certificates.filter((c) => c.within).length + (served?.certificates.filter((c) => c.within).length ?? 0),
      certificates,
      ...(served ? {served} : {}),
    }
    // Exit 1 without throwing: oclif would print an error object after the --json result.
    if (result.expiring > 0) process.exitCode = 1
    if (this.jsonEnabled()) return result
    this.log(
      table(
        ['FILE', 'CERTIFICATE', 'EXPIRES', 'RESIDUAL', 'STATUS'],
        certificates.map((c) => [
          c.file,
          c.member ? `${c.name} (${c.member})` : c.name,
          c.notAfter,
          residual(c.remainingSeconds),
          c.expired ? 'EXPIRED' : c.within ? `expires within ${flags.within}` : 'ok',
        ]),
      ),
    )
    if (served) {
      this.log('')
      this.log(`presented by ${served.server}${served.version ? ` (Kubernetes ${served.version})` : ''}:`)
      this.log(
        table(
          ['CERTIFICATE', 'SUBJECT', 'EXPIRES', 'RESIDUAL', 'STATUS'],
          served.certificates.map((c) => [
            c.name,
            c.subject,
            c.notAfter,
            residual(c.remainingSeconds),
            c.expired ? 'EXPIRED' : c.within ? `expires within ${flags.within}` : 'ok',
          ]),
        ),
      )
    }
    if (result.expiring > 0) {
      this.log('')
      this.log(`${result.expiring} certificate(s) expire within ${flags.within}.`)
    }
    return result
  }
}
