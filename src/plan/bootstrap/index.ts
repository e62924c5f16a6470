/** The bootstrap program, its data files and the systemd units that run it. */
import type {Cluster, ClusterNode} from '../../profile/index.js'
import {compactShell, file, header} from '../files.js'
import {bootstrapParams, encodeParams, hostsBlock, labelsTsv, nodesTsv, type Params} from '../params.js'
import {carriesRecovery, renewsCertificates} from '../secrets/backend.js'
import {
  type Assets,
  BOOTSTRAP_UNIT,
  CERT_RENEWAL_TIMER,
  libDir,
  NODEGEN_LIB,
  NODEGEN_STATE,
  PARAMS_FILE,
  type PlanFile,
  type PlanUnit,
} from '../types.js'

export function buildBootstrapFiles(
  cluster: Cluster,
  node: ClusterNode,
  assets: Assets,
  caCert: string,
  nextTokenFrom?: number,
): PlanFile[] {
  const h = header(cluster, node)
  const params: Params = {...bootstrapParams(cluster, node), TOKEN_NEXT_FROM: nextTokenFrom}
  const files: PlanFile[] = [
    file(`${libDir(node.family)}/bootstrap.sh`, compactShell(assets.bootstrapScript), 'bootstrap:program', {mode: 0o755}),
    file(PARAMS_FILE, encodeParams(params, h), 'bootstrap:parameters', {mode: 0o600}),
    file('/etc/nodegen/nodes.tsv', nodesTsv(cluster), 'bootstrap:nodes'),
    file('/etc/nodegen/hosts', hostsBlock(cluster, node), 'bootstrap:hosts'),
  ]
  // The role code only control planes and etcd members run, sourced by bootstrap.sh: a worker's
  // seed stays without it (on Flatcar it must fit EC2's 16 KB user-data).
  if (node.role !== 'worker')
    files.push(file(`${libDir(node.family)}/control-plane.sh`, compactShell(assets.controlPlaneScript), 'bootstrap:program', {mode: 0o644}))
  if (carriesRecovery(cluster, node))
    files.push(
      file(`${libDir(node.family)}/recovery.sh`, compactShell(assets.recoveryScript), 'bootstrap:program', {mode: 0o644, bundled: true}),
    )
  if (renewsCertificates(cluster, node))
    files.push(
      file(`${libDir(node.family)}/cert-renewal.sh`, compactShell(assets.certRenewalScript), 'bootstrap:cert-renewal', {
        mode: 0o755,
        bundled: true,
      }),
    )
  if (node.role !== 'etcd') files.push(file('/etc/nodegen/pki/ca.crt', caCert, 'pki:ca-certificate'))
  if (!cluster.image.baked && node.family !== 'flatcar')
    files.push(file(`${NODEGEN_LIB}/install-packages.sh`, assets.installScript, 'bootstrap:packages', {mode: 0o755}))
  // The port-opening code, only where the firewall phase opens ports (the clouds' user-data is small).
  if (node.family !== 'flatcar' && cluster.firewall === 'open-ports') {
    if (!assets.firewallScript) throw new Error('assets: firewall.sh is missing')
    files.push(file(`${libDir(node.family)}/firewall.sh`, compactShell(assets.firewallScript), 'bootstrap:firewall', {mode: 0o644}))
  }
  if (params.CNI_IMAGE_MIRROR !== undefined || params.CNI_IMAGE_MIRRORS_FILE !== undefined) {
    if (!assets.cniMirrorScript) throw new Error('assets: cni-mirror.sh is missing')
    files.push(file(`${libDir(node.family)}/cni-mirror.sh`, compactShell(assets.cniMirrorScript), 'bootstrap:cni', {mode: 0o644}))
  }
  // Every node of a bundle's cluster imports its images from it (Flatcar's containerd has ctr too).
  if (cluster.airgap?.bundle) {
    if (!assets.bundleScript) throw new Error('assets: bundle.sh is missing')
    files.push(file(`${libDir(node.family)}/bundle.sh`, compactShell(assets.bundleScript), 'bootstrap:bundle', {mode: 0o755}))
  }
  if (node.role === 'control-plane') {
    files.push(file(`${libDir(node.family)}/labels.sh`, compactShell(assets.labelsScript), 'bootstrap:labels', {mode: 0o755}))
    const labels = labelsTsv(cluster)
    if (labels) files.push(file('/etc/nodegen/labels.tsv', labels, 'bootstrap:labels'))
  }
  return files
}

/** Control planes: the calendar secret and the program that registers each window's token. */
export function buildCalendarFiles(
  cluster: Cluster,
  node: ClusterNode,
  calendar: {secret: string; windowSeconds: number; windowsAhead: number},
  assets: Assets,
): PlanFile[] {
  const h = header(cluster, node)
  return [
    file(
      '/etc/nodegen/calendar.env',
      encodeParams({CALENDAR_SECRET: calendar.secret, WINDOW_SECONDS: calendar.windowSeconds, WINDOWS_AHEAD: calendar.windowsAhead}, h),
      'pki:token-calendar',
      {secret: true},
    ),
    file(`${libDir(node.family)}/token-calendar.sh`, compactShell(assets.tokenCalendarScript), 'bootstrap:token-calendar', {
      mode: 0o755,
      bundled: true,
    }),
  ]
}

