/**
 * The ufw branch of the bootstrap program's firewall phase, judged by the real ufw: the program runs
 * in a temporary root with the recording stand-ins (without firewall-cmd, so it takes the ufw branch)
 * on a rendered Debian 12 node booted from a baked image, inside a private network namespace and mount namespace (with the
 * host's firewall-cmd left out of the PATH, as on a Debian node): ufw is
 * enabled there over a copy of /etc/ufw and /etc/default/ufw bound over the host's (and over the
 * temporary root's /etc/ufw), with a private /run for its lock. ufw's iptables rules live in the new
 * network namespace, so the host's firewall and ufw configuration are untouched (checked).
 *
 * Read back from `ufw status verbose`, `iptables-save` and before.rules: each port of the role, VRRP
 * on keepalived control planes, calico's IP-in-IP (protocol 4, which ufw's rules cannot name), and
 * the pod network allowed in and routed; a second run adds nothing twice.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {firewallRules} from '../../../src/plan/params.js'
import {materialise, standinBin} from '../../support/bootstrap-harness.js'
import {loadCluster} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, SkipSignal} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-ufw-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function requireRoot(t: TestContext): void {
  if (process.getuid?.() === 0) return
  if (process.env.CI) throw new Error('the ufw test needs root (network and mount namespaces); under CI=true that is a failure')
  t.skip('needs root (network and mount namespaces)')
  throw new SkipSignal('needs root')
}

const POD_SUBNET = '10.32.0.0/16'

function profile(cni: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: ufw-${cni}}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  controlPlaneEndpoint: {host: 10.20.0.100, port: 6443}
  loadBalancer: {type: keepalived-haproxy, apiServerPort: 6444}
  firewall: open-ports
  networking: {podSubnet: ${POD_SUBNET}, cni: {type: ${cni}}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.20.0.10/24}
    - {name: cp-1, role: control-plane, ip: 10.20.0.11/24}
    - {name: cp-2, role: control-plane, ip: 10.20.0.12/24}
    - {name: w-0, role: worker, ip: 10.20.0.20/24}
`
}

// In the namespaces: private ufw configuration, ufw enabled, the program run twice (the second time
// with its firewall phase forgotten, as after a failed later phase on a re-run), then ufw's view.
const SCRIPT = `set -eu
mount -t tmpfs tmpfs /run
cp -a /etc/ufw "$UFW_COPY"
cp -a /etc/default/ufw "$DEFAULT_COPY"
mount --bind "$UFW_COPY" /etc/ufw
mkdir -p "$NODEGEN_ROOT/etc/ufw"
mount --bind "$UFW_COPY" "$NODEGEN_ROOT/etc/ufw"
mount --bind "$DEFAULT_COPY" /etc/default/ufw
if command -v firewall-cmd >/dev/null; then echo "firewall-cmd still found: $(command -v firewall-cmd)" >&2; exit 1; fi
ufw --force enable >"$OUT/enable" 2>&1
set +e
bash "$NODEGEN_ROOT/usr/local/lib/nodegen/bootstrap.sh" >"$OUT/bootstrap.log" 2>&1
echo $? >"$OUT/rc"
rm -f "$NODEGEN_ROOT/var/lib/nodegen/done/firewall"
bash "$NODEGEN_ROOT/usr/local/lib/nodegen/bootstrap.sh" >"$OUT/bootstrap2.log" 2>&1
echo $? >"$OUT/rc2"
set -e
ufw status verbose >"$OUT/status"
iptables-save >"$OUT/iptables"
cp /etc/ufw/before.rules "$OUT/before.rules"
`

interface UfwView {
  code: number
  code2: number
  output: string
  status: string
  iptables: string
  before: string
}

function bootstrapUfw(_t: TestContext, name: string, plan: Parameters<typeof materialise>[0]): UfwView {
  const dir = path.join(tmp, name)
  const root = materialise(plan, dir)
  // A baked image: the packages are there (install-packages.sh would fetch repository keys).
  writeFileSync(
    path.join(root, 'etc/nodegen/image.json'),
    '{"schema": 1, "os": "debian-12", "kubernetesVersion": "1.34.2", "containerRuntime": "containerd"}\n',
  )
  const bin = standinBin(dir)
  // No firewalld on this node: the program must find ufw.
  unlinkSync(path.join(bin, 'firewall-cmd'))
  const out = path.join(dir, 'out')
  mkdirSync(out, {recursive: true})
  // The test tools install firewalld on this host; a Debian node has none. The PATH's system
  // directories are links to the host's commands less firewall-cmd.
  const system = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].map((d) => {
    const mirror = path.join(dir, `path${d.replace(/\//g, '-')}`)
    mkdirSync(mirror)
    for (const f of readdirSync(d)) if (f !== 'firewall-cmd') symlinkSync(path.join(d, f), path.join(mirror, f))
    return mirror
  })
  const r = spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', 'bash', '-c', SCRIPT], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: [bin, ...system].join(':'),
      NODEGEN_ROOT: root,
      NODEGEN_CONSOLE: '/dev/null',
      NODEGEN_STOP_AFTER: 'firewall',
      NODEGEN_TEST_LOG: path.join(dir, 'calls.log'),
      NODEGEN_TEST_FAKE: 'https://127.0.0.1:1',
      UFW_COPY: path.join(dir, 'etc-ufw'),
      DEFAULT_COPY: path.join(dir, 'default-ufw'),
      OUT: out,
    },
  })
  assert.equal(r.status, 0, `harness (${name}): ${r.stderr}`)
  const read = (f: string) => readFileSync(path.join(out, f), 'utf8')
  return {
    code: Number(read('rc').trim()),
    code2: Number(read('rc2').trim()),
    output: `${read('bootstrap.log')}\n--- second run ---\n${read('bootstrap2.log')}`,
    status: read('status'),
    iptables: read('iptables'),
    before: read('before.rules'),
  }
}

/** The rows of `ufw status verbose` as [to, action, from], IPv4 only. */
function rows(status: string): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = []
  for (const line of status.split('\n')) {
    const m = /^(\S+(?: \(v6\))?)\s+(ALLOW (?:IN|FWD))\s+(\S+(?: \(v6\))?)\s*$/.exec(line)
    if (m && !line.includes('(v6)')) out.push([m[1]!, m[2]!, m[3]!])
  }
  return out
}

