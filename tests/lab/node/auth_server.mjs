// Test-lab OAuth 2.1 / OpenID authorization server built on oidc-provider.
//
// Started by tests/lab/servers.py. Configuration is one JSON object, given as the first command line
// argument or in the LAB_AS_CONFIG environment variable (see README.md for every option). When it
// listens it prints exactly one line `READY <issuer>` on stdout; nothing else goes to stdout.
//
// Never log a token, code, verifier or secret: the request log (/__lab/requests) keeps only a sha256
// prefix of those values, and stderr only gets oidc-provider's error messages.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { URL } from 'node:url';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

const DEFAULTS = {
  port: 0,
  issuerPath: '',
  // "both": RFC 8414 + OpenID discovery; "oidc-only": RFC 8414 URLs answer 404;
  // "rfc8414-only": OpenID discovery URLs answer 404.
  discovery: 'both',
  // For a path issuer, also answer OpenID discovery at the path-insertion URL
  // (/.well-known/openid-configuration/<path>); the path-appending URL (<path>/.well-known/...) is
  // always served by oidc-provider itself.
  oidcPathInsertion: false,
  resourceIndicators: true,
  // null: any http loopback URL is an acceptable resource. Otherwise a list of exact resource URLs.
  allowedResources: null,
  resourceScopes: 'mcp:tools mcp:admin',
  defaultScope: 'mcp:tools',
  accessTokenTTL: 300,
  refreshTokenTTL: 86400,
  // https client_id (CIMD) URL -> loopback http URL the document is really fetched from.
  cimdMap: {},
  // Fixed latency (milliseconds) added to every HTTP response except the /__lab/ control surface
  // (benchmarks: every client sees the same delay per round trip).
  delayMs: 0,
};

function readConfig() {
  const raw = process.argv[2] ?? process.env.LAB_AS_CONFIG ?? '{}';
  let given;
  try {
    given = JSON.parse(raw);
  } catch (err) {
    throw new Error(`auth_server: configuration is not JSON: ${err.message}`);
  }
  const unknown = Object.keys(given).filter((key) => !(key in DEFAULTS));
  if (unknown.length) {
    throw new Error(`auth_server: unknown option(s): ${unknown.join(', ')}`);
  }
  const config = { ...DEFAULTS, ...given };
  let path = config.issuerPath || '';
  if (path && !path.startsWith('/')) path = `/${path}`;
  if (path.endsWith('/')) path = path.slice(0, -1);
  config.issuerPath = path;
  if (!['both', 'oidc-only', 'rfc8414-only'].includes(config.discovery)) {
    throw new Error(`auth_server: discovery must be both, oidc-only or rfc8414-only, not ${config.discovery}`);
  }
  if (typeof config.delayMs !== 'number' || !Number.isFinite(config.delayMs) || config.delayMs < 0) {
    throw new Error(`auth_server: delayMs must be a non-negative number, not ${JSON.stringify(config.delayMs)}`);
  }
  return config;
}

const config = readConfig();

// Only the basic OpenID scopes are "static" scopes of oidc-provider. With resource indicators on, the
// MCP scopes are resource-server scopes (getResourceServerInfo) and only added to scopes_supported in
// the discovery documents; without resource indicators oidc-provider only knows static scopes, so
// they are static too.
const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'];
const RESOURCE_SCOPES = config.resourceScopes.split(' ').filter(Boolean);
const STATIC_SCOPES = config.resourceIndicators ? OIDC_SCOPES : [...OIDC_SCOPES, ...RESOURCE_SCOPES];
const SCOPES_SUPPORTED = [...new Set([...OIDC_SCOPES, ...RESOURCE_SCOPES])];

// ---------------------------------------------------------------------------------------------------
// Users: chosen per request by the X-Lab-User header, else login_hint, else alice.
// ---------------------------------------------------------------------------------------------------

const USERS = {
  alice: {
    sub: 'lab-sub-0a11ce',
    preferred_username: 'alice',
    email: 'alice@lab.test',
    name: 'Alice Liddell',
  },
  bob: {
    sub: 'lab-sub-00b0b0',
    preferred_username: 'bob',
    email: 'bob@lab.test',
    name: 'Bob Builder',
  },
};

function findUser(hint) {
  if (!hint) return undefined;
  const wanted = String(hint).trim().toLowerCase();
  return Object.values(USERS).find(
    (u) => u.preferred_username === wanted || u.email === wanted || u.sub === wanted,
  );
}

