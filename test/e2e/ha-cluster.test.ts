/**
 * Proof on VMs: five nodes bring the HA control plane up by themselves, and survive losing
 * one. Three stacked control planes and two workers boot the test image with the NoCloud ISOs the
 * built CLI renders from test/e2e/fixtures/ha-debian.yaml, on one virtual L2 segment, with nothing
 * but the product on them: the rendered keepalived and haproxy configurations, the real bootstrap
 * program, Debian's keepalived, haproxy and etcd. Only kubeadm is a stand-in (test/vm-image/standins/
 * kubeadm), doing to etcd and the endpoint what kubeadm does.
 *
 * Everything is asserted from outside the VMs: their serial consoles, and the segment itself — the
 * frames on it (who announces the VIP, who sends VRRP adverts) and a probe interface in a private
 * network namespace that asks the VIP for /readyz (TLS verified against the cluster CA) and etcd for
 * its members (TLS verified against nodegen's etcd CA).
 *
 * The timeline (boot to ready per node, the failover) is printed and written to
 * test-results/e2e/ (NODEGEN_E2E_OUT overrides the folder).
 */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {nodegen} from '../support/cli.js'
import {REPO_ROOT} from '../support/profiles.js'
import {ensureVmImage, randomMcastGroup, type VmImage, vmToolsMissing} from '../support/qemu.js'
import {SegmentProbe, SegmentSniffer, segmentProbeUnavailable} from '../support/segment.js'
import {findTool} from '../support/tools.js'
import {
  bootNode,
  bringUpNice,
  type ClusterNode,
  type EtcdMember,
  endpointReady,
  etcdClientCert,
  etcdctl,
  etcdMembers,
  milestones,
  type NodeSpec,
  profileNodes,
  SegmentFollower,
  sleep,
  Timeline,
  waitForReady,
} from './cluster.js'

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
const OUT = process.env.NODEGEN_E2E_OUT ?? path.join(REPO_ROOT, 'test-results', 'e2e')
const VIP = '10.20.0.100'
const ENDPOINT = `${VIP}:6443`
const VRID = 77
const PROBE_ADDRESS = '10.20.0.250/24'
const MEM_MB = 768
/** The five-VM run's limit: bring-up, failover and rejoin within 24 minutes. */
const WHOLE_RUN_MS = Number(process.env.NODEGEN_E2E_LIMIT_S ?? 24 * 60) * 1000
/** The bring-up's bound: five VMs share two cores under emulation here (11 to 13 minutes seen). */
const BRING_UP_S = Number(process.env.NODEGEN_E2E_BRINGUP_S ?? 16 * 60)
/** keepalived: advert_int 1, so a backup declares the master dead after 3 × 1 s + skew (< 1 s). */
const VRRP_MASTER_DOWN_S = 3 + 1
/** What emulation adds to it: the backup's VM is one of five sharing two host cores. */
const VRRP_SLACK_S = 6

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-e2e-'))
const cleanups: Array<() => void> = []
after(() => {
  for (const c of cleanups.reverse()) c()
  rmSync(tmp, {recursive: true, force: true})
})

const missing = [...vmToolsMissing(), ...['etcdctl', 'curl', 'openssl', 'ip'].filter((t) => !findTool(t))]
const probeMissing = segmentProbeUnavailable()
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')} (npm run test:tools)` : probeMissing
const skip = skipReason && !process.env.CI ? skipReason : false

/** Renders the profile (optionally edited) into ISOs with the built CLI. */
function render(name: string, edit: (text: string) => string = (t) => t): {isoDir: string; state: string; profile: string} {
  const dir = path.join(tmp, name)
  const profile = path.join(dir, 'ha-debian.yaml')
  rmSync(dir, {recursive: true, force: true})
  const text = edit(readFileSync(path.join(FIXTURES, 'ha-debian.yaml'), 'utf8'))
  mkdirSync(dir, {recursive: true})
  writeFileSync(profile, text)
  writeFileSync(path.join(dir, 'cni.yaml'), readFileSync(path.join(FIXTURES, 'cni.yaml')))
  const isoDir = path.join(dir, 'out')
  const state = path.join(dir, 'state')
  const r = nodegen(['render', profile, '-o', isoDir, '--state', state, '--media', 'iso'])
  assert.equal(r.status, 0, `nodegen render failed: ${r.stderr}`)
  return {isoDir, state, profile}
}

