import {Args, Flags} from '@oclif/core'
import {promptHidden} from '../../app/prompt.js'
import {encryptClusterState, MIN_PASSPHRASE_LENGTH, NEW_PASSPHRASE_ENV, PASSPHRASE_ENV, stateEncrypted} from '../../app/state.js'
import {BaseCommand} from '../base.js'

export default class PkiEncrypt extends BaseCommand {
  static override summary = "Encrypt an existing state's secrets at rest, or re-key an encrypted one."
  static override description = `Every secret file of the state (private keys, admin.conf's key, tokens.json, calendar.json, serve-key)
is re-encoded under a key stretched from the new passphrase with scrypt (N=2^17, r=8, p=1). The
certificates, keys and tokens themselves do not change. The new state is written whole beside the old
one and swapped in; a crash leaves the old state, which the next run puts back.

Passphrases are never arguments: the new one comes from ${NEW_PASSPHRASE_ENV}, else a prompt on the
terminal; an encrypted state's current one from ${PASSPHRASE_ENV}. At least ${MIN_PASSPHRASE_LENGTH} characters.`
  static override examples = [
    '<%= config.bin %> pki encrypt cluster.yaml',
    `${PASSPHRASE_ENV}=... ${NEW_PASSPHRASE_ENV}=... <%= config.bin %> pki encrypt cluster.yaml --rekey`,
  ]
  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {
    rekey: Flags.boolean({description: `The state is encrypted already: change its passphrase (the current one in ${PASSPHRASE_ENV}).`}),
    state: BaseCommand.stateFlag,
  }

  async run(): Promise<{state: string; files: number; rekeyed: boolean}> {
    const {args, flags} = await this.parse(PkiEncrypt)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const encrypted = await stateEncrypted(cluster, dir, args.profile)
    if (encrypted && !flags.rekey) this.error(`the state in ${dir} is encrypted already: pass --rekey to change its passphrase`, {exit: 2})
    if (!encrypted && flags.rekey) this.error(`the state in ${dir} is not encrypted: run without --rekey`, {exit: 2})
    let next = process.env[NEW_PASSPHRASE_ENV]
    if (!next && process.stdin.isTTY) {
      next = await promptHidden('New passphrase: ')
      if ((await promptHidden('Again: ')) !== next) this.error('the passphrases differ', {exit: 2})
    }
    if (!next) this.error(`set ${NEW_PASSPHRASE_ENV} (or run on a terminal to be asked)`, {exit: 2})
    const r = await encryptClusterState(cluster, dir, {rekey: flags.rekey, newPassphrase: next as string})
    this.log(
      `${r.rekeyed ? 'Re-keyed' : 'Encrypted'} the state of cluster ${cluster.name} in ${dir} (${r.files} files): from now on set ${PASSPHRASE_ENV} to the new passphrase.`,
    )
    return r
  }
}
