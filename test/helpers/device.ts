import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { hiddenField, type CookieJar } from './flow.js'

const form = { 'content-type': 'application/x-www-form-urlencoded' }

/** RFC 8628 §3.3, the user's part in a cookie-keeping "browser" over app.inject: code entry, login (demo/demo), consent. Returns the final page. */
export async function userPart (app: FastifyInstance, jar: CookieJar, userCode: string, decision: 'approve' | 'deny'): Promise<LightMyRequestResponse> {
  const send = async (method: 'GET' | 'POST', url: string, fields?: Record<string, string>): Promise<LightMyRequestResponse> => {
    const res = await app.inject({ method, url, headers: { cookie: jar.header(), ...(fields === undefined ? {} : form) }, ...(fields === undefined ? {} : { payload: new URLSearchParams(fields).toString() }) })
    jar.update(res)
    return res
  }
  const entry = await send('GET', `/device?user_code=${encodeURIComponent(userCode)}`)
  let res = await send('POST', '/device', { user_code: userCode, csrf_token: hiddenField(entry.body, 'csrf_token') })
  if (res.body.includes('name="password"')) {
    res = await send('POST', '/authorize', { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token'), username: 'demo', password: 'demo' })
  }
  if (res.statusCode === 303) res = await send('GET', res.headers.location as string)
  if (!res.body.includes('name="decision"')) throw new Error(`no consent page: ${res.statusCode} ${res.body.slice(0, 300)}`)
  return await send('POST', '/consent', { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token'), decision })
}
