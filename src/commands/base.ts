/**
 * What every command shares: loading the profile with diagnostics on stderr, the --state flag, and
 * exit codes (0 ok, 1 problems found, 2 usage).
 */
import {Command, Flags} from '@oclif/core'
import {defaultStateDir, type LoadedProfile, QUICKSTART_PROFILE, readProfile} from '../app/profile-file.js'
import {type Cluster, type Diagnostic, formatDiagnostic} from '../profile/index.js'

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static stateFlag = Flags.string({
    description: 'State directory holding the cluster PKI and tokens. Default: .nodegen/<cluster>/ beside the profile.',
    helpValue: 'DIR',
  })

  /** Prints diagnostics (errors and warnings) to stderr, positioned and with an excerpt. */
  protected printDiagnostics(diagnostics: Diagnostic[]): void {
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`)
  }

  /**
   * Loads the profile, or prints every problem and exits 1. With --json the problems are also in
   * the JSON error object.
   */
  protected loadCluster(file: string | undefined): {cluster: Cluster; profile: LoadedProfile} {
    const profile = readProfile(file ?? QUICKSTART_PROFILE)
    const errors = profile.diagnostics.filter((d) => d.severity === 'error')
    if (!this.jsonEnabled() || errors.length > 0) this.printDiagnostics(profile.diagnostics)
    if (!profile.cluster || errors.length > 0) {
      this.exit(1)
    }
    return {cluster: profile.cluster as Cluster, profile}
  }

  protected stateDir(flag: string | undefined, profile: LoadedProfile, cluster: Cluster): string {
    return flag ?? defaultStateDir(profile.path, cluster.name)
  }
}
