import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {parse} from 'yaml'
import {
  buildEndpointFiles,
  CHECK_APISERVER_SCRIPT,
  CHECK_SCRIPT_PATH,
  ENDPOINT_ENV_PATH,
  HAPROXY_CFG_PATH,
  KEEPALIVED_CONF_PATH,
  KUBE_VIP_INIT_PATH,
  KUBE_VIP_PATH,
  NONLOCAL_BIND_SYSCTL_PATH,
} from '../../../../src/plan/ha/index.js'
import {type Cluster, type ClusterNode, controlPlanes} from '../../../../src/profile/index.js'
import {cluster, firstOf} from '../kubeadm/fixtures.js'

function fileOf(c: Cluster, node: ClusterNode, path: string) {
  const f = buildEndpointFiles(c, node).files.find((x) => x.path === path)
  assert.ok(f, `${node.name} has ${path}`)
  return f
}

function paths(c: Cluster, node: ClusterNode): string[] {
  return buildEndpointFiles(c, node).files.map((f) => f.path)
}

describe('which nodes get what', () => {
  test('keepalived-haproxy: keepalived, its check, endpoint.env, haproxy, the nonlocal-bind sysctl; both units enabled', () => {
    const c = cluster('quickstart')
    for (const cp of controlPlanes(c)) {
      assert.deepEqual(paths(c, cp), [
        HAPROXY_CFG_PATH,
        CHECK_SCRIPT_PATH,
        KEEPALIVED_CONF_PATH,
        ENDPOINT_ENV_PATH,
        NONLOCAL_BIND_SYSCTL_PATH,
      ])
      assert.deepEqual(buildEndpointFiles(c, cp).units, [
        {name: 'haproxy.service', enabled: true, dropIns: []},
        {name: 'keepalived.service', enabled: true, dropIns: []},
      ])
    }
    assert.equal(fileOf(c, firstOf(c, 'control-plane'), CHECK_SCRIPT_PATH).mode, 0o755)
    assert.equal(fileOf(c, firstOf(c, 'control-plane'), ENDPOINT_ENV_PATH).mode, 0o644)
  })

  test('keepalived alone: no haproxy, no sysctl', () => {
    const c = cluster('quickstart', (s) => {
      s.loadBalancer.type = 'keepalived'
    })
    assert.deepEqual(paths(c, firstOf(c, 'control-plane')), [CHECK_SCRIPT_PATH, KEEPALIVED_CONF_PATH, ENDPOINT_ENV_PATH])
    assert.deepEqual(
      buildEndpointFiles(c, firstOf(c, 'control-plane')).units.map((u) => u.name),
      ['keepalived.service'],
    )
  })

  test('kube-vip: the steady-state manifest everywhere, the init variant on control plane 0 only', () => {
    const c = cluster('quickstart', (s) => {
      s.loadBalancer.type = 'kube-vip'
    })
    assert.deepEqual(paths(c, firstOf(c, 'control-plane', 0)), [KUBE_VIP_INIT_PATH, KUBE_VIP_PATH])
    assert.deepEqual(paths(c, firstOf(c, 'control-plane', 1)), [KUBE_VIP_PATH])
    assert.deepEqual(buildEndpointFiles(c, firstOf(c, 'control-plane', 0)).units, [])
  })

  test('external load balancer, workers and etcd members: nothing', () => {
    const ext = cluster('quickstart', (s) => {
      s.loadBalancer.type = 'external'
      s.controlPlaneEndpoint.host = 'api.example.com'
    })
    for (const n of ext.nodes) assert.deepEqual(buildEndpointFiles(ext, n), {files: [], units: []})
    const c = cluster('ha-external-etcd')
    for (const n of c.nodes.filter((x) => x.role !== 'control-plane')) assert.deepEqual(buildEndpointFiles(c, n), {files: [], units: []})
  })
})

