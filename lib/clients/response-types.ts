import { authorizationResponseTypes, type AuthorizationResponseType } from '../contracts/options.js'
import type { GrantType } from '../contracts/store.js'

/*
 * Response types, as the authorization endpoint, registration and the static clients read them:
 * one spelling per type, and the grant types each one needs.
 */

/**
 * The canonical spelling of a response type the provider knows, or undefined. RFC 6749 §3.1.1:
 * a space-delimited list "where the order of values does not matter", so `id_token code` is
 * `code id_token`; a value repeated, an empty one or an unknown one is no known type.
 *
 * @example
 * canonicalResponseType('id_token code') // 'code id_token'
 */
export function canonicalResponseType (value: string): AuthorizationResponseType | undefined {
  const values = value.split(' ')
  if (values.includes('') || new Set(values).size !== values.length) return undefined
  const sorted = values.sort((a, b) => order(a) - order(b)).join(' ')
  return (authorizationResponseTypes as readonly string[]).includes(sorted) ? sorted as AuthorizationResponseType : undefined
}

const order = (value: string): number => value === 'code' ? 0 : value === 'id_token' ? 1 : 2

/** OIDC Registration §2: `code` needs `authorization_code`, `id_token` needs `implicit`, `code id_token` both. */
export function grantTypesOf (responseType: AuthorizationResponseType): GrantType[] {
  const grants: GrantType[] = []
  if (responseType.split(' ').includes('code')) grants.push('authorization_code')
  if (responseType.split(' ').includes('id_token')) grants.push('implicit')
  return grants
}

/** Whether the response carries an ID token in the front channel (OIDC Core §3.2, §3.3). */
export function returnsIdToken (responseType: AuthorizationResponseType): boolean {
  return responseType !== 'code'
}

/** Whether the response carries an authorization code (RFC 6749 §4.1.2, OIDC Core §3.3.2.5). */
export function returnsCode (responseType: AuthorizationResponseType): boolean {
  return responseType !== 'id_token'
}
