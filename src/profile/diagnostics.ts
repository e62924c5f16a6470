/**
 * Problems found in a profile (or in output traced back to it), collected rather than thrown, so the
 * user sees every problem at once. Every message lives in {@link CATALOGUE}; code elsewhere refers
 * to a problem by its code.
 */

/** A path into the profile document, as YAML keys and sequence indexes. */
export type FieldPath = ReadonlyArray<string | number>

export type Severity = 'error' | 'warning'

/** Where in the source a problem is, 1-based. */
export interface SourcePosition {
  file: string
  line: number
  col: number
  /** The source line, for the caret excerpt. */
  excerpt?: string
}

export interface Diagnostic {
  severity: Severity
  code: string
  path: FieldPath
  message: string
  position?: SourcePosition
}

/** Every problem nodegen reports about a profile, by code. `{name}` placeholders take parameters. */
export const CATALOGUE = Object.freeze({
  // 00xx: reading the file
  NG0001: 'the file cannot be read: {reason}',
  NG0002: 'the profile is larger than {limit} bytes ({size} bytes)',
  NG0003: 'the file is not text: it contains a NUL byte at offset {offset}',
  NG0004: 'YAML syntax: {reason}',
  NG0005: 'the document uses more than {limit} aliases (an alias bomb is refused)',
  NG0006: 'the document is nested deeper than {limit} levels',
  NG0007: 'the file holds {count} YAML documents; a profile is exactly one',
  NG0008: 'the profile is empty',
  NG0009: 'YAML warning: {reason}',
  NG0010: 'the expanded document is larger than {limit} values (aliases expand it too much)',
  // 01xx: schema
  NG0100: '{message}',
  NG0101: 'unknown field "{key}"',
  NG0102: 'required field is missing',
  NG0103: 'expected {expected}, got {received}',
  NG0104: 'must be one of {options}, got {received}',
  // 02xx: addresses and networks
  NG0200: '{value} is not an IPv4 address',
  NG0201: '{value} is not an IPv4 address with a prefix length (like 10.0.0.10/24)',
  NG0202: 'IP {ip} is the network or broadcast address of {subnet}',
  NG0203: 'gateway {gateway} is not inside the node subnet {subnet}',
  NG0204: '{what} {a} overlaps {otherWhat} {b}',
  NG0205: 'duplicate {what} {value}: also used by {other}',
  NG0206: '{value} is not a MAC address (like 52:54:00:12:34:56)',
  NG0207: '{value} is not a CIDR (like 10.244.0.0/16)',
  NG0208: 'node {node} has no IP address: {why}',
  NG0209: 'nodes are in different subnets ({a} and {b}); a keepalived VIP needs one L2 segment',
  // 03xx: names and free text
  NG0300:
    '{value} is not a valid hostname (RFC 1123 label: lowercase letters, digits and "-", at most 63 characters, starting and ending alphanumeric)',
  NG0301: '{value} is not a valid {what}: {why}',
  NG0302: 'the value contains a character that cannot be written safely ({char}); {what} may not contain control characters or newlines',
  NG0303: '{value} is not a valid Kubernetes label key',
  NG0304: '{value} is not a valid Kubernetes label value (at most 63 characters: alphanumerics, "-", "_", "." inside)',
  NG0305: '{value} is not an absolute file path made of safe characters (letters, digits, "/", ".", "_", "-", "+", "@")',
  NG0306: '{value} is not an octal file mode (like "0644")',
  NG0307: '{value} is not a Go duration (like "24h" or "90m")',
  NG0308: '{value} is not an http(s) URL nodegen can use safely',
  NG0309: '{value} is not an SSH public key (one line: type, base64 key, optional comment)',
  NG0310: 'kubelet flag name {value} is not a flag name (lowercase letters, digits and "-")',
  NG0311: '{value} is not a container image repository (like registry.k8s.io or mirror.example.com:5000/google_containers)',
  NG0312: '{value} is not a containerd release (major.minor.patch, like 2.0.11)',
  // 04xx: cluster shape
  NG0400: 'the cluster has no control-plane node',
  NG0401: 'with {count} control planes the cluster needs spec.controlPlaneEndpoint (a VIP, a load balancer or a DNS name)',
  NG0402: 'the external etcd topology needs nodes with role etcd',
  NG0403: '{count} etcd members: {why}',
  NG0404: 'nodes with role etcd need topology "external"',
  NG0405: '{count} control planes: an even number adds no fault tolerance over {less} (etcd quorum)',
  NG0406: 'Kubernetes {version} is not supported: nodegen supports {range}',
  NG0407: '{value} is not a Kubernetes version (like 1.34.2)',
  NG0408: "the VIP {vip} is node {node}'s IP",
  NG0409: 'the VIP {vip} is not inside the node subnet {subnet}',
  NG0410: 'load balancer {lb} needs an IPv4 controlPlaneEndpoint.host (the VIP), got {host}',
  NG0411:
    "the pod subnet {subnet} does not match {cni}'s default {expected}; set the CNI's pod network to the same value (nodegen passes it to {cni})",
  NG0412: 'spec.networking.podSubnet is required with CNI "none"',
  NG0413: "OS {os} boots with {need}, but the node's format is {format}",
  NG0414: 'platform {platform} cannot run a keepalived VIP (no VRRP or gratuitous ARP): use loadBalancer type "external"',
  NG0415: 'CRI-O is not packaged by nodegen for {os}',
  NG0416: 'SELinux mode {mode} is only meaningful on the RHEL family; ignored for {os}',
  NG0417: 'the keepalived password is longer than 8 characters; keepalived silently truncates it',
  NG0418:
    'the endpoint port {port} is the API server port of a control plane running haproxy; nodegen binds each API server to its node IP so haproxy can hold the VIP on the same port',
  NG0419: 'the {what} {value} is not one a node can use: {why}',
  NG0420: 'the bootstrap token TTL {ttl} is shorter than {expected}, the time {platform} machines typically take to boot and join',
  NG0421: 'platform {platform} needs spec.platform.{platform}',
  NG0422: 'a single control plane without an endpoint uses its own IP; adding control planes later needs an endpoint from the start',
  NG0423: 'role {role} cannot carry {what}',
  NG0424: 'mode {mode} has setuid, setgid or sticky bits, which Ignition spec {version} ignores (node {node} boots with Ignition)',
  NG0425: '{path} is under /usr, which Flatcar mounts read-only (node {node}): use /opt or /etc',
  NG0426:
    'load balancer {lb} runs keepalived/haproxy from OS packages, which Flatcar (control plane {node}) cannot install: use kube-vip (a static pod) or an external load balancer',
  NG0427:
    'secretBackend inline on {platform} puts the CA keys into user-data, which the metadata service serves for the life of the instance: use {backend}, or pass --insecure-inline-secrets',
  NG0428:
    'secretBackend inline on {platform} (--insecure-inline-secrets): control planes carry CA keys in user-data; launch requires IMDSv2 with hop limit 1',
  NG0429: 'the cluster is air-gapped (spec.airgap), but {what} would come from {source} on the internet: {fix}',
  NG0430:
    'an air-gap bundle imports its images into containerd; CRI-O nodes cannot use it (set spec.kubernetes.imageRepository to a registry on your network, or use containerd)',
  NG0431:
    "source distribution installs {os}'s own containerd {version}, a 1.x release out of upstream support (Kubernetes is dropping containerd 1.x) and not pinned: leave source unset for containerd {pinned} from Docker's repository",
  NG0432: "containerRuntime.version pins containerd from Docker's repository; {why}",
  NG0433: 'the images {a} and {b} would both be pulled as {to} from the mirror {mirror}: name one of them in spec.kubernetes.imageMirrors',
  NG0434: 'kubeadm v1beta3 (Kubernetes {version}) has no {name} timeout: kubeadm uses its own; it applies from Kubernetes 1.31',
  NG0435: 'renewBefore {value} {why}',
  NG0436: 'nodegen sets --{flag} of {pod} itself (from {from}): remove it from spec.kubernetes.extraArgs.{component}',
  NG0437: '{pod} flag name {value} is not a flag name (lowercase letters, digits and "-", without the leading "--")',
  NG0438:
    "with secretBackend inline on aws, a control plane's 16 KB of user-data has no room for the certificate renewal and recovery programs: its certificates do not renew by themselves (run `kubeadm certs renew all` on each before they expire) and a failed kubeadm init is reset without the control plane's last log lines; use aws-secrets-manager or ssm-parameter-store",
  NG0439: 'preflight check {value} {why}',
  NG0440: 'the kubeadm patch target {value} {why}',
  NG0441: 'a {type} patch {why}',
  // 05xx: files a profile refers to
  NG0500: 'the CNI manifest {file} cannot be read: {reason}',
  NG0501: 'the CNI manifest {file} is not YAML nodegen can read: {reason}',
  NG0502:
    "the images of the CNI manifest at {url} are unknown to nodegen (it knows those of {cni} {version}'s release manifest): take them from that manifest, or set manifestFile so nodegen lists them",
})

