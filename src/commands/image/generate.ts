import {Args, Flags} from '@oclif/core'
import {CURRENT_PACKER_FEATURES, generateImages, IMAGE_OS_IDS, type ImageGenerateResult, type ImageOs} from '../../app/image.js'
import {parsePackerFeatures} from '../../app/inputs.js'
import {BaseCommand} from '../base.js'

export default class ImageGenerate extends BaseCommand {
  static override summary = 'Write the Packer templates and provisioning files for a profile, without building.'
  static override description = `Writes one directory per OS (<os>.pkr.hcl, versions.pkr.hcl, image/) generated from the profile,
atomically. The repository's packer/ is this command's output for profiles/quickstart.yaml
(\`npm run packer\`); a test fails when they differ.`

  static override examples = [
    '<%= config.bin %> image generate cluster.yaml -o packer',
    '<%= config.bin %> image generate cluster.yaml -o packer-1.6 --packer-version 1.6.6 --os debian-12',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML). Default: the bundled quickstart.', required: false})}
  static override flags = {
    output: Flags.string({char: 'o', description: 'Output directory.', default: 'packer', helpValue: 'DIR'}),
    os: Flags.string({description: 'Only this OS (repeatable).', multiple: true, options: [...IMAGE_OS_IDS]}),
    'packer-version': Flags.string({
      description: 'Write for this Packer version. Default: current Packer (1.7 and later).',
      helpValue: 'X.Y.Z',
    }),
  }

  async run(): Promise<ImageGenerateResult> {
    const {args, flags} = await this.parse(ImageGenerate)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const features =
      flags['packer-version'] === undefined
        ? CURRENT_PACKER_FEATURES
        : parsePackerFeatures(flags['packer-version'], (m) => this.error(m, {exit: 2}))
    const oses = (flags.os as ImageOs[] | undefined) ?? [...IMAGE_OS_IDS]
    const r = generateImages(cluster, profile.path, {out: flags.output, oses, features})
    if (!this.jsonEnabled()) this.log(`wrote ${r.files} files for ${oses.length} OS(es) into ${r.dir}`)
    return r
  }
}