function wantedUser(headerValue, loginHint) {
  return findUser(headerValue) ?? findUser(loginHint) ?? USERS.alice;
}

// grantId sets per sub, so that /__lab/revoke-grants can revoke all grants of one user.
const grantsBySub = new Map();

// ---------------------------------------------------------------------------------------------------
// Request log (secrets never stored)
// ---------------------------------------------------------------------------------------------------

const SECRET_PARAMS = new Set([
  'code', 'code_verifier', 'refresh_token', 'client_secret', 'token', 'access_token', 'id_token',
  'id_token_hint', 'client_assertion', 'registration_access_token', 'logout_token', 'assertion',
]);

export function fingerprint(value) {
  return `sha256:${createHash('sha256').update(String(value)).digest('hex').slice(0, 16)}`;
}

function scrub(params) {
  const out = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    if (SECRET_PARAMS.has(key)) {
      out[key] = Array.isArray(value) ? value.map(fingerprint) : fingerprint(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function queryObject(searchParams) {
  const out = {};
  for (const key of new Set(searchParams.keys())) {
    const all = searchParams.getAll(key);
    out[key] = all.length === 1 ? all[0] : all;
  }
  return out;
}

const requestLog = [];
const LOG_ENTRY = Symbol('labLogEntry');

// ---------------------------------------------------------------------------------------------------
// Keys: fresh on every start (so resource servers must refetch the JWKS on an unknown kid).
// ---------------------------------------------------------------------------------------------------

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: `lab-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }] };
}

// ---------------------------------------------------------------------------------------------------
// CIMD (Client ID Metadata Documents)
//
// oidc-provider only treats https:// client_ids as metadata document URLs, and fetches them through
// an SSRF-protected undici dispatcher that refuses special-use (incl. loopback) addresses. The lab
// therefore maps an https client_id URL to a loopback http URL: `cimdMap` in the configuration,
// POST /__lab/cimd-map at run time, or PUT /__lab/cimd?client_id=<https url> with the document as
// body (the AS then serves it itself at /__lab/cimd-docs/<n> and maps the client_id to it). Our
// `fetch` below rewrites mapped URLs and drops the SSRF dispatcher for them only; every other URL goes
// through oidc-provider's protected fetch unchanged. The fetch is a real HTTP request on loopback.
// ---------------------------------------------------------------------------------------------------

const cimdMap = new Map(Object.entries(config.cimdMap));
const hostedDocuments = new Map(); // n -> { body, cacheControl }

function isLoopbackHttp(urlString) {
  const url = URL.parse(urlString);
  return !!url && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

async function labFetch(url, options) {
  const key = String(url);
  const mapped = cimdMap.get(key);
  if (mapped !== undefined) {
    const { dispatcher, ...rest } = options; // eslint-disable-line no-unused-vars
    return globalThis.fetch(mapped, rest);
  }
  return globalThis.fetch(url, options);
}

// ---------------------------------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------------------------------

function resourceAllowed(resource) {
  if (config.allowedResources) return config.allowedResources.includes(resource);
  return isLoopbackHttp(resource);
}

// oidc-provider's base policy, plus one login check: ask for a login again when the browser's session
// belongs to another lab user than the one this request wants (alice's session never answers for bob).
function labInteractionPolicy() {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  login.checks.add(new interactionPolicy.Check(
    'lab_user_mismatch',
    'the session belongs to another lab user than the one requested',
    (ctx) => {
      const { oidc } = ctx;
      if (!oidc.session.accountId || oidc.result?.login) return false;
      const header = ctx.get('x-lab-user');
      if (!header && !oidc.params.login_hint) return false;
      return wantedUser(header, oidc.params.login_hint).sub !== oidc.session.accountId;
    },
  ));
  return policy;
}

function buildProvider(issuer) {
  const configuration = {
    clients: [],
    // OAuth 2.1: authorization code only (no implicit / hybrid).
    responseTypes: ['code'],
    // Loopback redirects (RFC 8252 7.3): for clients registered with `application_type: native`,
    // oidc-provider's Client#redirectUriAllowed compares http loopback redirect URIs (127.0.0.1,
    // localhost, [::1]) with the port stripped on both sides, so a registered port-less
    // `http://127.0.0.1/callback` accepts `http://127.0.0.1:54321/callback` (and a registered port is
    // ignored too). Nothing else is needed; but a `web` client (the registration default) gets exact
    // matching only, and the host must match literally (127.0.0.1 is not localhost).
    // https redirect URIs on loopback hosts are refused for native clients at registration.
    jwks: signingKeys(),
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: STATIC_SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    async findAccount(_ctx, sub) {
      const user = Object.values(USERS).find((u) => u.sub === sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...user, email_verified: true };
        },
      };
    },
    pkce: { required: () => true },
    ttl: {
      AccessToken: config.accessTokenTTL,
      RefreshToken: config.refreshTokenTTL,
      Grant: config.refreshTokenTTL,
      Session: 3600,
      Interaction: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
    },
    // Refresh tokens go to every client that registered the refresh_token grant, without needing
    // offline_access (oidc-provider's default), and do not die with the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    // Always rotate. Re-using a rotated refresh token revokes the whole grant (oidc-provider default).
    rotateRefreshToken: () => true,
    interactions: {
      policy: labInteractionPolicy(),
      url: (_ctx, interaction) => `${config.issuerPath}/interaction/${interaction.uid}`,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    features: {
      devInteractions: { enabled: false },
      // Open dynamic client registration (RFC 7591), no initial access token.
      registration: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: config.resourceIndicators,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (!resourceAllowed(resourceIndicator)) {
            throw new errors.InvalidTarget(`resource ${resourceIndicator} is not known to this lab server`);
          }
          return {
            scope: config.resourceScopes,
            audience: resourceIndicator,
            accessTokenTTL: config.accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        // Honour the document's own Cache-Control; the lab serves its documents with no-store.
        cacheDuration: { min: 0, max: 3600 },
      },
    },
    fetch: labFetch,
  };

  const provider = new Provider(issuer, configuration);
  provider.on('grant.saved', (grant) => {
    if (!grant.accountId) return;
    if (!grantsBySub.has(grant.accountId)) grantsBySub.set(grant.accountId, new Set());
    grantsBySub.get(grant.accountId).add(grant.jti);
  });
  provider.on('server_error', (_ctx, err) => {
    process.stderr.write(`auth_server: server_error: ${err?.message}\n`);
  });

  provider.use(async (ctx, next) => {
    await next();
    const entry = ctx.req[LOG_ENTRY];
    if (entry && ctx.oidc?.body && Object.keys(ctx.oidc.body).length) {
      entry.body = scrub(ctx.oidc.body);
    }
    if (ctx.oidc?.route === 'discovery' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body.scopes_supported = SCOPES_SUPPORTED;
    }
  });

  return provider;
}

