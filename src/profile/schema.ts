/**
 * The profile format, `nodegen.dev/v1alpha1` `Cluster`: the single source of truth for its shape,
 * its defaults and the editor schema (schema/profile.schema.json is exported from here by
 * `npm run schema`; a test fails when it is stale). Formats of free-text values (IPs, names, URLs)
 * are checked by validate.ts so each problem gets its catalogue code.
 */
import {z} from 'zod'

export const API_VERSION = 'nodegen.dev/v1alpha1'

export const OS_IDS = [
  'almalinux-9',
  'almalinux-10',
  'rocky-9',
  'centos-stream-9',
  'centos-stream-10',
  'debian-12',
  'debian-13',
  'ubuntu-24.04',
  'flatcar',
] as const
export type OsId = (typeof OS_IDS)[number]

export const ROLES = ['control-plane', 'worker', 'etcd'] as const
export type Role = (typeof ROLES)[number]

export const KEY_ALGORITHMS = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384'] as const
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number]

export const PLATFORMS = ['nocloud', 'configdrive', 'pxe', 'aws', 'gcp'] as const
export type PlatformType = (typeof PLATFORMS)[number]

export const LOAD_BALANCERS = ['keepalived-haproxy', 'keepalived', 'kube-vip', 'external'] as const
export type LoadBalancerType = (typeof LOAD_BALANCERS)[number]

export const CNIS = ['flannel', 'calico', 'cilium', 'none'] as const
export type CniType = (typeof CNIS)[number]

const str = () => z.string()
const labels = () => z.record(z.string(), z.string()).meta({description: 'Kubernetes labels, key to value.'})

const taint = z.strictObject({
  key: str(),
  value: str().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
})

const extraArgs = () => z.record(z.string(), z.string()).meta({description: 'Extra command-line flags, flag name (without "--") to value.'})

const awsPlatform = z.strictObject({
  region: str().meta({description: 'AWS region, like eu-west-1.'}),
  ami: str().optional().meta({description: 'AMI id; defaults to the image baked by `nodegen image build`.'}),
  instanceType: str().default('t3.medium'),
  controlPlaneInstanceType: str().optional(),
  subnetId: str().meta({description: 'Subnet the node IPs are in.'}),
  vpcId: str().optional(),
  keyName: str().optional(),
  securityGroupIds: z.array(str()).default([]),
  endpoint: z
    .enum(['nlb', 'dns'])
    .default('nlb')
    .meta({description: 'nlb: create a Network Load Balancer for the control planes; dns: the endpoint host is a DNS name you manage.'}),
  secretBackend: z.enum(['aws-secrets-manager', 'ssm-parameter-store', 'inline']).default('aws-secrets-manager').meta({
    description:
      "Where control planes' CA keys travel: a secret only the node's role can read and delete (Secrets Manager or SSM advanced parameters), or inline in user-data (refused unless --insecure-inline-secrets).",
  }),
  tags: z.record(z.string(), z.string()).default({}),
})

const gcpPlatform = z.strictObject({
  project: str(),
  zone: str(),
  region: str().optional(),
  network: str().default('default'),
  subnetwork: str().optional(),
  image: str().optional(),
  machineType: str().default('e2-standard-2'),
  controlPlaneMachineType: str().optional(),
  endpoint: z.enum(['internal-lb', 'address']).default('internal-lb'),
  secretBackend: z.enum(['gcp-secret-manager', 'inline']).default('gcp-secret-manager').meta({
    description:
      "Where control planes' CA keys travel: a Secret Manager secret only the node's service account can read and destroy, or inline in user-data (refused unless --insecure-inline-secrets).",
  }),
  labels: z.record(z.string(), z.string()).default({}),
})

const pxePlatform = z.strictObject({
  serverUrl: str().optional().meta({description: 'Base URL nodes reach `nodegen serve` at, like http://10.0.0.2:8080.'}),
  kernel: z
    .record(z.string(), z.strictObject({kernel: str(), initrd: z.array(str()).default([]), args: str().default('')}))
    .default({})
    .meta({description: 'Per OS id: kernel and initrd URLs (relative to serverUrl or absolute) and extra kernel arguments.'}),
  matchBy: z.enum(['mac', 'uuid', 'hostname']).default('mac'),
})

const platform = z.strictObject({
  type: z.enum(PLATFORMS).default('nocloud'),
  aws: awsPlatform.optional(),
  gcp: gcpPlatform.optional(),
  pxe: pxePlatform.optional(),
})

