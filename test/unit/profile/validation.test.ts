import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {CONTAINERD_VERSIONS, formatDiagnostic, formatPath, loadProfile, SUPPORTED} from '../../../src/profile/index.js'
import {profileText} from '../../support/profiles.js'

const QS = profileText('quickstart.yaml')

/** [what, edit of the quickstart, expected code, expected path, expected line (optional)] */
const CASES: Array<[string, (s: string) => string, string, string, number?]> = [
  ['bad IP', (s) => s.replace('10.0.0.121/24', '10.0.0.311/24'), 'NG0200', 'spec.nodes[4].ip', 43],
  ['IP without prefix', (s) => s.replace('10.0.0.121/24', '10.0.0.121'), 'NG0201', 'spec.nodes[4].ip'],
  ['duplicate name', (s) => s.replace('kube-alma-n-02', 'kube-alma-n-01'), 'NG0205', 'spec.nodes[4].name'],
  ['duplicate IP', (s) => s.replace('10.0.0.121/24', '10.0.0.120/24'), 'NG0205', 'spec.nodes[4].ip'],
  ['bad hostname', (s) => s.replace('kube-alma-n-02', 'Kube_Alma'), 'NG0300', 'spec.nodes[4].name'],
  ['network address', (s) => s.replace('10.0.0.121/24', '10.0.0.0/24'), 'NG0202', 'spec.nodes[4].ip'],
  ['gateway outside subnet', (s) => s.replace('gateway: 10.0.0.1', 'gateway: 10.1.0.1'), 'NG0203', 'spec.networking.gateway'],
  ['VIP is a node IP', (s) => s.replace('host: 10.0.0.100', 'host: 10.0.0.110'), 'NG0408', 'spec.controlPlaneEndpoint.host'],
  ['VIP outside subnet', (s) => s.replace('host: 10.0.0.100', 'host: 10.9.0.100'), 'NG0409', 'spec.controlPlaneEndpoint.host'],
  ['VIP that is a DNS name', (s) => s.replace('host: 10.0.0.100', 'host: api.example.com'), 'NG0410', 'spec.controlPlaneEndpoint.host'],
  [
    'no endpoint with 3 control planes',
    (s) => s.replace(/ {2}controlPlaneEndpoint:\n {4}host: 10.0.0.100\n {4}port: 6443\n/, ''),
    'NG0401',
    'spec.controlPlaneEndpoint',
  ],
  ['no control plane', (s) => s.replace(/role: control-plane/g, 'role: worker'), 'NG0400', 'spec.nodes'],
  [
    'pod and service overlap',
    (s) => s.replace('serviceSubnet: 10.96.0.0/12', 'serviceSubnet: 10.244.0.0/20'),
    'NG0204',
    'spec.networking.serviceSubnet',
  ],
  ['node subnet overlaps pods', (s) => s.replace('podSubnet: 10.244.0.0/16', 'podSubnet: 10.0.0.0/8'), 'NG0204', 'spec.nodes[0].ip'],
  ['unsupported version', (s) => s.replace('version: 1.34.2', 'version: 1.25.0'), 'NG0406', 'spec.kubernetes.version'],
  ['not a version', (s) => s.replace('version: 1.34.2', 'version: latest'), 'NG0407', 'spec.kubernetes.version'],
  ['unknown field', (s) => s.replace('  topology: stacked', '  topology: stacked\n  topolgy: x'), 'NG0101', 'spec.topolgy'],
  ['wrong enum', (s) => s.replace('topology: stacked', 'topology: stackd'), 'NG0104', 'spec.topology'],
  ['wrong type', (s) => s.replace('port: 6443', 'port: "6443"'), 'NG0103', 'spec.controlPlaneEndpoint.port'],
  ['missing field', (s) => s.replace('    version: 1.34.2\n', ''), 'NG0102', 'spec.kubernetes.version'],
  [
    'etcd nodes in stacked',
    (s) => s.replace('role: worker, ip: 10.0.0.121/24', 'role: etcd, ip: 10.0.0.121/24'),
    'NG0404',
    'spec.nodes[4].role',
  ],
  ['external without etcd', (s) => s.replace('topology: stacked', 'topology: external'), 'NG0402', 'spec.topology'],
  [
    'renewBefore not a duration',
    (s) => s.replace('  topology: stacked', '  topology: stacked\n  pki: {renewBefore: soon}'),
    'NG0307',
    'spec.pki.renewBefore',
  ],
  [
    'renewBefore under 48h',
    (s) => s.replace('  topology: stacked', '  topology: stacked\n  pki: {renewBefore: 24h}'),
    'NG0435',
    'spec.pki.renewBefore',
  ],
  [
    'renewBefore as long as the validity',
    (s) => s.replace('  topology: stacked', '  topology: stacked\n  pki: {certValidity: 720h, renewBefore: 720h}'),
    'NG0435',
    'spec.pki.renewBefore',
  ],
  [
    'maxUnavailableWorkers 0',
    (s) => s.replace('  topology: stacked', '  topology: stacked\n  upgrade: {maxUnavailableWorkers: 0}'),
    'NG0100',
    'spec.upgrade.maxUnavailableWorkers',
  ],
  ['bad MAC', (s) => s.replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, mac: "52:54:00:zz:00:01"}'), 'NG0206', 'spec.nodes[4].mac'],
  [
    'duplicate MAC',
    (s) =>
      s
        .replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, mac: "52:54:00:00:00:01"}')
        .replace('ip: 10.0.0.120/24}', 'ip: 10.0.0.120/24, mac: "52-54-00-00-00-01"}'),
    'NG0205',
    'spec.nodes[4].mac',
  ],
  [
    'label with a newline',
    (s) => s.replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, labels: {"a": "b\\nc"}}'),
    'NG0304',
    'spec.nodes[4].labels.a',
  ],
  [
    'label key with a space',
    (s) => s.replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, labels: {"a b": "c"}}'),
    'NG0303',
    'spec.nodes[4].labels.a b',
  ],
  [
    'taint value with shell',
    (s) => s.replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, taints: [{key: a, value: "$(reboot)", effect: NoSchedule}]}'),
    'NG0304',
    'spec.nodes[4].taints[0].value',
  ],
  [
    'kubelet arg with quotes',
    (s) => s.replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, kubeletExtraArgs: {max-pods: "1\\" --x"}}'),
    'NG0301',
    'spec.nodes[4].kubeletExtraArgs.max-pods',
  ],
  [
    'kubelet arg name with shell',
    (s) => s.replace('ip: 10.0.0.121/24}', 'ip: 10.0.0.121/24, kubeletExtraArgs: {"a;b": "1"}}'),
    'NG0310',
    'spec.nodes[4].kubeletExtraArgs.a;b',
  ],
  [
    'a control-plane flag nodegen sets',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    extraArgs: {apiServer: {advertise-address: 10.0.0.9}}\n',
      ),
    'NG0436',
    'spec.kubernetes.extraArgs.apiServer.advertise-address',
  ],
  [
    'an etcd flag nodegen sets',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    extraArgs: {etcd: {initial-cluster-state: existing}}\n    imageRepository: registry.k8s.io\n',
      ),
    'NG0436',
    'spec.kubernetes.extraArgs.etcd.initial-cluster-state',
  ],
  [
    'a control-plane flag with its dashes',
    (s) =>
      s.replace('    imageRepository: registry.k8s.io\n', '    imageRepository: registry.k8s.io\n    extraArgs: {scheduler: {--v: "4"}}\n'),
    'NG0437',
    'spec.kubernetes.extraArgs.scheduler.--v',
  ],
  [
    'a control-plane flag value on two lines',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    extraArgs: {controllerManager: {v: "4\\n--x=1"}}\n',
      ),
    'NG0301',
    'spec.kubernetes.extraArgs.controllerManager.v',
  ],
  [
    'an unknown control-plane component',
    (s) =>
      s.replace('    imageRepository: registry.k8s.io\n', '    imageRepository: registry.k8s.io\n    extraArgs: {kubeProxy: {v: "4"}}\n'),
    'NG0101',
    'spec.kubernetes.extraArgs.kubeProxy',
  ],
  [
    'a preflight check name with a space',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    ignorePreflightErrors: [NumCPU, "Mem; x"]\n',
      ),
    'NG0439',
    'spec.kubernetes.ignorePreflightErrors[1]',
  ],
  [
    'every preflight check beside a single one',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    ignorePreflightErrors: [all, NumCPU]\n',
      ),
    'NG0439',
    'spec.kubernetes.ignorePreflightErrors',
  ],
  [
    'a kubeadm patch target the version does not know',
    (s) =>
      s
        .replace('version: 1.34.2', 'version: 1.30.14')
        .replace(
          '    imageRepository: registry.k8s.io\n',
          '    imageRepository: registry.k8s.io\n    patches: [{target: corednsdeployment, patch: {spec: {replicas: 3}}}]\n',
        ),
    'NG0440',
    'spec.kubernetes.patches[0].target',
  ],
  [
    'a kubeadm patch of stacked etcd in a cluster with external etcd',
    (s) =>
      s
        .replace('  topology: stacked', '  topology: external')
        .replace(
          '    imageRepository: registry.k8s.io\n',
          '    imageRepository: registry.k8s.io\n    patches: [{target: etcd, patch: {}}]\n',
        ),
    'NG0440',
    'spec.kubernetes.patches[0].target',
  ],
  [
    'a JSON patch that is an object',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    patches: [{target: kube-apiserver, type: json, patch: {spec: {}}}]\n',
      ),
    'NG0441',
    'spec.kubernetes.patches[0].patch',
  ],
  [
    'a JSON patch operation without its value',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    patches: [{target: kube-scheduler, type: json, patch: [{op: add, path: /spec/priority}]}]\n',
      ),
    'NG0441',
    'spec.kubernetes.patches[0].patch[0]',
  ],
  [
    'a strategic patch that is a list',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    patches: [{target: kubeletconfiguration, patch: [{op: add}]}]\n',
      ),
    'NG0441',
    'spec.kubernetes.patches[0].patch',
  ],
  [
    'an unknown kubeadm patch target',
    (s) =>
      s.replace(
        '    imageRepository: registry.k8s.io\n',
        '    imageRepository: registry.k8s.io\n    patches: [{target: kube-proxy, patch: {}}]\n',
      ),
    'NG0104',
    'spec.kubernetes.patches[0].target',
  ],
  [
    'proxy URL with a quote',
    (s) => s.replace('  firewall: open-ports', '  firewall: open-ports\n  proxy: {http: "http://p:3128/\'x"}'),
    'NG0308',
    'spec.proxy.http',
  ],
  ['bad SSH key', (s) => s.replace('ssh-ed25519 AAAAC3', 'ssh-foo AAAAC3'), 'NG0309', 'spec.users[0].sshAuthorizedKeys[0]'],
  [
    'file path traversal',
    (s) => s.replace('  firewall: open-ports', '  firewall: open-ports\n  files: [{path: /etc/../root/x, content: a}]'),
    'NG0305',
    'spec.files[0].path',
  ],
  [
    'file mode not octal',
    (s) => s.replace('  firewall: open-ports', '  firewall: open-ports\n  files: [{path: /etc/x, content: a, mode: "999"}]'),
    'NG0306',
    'spec.files[0].mode',
  ],
  [
    'bad duration',
    (s) => s.replace('  firewall: open-ports', '  firewall: open-ports\n  bootstrapToken: {ttl: 1day}'),
    'NG0307',
    'spec.bootstrapToken.ttl',
  ],
  ['VIP on AWS', (s) => s.replace('type: nocloud', 'type: aws\n    aws: {region: r, subnetId: s}'), 'NG0414', 'spec.loadBalancer.type'],
  ['flatcar with cloud-init', (s) => s.replace('os: almalinux-9', 'os: flatcar\n  format: cloud-init'), 'NG0413', 'spec.nodes[0].os'],
  [
    'EtcdLearnerMode on 1.33+',
    (s) => s.replace('imageRepository: registry.k8s.io', 'imageRepository: registry.k8s.io\n    featureGates: {EtcdLearnerMode: true}'),
    'NG0301',
    'spec.kubernetes.featureGates.EtcdLearnerMode',
  ],
  [
    'ECDSA-P384 before 1.34',
    (s) =>
      s
        .replace('version: 1.34.2', 'version: 1.33.1')
        .replace('  firewall: open-ports', '  firewall: open-ports\n  pki: {keyAlgorithm: ECDSA-P384}'),
    'NG0419',
    'spec.pki.keyAlgorithm',
  ],
  [
    'kube-vip with the endpoint on another port than the API server',
    (s) => s.replace('type: keepalived-haproxy', 'type: kube-vip').replace('port: 6443', 'port: 8443'),
    'NG0419',
    'spec.controlPlaneEndpoint.port',
  ],
  [
    'image repository with a space',
    (s) => s.replace('imageRepository: registry.k8s.io', 'imageRepository: "registry.k8s.io; rm"'),
    'NG0311',
    'spec.kubernetes.imageRepository',
  ],
  ['keepalived on Flatcar', (s) => s.replace('os: almalinux-9', 'os: flatcar'), 'NG0426', 'spec.loadBalancer.type'],
  [
    'setuid file on an Ignition node',
    (s) =>
      s
        .replace('os: almalinux-9', 'os: flatcar')
        .replace('type: keepalived-haproxy', 'type: kube-vip')
        .replace('  firewall: open-ports', '  firewall: open-ports\n  files: [{path: /opt/bin/x, content: a, mode: "4755"}]'),
    'NG0424',
    'spec.files[0].mode',
  ],
  [
    'file under /usr on Flatcar',
    (s) =>
      s
        .replace('os: almalinux-9', 'os: flatcar')
        .replace('type: keepalived-haproxy', 'type: kube-vip')
        .replace('  firewall: open-ports', '  firewall: open-ports\n  files: [{path: /usr/local/bin/x, content: a}]'),
    'NG0425',
    'spec.files[0].path',
  ],
  [
    'containerd version that is not a release',
    (s) => s.replace('    type: containerd\n', '    type: containerd\n    version: "2.0.11; reboot"\n'),
    'NG0312',
    'spec.containerRuntime.version',
  ],
  [
    'containerd version of a minor only',
    (s) => s.replace('    type: containerd\n', '    type: containerd\n    version: "2.0"\n'),
    'NG0312',
    'spec.containerRuntime.version',
  ],
  [
    'containerd version with CRI-O',
    (s) => s.replace('    type: containerd\n', '    type: cri-o\n    version: 2.0.11\n'),
    'NG0432',
    'spec.containerRuntime.version',
  ],
  [
    "containerd version with the distribution's containerd",
    (s) => s.replace('    type: containerd\n', '    type: containerd\n    source: distribution\n    version: 2.0.11\n'),
    'NG0432',
    'spec.containerRuntime.version',
  ],
  [
    'unknown Ignition spec',
    (s) => s.replace('  firewall: open-ports', '  firewall: open-ports\n  ignition: {version: 3.5.0}'),
    'NG0104',
    'spec.ignition.version',
  ],
]

