import {Args} from '@oclif/core'
import {type PkiShowResult, showState} from '../../app/state.js'
import {table} from '../../app/table.js'
import {BaseCommand} from '../base.js'

export default class PkiShow extends BaseCommand {
  static override summary = "List the state's certificates: file, subject, issuer, expiry, key algorithm and SANs."
  static override description = `Reads the certificates of the state dir (no passphrase needed: private keys are not read) and prints
one row per certificate, the service-account key and the discovery hash. --json adds serials, start
dates and the bootstrap tokens' ids and expiry. Token secrets and private keys are never printed.`

  static override examples = [
    '<%= config.bin %> pki show profiles/quickstart.yaml',
    '<%= config.bin %> pki show cluster.yaml --json | jq -r .caCertHash',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {state: BaseCommand.stateFlag}

  async run(): Promise<PkiShowResult> {
    const {args, flags} = await this.parse(PkiShow)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const result = await showState(cluster, dir, args.profile)
    if (!this.jsonEnabled()) {
      this.log(
        table(
          ['FILE', 'SUBJECT', 'ISSUER', 'NOT AFTER', 'KEY', 'SANS'],
          [
            ...result.certificates.map((c) => [c.file, c.subject, c.issuer, c.notAfter, c.keyAlgorithm, c.sans.join(',') || undefined]),
            [result.serviceAccount.file, '(service-account key)', undefined, undefined, result.serviceAccount.keyAlgorithm, undefined],
          ],
        ),
      )
      this.log('')
      this.log(`discovery hash  ${result.caCertHash}`)
      const t = result.tokens[result.tokens.length - 1]
      if (t) this.log(`bootstrap token ${t.tokenId} (ttl ${t.ttlSeconds}s, made ${t.created}; ${result.tokens.length} in the state)`)
      this.log(
        `state           ${dir} (${result.keyAlgorithm}, ${result.topology} etcd, keys ${result.encrypted ? 'encrypted' : 'unencrypted'})`,
      )
    }
    return result
  }
}