export type Code = keyof typeof CATALOGUE

/** Fills a catalogue message's placeholders. */
export function formatMessage(code: Code, params: Record<string, unknown> = {}): string {
  return CATALOGUE[code].replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`))
}

/** Collects diagnostics; the command decides what they mean for the exit code. */
export class Report {
  readonly items: Diagnostic[] = []

  error(path: FieldPath, code: Code, params: Record<string, unknown> = {}): void {
    this.items.push({severity: 'error', code, path, message: formatMessage(code, params)})
  }

  warn(path: FieldPath, code: Code, params: Record<string, unknown> = {}): void {
    this.items.push({severity: 'warning', code, path, message: formatMessage(code, params)})
  }

  get errors(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'error')
  }

  get warnings(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'warning')
  }

  get ok(): boolean {
    return this.errors.length === 0
  }
}

/** `spec.nodes[2].ip` */
export function formatPath(path: FieldPath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out ? `.${part}` : part
  }
  return out || '(document)'
}

/**
 * `cluster.yaml:14:9: error NG0200 spec.nodes[2].ip: 10.0.0.311 is not an IPv4 address`, then the
 * source line with a caret under the column when it is known.
 */
export function formatDiagnostic(d: Diagnostic, opts: {excerpt?: boolean} = {}): string {
  const where = d.position ? `${d.position.file}:${d.position.line}:${d.position.col}: ` : ''
  let out = `${where}${d.severity} ${d.code} ${formatPath(d.path)}: ${d.message}`
  if (opts.excerpt !== false && d.position?.excerpt !== undefined) {
    const lineNo = String(d.position.line)
    out += `\n ${lineNo} | ${d.position.excerpt}\n ${' '.repeat(lineNo.length)} | ${' '.repeat(Math.max(0, d.position.col - 1))}^`
  }
  return out
}

/** Thrown only across the boundary to a command, carrying the whole report. */
export class ProfileError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(
      diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => formatDiagnostic(d, {excerpt: false}))
        .join('\n'),
    )
    this.name = 'ProfileError'
  }
}
