/** `nodegen images`: reads what the inventory needs from disk (the CNI manifest file) and builds it. */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {buildInventory, type Inventory} from '../plan/inventory.js'
import {type Cluster, Report} from '../profile/index.js'
import {table} from './table.js'

export type {Inventory} from '../plan/inventory.js'

/** The inventory of a loaded cluster; an unreadable CNI manifest file is a diagnostic like the others. */
export function inventoryOf(cluster: Cluster, profilePath: string): Inventory {
  const file = cluster.networking.cni.manifestFile
  if (file === undefined) return buildInventory(cluster)
  const p = path.resolve(path.dirname(profilePath), file)
  let cniManifest: string
  try {
    cniManifest = readFileSync(p, 'utf8')
  } catch (e) {
    const report = new Report()
    report.error(['spec', 'networking', 'cni', 'manifestFile'], 'NG0500', {file: p, reason: (e as NodeJS.ErrnoException).code ?? String(e)})
    const inv = buildInventory(cluster, {cniManifest: ''})
    return {...inv, complete: false, diagnostics: [...report.items, ...inv.diagnostics]}
  }
  return buildInventory(cluster, {cniManifest})
}

/** The readable form: the images, then per OS its repositories and packages (or Flatcar's sysext). */
export function formatInventory(inv: Inventory): string {
  const out = [
    table(
      ['IMAGE', 'ROLES', 'SOURCE'],
      inv.images.map((i) => [i.image, i.roles.join(','), i.note ? `${i.source} (${i.note})` : i.source]),
    ),
  ]
  for (const o of inv.os) {
    out.push(
      '',
      `${o.os}: ${o.nodes.length} node(s), ${o.roles.join(', ')}${inv.baked ? ' (baked image: installed when the image is built)' : ''}`,
    )
    if (o.sysext) {
      out.push(`  sysext ${o.sysext.name} ${o.sysext.version}  ${o.sysext.url}${o.sysext.sha512 ? `  sha512 ${o.sysext.sha512}` : ''}`)
      continue
    }
    for (const r of o.repositories) out.push(`  repository ${r.name}  ${r.url}${r.suite ? ` ${r.suite}` : ''}`)
    const rows = o.packages.map((p) => {
      const extra = [p.held ? 'held' : '', p.dependencyOf ? `dependency of ${p.dependencyOf}` : '', p.when ? `when ${p.when}` : '']
      return [
        p.name,
        p.version ? `${p.version} (${p.request})` : undefined,
        p.repository,
        p.roles.join(','),
        extra.filter(Boolean).join('; ') || undefined,
      ]
    })
    out.push(
      table(['PACKAGE', 'VERSION', 'REPOSITORY', 'ROLES', 'NOTE'], rows)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    )
  }
  if (!inv.complete) out.push('', 'incomplete: some images are unknown (see the warnings above)')
  return out.join('\n')
}
