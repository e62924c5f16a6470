import {Args} from '@oclif/core'
import {initState, type PkiInitResult} from '../../app/state.js'
import {BaseCommand} from '../base.js'

export default class PkiInit extends BaseCommand {
  static override summary = "Create the cluster's PKI offline: CAs, service-account key, etcd certificates, admin.conf and the init token."
  static override description = `Issues kubeadm's certificate set for the profile's key algorithm and writes it to the state dir
(default .nodegen/<cluster>/ beside the profile, in the current directory for a bundled profile) in one
atomic step: a crash leaves no state or a whole one.
An existing state is never replaced: running it again changes nothing and says so, and a state that belongs
to another cluster is refused. External etcd members added to the profile later get their certificates added.

With NODEGEN_PKI_PASSPHRASE set (at least 12 characters) when the state is created, every secret in it
(private keys, tokens, the token calendar, the serve key) is stored encrypted under a key stretched from
the passphrase with scrypt, and the same passphrase is needed whenever nodegen reads them. To encrypt or
re-key an existing state: \`nodegen pki encrypt\`.`

  static override examples = [
    '<%= config.bin %> pki init profiles/quickstart.yaml',
    '<%= config.bin %> pki init cluster.yaml --state /srv/nodegen/prod',
    'NODEGEN_PKI_PASSPHRASE=... <%= config.bin %> pki init cluster.yaml',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {state: BaseCommand.stateFlag}

  async run(): Promise<PkiInitResult> {
    const {args, flags} = await this.parse(PkiInit)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const result = await initState(cluster, dir)
    for (const w of result.warnings) this.warn(w)
    if (!this.jsonEnabled()) this.report(result)
    return result
  }

  private report(r: PkiInitResult): void {
    if (r.created) {
      this.log(
        `Created the PKI of cluster ${r.cluster} in ${r.state}: ${r.files.length} files, ${r.keyAlgorithm} keys, ${r.encrypted ? 'encrypted' : 'unencrypted'}.`,
      )
    } else if (r.added.length > 0) {
      this.log(`The PKI of cluster ${r.cluster} exists in ${r.state}; added ${r.added.length} files, changed none:`)
      for (const f of r.added) this.log(`  ${f}`)
    } else {
      this.log(`The PKI of cluster ${r.cluster} already exists in ${r.state}: nothing changed.`)
    }
    this.log(`discovery hash  ${r.caCertHash}`)
    this.log(`bootstrap token ${r.tokenId}.<secret in tokens.json>`)
  }
}
