import {Args, Flags} from '@oclif/core'
import {packerTree, writePackerTree} from '../../app/image.js'
import {readCniManifest} from '../../app/render.js'
import {CURRENT_FEATURES, featuresFor, IMAGE_OS_IDS, type ImageOs, parsePackerVersion} from '../../image/index.js'
import {BaseCommand} from '../base.js'

export interface ImageGenerateResult {
  dir: string
  files: number
  oses: string[]
  packer: string
}

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
    let features = CURRENT_FEATURES
    if (flags['packer-version'] !== undefined) {
      const v = parsePackerVersion(`Packer v${flags['packer-version']}`)
      if (!v) this.error(`--packer-version ${flags['packer-version']} is not a version like 1.6.6`, {exit: 2})
      features = featuresFor(v)
    }
    const oses = (flags.os as ImageOs[] | undefined) ?? [...IMAGE_OS_IDS]
    const cniManifest = readCniManifest(cluster, profile.path)
    const r = writePackerTree(flags.output, packerTree(cluster, features, {oses, ...(cniManifest !== undefined ? {cniManifest} : {})}))
    if (!this.jsonEnabled()) this.log(`wrote ${r.files} files for ${oses.length} OS(es) into ${r.dir}`)
    return {dir: r.dir, files: r.files, oses, packer: features.requiredVersion}
  }
}
