/**
 * Kubeconfig files, in the shape kubeadm writes them (`kubeconfigutil.CreateWithCerts`): one
 * cluster, one user, one context `<user>@<cluster>`, certificates embedded as base64 PEM.
 */

export interface KubeconfigSpec {
  /** Cluster entry name: the profile's cluster name. */
  clusterName: string
  /** `https://host:port` */
  server: string
  caCert: string
  userName: string
  clientCert: string
  /** PEM; may be encrypted at rest, in which case kubectl cannot use the file until it is decrypted. */
  clientKey: string
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

/** `https://<host>:<port>`, with brackets around an IPv6 literal. */
export function serverUrl(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The kubeconfig text, keys in kubectl's order, byte-stable for the same input. */
export function buildKubeconfig(s: KubeconfigSpec): string {
  const context = `${s.userName}@${s.clusterName}`
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${b64(s.caCert)}`,
    `    server: ${s.server}`,
    `  name: ${s.clusterName}`,
    'contexts:',
    '- context:',
    `    cluster: ${s.clusterName}`,
    `    user: ${s.userName}`,
    `  name: ${context}`,
    `current-context: ${context}`,
    'kind: Config',
    'preferences: {}',
    'users:',
    `- name: ${s.userName}`,
    '  user:',
    `    client-certificate-data: ${b64(s.clientCert)}`,
    `    client-key-data: ${b64(s.clientKey)}`,
    '',
  ].join('\n')
}

/** The embedded PEMs of a kubeconfig written by {@link buildKubeconfig} (or kubeadm). */
export function parseKubeconfigCredentials(text: string): {caCert?: string; clientCert?: string; clientKey?: string; server?: string} {
  const field = (name: string) => {
    const m = new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(text)
    return m?.[1]
  }
  const dec = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'))
  return {
    caCert: dec(field('certificate-authority-data')),
    clientCert: dec(field('client-certificate-data')),
    clientKey: dec(field('client-key-data')),
    server: field('server'),
  }
}

/** The same kubeconfig with another client key (decrypting or encrypting it at rest). */
export function replaceClientKey(text: string, clientKey: string): string {
  return text.replace(/^(\s*client-key-data:\s*)\S+\s*$/m, `$1${b64(clientKey)}`)
}
