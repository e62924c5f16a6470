/**
 * The profile format, `nodegen.dev/v1alpha1` `Cluster`: the single source of truth for its shape,
 * its defaults and the editor schema (schema/profile.schema.json is exported from here by
 * `npm run schema`; a test fails when it is stale). Formats of free-text values (IPs, names, URLs)
 * are checked in checks/ so each problem gets its catalogue code.
 */
// A namespace import: the bundled CLI (scripts/bundle.mjs) then carries only the parts of zod the
// schema uses, not all of it (its 40-odd message locales among them).
import * as z from 'zod'
import {
  CONTROL_PLANE_COMPONENTS,
  type ControlPlaneComponent,
  KUBEADM_PATCH_TARGETS,
  KUBEADM_PATCH_TYPES,
  KUBEADM_TIMEOUTS,
  type KubeadmTimeout,
} from './kubernetes.js'

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
  key: str().meta({description: 'Taint key (a Kubernetes label key).'}),
  value: str().optional().meta({description: 'Taint value (a Kubernetes label value); none by default.'}),
  effect: z
    .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
    .meta({description: 'What the taint does to pods that do not tolerate it.'}),
})

const extraArgs = () => z.record(z.string(), z.string()).meta({description: 'Extra command-line flags, flag name (without "--") to value.'})

const awsPlatform = z.strictObject({
  region: str().meta({description: 'AWS region, like eu-west-1.'}),
  ami: str().optional().meta({description: 'AMI id; defaults to the image baked by `nodegen image build`.'}),
  instanceType: str().default('t3.medium').meta({description: 'EC2 instance type of the nodes.'}),
  controlPlaneInstanceType: str().optional().meta({description: 'EC2 instance type of control planes; defaults to instanceType.'}),
  subnetId: str().meta({description: 'Subnet the node IPs are in.'}),
  vpcId: str().optional().meta({description: 'VPC of the security groups and the NLB; defaults to the VPC of subnetId.'}),
  keyName: str().optional().meta({description: 'EC2 key pair for SSH access; none by default.'}),
  securityGroupIds: z
    .array(str())
    .default([])
    .meta({description: 'Security groups attached to every node besides the per-role groups nodegen creates.'}),
  endpoint: z
    .enum(['nlb', 'dns'])
    .default('nlb')
    .meta({description: 'nlb: create a Network Load Balancer for the control planes; dns: the endpoint host is a DNS name you manage.'}),
  secretBackend: z.enum(['aws-secrets-manager', 'ssm-parameter-store', 'inline']).default('aws-secrets-manager').meta({
    description:
      "Where control planes' CA keys travel: a secret only the node's role can read and delete (Secrets Manager or SSM advanced parameters), or inline in user-data (refused unless --insecure-inline-secrets).",
  }),
  tags: z
    .record(z.string(), z.string())
    .default({})
    .meta({description: 'Tags put on everything launch creates, besides nodegen.dev/cluster|node|role.'}),
})

const gcpPlatform = z.strictObject({
  project: str().meta({description: 'Google Cloud project id.'}),
  zone: str().meta({description: 'Zone of the nodes, like europe-west1-b.'}),
  region: str()
    .optional()
    .meta({description: 'Region of the internal load balancer and the subnetwork; defaults to the zone without its last letter.'}),
  network: str().default('default').meta({description: 'VPC network name (or full resource path) the nodes and firewall rules are in.'}),
  subnetwork: str().optional().meta({
    description:
      "Subnetwork name (or full resource path) the node IPs are in; unset: Compute Engine picks the network's subnetwork in the region.",
  }),
  image: str()
    .optional()
    .meta({description: "Boot image; defaults to the image baked by `nodegen image build`, else the OS's public image family."}),
  machineType: str().default('e2-standard-2').meta({description: 'Compute Engine machine type of the nodes.'}),
  controlPlaneMachineType: str().optional().meta({description: 'Machine type of control planes; defaults to machineType.'}),
  endpoint: z.enum(['internal-lb', 'address']).default('internal-lb').meta({
    description:
      'internal-lb: create an internal passthrough load balancer at the endpoint host; address: the endpoint host reaches the control planes through a load balancer of yours.',
  }),
  secretBackend: z.enum(['gcp-secret-manager', 'inline']).default('gcp-secret-manager').meta({
    description:
      "Where control planes' CA keys travel: a Secret Manager secret only the node's service account can read and destroy, or inline in user-data (refused unless --insecure-inline-secrets).",
  }),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .meta({description: 'Labels put on everything launch creates, besides nodegen-cluster|node|role.'}),
})

