/**
 * The one shape of a problem a command stops on: a code from a catalogue (`NG09xx` the PKI state,
 * `NG10xx` images, `NG11xx` air-gap bundles, `NG12xx` upgrades; profile problems are diagnostics,
 * collected rather than thrown) and a complete, printable message. The base command prints
 * `<code>: <message>` and exits 1 for every one of them; commands do not catch them by class.
 */
export type Params = Record<string, string | number>

/**
 * A problem the user can act on, whose message is complete and printable: the base command prints
 * it and exits 1, never a stack trace (with --json, in the error object).
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UserError'
  }
}

/** A {@link UserError} from a catalogue, printed as `<code>: <message>`. */
export class CodedError extends UserError {
  readonly code: string
  readonly params: Readonly<Params>

  constructor(code: string, message: string, params: Params = {}) {
    super(message)
    this.name = 'CodedError'
    this.code = code
    this.params = Object.freeze({...params})
  }
}

/** A catalogue template with `{name}` placeholders filled; a missing parameter stays visible. */
export function fillTemplate(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`))
}
