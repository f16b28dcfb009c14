// Test-lab pair from another project: the official MCP TypeScript SDK's demo authorization server and an MCP
// server built with the same SDK (@modelcontextprotocol/sdk, pinned in package.json).
//
// Started by tests/lab/servers.py (start_sdk_demo_server). One Node process, two HTTP servers on 127.0.0.1 and
// ephemeral ports:
//
//   (a) the authorization server: the SDK's DemoInMemoryAuthProvider behind the SDK's mcpAuthRouter (metadata,
//       /authorize, /token, /register, no revocation), issuer = its own origin given to the SDK as a URL object;
//   (b) the MCP server: McpServer + StreamableHTTPServerTransport at /mcp (stateful sessions), guarded by the SDK's
//       requireBearerAuth that verifies tokens through the same demo provider; its protected resource metadata is
//       served by the SDK's mcpAuthMetadataRouter at /.well-known/oauth-protected-resource/mcp and named by the
//       challenge's resource_metadata.
//
// The SDK's building blocks are used as they are: the point is to test a client against their behaviour. The lab
// only adds a request log on both servers (GET /__lab/requests, POST /__lab/reset-requests).
//
// Options: one JSON object as the first argument (see DEFAULTS and tests/lab/README.md). Once both servers listen
// it prints exactly one line `READY {"mcp_url": ..., "issuer": ..., "as_url": ..., "mcp_base_url": ...}` on stdout.
// Never log a token, code, verifier or secret: the request logs keep only `sha256:<16 hex>` fingerprints.

import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';

import { DemoInMemoryAuthProvider } from '@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import {
  createOAuthMetadata,
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthMetadataRouter,
  mcpAuthRouter,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import { resourceUrlFromServerUrl } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';

// Nothing but the READY line may reach stdout.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

const DEFAULTS = {
  // true: the SDK example's --oauth-strict mode. The demo provider refuses (at the token endpoint) a code whose
  // authorization request did not carry `resource` = the MCP URL, and requireBearerAuth refuses a token whose
  // resource is not the MCP URL. false: `resource` is neither required nor checked (the example's default).
  strictResource: true,
  // requireBearerAuth's requiredScopes (the SDK example uses none). The demo provider grants whatever scopes the
  // authorization request asked for, without checking them.
  requiredScopes: [],
  // scopes_supported of the AS metadata and of the PRM.
  scopesSupported: ['mcp:tools'],
  // false: the SDK's per-IP rate limits on /authorize (100 / 15 min), /token (50 / 15 min) and /register
  // (20 / hour) are turned off (with the router's own options), since a test session registers many clients
  // from 127.0.0.1. true: the SDK's defaults.
  rateLimits: false,
};

function readConfig() {
  const raw = process.argv[2] ?? '{}';
  let given;
  try {
    given = JSON.parse(raw);
  } catch (err) {
    throw new Error(`sdk_demo_server: configuration is not JSON: ${err.message}`);
  }
  const unknown = Object.keys(given).filter((key) => !(key in DEFAULTS));
  if (unknown.length) throw new Error(`sdk_demo_server: unknown option(s): ${unknown.join(', ')}`);
  const config = { ...DEFAULTS, ...given };
  for (const key of ['requiredScopes', 'scopesSupported']) {
    if (!Array.isArray(config[key]) || !config[key].every((s) => typeof s === 'string')) {
      throw new Error(`sdk_demo_server: ${key} must be a list of strings`);
    }
  }
  for (const key of ['strictResource', 'rateLimits']) {
    if (typeof config[key] !== 'boolean') throw new Error(`sdk_demo_server: ${key} must be true or false`);
  }
  return config;
}

const config = readConfig();

// ---------------------------------------------------------------------------------------------------
// Request log (secrets only as fingerprints, the same as servers.secret_fingerprint)
// ---------------------------------------------------------------------------------------------------