const pxePlatform = z.strictObject({
  serverUrl: str().optional().meta({description: 'Base URL nodes reach `nodegen serve` at, like http://10.0.0.2:8080.'}),
  kernel: z
    .record(
      z.string(),
      z.strictObject({
        kernel: str().meta({description: 'Kernel URL.'}),
        initrd: z.array(str()).default([]).meta({description: 'Initrd URLs, in order.'}),
        args: str().default('').meta({description: 'Extra kernel arguments, before the seed argument nodegen adds.'}),
      }),
    )
    .default({})
    .meta({description: 'Per OS id: kernel and initrd URLs (relative to serverUrl or absolute) and extra kernel arguments.'}),
  matchBy: z
    .enum(['mac', 'uuid', 'hostname'])
    .default('mac')
    .meta({description: 'How a booting machine is recognised: its MAC, its SMBIOS UUID or its DHCP hostname.'}),
})

const platform = z.strictObject({
  type: z
    .enum(PLATFORMS)
    .default('nocloud')
    .meta({description: 'Where the nodes boot: NoCloud ISOs, config-drive ISOs, network boot (PXE), EC2 or Compute Engine.'}),
  aws: awsPlatform.optional().meta({description: 'EC2 settings; required with type aws.'}),
  gcp: gcpPlatform.optional().meta({description: 'Compute Engine settings; required with type gcp.'}),
  pxe: pxePlatform.optional().meta({description: 'Network boot settings (`nodegen serve`, `render --media pxe`).'}),
})

const cni = z.strictObject({
  type: z.enum(CNIS).default('flannel').meta({description: 'The pod network add-on control plane 0 applies; none: install your own.'}),
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
  role: z.enum(ROLES).meta({description: 'control-plane, worker, or etcd (an external etcd member, topology external).'}),
  ip: str()
    .optional()
    .meta({description: 'IPv4 address with prefix length, like 10.0.0.110/24. Required except on clouds that assign addresses.'}),
  gateway: str().optional().meta({description: 'Default gateway; defaults to spec.networking.gateway.'}),
  mac: str().optional().meta({description: 'MAC address of the interface; matches the network config and PXE.'}),
  uuid: str().optional().meta({description: 'SMBIOS system UUID (PXE matching).'}),
  interface: str().optional().meta({description: 'Interface name; defaults to spec.networking.interface.'}),
  os: z.enum(OS_IDS).optional().meta({description: 'Operating system of this node; defaults to spec.os.'}),
  format: z
    .enum(['cloud-init', 'ignition'])
    .optional()
    .meta({description: 'Boot configuration format of this node; defaults to spec.format.'}),
  labels: labels().default({}),
  taints: z.array(taint).optional().meta({
    description:
      'Taints of this node, added to spec.kubelet.taints. Default: control planes get node-role.kubernetes.io/control-plane:NoSchedule, others none; [] removes it.',
  }),
  kubeletExtraArgs: extraArgs().default({}),
  instanceType: str().optional().meta({description: "Cloud instance or machine type of this node; overrides the platform's."}),
  subnetId: str().optional().meta({description: 'AWS: subnet of this node; defaults to spec.platform.aws.subnetId.'}),
  zone: str().optional().meta({description: 'GCP: zone of this node; defaults to spec.platform.gcp.zone.'}),
})