describe('profile validation', () => {
  for (const [what, edit, code, path, line] of CASES) {
    it(`${what}: ${code} at ${path}`, () => {
      const text = edit(QS)
      assert.notEqual(text, QS, 'the edit changed nothing')
      const r = loadProfile(text, 'q.yaml')
      const hit = r.diagnostics.find((d) => d.code === code && formatPath(d.path) === path)
      assert.ok(hit, `expected ${code} at ${path}, got:\n${r.diagnostics.map((d) => formatDiagnostic(d, {excerpt: false})).join('\n')}`)
      assert.equal(hit.severity, 'error')
      assert.equal(r.cluster, undefined)
      assert.equal(hit.position?.file, 'q.yaml')
      if (line !== undefined) assert.equal(hit.position?.line, line)
      // The position points into the source line that holds the value.
      const srcLine = text.split('\n')[(hit.position?.line ?? 1) - 1]
      assert.equal(hit.position?.excerpt, srcLine)
    })
  }

  it('reports every problem at once', () => {
    const text = QS.replace('10.0.0.121/24', '10.0.0.311/24')
      .replace('kube-alma-n-01', 'Bad_Name')
      .replace('gateway: 10.0.0.1', 'gateway: 10.1.0.1')
    const r = loadProfile(text, 'q.yaml')
    const codes = r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code)
    assert.ok(codes.includes('NG0200'))
    assert.ok(codes.includes('NG0300'))
    assert.ok(codes.includes('NG0203'))
  })

  it('formats as FILE:LINE:COL: severity CODE path: message, with a caret', () => {
    const r = loadProfile(QS.replace('10.0.0.121/24', '10.0.0.311/24'), 'cluster.yaml')
    const d = r.diagnostics.find((x) => x.code === 'NG0200')
    assert.ok(d)
    const text = formatDiagnostic(d)
    assert.match(text, /^cluster\.yaml:43:\d+: error NG0200 spec\.nodes\[4\]\.ip: 10\.0\.0\.311 is not an IPv4 address\n/)
    assert.match(text, /\n +\| +\^$/)
  })

  it('warns on an even number of control planes and of etcd members', () => {
    const r = loadProfile(QS.replace('role: worker, ip: 10.0.0.120/24', 'role: control-plane, ip: 10.0.0.120/24'), 'q.yaml')
    assert.ok(r.cluster)
    assert.ok(r.diagnostics.some((d) => d.code === 'NG0405' && d.severity === 'warning'))
  })

  it('the containerd table has a release for every supported Kubernetes minor, and only those; 2.x from 1.30', () => {
    const minors = Object.keys(CONTAINERD_VERSIONS).map(Number)
    const supported = Array.from({length: SUPPORTED.maxMinor - SUPPORTED.minMinor + 1}, (_, i) => SUPPORTED.minMinor + i)
    assert.deepEqual(minors, supported)
    for (const [minor, v] of Object.entries(CONTAINERD_VERSIONS)) {
      assert.match(v, /^[0-9]+\.[0-9]+\.[0-9]+$/, `1.${minor}`)
      if (Number(minor) >= 30) assert.ok(v.startsWith('2.'), `1.${minor}: ${v}`)
    }
  })

  it("pins containerd: the Kubernetes minor's release by default, the profile's when it names one", () => {
    assert.equal(loadProfile(QS, 'q.yaml').cluster?.runtime.version, '2.0.11')
    const own = loadProfile(QS.replace('    type: containerd\n', '    type: containerd\n    version: 2.3.4\n'), 'q.yaml')
    assert.equal(own.cluster?.runtime.version, '2.3.4')
    const newest = loadProfile(QS.replace('version: 1.34.2', 'version: 1.36.0'), 'q.yaml')
    assert.equal(newest.cluster?.runtime.version, '2.3.4')
  })

  it('warns, once per OS, that source distribution on Debian 12 is containerd 1.6 (1.x, unsupported, unpinned)', () => {
    const text = QS.replace('    type: containerd\n', '    type: containerd\n    source: distribution\n').replace(
      'os: almalinux-9',
      'os: debian-12',
    )
    assert.notEqual(text, QS)
    const r = loadProfile(text, 'q.yaml')
    assert.ok(r.cluster, JSON.stringify(r.diagnostics))
    assert.equal(r.cluster.runtime.version, undefined, 'the distribution package is not pinned')
    const w = r.diagnostics.filter((d) => d.code === 'NG0431')
    assert.equal(w.length, 1, JSON.stringify(r.diagnostics))
    assert.equal(w[0]?.severity, 'warning')
    assert.equal(formatPath(w[0]!.path), 'spec.containerRuntime.source')
    assert.match(
      w[0]!.message,
      /Debian 12's own containerd 1\.6, a 1\.x release out of upstream support .* containerd 2\.0\.11 from Docker's repository/,
    )
    assert.ok(w[0]?.position?.line, 'with the line of the field')
    // Docker's containerd.io (the default): no warning.
    const docker = loadProfile(QS.replace('os: almalinux-9', 'os: debian-12'), 'q.yaml')
    assert.ok(!docker.diagnostics.some((d) => d.code === 'NG0431'))
  })

  it('defaults follow kubeadm: service 10.96.0.0/12, cluster.local, flannel pod 10.244.0.0/16', () => {
    const minimal = `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: tiny}
spec:
  kubernetes: {version: 1.31.4}
  nodes:
    - {name: a, role: control-plane, ip: 10.1.0.10/24}
`
    const r = loadProfile(minimal, 'tiny.yaml')
    assert.ok(r.cluster, JSON.stringify(r.diagnostics))
    assert.equal(r.cluster.networking.podSubnet, '10.244.0.0/16')
    assert.equal(r.cluster.networking.serviceSubnet, '10.96.0.0/12')
    assert.equal(r.cluster.networking.dnsDomain, 'cluster.local')
    assert.equal(r.cluster.pki.keyAlgorithm, 'RSA-2048')
    assert.equal(r.cluster.pki.caValiditySeconds, 87600 * 3600)
    assert.equal(r.cluster.pki.certValiditySeconds, 8760 * 3600)
    // Renewal 90 days before a year's leaves expire; workers drained one at a time.
    assert.equal(r.cluster.pki.renewBeforeSeconds, 90 * 86400)
    assert.equal(r.cluster.upgrade.maxUnavailableWorkers, 1)
    assert.equal(r.cluster.bootstrapToken.ttlSeconds, 86400)
    assert.equal(r.cluster.kubernetes.kubeadmApi, 'v1beta4')
    assert.equal(r.cluster.endpoint.kind, 'node')
    assert.equal(r.cluster.endpoint.host, '10.1.0.10')
  })

  it('chooses the kubeadm API by version: v1beta3 before 1.31, v1beta4 from 1.31', () => {
    for (const [v, api] of <Array<[string, string]>>[
      ['1.29.0', 'v1beta3'],
      ['1.30.9', 'v1beta3'],
      ['1.31.0', 'v1beta4'],
      ['1.36.1', 'v1beta4'],
    ]) {
      const r = loadProfile(QS.replace('version: 1.34.2', `version: ${v}`), 'q.yaml')
      assert.equal(r.cluster?.kubernetes.kubeadmApi, api, v)
    }
  })
})
