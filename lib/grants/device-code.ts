import Type from 'typebox'
import { deviceCodeGrantType } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { sha256 } from '../tokens/crypto.js'
import { familyIdForCode, narrowToClient } from '../tokens/refresh-token.js'
import { dpopJktOf } from '../tokens/dpop.js'
import { resolveTokenResource } from '../resources/resolve.js'
import { startFamily } from './authorization-code.js'
import { userTokenResponse, type UserTokenInput } from './issue.js'
import { ResourceParameter, type GrantHandler } from './types.js'

const body = Type.Object({
  device_code: Type.String({ minLength: 1, maxLength: 512 }),
  resource: ResourceParameter,
})

/** One message for a code that is unknown, another client's, or redeemed already. */
const invalidDeviceCode = (): OAuthError => new OAuthError('invalid_grant', 'the device_code is invalid, was issued to another client, or was already used')

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4-3.5): the device
 * polls until the user has answered on the verification page. The store decides each poll
 * atomically (lib/contracts/store.ts `pollDeviceAuthorization`): pending, too fast
 * (`slow_down`, the interval grows by 5 s for this device code on every instance), denied,
 * expired, or approved, which exactly one poll redeems. The tokens are the code flow's: an ID
 * token with `openid`, a refresh token when the client may refresh, `aud` from `resource`,
 * DPoP-bound when the poll carries a proof.
 *
 * Public clients may poll (the device is the public client RFC 8628 was written for): the
 * device code is 256 random bits handed only to the client that asked, redeemable only by it
 * and only once, which is the binding PKCE gives the code flow.
 */
export const deviceCodeGrant = {
  grantType: deviceCodeGrantType,
  body,
  allowPublicClients: true,
  async handle (ctx, params, client, request) {
    const deviceCodeHash = sha256(params.device_code)
    const poll = await ctx.store.pollDeviceAuthorization(deviceCodeHash, client.client_id)
    switch (poll.status) {
      case 'not_found':
      case 'consumed':
        throw invalidDeviceCode()
      case 'pending':
        throw new OAuthError('authorization_pending', 'the user has not answered yet; poll again after the interval')
      case 'slow_down':
        throw new OAuthError('slow_down', `polling too fast; wait ${poll.interval} seconds between requests`, { statusCode: 400 })
      case 'denied':
        throw new OAuthError('access_denied', 'the user denied the request', { statusCode: 400 })
      case 'expired':
        ctx.audit('device.expired', { clientId: client.client_id })
        throw new OAuthError('expired_token', 'the device_code has expired; start a new device authorization')
      case 'approved':
        break
    }
    const { record, approval } = poll
    const grant = await ctx.store.getGrant(approval.grantId)
    // Consent revoked since the approval, or not this user's and client's: nothing is issued.
    if (grant === undefined || grant.clientId !== client.client_id || grant.accountId !== approval.accountId) throw invalidDeviceCode()
    const scope = narrowToClient(client, approval.scope)
    const granted = record.params.resource === undefined ? [] : record.params.resource.split(' ')
    const resource = await resolveTokenResource(ctx, { requested: params.resource, granted, client, scope })
    const familyId = familyIdForCode(deviceCodeHash)
    const dpopJkt = dpopJktOf(request)
    const family = startFamily(ctx, client, { ...approval, clientId: client.client_id, scope, ...(granted.length === 0 ? {} : { resources: granted }) }, familyId, grant.expiresAt, dpopJkt)
    const input: UserTokenInput = {
      grantType: deviceCodeGrantType,
      client,
      accountId: approval.accountId,
      scope,
      authTime: approval.authTime,
      grantId: approval.grantId,
      familyId,
      pending: family.saved,
    }
    if (family.token !== undefined) input.refreshToken = family.token
    if (approval.sid !== undefined) input.sid = approval.sid
    if (resource !== undefined) input.resource = resource
    if (approval.acr !== undefined) input.acr = approval.acr
    if (approval.amr !== undefined) input.amr = approval.amr
    if (record.params.claims !== undefined) input.claimsRequest = record.params.claims
    if (dpopJkt !== undefined) input.dpopJkt = dpopJkt
    return await userTokenResponse(ctx, input)
  },
} satisfies GrantHandler<typeof body>
