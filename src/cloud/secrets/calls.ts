/** The API calls the secret backends make, as dry runs and logs show them. */

/** One API call, as dry runs and logs show it: never a secret value. */
export interface SecretCall {
  service: string
  action: string
  target: string
}

/** A list of calls and the function that notes one in it (and tells `onCall`, when given). */
export function callLog(onCall?: (call: SecretCall) => void): {
  calls: SecretCall[]
  note: (service: string, action: string, target: string) => void
} {
  const calls: SecretCall[] = []
  const note = (service: string, action: string, target: string) => {
    const c = {service, action, target}
    calls.push(c)
    onCall?.(c)
  }
  return {calls, note}
}