describe('keepalived.conf', () => {
  test('MASTER on control plane 0, BACKUP elsewhere; priority falls by ordinal; router id, interface, VIP', () => {
    const c = cluster('quickstart')
    const prios: number[] = []
    for (const cp of controlPlanes(c)) {
      const conf = fileOf(c, cp, KEEPALIVED_CONF_PATH).content
      assert.match(conf, new RegExp(`state ${cp.ordinal === 0 ? 'MASTER' : 'BACKUP'}\\n`))
      assert.match(conf, /virtual_router_id 51\n/)
      assert.match(conf, /interface eth0\n/)
      assert.match(conf, /advert_int 1\n/)
      assert.match(conf, /virtual_ipaddress \{\n {8}10\.0\.0\.100\/24 dev eth0\n/)
      assert.match(conf, /script "\/etc\/keepalived\/check_apiserver\.sh"/)
      assert.doesNotMatch(conf, /unicast/)
      assert.doesNotMatch(conf, /authentication/)
      const weight = Number(/weight (-?\d+)/.exec(conf)![1])
      prios.push(Number(/priority (\d+)/.exec(conf)![1]))
      assert.ok(prios.at(-1)! >= 1 && prios.at(-1)! <= 254)
      // A failing node ranks below every healthy one.
      assert.ok(prios.at(-1)! + weight < 150 - controlPlanes(c).length)
    }
    assert.deepEqual(
      prios,
      [...prios].sort((a, b) => b - a),
    )
    assert.equal(new Set(prios).size, prios.length)
  })

  test('unicast: this node as source, the other control planes as peers; PASS authentication; secret', () => {
    const c = cluster('ha-external-etcd')
    const cp2 = firstOf(c, 'control-plane', 1)
    const f = fileOf(c, cp2, KEEPALIVED_CONF_PATH)
    assert.match(f.content, /unicast_src_ip 192\.168\.2\.12\n {4}unicast_peer \{\n {8}192\.168\.2\.11\n {8}192\.168\.2\.13\n {4}\}/)
    assert.match(f.content, /authentication \{\n {8}auth_type PASS\n {8}auth_pass k8sVrrp1\n {4}\}/)
    assert.equal(f.secret, true)
    assert.equal(f.mode, 0o600)
    assert.equal(fileOf(cluster('quickstart'), firstOf(cluster('quickstart'), 'control-plane'), KEEPALIVED_CONF_PATH).secret, false)
  })

  test("the load balancer's interface overrides the node's", () => {
    const c = cluster('quickstart', (s) => {
      s.loadBalancer.interface = 'bond0'
    })
    const conf = fileOf(c, firstOf(c, 'control-plane'), KEEPALIVED_CONF_PATH).content
    assert.match(conf, /interface bond0\n/)
    assert.match(conf, /10\.0\.0\.100\/24 dev bond0/)
  })
})

describe('the health check', () => {
  test('check_apiserver.sh is the same bytes for every node and cluster and holds no profile value', () => {
    const clusters = [
      cluster('quickstart'),
      cluster('ha-external-etcd'),
      cluster('quickstart', (s) => {
        s.loadBalancer.type = 'keepalived'
      }),
    ]
    for (const c of clusters)
      for (const cp of controlPlanes(c)) {
        const script = fileOf(c, cp, CHECK_SCRIPT_PATH).content
        assert.equal(script, CHECK_APISERVER_SCRIPT)
        for (const value of [c.endpoint.host, cp.ip, cp.name, c.name, 'quickstart.yaml', 'ha-external-etcd.yaml'])
          assert.ok(!script.includes(value), `${value} in the script`)
        assert.doesNotMatch(script, /\beval\b|^\s*\.\s|\bsource\b/m)
      }
  })

  test('endpoint.env: the VIP, its port, and the local port the check asks (haproxy or the API server)', () => {
    const env = (c: Cluster) =>
      fileOf(c, firstOf(c, 'control-plane'), ENDPOINT_ENV_PATH)
        .content.split('\n')
        .filter((l) => !l.startsWith('#'))
    assert.deepEqual(
      env(
        cluster('quickstart', (s) => {
          s.controlPlaneEndpoint.port = 8443
        }),
      ),
      ['APISERVER_VIP=10.0.0.100', 'APISERVER_VIP_PORT=8443', 'APISERVER_LOCAL_PORT=8443', ''],
    )
    assert.deepEqual(
      env(
        cluster('quickstart', (s) => {
          s.loadBalancer.type = 'keepalived'
        }),
      ),
      ['APISERVER_VIP=10.0.0.100', 'APISERVER_VIP_PORT=6443', 'APISERVER_LOCAL_PORT=6443', ''],
    )
  })
})

describe('haproxy.cfg', () => {
  test('frontend on the VIP and loopback, TCP, every control plane checked over TLS on /healthz', () => {
    const c = cluster('quickstart', (s) => {
      s.controlPlaneEndpoint.port = 8443
    })
    const cfg = fileOf(c, firstOf(c, 'control-plane', 2), HAPROXY_CFG_PATH).content
    assert.match(cfg, /bind 10\.0\.0\.100:8443\n {4}bind 127\.0\.0\.1:8443\n/)
    assert.match(cfg, /mode {20}tcp/)
    assert.match(cfg, /option httpchk GET \/readyz\n {4}http-check expect status 200\n {4}balance roundrobin\n/)
    const servers = cfg.split('\n').filter((l) => l.trim().startsWith('server '))
    assert.deepEqual(
      servers.map((l) => l.trim()),
      controlPlanes(c).map((cp) => `server ${cp.name} ${cp.ip}:6443 check check-ssl verify none`),
    )
    assert.match(fileOf(c, firstOf(c, 'control-plane'), NONLOCAL_BIND_SYSCTL_PATH).content, /^net\.ipv4\.ip_nonlocal_bind = 1$/m)
  })
})

describe('kube-vip manifests', () => {
  const c = cluster('quickstart', (s) => {
    s.loadBalancer.type = 'kube-vip'
    s.loadBalancer.interface = 'ens192'
  })
  // biome-ignore lint/suspicious/noExplicitAny: a pod read as plain data
  const pod = (node: ClusterNode, path: string): any => parse(fileOf(c, node, path).content, {version: '1.1'})
  const envOf = (p: {spec: {containers: Array<{env: Array<{name: string; value?: string}>}>}}) =>
    Object.fromEntries(p.spec.containers[0]!.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]))

  test('ARP, control plane mode with leader election, the VIP, interface and port', () => {
    const p = pod(firstOf(c, 'control-plane', 1), KUBE_VIP_PATH)
    assert.equal(p.kind, 'Pod')
    assert.equal(p.metadata.namespace, 'kube-system')
    assert.equal(p.spec.hostNetwork, true)
    assert.equal(p.spec.containers[0].image, 'ghcr.io/kube-vip/kube-vip:v0.8.9')
    assert.deepEqual(p.spec.containers[0].args, ['manager'])
    const env = envOf(p)
    assert.equal(env.vip_arp, 'true')
    assert.equal(env.cp_enable, 'true')
    assert.equal(env.vip_leaderelection, 'true')
    assert.equal(env.address, '10.0.0.100')
    assert.equal(env.port, '6443')
    assert.equal(env.vip_interface, 'ens192')
    assert.deepEqual(p.spec.containers[0].securityContext.capabilities.add, ['NET_ADMIN', 'NET_RAW'])
  })

  test('steady state mounts admin.conf; the init variant mounts super-admin.conf as admin.conf (kubeadm >= 1.29)', () => {
    const steady = pod(firstOf(c, 'control-plane', 0), KUBE_VIP_PATH)
    const init = pod(firstOf(c, 'control-plane', 0), KUBE_VIP_INIT_PATH)
    assert.deepEqual(steady.spec.volumes, [{name: 'kubeconfig', hostPath: {path: '/etc/kubernetes/admin.conf'}}])
    assert.deepEqual(init.spec.volumes, [{name: 'kubeconfig', hostPath: {path: '/etc/kubernetes/super-admin.conf'}}])
    for (const p of [steady, init])
      assert.deepEqual(p.spec.containers[0].volumeMounts, [{name: 'kubeconfig', mountPath: '/etc/kubernetes/admin.conf'}])
    assert.equal(fileOf(c, firstOf(c, 'control-plane', 0), KUBE_VIP_INIT_PATH).mode, 0o600)
  })
})
