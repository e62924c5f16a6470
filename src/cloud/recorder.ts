/**
 * The API calls a launch or destroy reports: each call as nodegen made it (in a dry run, as it would
 * make it), with user-data shown as its size, encoding and digest, never its bytes. Both clouds record
 * through this one recorder, so the dry-run listing and the tests that compare calls see one format.
 */
import type {ApiCall, LaunchNode} from './types.js'

/** Turns a request into what the report shows of it. */
export type Redact = (input: unknown) => unknown

export class CallRecorder {
  constructor(
    /** The report's list of calls: the recorder appends to it. */
    readonly calls: ApiCall[],
    private readonly redact: Redact = (input) => input,
  ) {}

  /** A call as it is sent, its input through the redactor. */
  record(service: string, operation: string, input: unknown): void {
    this.calls.push({service, operation, input: this.redact(input)})
  }

  /** A call already in the report's shape: a secret backend's, or a deletion a dry run only lists. */
  add(call: ApiCall): void {
    this.calls.push(call)
  }
}

/** What a recorded call shows instead of user-data: its size, encoding and digest, never the bytes. */
export function redactedUserData(bytes: number, encoding: string, digest: string): string {
  return `<redacted: ${bytes} bytes, ${encoding}, sha256 ${digest}>`
}

/**
 * Redacts user-data as a request carries it (base64 on EC2, text in GCE metadata): a node's bytes
 * show as that node's size, encoding and digest; bytes of no known node as their length, `unknownAs`
 * and no digest.
 */
export function userDataRedaction(nodes: LaunchNode[], as: 'base64' | 'utf8', unknownAs: string): (value: string) => string {
  const byValue = new Map(nodes.map((n) => [n.userData.toString(as), n]))
  return (value) => {
    const n = byValue.get(value)
    return n ? redactedUserData(n.userData.length, n.encoding, n.digest) : redactedUserData(value.length, unknownAs, '?')
  }
}
