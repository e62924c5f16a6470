import {Args, Flags} from '@oclif/core'
import {createToken, PkiError, parseWindow, passphraseFrom, systemPkiContext} from '../../pki/index.js'
import {formatDuration} from '../../profile/index.js'
import {BaseCommand} from '../base.js'

export interface TokenCreateResult {
  cluster: string
  state: string
  tokenId: string
  ttlSeconds: number
  created: string
  expires: string
  description: string
  /** `<id>.<secret>`: only with --print-secret. */
  token?: string
}

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
    const ttlSeconds = flags.ttl === undefined ? undefined : parseWindow(flags.ttl)
    if (flags.ttl !== undefined && ttlSeconds === undefined) this.usageError(new PkiError('NG0910', {value: flags.ttl}))
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const t = await createToken(dir, cluster, systemPkiContext({passphrase: passphraseFrom(process.env)}), {
      ttlSeconds: ttlSeconds ?? cluster.bootstrapToken.ttlSeconds,
      description: flags.description,
    })
    const result: TokenCreateResult = {
      cluster: cluster.name,
      state: dir,
      tokenId: t.tokenId,
      ttlSeconds: t.ttlSeconds,
      created: t.created,
      expires: t.expires,
      description: t.description,
      ...(flags['print-secret'] ? {token: t.token} : {}),
    }
    if (!this.jsonEnabled()) {
      this.log(flags['print-secret'] ? t.token : t.tokenId)
      this.logToStderr(`token ${t.tokenId} recorded in ${dir}/tokens.json (ttl ${formatDuration(t.ttlSeconds)})`)
    }
    return result
  }
}