const SECRET_PARAMS = new Set([
  'code', 'code_verifier', 'refresh_token', 'access_token', 'client_secret', 'token', 'id_token',
  'id_token_hint', 'client_assertion', 'registration_access_token', 'assertion',
]);

function fingerprint(value) {
  return `sha256:${createHash('sha256').update(String(value)).digest('hex').slice(0, 16)}`;
}

function scrub(params) {
  if (!params || typeof params !== 'object' || Array.isArray(params)) return params ?? null;
  const out = {};
  for (const [key, value] of Object.entries(params)) {
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

function jsonRpcSummary(body) {
  const messages = (Array.isArray(body) ? body : [body]).filter((m) => m && typeof m === 'object');
  const first = messages[0];
  const call = messages.find((m) => m.method === 'tools/call' && m.params && typeof m.params === 'object');
  return { mcp_method: first?.method ?? null, tool: call ? (call.params.name ?? null) : null };
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

// One log per server. The entry is made when the request arrives; its body (as parsed by the SDK's own body
// parsers, so the request is never read twice) and its status are filled in when the response is finished.
function loggedServer(name, app, { mcpPath }) {
  const log = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const remote = req.socket.remoteAddress;
    if (!['127.0.0.1', '::ffff:127.0.0.1', '::1'].includes(remote)) {
      res.writeHead(403).end();
      return;
    }
    if (url.pathname.startsWith('/__lab/')) {
      if (url.pathname === '/__lab/requests' && req.method === 'GET') return sendJson(res, 200, log);
      if (url.pathname === '/__lab/reset-requests' && req.method === 'POST') {
        log.length = 0;
        return sendJson(res, 200, { ok: true });
      }
      return sendJson(res, 404, { error: 'not_found' });
    }
    const authorization = req.headers.authorization;
    const [scheme, ...rest] = authorization ? authorization.split(' ') : [];
    const credential = rest.join(' ').trim();
    const entry = {
      time: Date.now() / 1000,
      server: name,
      method: req.method,
      path: url.pathname,
      query: scrub(queryObject(url.searchParams)),
      body: null,
      authorization: authorization ? scheme : null,
      authorization_sha256: authorization ? fingerprint(credential || scheme) : null,
      session_id: 'mcp-session-id' in req.headers,
      protocol_version: req.headers['mcp-protocol-version'] ?? null,
      mcp_method: null,
      tool: null,
      status: null,
    };
    log.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
      const body = req.body;
      if (body && typeof body === 'object' && Object.keys(body).length) {
        if (url.pathname === mcpPath) Object.assign(entry, jsonRpcSummary(body));
        else entry.body = scrub(body);
      }
    });
    app(req, res);
  });
  return server;
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

// ---------------------------------------------------------------------------------------------------
// The MCP server (one McpServer per session, as the SDK's examples do)
// ---------------------------------------------------------------------------------------------------

function buildMcpServer() {
  const server = new McpServer({ name: 'lab-sdk-demo-mcp', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its text argument.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool(
    'whoami',
    { description: 'The client_id (and scopes) of the access token used (the demo AS has no users).' },
    async (extra) => {
      const auth = extra.authInfo;
      const text = JSON.stringify({ client_id: auth?.clientId ?? null, scopes: auth?.scopes ?? [] });
      return { content: [{ type: 'text', text }] };
    },
  );
  return server;
}

function mcpHandlers() {
  const sessions = new Map(); // session id -> transport

  const jsonRpcError = (res, status, code, message) => {
    res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
  };

  const post = async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    try {
      if (sessionId) {
        const transport = sessions.get(sessionId);
        if (!transport) return jsonRpcError(res, 404, -32001, 'Session not found');
        await transport.handleRequest(req, res, req.body);
        return undefined;
      }
      if (!isInitializeRequest(req.body)) {
        return jsonRpcError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, transport);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await buildMcpServer().connect(transport);
      await transport.handleRequest(req, res, req.body);
      return undefined;
    } catch (err) {
      process.stderr.write(`sdk_demo_server: MCP request failed: ${err?.message}\n`);
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal server error');
      return undefined;
    }
  };

  const other = async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    if (!sessionId) return jsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    const transport = sessions.get(sessionId);
    if (!transport) return jsonRpcError(res, 404, -32001, 'Session not found');
    try {
      await transport.handleRequest(req, res);
    } catch (err) {
      process.stderr.write(`sdk_demo_server: MCP request failed: ${err?.message}\n`);
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal server error');
    }
    return undefined;
  };

  const closeAll = async () => {
    for (const transport of sessions.values()) {
      try {
        await transport.close();
      } catch {
        // shutting down anyway
      }
    }
    sessions.clear();
  };

  return { post, other, closeAll };
}

