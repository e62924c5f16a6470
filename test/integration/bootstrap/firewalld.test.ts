/**
 * The firewall the bootstrap program configures, judged by firewalld itself: the program runs in a
 * temporary root with the recording stand-ins, except that `firewall-cmd` is firewalld's own
 * `firewall-offline-cmd` (the same arguments; --permanent and --reload mean nothing offline). It
 * runs in a private mount namespace with a copy of /etc/firewalld bound over the host's, so the host
 * is untouched; afterwards firewalld lists the zones and the test reads them back.
 *
 * Checked for every CNI: the role's ports, IP protocol 4 for calico's IP-in-IP (and only for
 * calico), VRRP on keepalived control planes, the pod network as a source of the trusted zone, and
 * that the firewall is configured after the packages phase (which installs firewalld on EL) — and
 * that the clouds' security groups and firewall rules carry the same ports and protocols.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {ingressRules} from '../../../src/cloud/aws/network.js'
import {firewallRules as gceFirewallRules} from '../../../src/cloud/gcp/firewall.js'
import {materialise, readCallLog, standinBin} from '../../support/bootstrap-harness.js'
import {loadCluster} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, SkipSignal} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-firewalld-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function requireRoot(t: TestContext): void {
  if (process.getuid?.() === 0) return
  if (process.env.CI) throw new Error('the firewalld test needs root (a private mount namespace); under CI=true that is a failure')
  t.skip('needs root (a private mount namespace)')
  throw new SkipSignal('needs root')
}

// cilium (a manifest of the user's own) is given its default pod network; the others another one.
function podSubnet(cni: string): string {
  return cni === 'cilium' ? '10.244.0.0/16' : '10.32.0.0/16'
}

function profile(cni: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: fw-${cni}}
spec:
  kubernetes: {version: 1.34.2}
  os: almalinux-9
  controlPlaneEndpoint: {host: 10.20.0.100, port: 6443}
  loadBalancer: {type: keepalived-haproxy, apiServerPort: 6444}
  firewall: open-ports
  networking: {podSubnet: ${podSubnet(cni)}, cni: {type: ${cni}${cni === 'cilium' ? ', manifestUrl: https://example.com/cilium.yaml' : ''}}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.20.0.10/24}
    - {name: cp-1, role: control-plane, ip: 10.20.0.11/24}
    - {name: cp-2, role: control-plane, ip: 10.20.0.12/24}
    - {name: w-0, role: worker, ip: 10.20.0.20/24}
`
}

// firewall-cmd as the bootstrap program calls it, carried out by firewalld's offline tool.
const FIREWALL_CMD = `#!/bin/bash
printf '%s\\t%s\\t%s\\n' "$(date +%s.%N)" "$(sed -n 's/^NODE_NAME=//p' "$NODEGEN_ROOT/etc/nodegen/bootstrap.env")" "firewall-cmd $*" >>"$NODEGEN_TEST_LOG"
args=()
for a in "$@"; do
  case "$a" in
    --permanent | --quiet) ;;
    --reload) exit 0 ;;
    --state) echo running; exit 0 ;;
    *) args+=("$a") ;;
  esac
done
exec firewall-offline-cmd "\${args[@]}"
`

interface Zones {
  code: number
  output: string
  calls: string[]
  defaultZone: string
  trusted: string
  xml: string
}

function bootstrapFirewall(t: TestContext, name: string, cni: string, node: string, plan: Parameters<typeof materialise>[0]): Zones {
  const dir = path.join(tmp, name)
  const root = materialise(plan, dir)
  const bin = standinBin(dir)
  writeFileSync(path.join(bin, 'firewall-cmd'), FIREWALL_CMD)
  chmodSync(path.join(bin, 'firewall-cmd'), 0o755)
  const offline = requireTool(t, 'firewall-offline-cmd')
  const log = path.join(dir, 'calls.log')
  const etc = path.join(dir, 'etc-firewalld')
  mkdirSync(path.join(dir, 'out'), {recursive: true})
  const script = `set -eu
cp -a /etc/firewalld "$ETC_COPY"
mount --bind "$ETC_COPY" /etc/firewalld
set +e
bash "$NODEGEN_ROOT/usr/local/lib/nodegen/bootstrap.sh" >"$OUT/bootstrap.log" 2>&1
echo $? >"$OUT/rc"
set -e
firewall-offline-cmd --list-all >"$OUT/default" 2>/dev/null
firewall-offline-cmd --zone=trusted --list-all >"$OUT/trusted" 2>/dev/null
cat /etc/firewalld/zones/*.xml >"$OUT/xml"
`
  const r = spawnSync('unshare', ['-m', 'bash', '-c', script], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${bin}:${path.dirname(offline)}:/usr/bin:/bin:/usr/sbin:/sbin`,
      NODEGEN_ROOT: root,
      NODEGEN_CONSOLE: '/dev/null',
      NODEGEN_STOP_AFTER: 'firewall',
      NODEGEN_TEST_LOG: log,
      NODEGEN_TEST_FAKE: 'https://127.0.0.1:1',
      ETC_COPY: etc,
      OUT: path.join(dir, 'out'),
    },
  })
  assert.equal(r.status, 0, `harness (${node}, ${cni}): ${r.stderr}`)
  const read = (f: string) => readFileSync(path.join(dir, 'out', f), 'utf8')
  return {
    code: Number(read('rc').trim()),
    output: read('bootstrap.log'),
    calls: readCallLog(log).map((c) => c.call),
    defaultZone: read('default'),
    trusted: read('trusted'),
    xml: read('xml'),
  }
}

function field(listing: string, name: string): string[] {
  const m = listing.match(new RegExp(`^\\s*${name}: ?(.*)$`, 'm'))
  return (m?.[1] ?? '').trim().split(/\s+/).filter(Boolean)
}

for (const cni of ['flannel', 'calico', 'cilium']) {
  describe(`firewalld with ${cni}`, () => {
    const file = path.join(tmp, `fw-${cni}.yaml`)
    writeFileSync(file, profile(cni))

    for (const node of ['cp-0', 'w-0']) {
      it(`${node}: firewall-offline-cmd accepts the program's commands; ports, protocols and the trusted pod network are in force after the packages`, async (t) => {
        requireRoot(t)
        for (const tool of ['unshare', 'mount']) requireTool(t, tool)
        const r = await renderProfile(file)
        const plan = r.nodes.find((n) => n.plan.node === node)!.plan
        const z = bootstrapFirewall(t, `${cni}-${node}`, cni, node, plan)
        assert.equal(z.code, 0, z.output)
        assert.match(z.output, /phase firewall: done/)

        // After the packages phase, which installed firewalld.
        const firstFw = z.calls.findIndex((c) => c.startsWith('firewall-cmd '))
        const dnfFirewalld = z.calls.findIndex((c) => /^dnf .*install firewalld/.test(c))
        assert.ok(dnfFirewalld >= 0, `dnf installs firewalld:\n${z.calls.join('\n')}`)
        assert.ok(firstFw > dnfFirewalld, `firewall-cmd runs after the packages:\n${z.calls.join('\n')}`)
        assert.ok(
          z.calls.some((c) => /^systemctl enable --no-reload --now firewalld$/.test(c)),
          'firewalld is enabled and started',
        )

        // firewalld's own reading of the zones.
        const cluster = loadCluster(file)
        const want = (await import('../../../src/plan/params.js')).firewallRules(cluster, cluster.nodes.find((n) => n.name === node)!)
        assert.deepEqual(field(z.defaultZone, 'ports').sort(), [...want.ports].sort(), z.defaultZone)
        const protocols = field(z.defaultZone, 'protocols')
        if (cni === 'calico') assert.deepEqual(protocols, ['4'], z.defaultZone)
        else assert.deepEqual(protocols, [], z.defaultZone)
        assert.deepEqual(field(z.trusted, 'sources'), [podSubnet(cni)], z.trusted)
        assert.match(z.trusted, /target: ACCEPT/)
        if (node === 'cp-0') assert.match(z.defaultZone, /rule protocol value="vrrp" accept/)
        else assert.doesNotMatch(z.defaultZone, /vrrp/)
        assert.ok(z.xml.includes(`<source address="${podSubnet(cni)}"/>`), z.xml)
        if (node === 'cp-0')
          for (const p of ['6443', '6444', '2379-2380', '10250']) assert.ok(field(z.defaultZone, 'ports').includes(`${p}/tcp`), p)
      })
    }

    it('the clouds read the same table: EC2 ingress and GCE firewall rules carry the ports and the protocols', () => {
      const cluster = loadCluster(file)
      const cp = ingressRules(cluster, 'control-plane')
      const onGcp = {
        ...cluster,
        platform: {
          ...cluster.platform,
          type: 'gcp',
          gcp: {project: 'p', zone: 'z-a', region: 'z', network: 'default', machineType: 'e2-standard-2'},
        },
      } as unknown as typeof cluster
      const gce = gceFirewallRules(onGcp).find((r) => String(r.name).endsWith('control-plane')) as {
        allowed: Array<{IPProtocol: string; ports?: string[]}>
      }
      const ipip = cp.filter((p) => p.IpProtocol === '4')
      const gceIpip = gce.allowed.filter((a) => a.IPProtocol === '4')
      if (cni === 'calico') {
        assert.equal(ipip.length, 1)
        assert.equal(ipip[0]!.FromPort, undefined)
        assert.equal(gceIpip.length, 1)
        assert.equal(gceIpip[0]!.ports, undefined)
      } else {
        assert.equal(ipip.length, 0)
        assert.equal(gceIpip.length, 0)
      }
      assert.ok(cp.some((p) => p.IpProtocol === 'tcp' && p.FromPort === 6444))
      assert.ok(gce.allowed.some((a) => a.IPProtocol === 'tcp' && a.ports?.includes('6444')))
    })
  })
}
