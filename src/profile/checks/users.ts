/**
 * spec.users: the login users created on every node. Names, groups, shells and SSH keys keep to
 * their grammars, and a name appears once.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {Profile} from '../schema.js'
import {isSafePath, isSshPublicKey, isUserName} from '../text.js'

export function checkUsers(report: Report, users: Profile['spec']['users']): void {
  const userNames = new Set<string>()
  users.forEach((u, i) => {
    const up: FieldPath = ['spec', 'users', i]
    if (!isUserName(u.name))
      report.error([...up, 'name'], 'NG0301', {
        value: u.name,
        what: 'user name',
        why: 'lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32',
      })
    if (userNames.has(u.name)) report.error([...up, 'name'], 'NG0205', {what: 'user', value: u.name, other: 'an earlier entry'})
    userNames.add(u.name)
    u.sshAuthorizedKeys.forEach((k, j) => {
      if (!isSshPublicKey(k)) report.error([...up, 'sshAuthorizedKeys', j], 'NG0309', {value: k.length > 40 ? `${k.slice(0, 40)}…` : k})
    })
    u.groups.forEach((g, j) => {
      if (!isUserName(g))
        report.error([...up, 'groups', j], 'NG0301', {value: g, what: 'group name', why: 'lowercase letters, digits, "_" and "-"'})
    })
    if (!isSafePath(u.shell)) report.error([...up, 'shell'], 'NG0305', {value: u.shell})
  })
}