// ---------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------

async function main() {
  const mcpPath = '/mcp';
  // Ports first (ephemeral, loopback only): the issuer and the resource are built from them.
  let asApp = (_req, res) => sendJson(res, 503, { error: 'starting' });
  let mcpApp = asApp;
  const asServer = loggedServer('as', (req, res) => asApp(req, res), { mcpPath: null });
  const mcpServer = loggedServer('mcp', (req, res) => mcpApp(req, res), { mcpPath });
  const [asPort, mcpPort] = await Promise.all([listen(asServer), listen(mcpServer)]);

  // The SDK takes URL objects; `new URL(origin).href` ends in "/", and that is the issuer it advertises.
  const issuerUrl = new URL(`http://127.0.0.1:${asPort}`);
  const mcpServerUrl = new URL(`http://127.0.0.1:${mcpPort}${mcpPath}`);

  // (a) The demo authorization server, composed as the SDK's setupAuthServer() does (that helper itself binds every
  // interface and prints to stdout, so it is not called).
  const validateResource = config.strictResource
    ? (resource) => !!resource && resource.toString() === resourceUrlFromServerUrl(mcpServerUrl).toString()
    : undefined;
  const provider = new DemoInMemoryAuthProvider(validateResource);
  const limits = config.rateLimits ? {} : { rateLimit: false };
  const as = createMcpExpressApp();
  as.use(
    mcpAuthRouter({
      provider,
      issuerUrl,
      scopesSupported: config.scopesSupported,
      authorizationOptions: limits,
      tokenOptions: limits,
      clientRegistrationOptions: limits,
    }),
  );
  asApp = as;

  // (b) The MCP server, protected by the SDK's bearer middleware verifying through the demo provider.
  const oauthMetadata = createOAuthMetadata({ provider, issuerUrl, scopesSupported: config.scopesSupported });
  const handlers = mcpHandlers();
  const mcp = createMcpExpressApp();
  mcp.use(
    mcpAuthMetadataRouter({
      oauthMetadata,
      resourceServerUrl: mcpServerUrl,
      scopesSupported: config.scopesSupported,
      resourceName: 'Lab SDK demo MCP server',
    }),
  );
  const auth = requireBearerAuth({
    verifier: provider,
    requiredScopes: config.requiredScopes,
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpServerUrl),
    expectedResource: config.strictResource ? mcpServerUrl : undefined,
  });
  mcp.post(mcpPath, auth, handlers.post);
  mcp.get(mcpPath, auth, handlers.other);
  mcp.delete(mcpPath, auth, handlers.other);
  mcpApp = mcp;

  const stop = async () => {
    await handlers.closeAll();
    for (const server of [asServer, mcpServer]) {
      server.close();
      server.closeAllConnections?.();
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const ready = {
    mcp_url: mcpServerUrl.href,
    mcp_base_url: `http://127.0.0.1:${mcpPort}`,
    issuer: oauthMetadata.issuer,
    as_url: `http://127.0.0.1:${asPort}`,
    prm_url: getOAuthProtectedResourceMetadataUrl(mcpServerUrl),
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
}

main().catch((err) => {
  process.stderr.write(`sdk_demo_server: failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
