/**
 * A real cluster on VMs: the real kubeadm, kubelet, control plane, etcd, CoreDNS, kube-proxy and
 * flannel (built from the Go module proxy) judge what nodegen renders. Two control planes and a
 * worker boot a Debian 12 image as a site would have it before nodegen (cloud-init and firewalld
 * on, nothing of Kubernetes) with the NoCloud ISOs the built CLI renders from
 * test/cluster/fixtures/real-debian.yaml. The profile is air-gapped: the VMs' only source is the
 * bundle the test serves on their segment (scripts/build-bundle.sh: a pkgs.k8s.io-layout
 * repository of packages made from the real binaries, Debian's packages, and OCI archives of the
 * images), so the package phase installs for real, and the images phase imports the images into
 * containerd before kubeadm runs.
 *
 * Asserted from outside, from a probe interface on the segment, with nodegen's admin.conf through
 * the VIP: every node Ready, the API server answering, etcd with both stacked members, and a pod
 * on the worker answering a pod on a control plane, by pod IP and by its Service's DNS name
 * (flannel's VXLAN, kube-proxy and CoreDNS through the firewall). The timeline is printed and
 * written to test-results/cluster/ (NODEGEN_CLUSTER_OUT overrides the folder).
 *
 * Its own npm script (`npm run test:cluster`): the first build of the artifacts takes most of an
 * hour, and the run itself tens of minutes under software emulation.
 */
import assert from 'node:assert/strict'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {
  bootNode,
  type ClusterNode,
  endpointReady,
  etcdClientCert,
  etcdMembers,
  milestones,
  profileNodes,
  SegmentFollower,
  sha256File,
  sleep,
  Timeline,
  waitForReady,
  waitNodesReady,
} from '../e2e/cluster.js'
import {nodegen} from '../support/cli.js'
import {buildArtifacts} from '../support/kube-artifacts.js'
import {requireKubeCommand} from '../support/kubernetes.js'
import {REPO_ROOT} from '../support/profiles.js'
import {ensureVmImage, randomMcastGroup, vmToolsMissing} from '../support/qemu.js'
import {SegmentProbe, SegmentSniffer, segmentProbeUnavailable} from '../support/segment.js'
import {findTool} from '../support/tools.js'

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
const OUT = process.env.NODEGEN_CLUSTER_OUT ?? path.join(REPO_ROOT, 'test-results', 'cluster')
const VERSION = '1.34.2'
const VIP = '10.30.0.100'
const ENDPOINT = `${VIP}:6443`
const VRID = 78
const PROBE_IP = '10.30.0.250'
const BUNDLE_PORT = 8080
const BRING_UP_S = Number(process.env.NODEGEN_CLUSTER_BRINGUP_S ?? 75 * 60)
const WORKLOAD_IMAGE = 'registry.nodegen.test/busybox:1.35'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-cluster-'))
const cleanups: Array<() => void> = []
after(() => {
  for (const c of cleanups.reverse()) c()
  if (!process.env.NODEGEN_CLUSTER_KEEP) rmSync(tmp, {recursive: true, force: true})
})

const missing = [...vmToolsMissing(), ...['etcdctl', 'curl', 'openssl', 'ip', 'python3'].filter((t) => !findTool(t))]
const probeMissing = segmentProbeUnavailable()
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')} (npm run test:tools)` : probeMissing
const skip = skipReason && !process.env.CI ? skipReason : false

