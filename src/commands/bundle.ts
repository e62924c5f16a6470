import {Args, Flags} from '@oclif/core'
import {BundleError, type BundleResult, buildBundle} from '../app/bundle/index.js'
import {type Progress, progress} from '../app/progress.js'
import {BaseCommand} from './base.js'

export default class Bundle extends BaseCommand {
  static override summary = 'Download an air-gap bundle for a profile: its images, packages and CNI manifest, checksummed and signed.'
  static override description = `On a machine with access to the registries and repositories, builds the bundle an
air-gapped site serves to its nodes (spec.airgap.bundle; layout in docs/airgap.md): every image of
\`nodegen images\` as an OCI archive (skopeo), the pinned Kubernetes packages in pkgs.k8s.io's layout
from the profile's packageRepository (checked against the repository's signature and index), the
OS packages with their dependency closure from --os-mirror (apt-get in a scratch configuration), the
CNI manifest, SHA256SUMS and manifest.json. The repositories are re-signed by a bundle key kept in
the state directory (bundle-gnupg/, made on first use). Debian and Ubuntu nodes only: the RHEL
family's repositories are not built yet (NG1106). Written to DIR.tmp and renamed to DIR when whole.
Prints the SHA-256 of SHA256SUMS for spec.airgap.sha256. Exit status: 0 built, 1 failed, 2 usage.`

  static override examples = [
    '<%= config.bin %> bundle cluster.yaml -o /srv/bundle --os-mirror http://deb.debian.org/debian',
    '<%= config.bin %> bundle cluster.yaml -o bundle --os-mirror http://mirror.lan/debian --insecure-registry registry.lan:5000',
    '<%= config.bin %> bundle cluster.yaml -o bundle --os-mirror http://deb.debian.org/debian --json | jq -r .sha256',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML).', required: true})}

  static override flags = {
    out: Flags.string({
      char: 'o',
      description: 'Bundle directory (replaced when the new bundle is whole).',
      required: true,
      helpValue: 'DIR',
    }),
    'os-mirror': Flags.string({
      description: 'Debian or Ubuntu mirror the OS packages and their dependencies come from (like http://deb.debian.org/debian).',
      helpValue: 'URL',
    }),
    'os-keyring': Flags.string({
      description:
        'Keyring that signs --os-mirror. Default: /usr/share/keyrings/debian-archive-keyring.gpg (Ubuntu: ubuntu-archive-keyring.gpg).',
      helpValue: 'FILE',
    }),
    'package-repository': Flags.string({
      description:
        "Where the Kubernetes packages are downloaded from, as spec.kubernetes.packageRepository takes it. Default: the profile's, or pkgs.k8s.io when that is the bundle itself.",
      helpValue: 'URL',
    }),
    'insecure-registry': Flags.string({
      description:
        'A registry (host[:port]) reached over plain HTTP or with an unverified certificate, such as a local test registry. Repeatable.',
      multiple: true,
      helpValue: 'HOST',
    }),
    authfile: Flags.string({
      description: "skopeo's credentials file for registries that need a login (containers-auth.json).",
      helpValue: 'FILE',
    }),
    state: BaseCommand.stateFlag,
  }

  async run(): Promise<BundleResult> {
    const {args, flags} = await this.parse(Bundle)
    const {cluster, profile} = await this.loadCluster(args.profile)
    let bar: Progress | undefined
    const tty = !this.jsonEnabled() && process.stderr.isTTY === true
    try {
      const result = await buildBundle({
        cluster,
        profilePath: profile.path,
        out: flags.out,
        stateDir: this.stateDir(flags.state, profile, cluster),
        ...(flags['package-repository'] ? {packageRepository: flags['package-repository']} : {}),
        ...(flags['os-mirror'] ? {osMirror: flags['os-mirror']} : {}),
        ...(flags['os-keyring'] ? {osKeyring: flags['os-keyring']} : {}),
        insecureRegistries: flags['insecure-registry'] ?? [],
        ...(flags.authfile ? {authFile: flags.authfile} : {}),
        now: () => new Date(),
        onStep: (what, total) => {
          if (tty) {
            bar ??= progress(total, 'bundle')
            bar.tick(what)
          } else if (!this.jsonEnabled()) process.stderr.write(`bundle: ${what}\n`)
        },
      })
      bar?.done(
        `bundle: ${result.images.length} image(s), ${result.kubernetes.packages.length + result.os.reduce((n, o) => n + o.packages.length, 0)} package(s)`,
      )
      if (!this.jsonEnabled()) {
        this.log(
          `${result.out}: ${result.images.length} image(s), Kubernetes ${result.kubernetesVersion} packages, ${result.os.map((o) => `os/${o.os}`).join(', ') || 'no OS repository'}`,
        )
        this.log(`sha256 of SHA256SUMS (spec.airgap.sha256): ${result.sha256}`)
      }
      return result
    } catch (e) {
      bar?.done('bundle: failed')
      if (e instanceof BundleError) this.error(`${e.code}: ${e.message}`, {exit: 1})
      throw e
    }
  }
}
