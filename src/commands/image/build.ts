import {Args, Flags} from '@oclif/core'
import {
  BUILDERS,
  type Builder,
  type BuildResult,
  bakeImage,
  defaultBuildDir,
  IMAGE_OS_IDS,
  type ImageOs,
  MILESTONES,
  packerFor,
} from '../../app/image.js'
import {parseVars} from '../../app/inputs.js'
import {progress} from '../../app/progress.js'
import {ensureState} from '../../app/state.js'
import {BaseCommand} from '../base.js'

export default class ImageBuild extends BaseCommand {
  static override summary = 'Bake a node image with Packer: the OS preparation, packages and images first boot would install.'
  static override description = `Generates the Packer template and provisioning files for one OS from the profile (the same
OS preparation files and package step first boot runs), writes them into a build directory, runs
\`packer init\` (Packer 1.7 and later) and \`packer build -only=nodegen.BUILDER.OS\`, and records the
artifact — the qcow2 path, the AMI id or the GCE image name — in the cluster's state (images.json),
where \`render\` and \`launch\` find it. Set spec.image.baked: true so the nodes skip the package step.

The build directory (default .nodegen-images/<cluster>/<os>-<builder>/ beside the profile, or in the
current directory for a bundled profile) keeps packer.log, manifest.json and qemu's disks
(output-qemu-<time>/). Packer itself must be installed.`

  static override examples = [
    '<%= config.bin %> image build --os almalinux-9 --builder qemu cluster.yaml',
    '<%= config.bin %> image build --os debian-12 --builder qemu --var qemu_accelerator=tcg',
    '<%= config.bin %> image build --os centos-stream-9 --builder amazon-ebs cluster.yaml --var aws_subnet_id=subnet-0123',
    '<%= config.bin %> image build --os debian-13 --builder googlecompute cluster.yaml --json',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML). Default: the bundled quickstart.', required: false})}
  static override flags = {
    os: Flags.string({description: 'The OS to bake.', required: true, options: [...IMAGE_OS_IDS]}),
    builder: Flags.string({description: 'The Packer builder.', required: true, options: [...BUILDERS]}),
    'build-dir': Flags.string({
      description:
        'Build directory. Default: .nodegen-images/<cluster>/<os>-<builder>/ beside the profile (in the current directory for a bundled profile).',
      helpValue: 'DIR',
    }),
    var: Flags.string({description: 'A template variable, NAME=VALUE (repeatable).', multiple: true, helpValue: 'NAME=VALUE'}),
    packer: Flags.string({description: 'The packer binary. Default: packer on PATH.', helpValue: 'PATH'}),
    state: BaseCommand.stateFlag,
  }

  async run(): Promise<BuildResult> {
    const {args, flags} = await this.parse(ImageBuild)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const os = flags.os as ImageOs
    const builder = flags.builder as Builder
    const vars = parseVars(flags.var ?? [], (m) => this.error(m, {exit: 2}))
    const stateDir = this.stateDir(flags.state, profile, cluster)
    const quiet = this.jsonEnabled()
    const packer = packerFor(flags.packer)
    const state = await ensureState(cluster, stateDir)
    if (state.created && !quiet) this.log(`created the cluster's PKI in ${stateDir}`)
    const label = `image ${os}/${builder}`
    const buildDir = flags['build-dir'] ?? defaultBuildDir(profile.path, cluster.name, os, builder, process.cwd())
    // A redrawn bar on a terminal; one line per milestone otherwise (a build takes many minutes).
    const tty = !quiet && process.stderr.isTTY === true
    const bar = progress(MILESTONES.length, label, process.stderr, !quiet)
    let shown = 0
    if (!quiet) process.stderr.write(`${label}: Packer ${packer.version.text}, building in ${buildDir}\n`)
    const result = await bakeImage(cluster, profile.path, {
      os,
      builder,
      packer,
      buildDir,
      stateDir,
      vars,
      onMilestone: (m, i, total) => {
        if (quiet) return
        if (!tty) {
          process.stderr.write(`${label}: ${m} (${i + 1}/${total})\n`)
          return
        }
        for (; shown <= i; shown++) bar.tick(m)
      },
    })
    bar.done(`${label}: ${result.record.artifact.id} recorded in ${stateDir}`)
    return result
  }
}