const cni = z.strictObject({
  type: z.enum(CNIS).default('flannel'),
  version: str().optional().meta({description: 'Pinned CNI version; nodegen has a tested default per CNI.'}),
  manifestUrl: str()
    .optional()
    .meta({description: 'Where control plane 0 fetches the manifest (a mirror). Defaults to the upstream release URL of the version.'}),
  manifestFile: str().optional().meta({description: 'A manifest file beside the profile, shipped to control plane 0 instead of a URL.'}),
  manifestSha256: str().optional().meta({
    description:
      'The SHA-256 of the manifest at manifestUrl (64 hex digits): control plane 0 and the image build refuse a download that does not match. Recommended for any URL; a manifestFile is shipped as it is and needs none.',
  }),
})

const nodeSchema = z.strictObject({
  name: str().meta({description: 'Hostname and Kubernetes node name (RFC 1123 label).'}),
  role: z.enum(ROLES),
  ip: str()
    .optional()
    .meta({description: 'IPv4 address with prefix length, like 10.0.0.110/24. Required except on clouds that assign addresses.'}),
  gateway: str().optional().meta({description: 'Default gateway; defaults to spec.networking.gateway.'}),
  mac: str().optional().meta({description: 'MAC address of the interface; matches the network config and PXE.'}),
  uuid: str().optional().meta({description: 'SMBIOS system UUID (PXE matching).'}),
  interface: str().optional().meta({description: 'Interface name; defaults to spec.networking.interface.'}),
  os: z.enum(OS_IDS).optional(),
  format: z.enum(['cloud-init', 'ignition']).optional(),
  labels: labels().default({}),
  taints: z.array(taint).optional(),
  kubeletExtraArgs: extraArgs().default({}),
  instanceType: str().optional(),
  subnetId: str().optional(),
  zone: str().optional(),
})

