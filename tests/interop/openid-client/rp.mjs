// A relying party on panva's openid-client, as a real process for Gatehouse's interop test.
// `start` prints the authorization URL (with optional extra parameters given as JSON, such as
// prompt, max_age or login_hint) and the values the callback must match; `finish` redeems the
// callback, validates the ID token, calls userinfo, refreshes, introspects and revokes;
// `redeem` only redeems and validates, checking auth_time against an optional max_age the way
// openid-client does; `device` starts an RFC 8628 device authorization, prints the response
// as its first line, then polls until the user answers. Each prints what it saw as JSON for
// the Rust test to assert.
import * as client from 'openid-client'

const [, , phase, issuer, clientId, clientSecret, ...rest] = process.argv
const options = { execute: [client.allowInsecureRequests] }

async function main () {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, options)
  if (phase === 'device') {
    const [scope] = rest
    const started = await client.initiateDeviceAuthorization(config, { scope })
    process.stdout.write(JSON.stringify(started) + '\n')
    try {
      const tokens = await client.pollDeviceAuthorizationGrant(config, started)
      return { claims: tokens.claims(), scope: tokens.scope, hasRefreshToken: typeof tokens.refresh_token === 'string' }
    } catch (error) {
      return { error: error.error ?? error.code ?? String(error) }
    }
  }
  if (phase === 'start') {
    const [redirectUri, extra] = rest
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...(extra ? JSON.parse(extra) : {})
    })
    return { url: url.href, state, nonce, verifier }
  }
  const [callback, state, nonce, verifier, maxAge, roleRule] = rest
  if (phase === 'redeem') {
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
      ...(maxAge ? { maxAge: Number(maxAge) } : {})
    })
    const claims = tokens.claims()
    return { claims, ...(roleRule ? { role: mappedRole(roleRule, claims) } : {}) }
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true
  })
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  const introspected = await client.tokenIntrospection(config, refreshed.access_token)
  await client.tokenRevocation(config, refreshed.refresh_token)
  const afterRevocation = await client.tokenIntrospection(config, refreshed.access_token)
  let reuse = 'accepted'
  try {
    await client.refreshTokenGrant(config, tokens.refresh_token)
  } catch (error) {
    reuse = error.error ?? error.code ?? String(error)
  }
  return {
    claims,
    userinfo,
    refreshed: { hasAccessToken: typeof refreshed.access_token === 'string', rotated: refreshed.refresh_token !== tokens.refresh_token, idTokenSub: refreshed.claims()?.sub, idTokenIss: refreshed.claims()?.iss },
    introspected,
    afterRevocation,
    reuse
  }
}

// Grafana's generic_oauth role_attribute_path for the one JMESPath shape its docs recommend,
// `contains(groups[*], 'GROUP') && 'ROLE' || 'FALLBACK'`, evaluated on the ID token's claims.
function mappedRole (rule, claims) {
  const shape = /^contains\((\w+)\[\*\], '([^']*)'\) && '([^']*)' \|\| '([^']*)'$/
  const match = shape.exec(rule)
  if (!match) throw new Error(`unsupported role rule: ${rule}`)
  const [, claim, group, role, fallback] = match
  const values = Array.isArray(claims[claim]) ? claims[claim] : []
  return values.includes(group) ? role : fallback
}

main().then(
  (result) => { process.stdout.write(JSON.stringify(result) + '\n') },
  (error) => { process.stderr.write(`${error.stack ?? error}\n${JSON.stringify(error.cause ?? {})}\n`); process.exit(1) }
)