// ---------------------------------------------------------------------------------------------------
// Interactions: automatic login and consent, no HTML.
// ---------------------------------------------------------------------------------------------------

async function handleInteraction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const user = wantedUser(req.headers['x-lab-user'], params.login_hint);
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  if (prompt.name === 'consent') {
    let grant;
    if (details.grantId) {
      grant = await provider.Grant.find(details.grantId);
    }
    if (!grant) {
      grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    }
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) {
      const granted = missingOIDCScope.filter((s) => STATIC_SCOPES.includes(s));
      const rejected = missingOIDCScope.filter((s) => !STATIC_SCOPES.includes(s));
      if (granted.length) grant.addOIDCScope(granted.join(' '));
      if (rejected.length) grant.rejectOIDCScope(rejected.join(' '));
    }
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    if (missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  throw new Error(`unexpected prompt ${prompt.name}`);
}

// ---------------------------------------------------------------------------------------------------
// Control surface /__lab/ (loopback only)
// ---------------------------------------------------------------------------------------------------

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

async function revokeGrantsOf(provider, sub) {
  const ids = [...(grantsBySub.get(sub) ?? [])];
  for (const grantId of ids) {
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]);
  }
  grantsBySub.delete(sub);
  return ids.length;
}

// ---------------------------------------------------------------------------------------------------
// Outage (POST /__lab/outage): chosen paths fail until turned off; oidc-provider keeps running, so its
// in-memory grants and tokens survive the outage. "503": answer 503 with a plain-text body (as a proxy in
// front of a down server would); "reset": read the request, then reset the TCP connection (ECONNRESET at
// the client, no response). The failed request is logged with its scrubbed form body and `outage`.
// "slow" (with delayMs): the request IS handled (a refresh token is rotated) but its response leaves delayMs
// later, as over a network that drops out mid-answer; for what a client does while an answer is on its way.
// ---------------------------------------------------------------------------------------------------

