// Upstream OpenID provider for tests/it/source_login.rs: panva's oidc-provider serving
// Forgejo's OAuth paths (/login/oauth/authorize, access_token, userinfo, keys) with a
// `groups` claim, like a Forgejo instance Gatehouse signs people in with.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (comma-separated), ACCOUNTS_FILE. The accounts file
// is JSON, {"<login>": {"sub", "preferred_username", "name", "email", "email_verified",
// "groups": [...]}}, and is read again at every sign-in, so a test can change an account's
// groups between two logins. The login page is a one-field form (no password: the tests
// are about what Gatehouse does with the answer); consent is granted automatically.
// `GET /test/last-redirect` returns the last authorization response sent to a client (its
// redirect URI with code and state), so a test can replay it.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const issuer = `http://127.0.0.1:${port}`;
const accountsFile = process.env.ACCOUNTS_FILE;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'upstream-rs256', alg: 'RS256', use: 'sig' };
const scopes = ['openid', 'profile', 'email', 'groups'];

function accounts() {
  return JSON.parse(readFileSync(accountsFile, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID || 'gatehouse',
    client_secret: process.env.CLIENT_SECRET || 'upstream-secret-upstream-secret',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: String(process.env.REDIRECT_URIS || '').split(',').filter(Boolean),
    token_endpoint_auth_method: 'client_secret_post',
  }],
  jwks: { keys: [jwk] },
  scopes,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  routes: {
    authorization: '/login/oauth/authorize',
    token: '/login/oauth/access_token',
    userinfo: '/login/oauth/userinfo',
    jwks: '/login/oauth/keys',
  },
  cookies: { keys: ['upstream-test-cookie-key'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = Object.values(accounts()).find((a) => a.sub === id);
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ ...account }) };
  },
});
provider.proxy = false;

let lastRedirect = '';
provider.use(async (ctx, next) => {
  await next();
  const location = ctx.response.get('location');
  if (ctx.path.startsWith('/login/oauth/authorize') && location.includes('code=')) {
    lastRedirect = location;
  }
});

function page(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html><head><title>Upstream</title></head><body>${body}</body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope || '').split(' ').filter((s) => scopes.includes(s)).join(' '));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'POST') {
    const form = await readForm(req);
    const account = accounts()[form.get('login') || ''];
    if (!account) {
      return page(res, 400, '<p id="error">unknown account</p>');
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  return page(res, 200, `<h1>Upstream sign-in</h1>
<form method="post" action="/interaction/${uid}">
<label for="login">Login</label><input id="login" name="login" autofocus>
<button id="upstream-submit" type="submit">Sign in</button>
</form>`);
}

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url === '/test/last-redirect') {
    res.setHeader('Content-Type', 'text/plain');
    res.end(lastRedirect);
  } else if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => page(res, 500, `<p id="error">${String(error.message).replace(/[<>&]/g, '')}</p>`));
  } else {
    callback(req, res);
  }
}).listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
