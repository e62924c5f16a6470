import {Args, Flags} from '@oclif/core'
import {type BundleResult, buildBundle} from '../app/bundle/index.js'
import {type Progress, progress} from '../app/progress.js'
import {ensureState} from '../app/state.js'
import {BaseCommand} from './base.js'

export default class Bundle extends BaseCommand {
  static override summary = 'Download an air-gap bundle for a profile: its images, packages and CNI manifest, checksummed and signed.'
  static override description = `On a machine with access to the registries and repositories, builds the bundle an
air-gapped site serves to its nodes (spec.airgap.bundle; layout in docs/airgap.md): every image of
\`nodegen images\` as an OCI archive (skopeo), the pinned Kubernetes packages in pkgs.k8s.io's layout
from the profile's packageRepository (checked against the repository's signature and index), the
OS packages with their dependency closure from --os-mirror, Flatcar's Kubernetes sysext image, the
CNI manifest, SHA256SUMS and manifest.json. Debian and Ubuntu: apt-get in a scratch configuration,
the repositories re-signed by a bundle key kept in the state directory (bundle-gnupg/, made on first
use). The RHEL family: dnf in a scratch installroot reading the mirror's BaseOS and AppStream, every
package's upstream signature checked and kept, the vendors' keys shipped beside the packages
(--os-gpg-key, or the vendor's published key). Written to DIR.tmp and renamed to DIR when whole.
Prints the SHA-256 of SHA256SUMS for spec.airgap.sha256. Exit status: 0 built, 1 failed, 2 usage.`

  static override examples = [
    '<%= config.bin %> bundle cluster.yaml -o /srv/bundle --os-mirror http://deb.debian.org/debian',
    '<%= config.bin %> bundle cluster.yaml -o bundle --os-mirror http://mirror.lan/debian --insecure-registry registry.lan:5000',
    '<%= config.bin %> bundle cluster.yaml -o bundle --os-mirror http://deb.debian.org/debian --json | jq -r .sha256',
    '<%= config.bin %> bundle el.yaml -o /srv/bundle --os-mirror https://repo.almalinux.org/almalinux/9',
    '<%= config.bin %> bundle mixed.yaml -o bundle --os-mirror debian-12=http://deb.debian.org/debian --os-mirror rocky-9=https://dl.rockylinux.org/pub/rocky/9 --os-gpg-key rocky-9=RPM-GPG-KEY-Rocky-9',
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
      description:
        'Mirror the OS packages and their dependencies come from: Debian or Ubuntu (like http://deb.debian.org/debian), or for the RHEL family the one above BaseOS/ and AppStream/ (like https://repo.almalinux.org/almalinux/9). OS=URL for one OS of a mixed profile. Repeatable.',
      multiple: true,
      helpValue: '[OS=]URL',
    }),
    'os-gpg-key': Flags.string({
      description:
        "RHEL family: an armoured key (file or URL) the OS packages are signed with, shipped in the bundle. Default: the vendor's published key (AlmaLinux, Rocky, CentOS). OS=KEY for one OS. Repeatable.",
      multiple: true,
      helpValue: '[OS=]KEY',
    }),
    'sysext-repository': Flags.string({
      description:
        "Where Flatcar's Kubernetes sysext image is downloaded from. Default: the profile's sysextRepository, or https://extensions.flatcar.org/extensions when that is the bundle itself.",
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
    const stateDir = this.stateDir(flags.state, profile, cluster)
    try {
      // The bundle key lives in the cluster's state: the state is made first when there is none yet,
      // as render or serve would make it, so that they find a state there and not a stray directory.
      await ensureState(cluster, stateDir)
      const result = await buildBundle({
        cluster,
        profilePath: profile.path,
        out: flags.out,
        stateDir,
        ...(flags['package-repository'] ? {packageRepository: flags['package-repository']} : {}),
        osMirrors: flags['os-mirror'] ?? [],
        osGpgKeys: flags['os-gpg-key'] ?? [],
        ...(flags['sysext-repository'] ? {sysextRepository: flags['sysext-repository']} : {}),
        ...(flags['os-keyring'] ? {osKeyring: flags['os-keyring']} : {}),
        insecureRegistries: flags['insecure-registry'] ?? [],
        ...(flags.authfile ? {authFile: flags.authfile} : {}),
        now: () => new Date(),
        onNotice: (what) => process.stderr.write(`bundle: ${what}\n`),
        onStep: (what, total) => {
          if (tty) {
            bar ??= progress(total, 'bundle')
            bar.tick(what)
          } else if (!this.jsonEnabled()) process.stderr.write(`bundle: ${what}\n`)
        },
      })
      bar?.done(
        `bundle: ${result.images.length} image(s), ${[...result.kubernetes, ...result.os].reduce((n, o) => n + o.packages.length, 0)} package(s)`,
      )
      if (!this.jsonEnabled()) {
        this.log(
          `${result.out}: ${result.images.length} image(s), Kubernetes ${result.kubernetesVersion} packages, ${[...result.os.map((o) => `os/${o.os}`), ...result.sysext.map((x) => x.file)].join(', ') || 'no OS repository'}`,
        )
        this.log(`sha256 of SHA256SUMS (spec.airgap.sha256): ${result.sha256}`)
        for (const x of result.sysext) this.log(`sha512 of ${x.file} (spec.kubernetes.sysextSha512): ${x.sha512}`)
      }
      return result
    } catch (e) {
      bar?.done('bundle: failed')
      throw e
    }
  }
}