describe('e2e: an HA control plane on five VMs', {skip, timeout: 40 * 60_000}, () => {
  let image: VmImage
  before(() => {
    if (skipReason) throw new Error(`${skipReason}; under CI=true this is a failure, not a skip`)
    image = ensureVmImage()
  })

  // Issue 11's bound: the whole run (bring-up, failover, rejoin) within 20 minutes on CI's machine.
  // Here (2 cores, software emulation) it took 12 to 16 in five runs.
  it('five nodes bring the control plane up by themselves, survive losing control plane 0, and take it back', {
    timeout: WHOLE_RUN_MS,
  }, async (t) => {
    const started = Date.now()
    const {isoDir, state} = render('ha')
    const specs = profileNodes(path.join(FIXTURES, 'ha-debian.yaml'))
    const cps = specs.filter((s) => s.role === 'control-plane')
    const workers = specs.filter((s) => s.role === 'worker')
    const cp0 = cps[0] as NodeSpec
    const group = randomMcastGroup()
    const timeline = new Timeline()
    const sniffer = new SegmentSniffer(group)
    cleanups.push(() => sniffer.close())
    t.after(() => sniffer.close())
    const probe = new SegmentProbe(group, PROBE_ADDRESS)
    cleanups.push(() => probe.stop())
    t.after(() => probe.stop())
    await probe.start()
    const clusterCa = path.join(isoDir, 'cluster-ca.crt')
    writeFileSync(clusterCa, readFileSync(path.join(state, 'pki', 'ca.crt')))
    const etcdTls = etcdClientCert(state, tmp)
    const etcdEndpoints = (nodes: NodeSpec[]) => nodes.map((n) => `https://${n.ip}:2379`)
    const macOf = new Map(specs.map((s) => [s.mac, s.name]))
    const holderName = (mac: string) => macOf.get(mac) ?? mac

    const nodes: ClusterNode[] = specs.map((s) => bootNode(s, {image, group, isoDir, memMb: MEM_MB, nice: bringUpNice}))
    const stopAll = () => {
      for (const n of nodes) n.vm.cleanup()
    }
    cleanups.push(stopAll)
    t.after(stopAll)
    for (const n of nodes) timeline.add(n.label, 'qemu started (power on)', n.vm.startedAt)

    // The outside probes while the cluster comes up: the endpoint, and etcd's members once it answers.
    let endpointFirstOk: number | undefined
    let lastMembersPoll = 0
    const memberSeen = new Map<string, number>()
    const follower = new SegmentFollower(sniffer, VIP, VRID, holderName)
    const tick = async () => {
      follower.follow(timeline)
      if (endpointFirstOk === undefined && (await endpointReady(probe, ENDPOINT, clusterCa))) {
        endpointFirstOk = Date.now()
        timeline.add('probe', `https://${ENDPOINT}/readyz answers ok (TLS verified against the cluster CA)`)
      }
      if (endpointFirstOk !== undefined && Date.now() - lastMembersPoll > 3000 && memberSeen.size < cps.length) {
        lastMembersPoll = Date.now()
        for (const m of (await etcdMembers(probe, etcdTls, etcdEndpoints(cps))) ?? []) {
          if (m.name && !m.isLearner && !memberSeen.has(m.name)) {
            memberSeen.set(m.name, Date.now())
            timeline.add('probe', `etcd: ${m.name} is a started voting member`)
          }
        }
      }
    }
    const report = (title: string) => {
      const text = timeline.write(OUT, 'ha-timeline', title, {
        group,
        nodes: specs,
        totalSeconds: (Date.now() - started) / 1000,
      })
      process.stdout.write(`\n${text}\n`)
    }
    // After the kill and after the rejoin: ask the endpoint every 0.5 s, reading the consoles and the
    // segment between asks, until it has answered 5 times in a row and `alsoDone` holds, or the
    // deadline passes. Returns the answers in a row at the end.
    const watchUntilSteady = async (
      deadline: number,
      watched: ClusterNode[],
      on: {alsoDone?: () => boolean; round?: () => void; answer?: (first: boolean) => void; miss?: () => void},
    ): Promise<number> => {
      let inARow = 0
      let answered = false
      const done = () => inARow >= 5 && (on.alsoDone?.() ?? true)
      while (Date.now() < deadline && !done()) {
        on.round?.()
        if (await endpointReady(probe, ENDPOINT, clusterCa)) {
          inARow++
          on.answer?.(!answered)
          answered = true
        } else {
          inARow = 0
          on.miss?.()
        }
        for (const n of watched) n.poll()
        follower.follow(timeline)
        if (!done()) await sleep(500)
      }
      return inARow
    }

    try {
      await waitForReady(nodes, timeline, BRING_UP_S * 1000, tick)
    } catch (e) {
      report('e2e HA timeline (FAILED while coming up)')
      throw e
    }
    // One more probe round so the last member's start is recorded.
    for (let i = 0; i < 20 && memberSeen.size < cps.length; i++) {
      lastMembersPoll = 0
      await tick()
      await sleep(2000)
    }

    // --- assertions on the bring-up ---------------------------------------------------------------
    for (const n of nodes)
      assert.ok(n.first(new RegExp(`^nodegen: ${n.spec.name} ${n.spec.role} ready$`)), `${n.label} printed no ready line`)
    const announcements = sniffer.announcements(VIP)
    assert.ok(announcements.length > 0, `nobody announced the VIP ${VIP} on the segment`)
    assert.equal(holderName((announcements[0] as {senderMac: string}).senderMac), cp0.name, 'the VIP is held first by control plane 0')
    const adverts = sniffer.adverts(VRID)
    assert.ok(adverts.length > 0, 'no VRRP advertisements on the segment')
    assert.equal(adverts[0]?.srcIp, cp0.ip, 'the first VRRP master is control plane 0')
    // Control planes join in ordinal order: each one's etcd member started after the previous one's.
    const started1 = memberSeen.get(cps[1]?.name as string)
    const started2 = memberSeen.get(cps[2]?.name as string)
    assert.ok(memberSeen.has(cp0.name) && started1 && started2, `etcd members seen started: ${[...memberSeen.keys()].join(', ')}`)
    // Order the stand-in's steps by the time the guest wrote in each line (guest clocks start from
    // the host's): a starved VM's console lines can reach the host seconds late.
    const guestTime = (n: NodeSpec, re: RegExp) => {
      const line = nodes.find((x) => x.spec.name === n.name)?.first(re)?.line
      const iso = line && /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) \[standin\]/.exec(line)?.[1]
      return iso ? Date.parse(iso) : undefined
    }
    const promoted = (n: NodeSpec) => guestTime(n, /\[standin\] kubeadm etcd: learner \S+ \(\S+\) promoted/)
    const added = (n: NodeSpec) => guestTime(n, /\[standin\] kubeadm etcd: added learner/)
    const p1 = promoted(cps[1] as NodeSpec)
    const a2 = added(cps[2] as NodeSpec)
    assert.ok(p1 && a2 && p1 <= a2, 'control plane 2 was added to etcd only after control plane 1 was promoted (ordinal order)')
    assert.ok((started1 as number) <= (started2 as number), 'etcd: control plane 1 started before control plane 2')
    // etcd ends with 3 started members, TLS verified against nodegen's etcd CA.
    const members = (await etcdMembers(probe, etcdTls, etcdEndpoints(cps))) as EtcdMember[]
    assert.ok(members, 'etcd did not answer the probe with nodegen CA-verified TLS')
    assert.deepEqual(members.map((m) => m.name).sort(), cps.map((c) => c.name).sort())
    assert.ok(
      members.every((m) => !m.isLearner),
      'a member is still a learner',
    )
    for (const c of cps) {
      const h = await etcdctl(probe, etcdTls, [`https://${c.ip}:2379`], ['endpoint', 'health'])
      assert.equal(h.status, 0, `${c.name}: etcd endpoint health: ${h.stderr}`)
      // The member's serving certificate is from nodegen's etcd CA (openssl from the segment).
      const s = await probe.exec('sh', [
        '-c',
        `echo | openssl s_client -connect ${c.ip}:2379 -CAfile ${etcdTls.ca} -cert ${etcdTls.cert} -key ${etcdTls.key} 2>/dev/null | grep -E 'Verify return code'`,
      ])
      assert.match(
        s.stdout,
        /Verify return code: 0 \(ok\)/,
        `${c.name}: etcd's serving certificate does not verify against nodegen's etcd CA`,
      )
    }
    // Workers joined only after the endpoint answered.
    assert.ok(endpointFirstOk, 'the probe never saw the endpoint answer')
    for (const w of workers) {
      const node = nodes.find((n) => n.spec.name === w.name) as ClusterNode
      const joined = node.first(/\[standin\] kubeadm join done/)
      assert.ok(joined, `${w.name}: no kubeadm join`)
      assert.ok(joined.t >= (endpointFirstOk as number), `${w.name} joined before the endpoint answered`)
      assert.ok(node.first(/nodegen: API endpoint \S+ .*: ok$/), `${w.name}: the bootstrap never saw the endpoint`)
    }

    // --- kill control plane 0 ---------------------------------------------------------------------
    const n0 = nodes[0] as ClusterNode
    const killedAt = Date.now()
    await n0.vm.killAndWait()
    timeline.add(n0.label, 'KILLED (qemu SIGKILL, as pulling the power)', killedAt)
    let moved: {t: number; mac: string} | undefined
    const failoverDeadline = Date.now() + 120_000
    const okInARow = await watchUntilSteady(failoverDeadline, nodes, {
      alsoDone: () => moved !== undefined,
      round: () => {
        if (moved) return
        const a = sniffer.announcements(VIP).find((x) => x.t > killedAt && holderName(x.senderMac) !== cp0.name)
        if (!a) return
        moved = {t: a.t, mac: a.senderMac}
        timeline.add(
          'segment',
          `VIP ${VIP} announced by ${holderName(a.senderMac)} ${((a.t - killedAt) / 1000).toFixed(1)} s after the kill`,
          a.t,
        )
      },
      answer: (first) => {
        if (first) timeline.add('probe', `https://${ENDPOINT}/readyz answers ok again`)
      },
    })
    assert.ok(moved, `the VIP did not move within ${(failoverDeadline - killedAt) / 1000} s of killing ${cp0.name}`)
    const moveS = (moved.t - killedAt) / 1000
    assert.ok(
      [cps[1]?.name, cps[2]?.name].includes(holderName(moved.mac)),
      `the VIP moved to ${holderName(moved.mac)}, not to a surviving control plane`,
    )
    assert.ok(
      moveS <= VRRP_MASTER_DOWN_S + VRRP_SLACK_S,
      `the VIP took ${moveS.toFixed(1)} s to move (VRRP timeout ${VRRP_MASTER_DOWN_S} s + ${VRRP_SLACK_S} s for emulation)`,
    )
    assert.ok(okInARow >= 5, 'the endpoint did not answer steadily after control plane 0 died')
    // etcd keeps quorum: a write through the surviving members succeeds.
    const survivors = etcdEndpoints(cps.slice(1))
    const put = await etcdctl(probe, etcdTls, survivors, ['--command-timeout=10s', 'put', 'nodegen-e2e/quorum', 'kept'])
    assert.equal(put.status, 0, `etcd lost quorum: a write failed: ${put.stderr}`)
    timeline.add('probe', 'etcd: a write through the two survivors succeeds (quorum kept)')

    // --- a fresh machine with control plane 0's ISO -----------------------------------------------
    const reborn = bootNode(cp0, {image, group, isoDir, memMb: MEM_MB}, `${cp0.name} (fresh disk)`)
    cleanups.push(() => reborn.vm.cleanup())
    t.after(() => reborn.vm.cleanup())
    timeline.add(reborn.label, 'qemu started with the same ISO and an empty disk', reborn.vm.startedAt)
    try {
      // Within what is left of the run's limit, so a slow rejoin still prints the timeline.
      const left = Math.max(60_000, started + WHOLE_RUN_MS - Date.now() - 15_000)
      await waitForReady([reborn], timeline, Math.min(8 * 60_000, left), async () => follower.follow(timeline))
    } catch (e) {
      report('e2e HA timeline (FAILED at the rejoin)')
      throw e
    }
    const after3 = (await etcdMembers(probe, etcdTls, etcdEndpoints(cps))) as EtcdMember[]
    assert.ok(after3, 'etcd does not answer after the rejoin')
    assert.deepEqual(after3.map((m) => m.name).sort(), cps.map((c) => c.name).sort(), 'etcd has the three control planes again')
    assert.ok(after3.every((m) => !m.isLearner))
    assert.equal(
      new Set(after3.map((m) => m.peerURLs[0])).size,
      3,
      'one member per control plane (the dead one was replaced, not duplicated)',
    )
    // The rebuilt control plane 0 outranks the survivors, so keepalived hands the VIP back to it once
    // its check passes: the endpoint must answer steadily afterwards (5 in a row); every probe that
    // failed on the way is in the timeline, beside the VRRP masters and VIP announcements the follower adds.
    const steady = await watchUntilSteady(Date.now() + 90_000, [...nodes, reborn], {
      miss: () => timeline.add('probe', `https://${ENDPOINT}/readyz did not answer (after the rejoin)`),
    })
    if (steady < 5) report('e2e HA timeline (FAILED after the rejoin)')
    assert.ok(steady >= 5, 'the endpoint does not answer steadily after the rejoin')
    assert.ok(
      reborn.first(/nodegen: .*joining it as a control plane/),
      'the fresh control plane 0 joined instead of initialising a second cluster',
    )
    for (const n of nodes) milestones(n, timeline, 0)
    timeline.events.splice(0, timeline.events.length, ...dedupe(timeline.events))
    const total = (Date.now() - started) / 1000
    timeline.add('test', `done in ${total.toFixed(0)} s`)
    report(`e2e HA timeline: 3 control planes + 2 workers, VIP moved in ${moveS.toFixed(1)} s, total ${total.toFixed(0)} s`)
  })

  it('a broken profile (a VIP interface the machines lack) fails, naming which node stopped where', async (t) => {
    const {isoDir} = render('broken', (t) => t.replace('virtualRouterId: 77}', 'virtualRouterId: 77, interface: eth9}'))
    const specs = profileNodes(path.join(FIXTURES, 'ha-debian.yaml')).filter((s) => s.role === 'control-plane' && s.ordinal < 2)
    const group = randomMcastGroup()
    const timeline = new Timeline()
    const nodes = specs.map((s) => bootNode(s, {image, group, isoDir, memMb: MEM_MB}))
    const stopAll = () => {
      for (const n of nodes) n.vm.cleanup()
    }
    cleanups.push(stopAll)
    t.after(stopAll)
    const err = await waitForReady(nodes, timeline, 10 * 60_000, async () => {}).then(
      () => undefined,
      (e: Error) => e,
    )
    const text = timeline.write(OUT, 'broken-timeline', 'e2e broken profile (loadBalancer.interface: eth9)', {error: err?.message})
    process.stdout.write(`\n${text}\n${err?.message ?? 'no error'}\n`)
    assert.ok(err, 'the cluster came up with a VIP interface that does not exist')
    assert.match(err.message, /the cluster did not come up \(a node failed\)/)
    assert.match(
      err.message,
      /ha-cp-0 stopped: nodegen: ha-cp-0 control-plane failed at role: the VIP interface eth9 \(spec\.loadBalancer\.interface, else the node's interface\) does not exist on this node, so keepalived cannot hold 10\.20\.0\.100; its interfaces: .*eth0/,
    )
    // Control plane 1 is named wherever it was when control plane 0 failed: in a phase, or not yet
    // started when its boot was the slower one.
    assert.match(err.message, /ha-cp-1 (stopped in phase \w+|never started the bootstrap program)/)
  })
})

function dedupe<T extends {t: number; who: string; what: string}>(events: T[]): T[] {
  const seen = new Set<string>()
  return events.filter((e) => {
    const k = `${e.t}|${e.who}|${e.what}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