export const profileSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Cluster'),
  metadata: z.strictObject({
    name: str().meta({description: 'Cluster name: RFC 1123 label. Names the state dir and kubeadm clusterName.'}),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.strictObject({
    kubernetes: z.strictObject({
      version: str().meta({description: 'Kubernetes version, like 1.34.2 (nodegen supports 1.29 to 1.36).'}),
      imageRepository: str()
        .default('registry.k8s.io')
        .meta({description: 'Where control-plane images come from (a mirror like registry.aliyuncs.com/google_containers).'}),
      packageRepository: str()
        .optional()
        .meta({description: 'Base URL of a pkgs.k8s.io mirror; nodegen appends core:/stable:/vX.Y/{rpm,deb}/.'}),
      featureGates: z.record(z.string(), z.boolean()).default({}),
      sysextRepository: str()
        .optional()
        .meta({description: 'Flatcar: base URL of the systemd-sysext images (a mirror of https://extensions.flatcar.org/extensions).'}),
      sysextSha512: str().optional().meta({
        description:
          'Flatcar: the SHA-512 (128 hex digits) of the kubernetes sysext image of this version; Ignition refuses a download that does not match. Without it the image is trusted as served.',
      }),
    }),
    topology: z.enum(['stacked', 'external']).default('stacked'),
    controlPlaneEndpoint: z
      .strictObject({
        host: str().meta({description: 'VIP, load balancer address or DNS name.'}),
        port: z.number().int().min(1).max(65535).default(6443),
      })
      .optional(),
    loadBalancer: z
      .strictObject({
        type: z.enum(LOAD_BALANCERS).default('keepalived-haproxy'),
        interface: str()
          .optional()
          .meta({description: "Interface keepalived/kube-vip binds the VIP to; defaults to each node's interface."}),
        virtualRouterId: z.number().int().min(1).max(255).default(51),
        unicast: z.boolean().default(false).meta({description: 'VRRP unicast to the other control planes instead of multicast.'}),
        authPass: str().optional().meta({description: 'VRRP PASS authentication (at most 8 characters).'}),
        apiServerPort: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .default(6443)
          .meta({description: 'Port each API server listens on behind haproxy.'}),
        kubeVipImage: str().default('ghcr.io/kube-vip/kube-vip:v0.8.9'),
      })
      .prefault({}),
    networking: z
      .strictObject({
        podSubnet: str().optional().meta({
          description:
            "Pod network; defaults to the CNI's (flannel 10.244.0.0/16, calico 192.168.0.0/16, cilium 10.0.0.0/8 is avoided: 10.244.0.0/16).",
        }),
        serviceSubnet: str().default('10.96.0.0/12'),
        dnsDomain: str().default('cluster.local'),
        cni: cni.prefault({}),
        gateway: str().optional(),
        dnsServers: z.array(str()).default([]),
        searchDomains: z.array(str()).default([]),
        interface: str().default('eth0'),
        ntpServers: z.array(str()).default([]),
        etcHosts: z.enum(['auto', 'all', 'infrastructure']).default('auto').meta({
          description:
            "Which nodes each /etc/hosts lists: all, or only control planes and etcd members (plus the node itself), which is all kubeadm needs and keeps a large cluster's seeds small. auto: all up to 100 nodes.",
        }),
      })
      .prefault({}),
    containerRuntime: z
      .strictObject({
        type: z.enum(['containerd', 'cri-o']).default('containerd'),
        source: z.enum(['docker', 'distribution']).optional().meta({
          description:
            "containerd from Docker's repository (containerd.io, a supported release) or the distribution's package (Debian 12's is containerd 1.6, out of upstream support). Default: docker on every OS.",
        }),
        dockerRepository: str().optional().meta({description: 'Base URL of a download.docker.com mirror.'}),
        crioRepository: str().optional().meta({
          description:
            "CRI-O's package repository up to its stream, to which /vX.Y/rpm/ or /vX.Y/deb/ is appended (the Kubernetes minor). Default: https://download.opensuse.org/repositories/isv:/cri-o:/stable: (CRI-O's openSUSE Build Service repositories); a mirror of them goes here.",
        }),
      })
      .prefault({}),
    os: z.enum(OS_IDS).default('almalinux-9'),
    format: z.enum(['cloud-init', 'ignition']).optional().meta({description: 'Defaults to ignition on flatcar and cloud-init elsewhere.'}),
    ignition: z
      .strictObject({
        version: z.enum(['3.3.0', '3.4.0']).default('3.3.0').meta({
          description:
            'Ignition config spec of the Ignition nodes: 3.3.0 (read by Ignition 2.11 and later, Flatcar 3185 and later) or 3.4.0 (Ignition 2.15 and later).',
        }),
      })
      .prefault({}),
    image: z
      .strictObject({
        baked: z
          .boolean()
          .default(false)
          .meta({description: 'Nodes boot an image baked by `nodegen image build` (packages present): first boot skips installation.'}),
      })
      .prefault({}),
    pki: z
      .strictObject({
        keyAlgorithm: z.enum(KEY_ALGORITHMS).default('RSA-2048'),
        caValidity: str().default('87600h'),
        certValidity: str().default('8760h'),
      })
      .prefault({}),
    bootstrapToken: z
      .strictObject({
        ttl: str().default('24h'),
        window: str().default('24h').meta({description: 'Length of a token-calendar window.'}),
      })
      .prefault({}),
    users: z
      .array(
        z.strictObject({
          name: str(),
          sshAuthorizedKeys: z.array(str()).default([]),
          sudo: z.boolean().default(true),
          groups: z.array(str()).default([]),
          shell: str().default('/bin/bash'),
        }),
      )
      .default([]),
    proxy: z
      .strictObject({
        http: str().optional(),
        https: str().optional(),
        noProxy: z.array(str()).default([]),
      })
      .optional(),
    firewall: z.enum(['open-ports', 'disabled']).default('open-ports'),
    selinux: z.enum(['permissive', 'enforcing', 'disabled']).default('permissive'),
    files: z
      .array(
        z.strictObject({
          path: str(),
          content: str(),
          mode: str().default('0644'),
          owner: str().default('root:root'),
          roles: z.array(z.enum(ROLES)).optional().meta({description: 'Only nodes of these roles get the file; default all.'}),
        }),
      )
      .default([]),
    kubelet: z
      .strictObject({
        extraArgs: extraArgs().default({}),
        labels: labels().default({}),
        taints: z.array(taint).default([]),
      })
      .prefault({}),
    bootstrap: z
      .strictObject({
        timeout: str().default('60m').meta({description: 'Overall time a node tries before it reports failure.'}),
        statusUrl: str().optional().meta({description: 'Where each node POSTs its bootstrap phases (`nodegen serve`).'}),
        keepSecrets: z
          .boolean()
          .default(false)
          .meta({description: "Keep cloud-init's copy of user-data and the parameter file after joining (debugging)."}),
      })
      .prefault({}),
    platform: platform.prefault({}),
    nodes: z.array(nodeSchema).min(1),
  }),
})

/** The profile as written (before defaults). */
export type ProfileInput = z.input<typeof profileSchema>
/** The profile after schema defaults, before semantic normalisation. */
export type Profile = z.output<typeof profileSchema>
export type ProfileNode = Profile['spec']['nodes'][number]
export type Taint = z.output<typeof taint>