describe('ufw (the real one, in private network and mount namespaces)', () => {
  for (const cni of ['flannel', 'calico']) {
    const file = path.join(tmp, `ufw-${cni}.yaml`)
    writeFileSync(file, profile(cni))
    for (const node of ['cp-0', 'w-0']) {
      it(`${cni}, ${node}: the role's ports, VRRP, the IP protocols and the pod network are allowed; a re-run adds nothing`, async (t) => {
        requireRoot(t)
        for (const tool of ['unshare', 'mount', 'ufw', 'iptables-save']) requireTool(t, tool)
        const hostConf = readFileSync('/etc/ufw/ufw.conf', 'utf8')
        const hostUser = readFileSync('/etc/ufw/user.rules', 'utf8')
        const hostBefore = readFileSync('/etc/ufw/before.rules', 'utf8')

        const plan = (await renderProfile(file)).nodes.find((n) => n.plan.node === node)!.plan
        const v = bootstrapUfw(t, `${cni}-${node}`, plan)
        assert.equal(v.code, 0, v.output)
        assert.equal(v.code2, 0, v.output)
        assert.match(v.output, /phase firewall: done/)
        assert.match(v.status, /^Status: active$/m)

        const cluster = loadCluster(file)
        const want = firewallRules(cluster, cluster.nodes.find((n) => n.name === node)!)
        const got = rows(v.status)
        // Exactly the role's ports (ufw writes a range with ":"), each once though the phase ran twice.
        const ports = got.filter(([to, action, from]) => /^\d/.test(to) && action === 'ALLOW IN' && from === 'Anywhere').map(([to]) => to)
        assert.deepEqual(ports.sort(), want.ports.map((p) => p.replace('-', ':')).sort(), v.status)
        for (const p of want.ports) {
          const [range, proto] = p.split('/') as [string, string]
          const rule = range.includes('-')
            ? `-A ufw-user-input -p ${proto} -m multiport --dports ${range.replace('-', ':')} -j ACCEPT`
            : `-A ufw-user-input -p ${proto} -m ${proto} --dport ${range} -j ACCEPT`
          assert.ok(v.iptables.includes(rule), `${p}: ${rule}\n${v.iptables}`)
        }

        // VRRP (IP protocol 112) on keepalived control planes only.
        const vrrp = got.filter(([to]) => to === 'Anywhere/vrrp')
        if (node === 'cp-0') {
          assert.deepEqual(vrrp, [['Anywhere/vrrp', 'ALLOW IN', 'Anywhere/vrrp']], v.status)
          assert.match(v.iptables, /^-A ufw-user-input -p (vrrp|112) -j ACCEPT$/m)
        } else {
          assert.deepEqual(vrrp, [], v.status)
          assert.doesNotMatch(v.iptables, /-p (vrrp|112) /)
        }

        // IP-in-IP for calico, through before.rules, once.
        const ipip = v.iptables.split('\n').filter((l) => /^-A ufw-before-input -p (4|ipencap|ipip) -j ACCEPT$/.test(l))
        const marks = v.before.split('\n').filter((l) => l.startsWith('# nodegen: IP protocols'))
        if (cni === 'calico') {
          assert.deepEqual(want.protocols, [4])
          assert.equal(ipip.length, 1, v.iptables)
          assert.equal(marks.length, 1, v.before)
        } else {
          assert.deepEqual(ipip, [])
          assert.deepEqual(marks, [])
        }

        // The pod network: let in, and forwarded between the node's interfaces.
        assert.deepEqual(
          got.filter(([, , from]) => from === POD_SUBNET),
          [
            ['Anywhere', 'ALLOW IN', POD_SUBNET],
            ['Anywhere', 'ALLOW FWD', POD_SUBNET],
          ],
          v.status,
        )
        assert.ok(v.iptables.includes(`-A ufw-user-input -s ${POD_SUBNET} -j ACCEPT`), v.iptables)
        assert.ok(v.iptables.includes(`-A ufw-user-forward -s ${POD_SUBNET} -j ACCEPT`), v.iptables)

        // The host's ufw is as it was.
        assert.equal(readFileSync('/etc/ufw/ufw.conf', 'utf8'), hostConf)
        assert.equal(readFileSync('/etc/ufw/user.rules', 'utf8'), hostUser)
        assert.equal(readFileSync('/etc/ufw/before.rules', 'utf8'), hostBefore)
      })
    }
  }
})
