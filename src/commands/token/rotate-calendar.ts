import {Args} from '@oclif/core'
import {type RotateCalendarResult, rotateTokenCalendar} from '../../app/state.js'
import {BaseCommand} from '../base.js'

export default class TokenRotateCalendar extends BaseCommand {
  static override summary = 'Replace the token calendar secret that control planes mint bootstrap tokens from.'
  static override description = `Writes a new calendar secret into the state (atomically). Then:
  1. re-render the control planes (nodegen render PROFILE --node <each control plane>) and copy the
     new /etc/nodegen/calendar.env to each of them (mode 0600), or re-provision them;
  2. on each control plane: systemctl start nodegen-tokens.service (registers the new windows' tokens);
  3. render workers from now on: they carry tokens of the new secret.
Tokens of the old secret already registered stay valid until their windows end; none is minted after
every control plane has the new secret.`
  static override examples = ['<%= config.bin %> token rotate-calendar profiles/quickstart.yaml']
  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}
  static override flags = {state: BaseCommand.stateFlag}

  async run(): Promise<RotateCalendarResult> {
    const {args, flags} = await this.parse(TokenRotateCalendar)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const dir = this.stateDir(flags.state, profile, cluster)
    const result = await rotateTokenCalendar(cluster, dir, args.profile)
    if (!this.jsonEnabled())
      this.log(`token calendar of ${cluster.name} rotated (generation ${result.generation}); re-render and update every control plane next`)
    return result
  }
}