const OUTAGE_MODES = ['503', 'reset', 'slow', 'off'];
const outage = { mode: 'off', paths: [], delayMs: 0 };

function setOutage(body, issuerPath) {
  const { mode, paths, delayMs } = body ?? {};
  if (!OUTAGE_MODES.includes(mode)) return `mode must be one of ${OUTAGE_MODES.join(', ')}`;
  const chosen = paths ?? [`${issuerPath}/token`];
  if (!Array.isArray(chosen) || !chosen.every((p) => typeof p === 'string' && p.startsWith('/'))) {
    return 'paths must be a list of absolute paths';
  }
  if (mode === 'slow' && !(Number.isInteger(delayMs) && delayMs > 0)) return 'slow needs delayMs, a positive integer';
  outage.mode = mode;
  outage.paths = mode === 'off' ? [] : chosen;
  outage.delayMs = mode === 'slow' ? delayMs : 0;
  return undefined;
}

async function failForOutage(req, res, entry) {
  const body = await readBody(req);
  if (entry) {
    entry.outage = outage.mode;
    if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      entry.body = scrub(queryObject(new URLSearchParams(body)));
    }
  }
  if (outage.mode === 'reset') {
    req.socket.resetAndDestroy();
    return;
  }
  res.writeHead(503, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'retry-after': '1' });
  res.end('lab outage: the authorization server is unavailable\n');
}

async function handleLab(provider, req, res, url, baseUrl, issuerPath) {
  const path = url.pathname;
  if (path === '/__lab/outage' && req.method === 'POST') {
    let body;
    try {
      body = JSON.parse((await readBody(req)) || '{}');
    } catch {
      return sendJson(res, 400, { error: 'body is not JSON' });
    }
    const problem = setOutage(body, issuerPath);
    if (problem) return sendJson(res, 400, { error: problem });
    return sendJson(res, 200, { ok: true, ...outage });
  }
  if (path === '/__lab/requests' && req.method === 'GET') {
    return sendJson(res, 200, requestLog);
  }
  if (path === '/__lab/reset-requests' && req.method === 'POST') {
    requestLog.length = 0;
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/__lab/revoke-grants' && req.method === 'POST') {
    const user = findUser(url.searchParams.get('sub'));
    if (!user) return sendJson(res, 400, { error: 'unknown user' });
    const revoked = await revokeGrantsOf(provider, user.sub);
    return sendJson(res, 200, { ok: true, sub: user.sub, revoked });
  }
  if (path === '/__lab/users' && req.method === 'GET') {
    return sendJson(res, 200, USERS);
  }
  if (path === '/__lab/cimd-map' && req.method === 'POST') {
    const { client_id: clientId, url: target } = JSON.parse(await readBody(req));
    if (!isLoopbackHttp(target)) return sendJson(res, 400, { error: 'url must be loopback http' });
    cimdMap.set(clientId, target);
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/__lab/cimd' && req.method === 'PUT') {
    const clientId = url.searchParams.get('client_id');
    if (!clientId) return sendJson(res, 400, { error: 'client_id query parameter missing' });
    const body = await readBody(req);
    const n = String(hostedDocuments.size + 1);
    hostedDocuments.set(n, {
      body,
      cacheControl: url.searchParams.get('cache_control') ?? 'no-store',
    });
    const target = `${baseUrl}/__lab/cimd-docs/${n}`;
    cimdMap.set(clientId, target);
    return sendJson(res, 200, { ok: true, url: target });
  }
  const doc = path.match(/^\/__lab\/cimd-docs\/(\d+)$/);
  if (doc && req.method === 'GET' && hostedDocuments.has(doc[1])) {
    const { body, cacheControl } = hostedDocuments.get(doc[1]);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl });
    res.end(body);
    return undefined;
  }
  return sendJson(res, 404, { error: 'not_found' });
}

// ---------------------------------------------------------------------------------------------------
// HTTP server: routes /__lab/, the RFC 8414 path-insertion URL, interactions, then oidc-provider.
// ---------------------------------------------------------------------------------------------------

function notFound(res) {
  sendJson(res, 404, { error: 'not_found' });
}

