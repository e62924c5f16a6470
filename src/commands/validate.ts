import {Args} from '@oclif/core'
import {loadProfileFile} from '../app/profile-file.js'
import {type Diagnostic, formatPath, SUPPORTED_RANGE} from '../profile/index.js'
import {BaseCommand} from './base.js'

export interface ValidateResult {
  profile: string
  valid: boolean
  cluster?: string
  kubernetes?: {version: string; kubeadmApi: string}
  errors: number
  warnings: number
  diagnostics: Array<Omit<Diagnostic, 'path'> & {path: string}>
}

export default class Validate extends BaseCommand {
  static override summary = 'Check a cluster profile and report every problem with its file, line and column.'
  static override description = `Loads the profile, checks it against the schema and the cluster rules (addresses, subnets,
endpoint, topology, versions: nodegen supports Kubernetes ${SUPPORTED_RANGE}), and prints
every problem at once. Exit status: 0 valid (warnings allowed), 1 errors found, 2 usage error.`

  static override examples = [
    '<%= config.bin %> validate profiles/quickstart.yaml',
    '<%= config.bin %> validate cluster.yaml --json | jq .diagnostics',
  ]

  static override args = {
    profile: Args.string({description: 'Cluster profile (YAML).', required: true}),
  }

  static override flags = {'insecure-inline-secrets': BaseCommand.insecureInlineSecretsFlag}

  async run(): Promise<ValidateResult> {
    const {args, flags} = await this.parse(Validate)
    const loaded = await loadProfileFile(args.profile, {insecureInlineSecrets: flags['insecure-inline-secrets']})
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length
    const result: ValidateResult = {
      profile: args.profile,
      valid: errors === 0 && loaded.cluster !== undefined,
      ...(loaded.cluster
        ? {
            cluster: loaded.cluster.name,
            kubernetes: {version: loaded.cluster.kubernetes.version, kubeadmApi: loaded.cluster.kubernetes.kubeadmApi},
          }
        : {}),
      errors,
      warnings: loaded.diagnostics.length - errors,
      diagnostics: loaded.diagnostics.map((d) => ({...d, path: formatPath(d.path)})),
    }
    if (this.jsonEnabled()) {
      // The result is the report; the exit status says whether it found errors.
      if (!result.valid) process.exitCode = 1
      return result
    }
    this.printDiagnostics(loaded.diagnostics)
    if (!result.valid) {
      this.log(`${args.profile}: ${errors} error(s), ${result.warnings} warning(s)`)
      this.exit(1)
    }
    this.log(
      `${args.profile}: valid — cluster ${result.cluster}, Kubernetes ${result.kubernetes?.version} (kubeadm ${result.kubernetes?.kubeadmApi})` +
        (result.warnings ? `, ${result.warnings} warning(s)` : ''),
    )
    return result
  }
}