export const profileSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION).meta({description: 'The profile format version.'}),
  kind: z.literal('Cluster').meta({description: 'The kind of document.'}),
  metadata: z
    .strictObject({
      name: str().meta({description: 'Cluster name: RFC 1123 label. Names the state dir and kubeadm clusterName.'}),
      annotations: z
        .record(z.string(), z.string())
        .optional()
        .meta({description: 'Free-form notes for people and tools; nodegen does not use them.'}),
    })
    .meta({description: "The cluster's name and notes."}),
  spec: z
    .strictObject({
      kubernetes: z
        .strictObject({
          version: str().meta({description: 'Kubernetes version, like 1.34.2 (nodegen supports 1.29 to 1.36).'}),
          imageRepository: str()
            .default('registry.k8s.io')
            .meta({description: 'Where control-plane images come from (a mirror like registry.aliyuncs.com/google_containers).'}),
          imageMirrors: z.record(z.string(), z.string()).optional().meta({
            description:
              'Per image, where a node pulls it instead: the image repository without tag or digest (ghcr.io/flannel-io/flannel) to a repository on your registry (mirror.example.com/flannel-io/flannel); the tag or digest is kept. Overrides the default rule: with a mirror in imageRepository, an image of the CNI or kube-vip on another registry is pulled as <imageRepository>/<its last path component> (ghcr.io/flannel-io/flannel:v0.26.7 as registry.aliyuncs.com/google_containers/flannel:v0.26.7).',
          }),
          packageRepository: str().optional().meta({
            description:
              "Where kubelet, kubeadm and kubectl come from: a known mirror by name (upstream, aliyun, tuna, ustc), a URL template with {channel} (v1.34), {minor} (1.34) and {format} (rpm or deb), e.g. https://mirrors.example.com/kubernetes-new/core/stable/{channel}/{format}/, or the base URL of a mirror that keeps pkgs.k8s.io's layout (core:/stable:/vX.Y/{rpm,deb}/ is appended). Default: https://pkgs.k8s.io.",
          }),
          featureGates: z
            .record(z.string(), z.boolean())
            .default({})
            .meta({description: 'Kubernetes feature gates, name to on/off, passed to kubeadm and the control-plane components.'}),
          ignorePreflightErrors: z.array(str()).default([]).meta({
            description:
              "kubeadm preflight checks whose errors become warnings on every node, by kubeadm's names (NumCPU, Mem, Swap, SystemVerification, Port-10250, ...; all for every check), as kubeadm's --ignore-preflight-errors. For machines that knowingly fall short of kubeadm's minimums, such as a lab control plane with one CPU.",
          }),
          sysextRepository: str().optional().meta({
            description:
              "Flatcar: base URL of the systemd-sysext images (a mirror of https://extensions.flatcar.org/extensions). Default: that, or the air-gap bundle's sysext/ when spec.airgap.bundle is set.",
          }),
          timeouts: z
            .strictObject(
              Object.fromEntries(
                KUBEADM_TIMEOUTS.map((t) => [
                  t.name,
                  str()
                    .optional()
                    .meta({
                      description: `${t.description} A Go duration; kubeadm's default: ${t.default}.${'v1beta3' in t ? ` Kubernetes 1.29–1.30: kubeadm v1beta3's ${t.v1beta3}.` : ' Kubernetes 1.31 and later (kubeadm v1beta4).'}`,
                    }),
                ]),
              ) as Record<KubeadmTimeout, z.ZodOptional<z.ZodString>>,
            )
            .optional()
            .meta({
              description:
                "kubeadm's waits, by kubeadm's own names (kubeadm v1beta4 `timeouts`): slow or busy machines need longer ones; when one runs out kubeadm fails and the bootstrap program resets and retries.",
            }),
          extraArgs: z
            .strictObject(
              Object.fromEntries(
                CONTROL_PLANE_COMPONENTS.map((c) => [
                  c.name,
                  extraArgs()
                    .default({})
                    .meta({
                      description:
                        c.name === 'etcd'
                          ? 'Extra flags of etcd: the stacked members on the control planes, or the external members.'
                          : `Extra flags of ${c.pod} on every control plane.`,
                    }),
                ]),
              ) as Record<ControlPlaneComponent, z.ZodDefault<ReturnType<typeof extraArgs>>>,
            )
            .prefault({})
            .meta({
              description:
                "Extra flags of the control-plane components, as kubeadm's ClusterConfiguration `<component>.extraArgs` (for example leader-election timings on slow machines); the flags nodegen sets itself are refused.",
            }),
          patches: z
            .array(
              z.strictObject({
                target: z.enum(KUBEADM_PATCH_TARGETS.map((t) => t.name) as [string, ...string[]]).meta({
                  description:
                    "kubeadm's patch target: a static pod (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) on every control plane, kubeletconfiguration on every node that runs kubeadm, corednsdeployment (Kubernetes 1.31 and later) where kubeadm init or upgrade apply runs.",
                }),
                type: z.enum(KUBEADM_PATCH_TYPES).default('strategic').meta({
                  description:
                    "strategic (a strategic merge patch, kubeadm's default), merge (a JSON merge patch, RFC 7386) or json (a JSON patch, RFC 6902: a list of operations).",
                }),
                patch: z
                  .union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))])
                  .meta({description: 'The patch: an object for strategic and merge, a list of {op, path, value} operations for json.'}),
              }),
            )
            .max(99)
            .default([])
            .meta({
              description:
                "kubeadm patches of the objects kubeadm writes (its patches directory, applied in this order after nodegen's own): for what has no field of its own, such as a longer liveness probe of the API server on slow machines. They go to kubeadm init, join and upgrade alike.",
            }),
          sysextSha512: str().optional().meta({
            description:
              'Flatcar: the SHA-512 (128 hex digits) of the kubernetes sysext image of this version; Ignition refuses a download that does not match. Without it the image is trusted as served.',
          }),
        })
        .meta({description: 'The Kubernetes version and where its packages and images come from.'}),
      topology: z
        .enum(['stacked', 'external'])
        .default('stacked')
        .meta({description: 'stacked: etcd runs on the control planes; external: on nodes with role etcd.'}),
      controlPlaneEndpoint: z
        .strictObject({
          host: str().meta({description: 'VIP, load balancer address or DNS name.'}),
          port: z.number().int().min(1).max(65535).default(6443).meta({description: 'API port at the endpoint.'}),
        })
        .optional()
        .meta({
          description:
            'The address clients and nodes reach the API servers at. Required with more than one control plane; a single control plane without it uses its own IP.',
        }),
      loadBalancer: z
        .strictObject({
          type: z.enum(LOAD_BALANCERS).default('keepalived-haproxy').meta({
            description:
              'What holds the endpoint: keepalived VIP with haproxy on every control plane, keepalived VIP alone, kube-vip static pods, or an external load balancer of yours.',
          }),
          interface: str()
            .optional()
            .meta({description: "Interface keepalived/kube-vip binds the VIP to; defaults to each node's interface."}),
          virtualRouterId: z
            .number()
            .int()
            .min(1)
            .max(255)
            .default(51)
            .meta({description: 'VRRP virtual router id; unique per L2 segment.'}),
          unicast: z.boolean().default(false).meta({description: 'VRRP unicast to the other control planes instead of multicast.'}),
          authPass: str().optional().meta({description: 'VRRP PASS authentication (at most 8 characters).'}),
          apiServerPort: z
            .number()
            .int()
            .min(1)
            .max(65535)
            .default(6443)
            .meta({description: 'Port each API server listens on behind haproxy.'}),
          kubeVipImage: str()
            .default('ghcr.io/kube-vip/kube-vip:v0.8.9')
            .meta({description: 'kube-vip container image (a mirror-able reference).'}),
        })
        .prefault({})
        .meta({description: 'How the control-plane endpoint is held.'}),
      networking: z
        .strictObject({
          podSubnet: str().optional().meta({
            description:
              "Pod network; defaults to the CNI's: flannel and cilium 10.244.0.0/16, calico 192.168.0.0/16. Required with CNI none.",
          }),
          serviceSubnet: str()
            .default('10.96.0.0/12')
            .meta({description: 'Service network (ClusterIPs); cluster DNS is its 10th address.'}),
          dnsDomain: str().default('cluster.local').meta({description: 'Cluster DNS domain.'}),
          cni: cni.prefault({}).meta({description: 'The pod network add-on.'}),
          gateway: str().optional().meta({description: 'Default gateway of the nodes unless a node sets its own.'}),
          dnsServers: z.array(str()).default([]).meta({description: "DNS servers written into each node's network configuration."}),
          searchDomains: z.array(str()).default([]).meta({description: 'DNS search domains of the nodes.'}),
          interface: str().default('eth0').meta({description: 'Interface the node IP goes on unless a node sets its own.'}),
          ntpServers: z
            .array(str())
            .default([])
            .meta({description: "NTP servers (chrony; systemd-timesyncd on Flatcar); empty keeps the OS's."}),
          etcHosts: z.enum(['auto', 'all', 'infrastructure']).default('auto').meta({
            description:
              "Which nodes each /etc/hosts lists: all, or only control planes and etcd members (plus the node itself), which is all kubeadm needs and keeps a large cluster's seeds small. auto: all up to 100 nodes.",
          }),
        })
        .prefault({})
        .meta({description: 'Node and cluster networks.'}),
      containerRuntime: z
        .strictObject({
          type: z
            .enum(['containerd', 'cri-o'])
            .default('containerd')
            .meta({description: 'Container runtime, configured with the systemd cgroup driver.'}),
          source: z.enum(['docker', 'distribution']).optional().meta({
            description:
              "containerd from Docker's repository (containerd.io, a supported release) or the distribution's package (Debian 12's is containerd 1.6, out of upstream support). Default: docker on every OS.",
          }),
          version: str().optional().meta({
            description:
              "The containerd release installed from Docker's repository (containerd.io), exactly, and held: major.minor.patch, like 2.0.11. Default: the release containerd recommends for the cluster's Kubernetes minor and still supports (nodegen's table, from containerd's RELEASES.md). Not used with source: distribution (the distribution's package, unpinned), with CRI-O, or on Flatcar, which ships its own containerd.",
          }),
          dockerRepository: str().optional().meta({description: 'Base URL of a download.docker.com mirror.'}),
          crioRepository: str().optional().meta({
            description:
              "CRI-O's package repository: a URL template with {channel} (v1.34), {minor} and {format} (rpm or deb), or a base URL up to the stream, to which /vX.Y/rpm/ or /vX.Y/deb/ is appended (the Kubernetes minor). Default: https://download.opensuse.org/repositories/isv:/cri-o:/stable: (CRI-O's openSUSE Build Service repositories); a mirror of them goes here.",
          }),
        })
        .prefault({})
        .meta({description: 'The container runtime.'}),
      os: z.enum(OS_IDS).default('almalinux-9').meta({description: 'Operating system of the nodes unless a node sets its own.'}),
      format: z.enum(['cloud-init', 'ignition']).optional().meta({
        description:
          'Boot configuration format: cloud-init user-data or an Ignition config. Defaults to ignition on flatcar and cloud-init elsewhere.',
      }),
      ignition: z
        .strictObject({
          version: z.enum(['3.3.0', '3.4.0']).default('3.3.0').meta({
            description:
              'Ignition config spec of the Ignition nodes: 3.3.0 (read by Ignition 2.11 and later, Flatcar 3185 and later) or 3.4.0 (Ignition 2.15 and later).',
          }),
        })
        .prefault({})
        .meta({description: 'Ignition settings (Flatcar).'}),
      image: z
        .strictObject({
          baked: z
            .boolean()
            .default(false)
            .meta({description: 'Nodes boot an image baked by `nodegen image build` (packages present): first boot skips installation.'}),
        })
        .prefault({})
        .meta({description: 'Baked node images.'}),
      airgap: z
        .strictObject({
          bundle: str().optional().meta({
            description:
              'Base URL of an air-gap bundle on the provisioning network (http or https): the nodes install their packages from its repositories (kubernetes/, os/<os>/; Flatcar: its sysext/) and import its images (images/) into containerd before kubeadm runs. Layout: docs/airgap.md.',
          }),
          sha256: str().optional().meta({
            description:
              "SHA-256 of the bundle's SHA256SUMS file (64 hexadecimal digits): nodes refuse a bundle whose SHA256SUMS differs, and check every file they take from it against SHA256SUMS.",
          }),
        })
        .optional()
        .meta({
          description:
            'The nodes have no internet: everything comes from the bundle or from mirrors the profile names. Validation refuses any source left at an internet default.',
        }),
      pki: z
        .strictObject({
          keyAlgorithm: z
            .enum(KEY_ALGORITHMS)
            .default('RSA-2048')
            .meta({description: 'Key algorithm of the CAs and certificates nodegen issues.'}),
          caValidity: str().default('87600h').meta({description: 'Validity of the CAs, a Go duration (87600h: 10 years).'}),
          certValidity: str().default('8760h').meta({description: 'Validity of the leaf certificates, a Go duration (8760h: 1 year).'}),
          renewBefore: str().optional().meta({
            description:
              "When a control plane renews kubeadm's leaf certificates (nodegen-cert-renewal.timer, twice a day): once one has less than this left, a Go duration. At least 48h and less than certValidity. Default: 2160h (90 days), or a quarter of certValidity when that is shorter.",
          }),
        })
        .prefault({})
        .meta({description: 'The offline PKI in the state directory.'}),
      upgrade: z
        .strictObject({
          maxUnavailableWorkers: z.number().int().min(1).default(1).meta({
            description: 'How many workers `nodegen upgrade` plans to drain and upgrade at the same time.',
          }),
        })
        .prefault({})
        .meta({description: 'How an upgrade to a new spec.kubernetes.version rolls through the cluster (nodegen upgrade).'}),
      bootstrapToken: z
        .strictObject({
          ttl: str().default('24h').meta({
            description:
              'Lifetime of the init token and of tokens made by `nodegen token create`; tokens of the token calendar end with their window instead.',
          }),
          window: str().default('24h').meta({description: 'Length of a token-calendar window.'}),
        })
        .prefault({})
        .meta({description: 'Bootstrap tokens that joining nodes use.'}),
      users: z
        .array(
          z.strictObject({
            name: str().meta({description: 'Login name.'}),
            sshAuthorizedKeys: z.array(str()).default([]).meta({description: 'SSH public keys, one line each.'}),
            sudo: z.boolean().default(true).meta({description: 'Passwordless sudo (ALL=(ALL) NOPASSWD:ALL; the sudo group on Flatcar).'}),
            groups: z.array(str()).default([]).meta({description: 'Supplementary groups.'}),
            shell: str().default('/bin/bash').meta({description: 'Login shell.'}),
          }),
        )
        .default([])
        .meta({description: 'Login users created on every node.'}),
      proxy: z
        .strictObject({
          http: str().optional().meta({description: 'HTTP proxy URL for package managers, the runtime and the bootstrap program.'}),
          https: str().optional().meta({description: 'HTTPS proxy URL.'}),
          noProxy: z.array(str()).default([]).meta({
            description:
              'Hosts, domains, IPs or CIDRs reached directly, besides those nodegen adds (localhost, cluster domain, pod and service subnets, endpoint, node subnets and names).',
          }),
        })
        .optional()
        .meta({description: 'An outbound HTTP(S) proxy.'}),
      firewall: z
        .enum(['open-ports', 'disabled'])
        .default('open-ports')
        .meta({description: 'open-ports: keep firewalld (or an active ufw) and open the ports of each role; disabled: stop firewalld.'}),
      selinux: z
        .enum(['permissive', 'enforcing', 'disabled'])
        .default('permissive')
        .meta({description: 'SELinux mode on the RHEL family (ignored elsewhere).'}),
      files: z
        .array(
          z.strictObject({
            path: str().meta({description: 'Absolute path on the node.'}),
            content: str().meta({description: 'File content (text).'}),
            mode: str().default('0644').meta({description: 'Octal file mode, as a string.'}),
            owner: str().default('root:root').meta({description: 'user or user:group.'}),
            roles: z.array(z.enum(ROLES)).optional().meta({description: 'Only nodes of these roles get the file; default all.'}),
          }),
        )
        .default([])
        .meta({description: 'Extra files written on the nodes.'}),
      kubelet: z
        .strictObject({
          extraArgs: extraArgs().default({}),
          labels: labels().default({}),
          taints: z.array(taint).default([]).meta({description: "Taints of every node, before each node's own."}),
        })
        .prefault({})
        .meta({description: "Kubelet settings of every node; a node's own labels and kubeletExtraArgs are merged over them."}),
      bootstrap: z
        .strictObject({
          timeout: str().default('60m').meta({description: 'Overall time a node tries before it reports failure.'}),
          statusUrl: str().optional().meta({description: 'Where each node POSTs its bootstrap phases (`nodegen serve`).'}),
          keepSecrets: z
            .boolean()
            .default(false)
            .meta({description: "Keep cloud-init's copy of user-data and the parameter file after joining (debugging)."}),
        })
        .prefault({})
        .meta({description: 'The bootstrap program on the nodes.'}),
      platform: platform.prefault({}).meta({description: 'Where and how the nodes boot.'}),
      nodes: z
        .array(nodeSchema)
        .min(1)
        .meta({description: 'The machines, in bootstrap order per role: the first control plane initialises the cluster.'}),
    })
    .meta({description: 'The cluster.'}),
})

/** The profile as written (before defaults). */
export type ProfileInput = z.input<typeof profileSchema>
/** The profile after schema defaults, before semantic normalisation. */
export type Profile = z.output<typeof profileSchema>
export type ProfileNode = Profile['spec']['nodes'][number]
export type Taint = z.output<typeof taint>
