import {Args, Flags} from '@oclif/core'
import {BUILDERS, type Builder, IMAGE_OS_IDS, type ImageOs, packerFor, type ValidateResult, validateProfileImages} from '../../app/image.js'
import {parseVars} from '../../app/inputs.js'
import {BaseCommand} from '../base.js'

export default class ImageValidate extends BaseCommand {
  static override summary = 'Run `packer validate` on the image template of every OS × builder.'
  static override description = `Generates each OS's template for the installed Packer (Packer 1.6 gets no required_plugins
block; 1.7 and later get it and \`packer init\`), and runs \`packer validate -only=nodegen.BUILDER.OS\` for
every OS and builder (qemu, amazon-ebs, googlecompute). Exit 1 when any is invalid.

Packer's qemu validation downloads the vendor's checksum list; --offline checks everything else
with qemu_image_checksum=none. A profile without a Google Cloud project is checked with a
placeholder project (reported in the output).`

  static override examples = [
    '<%= config.bin %> image validate',
    '<%= config.bin %> image validate cluster.yaml --os debian-12 --builder qemu',
    '<%= config.bin %> image validate --offline --json',
  ]

  static override args = {profile: Args.string({description: 'Cluster profile (YAML). Default: the bundled quickstart.', required: false})}
  static override flags = {
    os: Flags.string({description: 'Only this OS (repeatable).', multiple: true, options: [...IMAGE_OS_IDS]}),
    builder: Flags.string({description: 'Only this builder (repeatable).', multiple: true, options: [...BUILDERS]}),
    offline: Flags.boolean({description: "Do not fetch qemu's checksum lists (no network)."}),
    var: Flags.string({description: 'A template variable, NAME=VALUE (repeatable).', multiple: true, helpValue: 'NAME=VALUE'}),
    packer: Flags.string({description: 'The packer binary. Default: packer on PATH.', helpValue: 'PATH'}),
  }

  async run(): Promise<ValidateResult> {
    const {args, flags} = await this.parse(ImageValidate)
    const {cluster, profile} = await this.loadCluster(args.profile)
    const vars = parseVars(flags.var ?? [], (m) => this.error(m, {exit: 2}))
    const quiet = this.jsonEnabled()
    const packer = packerFor(flags.packer)
    if (!quiet) this.log(`Packer ${packer.version.text} (${packer.features.requiredPlugins ? 'with' : 'without'} required_plugins)`)
    const result = await validateProfileImages(cluster, profile.path, {
      oses: (flags.os as ImageOs[] | undefined) ?? IMAGE_OS_IDS,
      builders: (flags.builder as Builder[] | undefined) ?? BUILDERS,
      packer,
      offline: flags.offline,
      vars,
      onResult: (r) => {
        if (quiet) return
        this.log(`  ${r.os.padEnd(18)} ${r.builder.padEnd(14)} ${r.ok ? 'valid' : `INVALID: ${r.messages.join('; ')}`}`)
      },
    })
    const bad = result.results.filter((r) => !r.ok)
    if (!quiet) {
      for (const [k, v] of Object.entries(result.placeholders)) this.log(`note: ${k} was set to the placeholder ${v} for validation only`)
      if (result.offline) this.log("note: --offline: qemu's checksum lists were not fetched (qemu_image_checksum=none)")
      if (!result.offline && bad.some((r) => r.messages.some((m) => /Error downloading checksum file/.test(m))))
        this.log("note: Packer could not download a vendor's checksum list; without network, run with --offline")
      this.log(`${result.results.length - bad.length}/${result.results.length} templates valid`)
    }
    if (bad.length > 0) {
      if (quiet) process.exitCode = 1
      else this.exit(1)
    }
    return result
  }
}