describe('a real cluster on VMs: real kubeadm, firewall on, installed from an air-gap bundle', {skip, timeout: 120 * 60_000}, () => {
  it('two control planes and a worker come up Ready, with pod-to-pod traffic across nodes', {timeout: 115 * 60_000}, async (t) => {
    if (skipReason) throw new Error(`${skipReason}; under CI=true this is a failure, not a skip`)
    const started = Date.now()
    const bundle = buildArtifacts(t, 'build-bundle.sh')
    const kubectl = requireKubeCommand(t, 'kubectl', VERSION)
    const image = ensureVmImage('plain')
    t.diagnostic(`artifacts and image ready after ${((Date.now() - started) / 1000).toFixed(0)} s`)

    // The profile, pointed at the bundle this test serves, with its SHA256SUMS pinned.
    const dir = path.join(tmp, 'render')
    mkdirSync(dir, {recursive: true})
    const profile = path.join(dir, 'real-debian.yaml')
    writeFileSync(
      profile,
      readFileSync(path.join(FIXTURES, 'real-debian.yaml'), 'utf8')
        .replace('bundle: BUNDLE_URL', `bundle: http://${PROBE_IP}:${BUNDLE_PORT}/`)
        .replace('sha256: BUNDLE_SHA256', `sha256: ${sha256File(path.join(bundle, 'SHA256SUMS'))}`),
    )
    copyFileSync(path.join(bundle, 'cni', 'kube-flannel.yml'), path.join(dir, 'kube-flannel.yml'))
    const isoDir = path.join(dir, 'out')
    const state = path.join(dir, 'state')
    const r = nodegen(['render', profile, '-o', isoDir, '--state', state, '--media', 'iso'])
    assert.equal(r.status, 0, `nodegen render failed: ${r.stderr}`)
    const adminConf = path.join(isoDir, 'admin.conf')
    const clusterCa = path.join(state, 'pki', 'ca.crt')

    const specs = profileNodes(profile)
    const cps = specs.filter((s) => s.role === 'control-plane')
    const worker = specs.find((s) => s.role === 'worker')
    assert.ok(worker && cps.length === 2)
    const group = randomMcastGroup()
    const timeline = new Timeline()
    const sniffer = new SegmentSniffer(group)
    cleanups.push(() => sniffer.close())
    const probe = new SegmentProbe(group, `${PROBE_IP}/24`)
    cleanups.push(() => probe.stop())
    await probe.start()
    mkdirSync(OUT, {recursive: true})
    const serverLog = path.join(OUT, 'bundle-server.log')
    writeFileSync(serverLog, '')
    probe.spawn('python3', ['-m', 'http.server', String(BUNDLE_PORT), '--bind', PROBE_IP, '--directory', bundle], serverLog)
    timeline.add('probe', `bundle served at http://${PROBE_IP}:${BUNDLE_PORT}/ (the segment's only server)`)
    const etcdTls = etcdClientCert(state, tmp)
    const macOf = new Map(specs.map((s) => [s.mac, s.name]))

    // kubeadm's preflight refuses a control plane with fewer than 2 CPUs (NumCPU), as on real machines.
    const boot = (s: (typeof specs)[number]) =>
      bootNode(s, {
        image,
        group,
        isoDir,
        memMb: s.role === 'control-plane' ? 2048 : 1536,
        smp: (n) => (n.role === 'control-plane' ? 2 : 1),
        // Every VM alike: once control plane 1's etcd member votes, every write waits for it as
        // much as for control plane 0's.
        // NODEGEN_CLUSTER_NICE lowers every VM's host priority (other work on the machine first).
        nice: () => Number(process.env.NODEGEN_CLUSTER_NICE ?? 0),
      })
    // The nodes power on one after another, each once the ones before it are ready: two emulated
    // cores cannot carry control plane 0's `kubeadm init`, control plane 1's join (etcd's new
    // member, a second API server, the kubelet's TLS bootstrap) and the worker's package
    // installation and image import at once; the API servers then stop answering and the joins
    // miss their deadlines (docs/testing.md, the fourteenth run). Nodes that boot together and
    // wait for one another (a join before control plane 0 is up) are covered by the e2e tests.
    const nodes: ClusterNode[] = [boot(cps[0] as (typeof specs)[number])]
    let workerNode: ClusterNode | undefined
    const stopAll = () => {
      for (const n of nodes) if (!process.env.NODEGEN_CLUSTER_KEEP) n.vm.cleanup()
      for (const n of nodes) n.vm.kill()
    }
    cleanups.push(stopAll)
    for (const n of nodes) timeline.add(n.label, 'qemu started (power on)', n.vm.startedAt)

    const k = (args: string[], timeoutMs = 30_000) =>
      probe.exec(kubectl, ['--kubeconfig', adminConf, '--request-timeout=20s', ...args], timeoutMs)
    // A command that must succeed once (apply, logs): the API servers of emulated machines can take
    // longer than a request's 20 s for a while, so it is tried again, each time for up to 2 minutes.
    const kOnce = async (args: string[]) => {
      let last = await k(args, 120_000)
      for (let i = 1; i < 5 && last.status !== 0; i++) {
        await sleep(10_000)
        last = await k(args, 120_000)
      }
      return last
    }
    let endpointFirstOk: number | undefined
    const follower = new SegmentFollower(sniffer, VIP, VRID, (mac) => macOf.get(mac) ?? mac)
    const tick = async () => {
      follower.follow(timeline)
      if (nodes.every((n) => n.outcome(true)?.state === 'ready')) {
        const next = nodes.length < cps.length ? cps[nodes.length] : workerNode ? undefined : worker
        if (next) {
          const node = boot(next)
          if (next === worker) workerNode = node
          nodes.push(node)
          timeline.add(node.label, `qemu started (power on), ${nodes.length - 1} node(s) before it ready`, node.vm.startedAt)
        }
      }
      if (endpointFirstOk === undefined && (await endpointReady(probe, ENDPOINT, clusterCa))) {
        endpointFirstOk = Date.now()
        timeline.add('probe', `https://${ENDPOINT}/readyz answers ok (TLS verified against the cluster CA)`)
      }
    }
    const report = (title: string) => {
      for (const n of nodes) {
        n.poll()
        writeFileSync(path.join(OUT, `${n.spec.name}-console.log`), n.vm.lines().join('\n'))
      }
      const text = timeline.write(OUT, 'real-cluster-timeline', title, {group, nodes: specs, totalSeconds: (Date.now() - started) / 1000})
      process.stdout.write(`\n${text}\n`)
    }

    try {
      // A failed run is started again by systemd, as on a real machine (the program retries for
      // ever); each one is a row of the timeline, and the run fails only at its deadline.
      await waitForReady(nodes, timeline, BRING_UP_S * 1000, tick, {retried: true})

      // Every node Ready, as the API server (through the VIP) says.
      const notReady = await waitNodesReady(
        k,
        specs.map((s) => s.name),
        timeline,
      )
      assert.deepEqual(notReady, [], `nodes not Ready: ${notReady.join(', ')}`)
      const readyz = await k(['get', '--raw', '/readyz'])
      assert.equal(readyz.stdout.trim(), 'ok', `the API server through the VIP: ${readyz.stderr}`)

      // etcd: both stacked members started and voting, TLS verified against nodegen's etcd CA.
      const members = await etcdMembers(
        probe,
        etcdTls,
        cps.map((c) => `https://${c.ip}:2379`),
      )
      assert.ok(members, 'etcd did not answer the probe')
      assert.deepEqual(members.map((m) => m.name).sort(), cps.map((c) => c.name).sort())
      assert.ok(
        members.every((m) => !m.isLearner),
        'an etcd member is still a learner',
      )
      timeline.add('probe', `etcd: members ${members.map((m) => m.name).join(', ')}`)

      // Pod to pod across nodes: a web server on the worker, a client on control plane 1.
      const manifest = `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: ${worker.name}
  containers:
    - name: web
      image: ${WORKLOAD_IMAGE}
      imagePullPolicy: Never
      command: [/bin/busybox, sh, -c, 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www']
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`
      const manifestFile = path.join(tmp, 'web.yaml')
      writeFileSync(manifestFile, manifest)
      const applied = await kOnce(['apply', '-f', manifestFile])
      assert.equal(applied.status, 0, `kubectl apply: ${applied.stderr}`)
      let webIp = ''
      for (let i = 0; i < 120 && !webIp; i++) {
        const got = await k(['get', 'pod', 'web', '-o', 'jsonpath={.status.phase} {.status.podIP}'])
        const [phase, ip] = got.stdout.trim().split(' ')
        if (phase === 'Running' && ip) webIp = ip
        else await sleep(5000)
      }
      assert.ok(webIp, 'the web pod never ran')
      timeline.add('probe', `pod web runs on ${worker.name} at ${webIp}`)
      const client = `apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: ${cps[1]?.name}
  restartPolicy: Never
  tolerations: [{operator: Exists}]
  containers:
    - name: client
      image: ${WORKLOAD_IMAGE}
      imagePullPolicy: Never
      command:
        - /bin/busybox
        - sh
        - -c
        - >-
          for i in $(seq 1 30); do wget -q -T 5 -O - http://${webIp}:8080/ && break; sleep 4; done &&
          for i in $(seq 1 30); do wget -q -T 5 -O - http://web.default.svc.cluster.local/ && exit 0; sleep 4; done; exit 1
`
      const clientFile = path.join(tmp, 'client.yaml')
      writeFileSync(clientFile, client)
      const appliedClient = await kOnce(['apply', '-f', clientFile])
      assert.equal(appliedClient.status, 0, `kubectl apply: ${appliedClient.stderr}`)
      let phase = ''
      for (let i = 0; i < 120 && phase !== 'Succeeded' && phase !== 'Failed'; i++) {
        phase = (await k(['get', 'pod', 'client', '-o', 'jsonpath={.status.phase}'])).stdout.trim()
        if (phase !== 'Succeeded' && phase !== 'Failed') await sleep(5000)
      }
      const logs = await kOnce(['logs', 'client'])
      timeline.add('probe', `pod client on ${cps[1]?.name}: ${phase}; it read: ${logs.stdout.trim().split('\n').join(' | ')}`)
      assert.equal(phase, 'Succeeded', `the client pod did not reach the web pod: ${logs.stdout}${logs.stderr}`)
      const hellos = logs.stdout.split('\n').filter((l) => l.trim() === 'hello from web')
      assert.equal(hellos.length, 2, `the client read ${JSON.stringify(logs.stdout)}: want the page by pod IP and by Service name`)

      // The package phase ran (no baked image), firewalld was on and nodegen opened its ports, and the
      // bundle was the only source.
      for (const n of nodes) {
        assert.ok(n.first(/install-packages: runtime containerd and Kubernetes 1\.34\.2 installed/), `${n.label}: no package installation`)
        assert.ok(
          n.first(/nodegen: firewalld: \d+ kind\(s\) of rule in force, now and after a restart/),
          `${n.label}: firewalld was not configured`,
        )
        assert.ok(n.first(/bundle: \d+ image\(s\) imported/), `${n.label}: no images imported from the bundle`)
      }
      const served = readFileSync(serverLog, 'utf8')
      for (const s of specs)
        assert.match(served, new RegExp(`${s.ip.replaceAll('.', '\\.')} .*"GET /SHA256SUMS`), `${s.name} never read the bundle`)
      report('real cluster timeline (ready, pod-to-pod ok)')
    } catch (e) {
      report('real cluster timeline (FAILED)')
      throw e
    }
    for (const n of nodes) milestones(n, timeline)
  })
})
