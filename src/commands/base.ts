/**
 * What every command shares: loading the profile with diagnostics on stderr, the --state flag, exit
 * codes (0 ok, 1 problems found, 2 usage), and the one place a problem the user can act on (a
 * {@link UserError}, coded or not) becomes its printed message and exit 1.
 */
import {Command, Errors, Flags} from '@oclif/core'
import {defaultStateDir, type LoadedProfile, loadProfileFile, QUICKSTART_PROFILE} from '../app/profile-file.js'
import {CodedError, UserError} from '../errors.js'
import {type BuildOptions, type Cluster, type Diagnostic, formatDiagnostic, formatPath} from '../profile/index.js'

/** A profile with errors, in --json mode: the error object carries every diagnostic. */
export class InvalidProfileError extends Error {
  readonly exitCode = 1
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`the profile has ${diagnostics.filter((d) => d.severity === 'error').length} error(s)`)
  }
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static stateFlag = Flags.string({
    description:
      'State directory holding the cluster PKI and tokens. Default: .nodegen/<cluster>/ beside the profile; for a bundled profile (and with no profile argument), in the current directory.',
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
  protected async loadCluster(file: string | undefined, opts: BuildOptions = {}): Promise<{cluster: Cluster; profile: LoadedProfile}> {
    const profile = await loadProfileFile(file ?? QUICKSTART_PROFILE, opts)
    const errors = profile.diagnostics.filter((d) => d.severity === 'error')
    if (!profile.cluster || errors.length > 0) {
      if (this.jsonEnabled()) throw new InvalidProfileError(profile.diagnostics)
      this.printDiagnostics(profile.diagnostics)
      this.exit(1)
    }
    if (!this.jsonEnabled()) this.printDiagnostics(profile.diagnostics)
    return {cluster: profile.cluster as Cluster, profile}
  }

  /** `--insecure-inline-secrets`, for the commands that produce user-data (render, launch). */
  static insecureInlineSecretsFlag = Flags.boolean({
    description:
      'Accept secretBackend: inline on aws/gcp: control planes then carry CA keys in user-data, which the metadata service serves for the life of the instance (launch enforces IMDSv2 with hop limit 1).',
    default: false,
  })

  /** A flag whose value is wrong, as a coded problem: printed as `<code>: <message>` with exit 2 (usage). */
  protected usageError(err: CodedError): never {
    return this.error(`${err.code}: ${err.message}`, {exit: 2})
  }

  /** A UserError is printed as `<code>: <message>` (or its message) with exit 1, never a stack trace. */
  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (err instanceof UserError) {
      const message = err instanceof CodedError ? `${err.code}: ${err.message}` : err.message
      return super.catch(new Errors.CLIError(message, {exit: 1}))
    }
    return super.catch(err)
  }

  protected override toErrorJson(err: unknown): unknown {
    if (err instanceof InvalidProfileError) {
      return {
        error: {code: 'INVALID_PROFILE', message: err.message, diagnostics: err.diagnostics.map((d) => ({...d, path: formatPath(d.path)}))},
      }
    }
    return super.toErrorJson(err)
  }

  protected stateDir(flag: string | undefined, profile: LoadedProfile, cluster: Cluster): string {
    return flag ?? defaultStateDir(profile.path, cluster.name, process.cwd())
  }
}
