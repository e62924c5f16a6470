import {createInterface} from 'node:readline/promises'
import {Flags} from '@oclif/core'
import {type InitOptions, type InitResult, LOAD_BALANCERS, OS_IDS, PLATFORMS, writeInitProfile} from '../app/init-profile.js'
import {BaseCommand} from './base.js'

export default class Init extends BaseCommand {
  static override summary = 'Write a new cluster profile from flags (and ask for what is missing on a terminal).'
  static override description =
    'Lays out node names and addresses from the counts and the subnet, validates the result, and writes it. An existing file is kept unless --force.'
  static override examples = [
    '<%= config.bin %> init --name prod --control-planes 3 --workers 2 --subnet 10.0.0.0/24 --endpoint 10.0.0.100 -o prod.yaml',
    '<%= config.bin %> init --name lab --os debian-12 --control-planes 1 --workers 1 --subnet 192.168.122.0/24',
  ]
  static override flags = {
    name: Flags.string({description: 'Cluster name (RFC 1123 label).'}),
    output: Flags.string({char: 'o', description: 'Where to write the profile. Default: <name>.yaml'}),
    'kubernetes-version': Flags.string({description: 'Kubernetes version.', default: '1.34.2'}),
    os: Flags.string({description: 'Operating system of the nodes.', options: [...OS_IDS], default: 'almalinux-9'}),
    'control-planes': Flags.integer({description: 'Number of control planes.', min: 1, max: 99}),
    workers: Flags.integer({description: 'Number of workers.', min: 0, max: 5000}),
    subnet: Flags.string({description: 'Node network (CIDR); nodes get consecutive addresses from .10.'}),
    gateway: Flags.string({description: "Default gateway. Default: the subnet's first address."}),
    endpoint: Flags.string({description: 'API endpoint host: the VIP, or a load balancer address/DNS name.'}),
    'load-balancer': Flags.string({description: 'What serves the endpoint.', options: [...LOAD_BALANCERS], default: 'keepalived-haproxy'}),
    cni: Flags.string({description: 'CNI plugin.', options: ['flannel', 'calico', 'cilium', 'none'], default: 'flannel'}),
    platform: Flags.string({description: 'Where the nodes boot.', options: [...PLATFORMS], default: 'nocloud'}),
    topology: Flags.string({description: 'etcd topology.', options: ['stacked', 'external'], default: 'stacked'}),
    'etcd-members': Flags.integer({description: 'etcd members for the external topology.', default: 3, min: 1}),
    'ssh-key': Flags.string({description: 'An SSH public key for the "ops" user.'}),
    force: Flags.boolean({description: 'Overwrite an existing file.', default: false}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const interactive = process.stdin.isTTY && process.stdout.isTTY && !this.jsonEnabled()
    const rl = interactive ? createInterface({input: process.stdin, output: process.stdout}) : undefined
    const ask = async (flag: string, question: string, fallback?: string): Promise<string> => {
      if (!rl) {
        if (fallback !== undefined) return fallback
        this.error(`--${flag} is required when not on a terminal`, {exit: 2})
      }
      const answer = (await rl.question(`${question}${fallback !== undefined ? ` [${fallback}]` : ''}: `)).trim()
      return answer || fallback || (await ask(flag, question, fallback))
    }
    try {
      const name = flags.name ?? (await ask('name', 'Cluster name'))
      const controlPlanes = flags['control-planes'] ?? Number(await ask('control-planes', 'Control planes', '3'))
      const workers = flags.workers ?? Number(await ask('workers', 'Workers', '2'))
      const subnet = flags.subnet ?? (await ask('subnet', 'Node subnet', '10.0.0.0/24'))
      const endpoint = flags.endpoint ?? (controlPlanes > 1 ? await ask('endpoint', 'API endpoint (VIP or load balancer)') : undefined)
      const opts: InitOptions = {
        name,
        kubernetesVersion: flags['kubernetes-version'],
        os: flags.os,
        controlPlanes,
        workers,
        subnet,
        firstHost: 10,
        ...(flags.gateway ? {gateway: flags.gateway} : {}),
        ...(endpoint ? {endpoint} : {}),
        loadBalancer: flags['load-balancer'],
        cni: flags.cni,
        platform: flags.platform,
        topology: flags.topology as 'stacked' | 'external',
        etcdMembers: flags['etcd-members'],
        ...(flags['ssh-key'] ? {sshKey: flags['ssh-key']} : {}),
      }
      const out = flags.output ?? `${name}.yaml`
      const written = writeInitProfile(opts, out, flags.force)
      if ('usage' in written) this.error(written.usage, {exit: 2})
      if ('invalid' in written) {
        for (const line of written.invalid) process.stderr.write(`${line}\n`)
        this.error('the answers do not make a valid profile; nothing was written', {exit: 1})
      }
      if ('exists' in written) this.error(`${out} exists; use --force to overwrite`, {exit: 1})
      const result = written
      if (!this.jsonEnabled()) this.log(`wrote ${out}: cluster ${name}, ${result.nodes} nodes. Next: nodegen plan ${out}`)
      return result
    } finally {
      rl?.close()
    }
  }
}
