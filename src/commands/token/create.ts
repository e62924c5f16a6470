import {Args, Flags} from '@oclif/core'
import {parseWindowFlag} from '../../app/inputs.js'
import {createJoinToken, type TokenCreateResult} from '../../app/state.js'
import {formatDuration} from '../../app/table.js'
import {BaseCommand} from '../base.js'

export default class TokenCreate extends BaseCommand {
  static override summary = 'Record a new bootstrap token in the state for later renders.'
  static override description = `Generates a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}, from a CSPRNG) and appends it to the state's
tokens.json, where it becomes the current token: nodes rendered from now on join with it. Prints only the
token id; the secret is printed with --print-secret and nowhere else. The TTL counts from when the token
is registered in the cluster (kubeadm init or the control planes' token timer).`

  static override examples = [
    '<%= config.bin %> token create profiles/quickstart.yaml',
    '<%= config.bin %> token create cluster.yaml --ttl 2h',
    '<%= config.bin %> token create cluster.yaml --print-secret',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {
    state: BaseCommand.stateFlag,
    ttl: Flags.string({
      description: "Token lifetime (24h, 90m, 2d). Default: the profile's spec.bootstrapToken.ttl.",
      helpValue: 'DURATION',
    }),
    description: Flags.string({description: 'What the token is for (kept in tokens.json).', default: 'nodegen token create'}),
    'print-secret': Flags.boolean({description: 'Also print the whole token, secret included.', default: false}),
  }

  async run(): Promise<TokenCreateResult> {
    const {args, flags} = await this.parse(TokenCreate)
    const ttlSeconds = flags.ttl === undefined ? undefined : parseWindowFlag(flags.ttl, (e) => this.usageError(e))
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const result = await createJoinToken(cluster, dir, {
      ...(ttlSeconds !== undefined ? {ttlSeconds} : {}),
      description: flags.description,
      withSecret: flags['print-secret'],
    })
    const t = result
    if (!this.jsonEnabled()) {
      this.log(t.token ?? t.tokenId)
      this.logToStderr(`token ${t.tokenId} recorded in ${dir}/tokens.json (ttl ${formatDuration(t.ttlSeconds)})`)
    }
    return result
  }
}
