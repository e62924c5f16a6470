/** The test suite's SigV4 verifier against the worked example in AWS's documentation, and against the SDK's signer. */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {type SignedRequest, smithySignature, verifySigV4} from '../support/sigv4.js'

// "Create a signed AWS API request" (IAM User Guide), the ListUsers example.
const EXAMPLE: SignedRequest = {
  method: 'GET',
  path: '/',
  query: 'Action=ListUsers&Version=2010-05-08',
  headers: {
    host: 'iam.amazonaws.com',
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    'x-amz-date': '20150830T123600Z',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
  },
  body: Buffer.alloc(0),
}
const CREDS = {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'}
const AT = new Date('2015-08-30T12:36:00Z')

describe('the SigV4 verifier', () => {
  it("accepts AWS's documented example signature", () => {
    assert.deepEqual(
      verifySigV4(EXAMPLE, (k) => (k === 'AKIDEXAMPLE' ? CREDS : undefined), AT),
      {ok: true, accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1', service: 'iam'},
    )
  })

  it('agrees with the AWS SDK signer (@smithy/signature-v4) on it', async () => {
    assert.equal(
      await smithySignature(EXAMPLE, CREDS, 'iam.amazonaws.com'),
      '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    )
  })

  it('refuses a changed body, a changed header, a wrong key and an old request', () => {
    const lookup = (k: string) => (k === 'AKIDEXAMPLE' ? CREDS : undefined)
    const bad = (r: SignedRequest, at = AT) => verifySigV4(r, lookup, at).ok
    assert.equal(bad({...EXAMPLE, query: 'Action=ListRoles&Version=2010-05-08'}), false)
    assert.equal(bad({...EXAMPLE, headers: {...EXAMPLE.headers, host: 'iam.example.com'}}), false)
    assert.equal(verifySigV4(EXAMPLE, () => ({...CREDS, secretAccessKey: 'x'}), AT).ok, false)
    assert.equal(bad(EXAMPLE, new Date('2015-08-30T13:00:00Z')), false)
  })
})
