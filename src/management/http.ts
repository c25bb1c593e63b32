// The management command set over HTTP (--http-port, DESIGN.md §7): a JSON API for operators,
// Prometheus text at /metrics, /healthz (the process answers) and /readyz (200 only when the
// broker serves clients: standalone or an active primary; a resource manager's probe).
//   GET  /healthz /readyz /metrics /api/status /api/queues /api/exchanges /api/bindings /api/stats
//        (a listing answers one page, { items, next }: GET /api/queues?after=NEXT&limit=N)
//        /metrics is metrics.ts (prom-client)
//   POST /api/<operation>   body: the operation's JSON arguments (promote needs clusterManager)
//   GET  /api/v1/...         the HTTP API for scripts and the console (api-v1.ts, README.md)
//   GET  /                   the web console (console-assets.ts; its files are in console/)
// No answer is larger than RESPONSE_BYTES_MAX (413, RESPONSE_TOO_LARGE), and /metrics shows at
// most METRICS_QUEUES_MAX queues (metrics.ts).

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../core/log.js';
import type { HaNode } from '../ha/node.js';
import type { ManagementCommands, Requester } from './commands.js';
import { oversizedAnswer, statusForCode } from './status.js';
import { RESPONSE_BYTES_MAX } from '../core/paging.js';
import { BrokerMetrics } from './metrics.js';
import { ApiV1, type PeerRequest } from './api-v1.js';
import { loadConsoleAssets, type Asset } from './console-assets.js';
import { createManagementServer, OPEN_HTTP, sendRefusal, type HttpAuthenticator } from './http-auth.js';
import type { TlsMaterial } from '../security/tls-context.js';
const BODY_BYTES_MAX = 1 << 20;

export class ManagementHttp {
  private server: Server | null = null;
  private readonly metrics: BrokerMetrics;
  private readonly api: ApiV1;
  private readonly assets: Map<string, Asset>;
  private readonly auth: Pick<HttpAuthenticator, 'admit' | 'hideBodies'>;
  private readonly tls: TlsMaterial | null;
  private readonly handshakeTimeoutMs: number;

  constructor(
    private readonly commands: ManagementCommands,
    private readonly ha: HaNode,
    private readonly logger: Logger,
    options: {
      /** Who may ask (http-auth.ts). */
      readonly auth?: Pick<HttpAuthenticator, 'admit' | 'hideBodies'>;
      /** --http-ssl's certificate; null for plain HTTP. */
      readonly tls?: TlsMaterial | null;
      readonly handshakeTimeoutMs?: number;
      readonly peerRequest?: PeerRequest;
    } = {},
  ) {
    this.auth = options.auth ?? OPEN_HTTP;
    this.tls = options.tls ?? null;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.metrics = new BrokerMetrics(ha);
    this.api = new ApiV1(commands, ha, logger, options.peerRequest ?? null, (operation, args, user, result) => this.auth.hideBodies(operation, args, user, result));
    this.assets = loadConsoleAssets();
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createManagementServer(this.tls, this.handshakeTimeoutMs, (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          this.logger.error({ err }, 'http handler failed');
          if (!res.headersSent) send(res, 500, { error: 'internal error' });
        });
      });
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
      this.server = server;
    });
  }

  close(): Promise<void> {
    this.api.close();
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    // The console's files hold no broker data: its login form must load before any login.
    const asset = req.method === 'GET' ? this.assets.get(path) : undefined;
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': 'no-cache' });
      res.end(asset.body);
      return;
    }
    // EventSource cannot set headers: the console's event stream carries its bearer token as a
    // query parameter, on that path only.
    const streamToken = path === '/api/v1/events' ? url.searchParams.get('access_token') : null;
    if (streamToken !== null && req.headers.authorization === undefined) req.headers.authorization = `Bearer ${streamToken}`;
    const admission = await this.auth.admit(req, path);
    if (admission.kind === 'refuse') return sendRefusal(res, admission);
    const requester: Requester = { ...requesterOf(req), user: admission.user };
    if (req.method === 'GET') {
      switch (path) {
        case '/healthz':
          return send(res, 200, { ok: true });
        case '/readyz': {
          const state = this.ha.state;
          // A primary short of --ha-min-backups accepts connections but settles nothing. A full
          // store still serves consumers (that is how it drains), so it stays ready; the body says
          // why producers are refused (issue 16).
          const status = this.ha.status();
          const gate = status.gate;
          const ready = (state === 'standalone' || state === 'active') && !gate?.short;
          const store = status.storeCondition;
          return send(res, ready ? 200 : 503, {
            ready,
            state,
            store: store.full ? 'store full' : store.corrupt !== null ? 'store corrupt' : 'ok',
            ...(gate?.short ? { reason: `waiting for backups: ${gate.backups} of --ha-min-backups ${gate.minBackups} in the ack gate` } : {}),
          });
        }
        case '/metrics': {
          const text = await this.metrics.text();
          res.writeHead(200, { 'content-type': this.metrics.contentType });
          res.end(text);
          return;
        }
      }
      // The console's event stream; the rest of /api/v1/ (api-v1.ts); the console's files.
      if (path === '/api/v1/events') return this.api.events(req, res, requester).catch((err: unknown) => sendError(res, err));
      if (path.startsWith('/api/v1/')) {
        try {
          const answer = await this.api.answer(path, queryArguments(url.searchParams), requester);
          return sendAnswer(res, answer.status, answer.body);
        } catch (err) {
          return sendError(res, err);
        }
      }
      if (path.startsWith('/api/')) return this.run(res, path.slice(5), queryArguments(url.searchParams), requester);
      return send(res, 404, { error: `no such path ${path}` });
    }
    if (req.method === 'POST' && path.startsWith('/api/')) {
      let body: unknown = {};
      try {
        const text = await readBody(req);
        body = text.length > 0 ? JSON.parse(text) : {};
      } catch (err) {
        return send(res, 400, { error: `request body: ${(err as Error).message}` });
      }
      return this.run(res, path.slice(5), body, requester);
    }
    return send(res, 405, { error: `${req.method} not allowed` });
  }

  private async run(res: ServerResponse, operation: string, args: unknown, requester: Requester): Promise<void> {
    try {
      sendAnswer(res, 200, this.auth.hideBodies(operation, args, requester.user, await this.commands.execute(operation, args, requester)));
    } catch (err) {
      sendError(res, err);
    }
  }

}

function requesterOf(req: IncomingMessage): Requester {
  const socket = req.socket;
  // The user is the authenticated one (http-auth.ts), set by the caller.
  return { transport: 'http', address: `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`, containerId: null, connectionId: null, user: null };
}

/** An answer, unless it is larger than any answer may be (413). */
function sendAnswer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > RESPONSE_BYTES_MAX) {
    const oversized = oversizedAnswer(bytes, RESPONSE_BYTES_MAX);
    return send(res, oversized.status, { error: oversized.description, code: oversized.body.code });
  }
  sendText(res, status, text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const code = (err as { code?: string })?.code ?? 'INTERNAL';
  if (!res.headersSent) send(res, statusForCode(code), { error: (err as Error)?.message ?? String(err), code });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** GET arguments from the query string: digits are numbers, true/false booleans (limit=10,
 * after=orders). */
function queryArguments(params: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [key, value] of params) args[key] = /^\d{1,15}$/.test(value) ? Number(value) : value === 'true' ? true : value === 'false' ? false : value;
  return args;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_BYTES_MAX) {
        reject(new Error(`larger than ${BODY_BYTES_MAX} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
