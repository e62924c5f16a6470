/**
 * spec.files: extra files written on the nodes. Besides each file's path, mode, owner and content,
 * the nodes that receive a file decide what it may be: Ignition drops setuid, setgid and sticky
 * bits, and Flatcar's /usr is read-only.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {ClusterNode, IgnitionSpecVersion} from '../model.js'
import type {Profile} from '../schema.js'
import {isOwner, isSafePath, unsafeChar} from '../text.js'

/** `nodes`: the checked nodes, to find a file's receivers; `ignitionVersion`: spec.ignition.version, for the message. */
export function checkFiles(
  report: Report,
  files: Profile['spec']['files'],
  nodes: ClusterNode[],
  ignitionVersion: IgnitionSpecVersion,
): void {
  const filePaths = new Set<string>()
  files.forEach((f, i) => {
    const fp: FieldPath = ['spec', 'files', i]
    if (!isSafePath(f.path)) report.error([...fp, 'path'], 'NG0305', {value: f.path})
    if (filePaths.has(f.path)) report.error([...fp, 'path'], 'NG0205', {what: 'file path', value: f.path, other: 'an earlier entry'})
    filePaths.add(f.path)
    if (!/^0?[0-7]{3,4}$/.test(f.mode)) report.error([...fp, 'mode'], 'NG0306', {value: f.mode})
    if (!isOwner(f.owner)) report.error([...fp, 'owner'], 'NG0301', {value: f.owner, what: 'owner', why: 'user or user:group'})
    const bad = unsafeChar(f.content, '\n\t\r')
    if (bad) report.error([...fp, 'content'], 'NG0302', {char: bad, what: 'file content'})
    const receivers = nodes.filter((n) => !f.roles || f.roles.includes(n.role))
    const ign = receivers.find((n) => n.format === 'ignition')
    // Ignition before spec 3.6.0 drops setuid, setgid and sticky bits: the file would differ from the profile.
    if (ign && /^0?[0-7]{3,4}$/.test(f.mode) && (Number.parseInt(f.mode, 8) & 0o7000) !== 0)
      report.error([...fp, 'mode'], 'NG0424', {mode: f.mode, version: ignitionVersion, node: ign.name})
    const fc = receivers.find((n) => n.family === 'flatcar')
    if (fc && (f.path === '/usr' || f.path.startsWith('/usr/'))) report.error([...fp, 'path'], 'NG0425', {path: f.path, node: fc.name})
  })
}