function sleep(ms) {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

async function main() {
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const baseUrl = `http://127.0.0.1:${port}`;
  const issuer = `${baseUrl}${config.issuerPath}`;
  const provider = buildProvider(issuer);
  const callback = provider.callback();
  const p = config.issuerPath;

  const oauthMeta = '/.well-known/oauth-authorization-server';
  const oidcMeta = '/.well-known/openid-configuration';

  server.on('request', async (req, res) => {
    const url = new URL(req.url, baseUrl);
    const remote = req.socket.remoteAddress;
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) {
      res.writeHead(403).end();
      return;
    }
    const isControl = url.pathname.startsWith('/__lab/') && !url.pathname.startsWith('/__lab/cimd-docs/');
    if (!isControl) {
      const entry = {
        time: Date.now() / 1000,
        method: req.method,
        path: url.pathname,
        query: scrub(queryObject(url.searchParams)),
        headers: {
          authorization: req.headers.authorization ? req.headers.authorization.split(' ')[0] : null,
          x_lab_user: req.headers['x-lab-user'] ?? null,
          dpop: 'dpop' in req.headers,
        },
        status: null,
      };
      req[LOG_ENTRY] = entry;
      requestLog.push(entry);
      res.on('finish', () => {
        entry.status = res.statusCode;
      });
    }

    if (config.delayMs > 0 && !isControl) {
      // Before anything is handled, so the whole response (status line included) comes delayMs later.
      await sleep(config.delayMs);
    }

    try {
      if (url.pathname.startsWith('/__lab/')) {
        await handleLab(provider, req, res, url, baseUrl, p);
        return;
      }
      if (outage.mode === 'slow' && outage.paths.includes(url.pathname)) {
        const end = res.end.bind(res);
        const delayMs = outage.delayMs;
        res.end = (...args) => {
          setTimeout(() => end(...args), delayMs);
          return res;
        };
      } else if (outage.mode !== 'off' && outage.paths.includes(url.pathname)) {
        await failForOutage(req, res, req[LOG_ENTRY]);
        return;
      }

      // Discovery documents: which URLs answer depends on the flavour.
      const insertedOauth = p ? `${oauthMeta}${p}` : oauthMeta;
      const appendedOauth = `${p}${oauthMeta}`; // what oidc-provider serves natively
      const appendedOidc = `${p}${oidcMeta}`;
      const insertedOidc = `${oidcMeta}${p}`;
      const wantsOauth = config.discovery !== 'oidc-only';
      const wantsOidc = config.discovery !== 'rfc8414-only';
      if (url.pathname === insertedOauth) {
        if (!wantsOauth) return notFound(res);
        req.originalUrl = `${p}${oauthMeta}${url.search}`;
        req.url = `${oauthMeta}${url.search}`;
        return callback(req, res);
      }
      if (p && url.pathname === appendedOauth) {
        // Not an RFC 8414 location for a path issuer: never served.
        return notFound(res);
      }
      if (url.pathname === appendedOidc) {
        if (!wantsOidc) return notFound(res);
      } else if (p && url.pathname === insertedOidc) {
        if (!wantsOidc || !config.oidcPathInsertion) return notFound(res);
        req.originalUrl = `${p}${oidcMeta}${url.search}`;
        req.url = `${oidcMeta}${url.search}`;
        return callback(req, res);
      }

      if (p) {
        if (url.pathname !== p && !url.pathname.startsWith(`${p}/`)) return notFound(res);
        req.originalUrl = req.url;
        req.url = req.url.slice(p.length) || '/';
      }
      const inner = new URL(req.url, baseUrl).pathname;
      if (/^\/interaction\/[^/]+$/.test(inner)) {
        if (req.method !== 'GET') return notFound(res);
        try {
          await handleInteraction(provider, req, res);
        } catch (err) {
          sendJson(res, 400, { error: 'interaction_failed', error_description: err.message });
        }
        return undefined;
      }
      if (inner === '/auth' && req.method === 'GET' && config.defaultScope) {
        // A spec-following MCP client omits `scope` when neither the PRM nor the challenge names one;
        // oidc-provider would then end in access_denied ("no scope was granted"). The request log keeps
        // the request as the client sent it.
        const innerUrl = new URL(req.url, baseUrl);
        if (!innerUrl.searchParams.has('scope')) {
          innerUrl.searchParams.set('scope', config.defaultScope);
          req.url = `${innerUrl.pathname}${innerUrl.search}`;
          if (p) req.originalUrl = `${p}${req.url}`;
        }
      }
      return callback(req, res);
    } catch (err) {
      process.stderr.write(`auth_server: ${err?.stack ?? err}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.end();
      return undefined;
    }
  });

  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`READY ${issuer}\n`);
}

main().catch((err) => {
  process.stderr.write(`auth_server: failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
