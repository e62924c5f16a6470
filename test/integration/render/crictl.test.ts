/**
 * /etc/crictl.yaml as the real crictl reads it (cri-tools, built once from the Go module proxy into
 * ~/.cache/nodegen-test): the endpoints are the node's runtime socket, for containerd and CRI-O, so
 * crictl goes straight to it instead of trying its deprecated list of default sockets.
 */
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {CRI_SOCKETS} from '../../../src/plan/kubeadm/index.js'
import {PROFILES_DIR} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {findTool, run, SkipSignal} from '../../support/tools.js'

const CRICTL_VERSION = 'v1.34.0'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-crictl-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function crictl(t: TestContext): string {
  const dir = path.join(process.env.NODEGEN_TEST_CACHE ?? path.join(os.homedir(), '.cache', 'nodegen-test'), 'crictl', CRICTL_VERSION)
  const bin = path.join(dir, 'crictl')
  if (existsSync(bin)) return bin
  const go = findTool('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined)
  const r = go
    ? run(go, ['install', `sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}`], {allowFail: true, env: {...process.env, GOBIN: dir}})
    : undefined
  if (r?.status !== 0 || !existsSync(bin)) {
    const msg = `crictl ${CRICTL_VERSION} is not built and could not be (needs Go and the Go module proxy)`
    if (process.env.CI) throw new Error(msg)
    t.skip(msg)
    throw new SkipSignal(msg)
  }
  return bin
}

describe('/etc/crictl.yaml', () => {
  for (const [profile, runtime] of [
    ['quickstart.yaml', 'containerd'],
    ['crio', 'cri-o'],
  ] as const) {
    it(`${runtime}: crictl reads the runtime's socket as both endpoints and dials it`, async (t) => {
      const bin = crictl(t)
      let file = path.join(PROFILES_DIR, profile)
      if (profile === 'crio') {
        file = path.join(tmp, 'crio.yaml')
        writeFileSync(
          file,
          `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: crio}
spec:
  kubernetes: {version: 1.34.2}
  os: almalinux-9
  containerRuntime: {type: cri-o}
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.60.0.10/24}
`,
        )
      }
      const r = await renderProfile(file)
      for (const n of r.nodes) {
        const f = n.plan.files.find((x) => x.path === '/etc/crictl.yaml')
        assert.ok(f, `${n.plan.node} has /etc/crictl.yaml`)
        const cfg = path.join(tmp, `${runtime}-${n.plan.node}.yaml`)
        writeFileSync(cfg, f.content)
        const socket = CRI_SOCKETS[runtime]
        for (const key of ['runtime-endpoint', 'image-endpoint'])
          assert.equal(run(bin, ['--config', cfg, 'config', '--get', key]).stdout.trim(), socket, key)
        assert.equal(run(bin, ['--config', cfg, 'config', '--get', 'timeout']).stdout.trim(), '10')
        const info = run(bin, ['--config', cfg, 'info'], {allowFail: true})
        assert.match(info.stderr, new RegExp(`endpoint \\\\"${socket.replace(/[/.]/g, '\\$&')}\\\\"`), info.stderr)
        assert.doesNotMatch(info.stderr, /default endpoints|deprecated/i)
      }
    })
  }
})