/** Seconds systemd waits before starting a failed bootstrap run again. */
export const BOOTSTRAP_RESTART_SECONDS = 30

export function buildBootstrapUnits(cluster: Cluster, node: ClusterNode, calendar = false): PlanUnit[] {
  const h = header(cluster, node)
  const units: PlanUnit[] = [
    {
      name: BOOTSTRAP_UNIT,
      enabled: true,
      dropIns: [],
      content: `${h}[Unit]
Description=nodegen bootstrap: bring ${node.name} into cluster ${cluster.name}
Documentation=file://${libDir(node.family)}/bootstrap.sh
Wants=network-online.target
After=network-online.target cloud-final.service ignition-firstboot-complete.service${node.family === 'flatcar' ? ' systemd-sysext.service ensure-sysext.service' : ''}
ConditionPathExists=${PARAMS_FILE}
# A failed run (its overall timeout, or a phase that gave up) is reported and started again, for
# ever: no start limit. Done phases are skipped, so a restart goes on where the last run stopped.
StartLimitIntervalSec=0

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${libDir(node.family)}/bootstrap.sh
Restart=on-failure
RestartSec=${BOOTSTRAP_RESTART_SECONDS}s
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=0

[Install]
WantedBy=multi-user.target
`,
    },
  ]
  if (renewsCertificates(cluster, node)) units.push(...certRenewalUnits(cluster, node))
  if (node.role === 'control-plane') {
    units.push(
      {
        name: 'nodegen-labels.service',
        enabled: false,
        dropIns: [],
        content: `${h}[Unit]
Description=nodegen: apply the profile's node labels
After=${BOOTSTRAP_UNIT}
ConditionPathExists=/etc/kubernetes/admin.conf

[Service]
Type=oneshot
ExecStart=${libDir(node.family)}/labels.sh
`,
      },
      ...(calendar
        ? [
            {
              name: 'nodegen-tokens.service',
              enabled: false,
              dropIns: [],
              content: `${h}[Unit]
Description=nodegen: keep the token calendar's bootstrap tokens registered
After=${BOOTSTRAP_UNIT}
ConditionPathExists=/etc/kubernetes/admin.conf

[Service]
Type=oneshot
# bash reads the program: on the clouds it arrives in the secret bundle, 0600.
ExecStart=/bin/bash ${libDir(node.family)}/token-calendar.sh sync
`,
            },
            {
              name: 'nodegen-tokens.timer',
              enabled: false,
              dropIns: [],
              content: `${h}[Unit]
Description=nodegen: register each window's bootstrap token in time

[Timer]
OnActiveSec=1min
OnUnitActiveSec=15min
Persistent=true

[Install]
WantedBy=timers.target
`,
            },
          ]
        : []),
      {
        name: 'nodegen-labels.timer',
        enabled: false,
        dropIns: [],
        content: `${h}[Unit]
Description=nodegen: apply node labels as nodes register

[Timer]
OnActiveSec=30s
OnUnitActiveSec=2min

[Install]
WantedBy=timers.target
`,
      },
    )
  }
  return units
}

/**
 * Control planes and external etcd members check their leaf certificates twice a day (at a random
 * moment of each half day, so control planes booted together do not all ask at once) and renew
 * them when due (cert-renewal.sh). The bootstrap program enables the timer once its role is done.
 */
export function certRenewalUnits(cluster: Cluster, node: ClusterNode): PlanUnit[] {
  const h = header(cluster, node)
  const service = CERT_RENEWAL_TIMER.replace(/\.timer$/, '.service')
  return [
    {
      name: service,
      enabled: false,
      dropIns: [],
      content: `${h}[Unit]
Description=nodegen: renew this node's certificates before they expire
Documentation=file://${libDir(node.family)}/cert-renewal.sh
After=${BOOTSTRAP_UNIT} network-online.target
Wants=network-online.target
ConditionPathExists=${NODEGEN_STATE}/done/cleanup

[Service]
Type=oneshot
# bash reads the program: on the clouds it arrives in the secret bundle, 0600.
ExecStart=/bin/bash ${libDir(node.family)}/cert-renewal.sh run
StandardOutput=journal+console
StandardError=journal
`,
    },
    {
      name: CERT_RENEWAL_TIMER,
      enabled: false,
      dropIns: [],
      content: `${h}[Unit]
Description=nodegen: check this node's certificates twice a day

[Timer]
OnActiveSec=10min
OnUnitActiveSec=12h
RandomizedDelaySec=1h

[Install]
WantedBy=timers.target
`,
    },
  ]
}
