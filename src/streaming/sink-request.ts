import { LOG_NAME_PATTERN, PLATFORM_LOG } from '@audit/ledger';
import { CATEGORIES } from '../events';
import { RequestValidationError, validator } from '../platform';

/** What a sink sends and how (docs/api.md "Sinks"). */
export const SINK_KINDS = ['ndjson', 'splunk_hec', 'syslog'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];

/** Where a new sink starts in each log: the current end, or index 0. */
export type SinkStart = 'end' | 'start';

/** A sink as an admin asks for it, validated. */
export interface NewSink {
  readonly name: string;
  readonly kind: SinkKind;
  readonly url: string;
  readonly secret: string | null;
  readonly tenants: readonly string[];
  readonly categories: readonly string[] | null;
  readonly types: readonly string[] | null;
  readonly from: SinkStart;
  readonly personalData: boolean;
}

/** A change of a sink: only the fields given. `from` cannot change: a replay moves a position back. */
export type SinkChange = Partial<Omit<NewSink, 'from' | 'kind' | 'secret'>> & { readonly secret?: string };

export const SINK_LIMITS = { name: 200, url: 2000, secretMin: 16, secretMax: 1000, list: 100 } as const;

const TENANTS = {
  type: 'array',
  minItems: 1,
  maxItems: SINK_LIMITS.list,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 63 },
};
const CATEGORY_LIST = {
  type: ['array', 'null'],
  minItems: 1,
  maxItems: SINK_LIMITS.list,
  uniqueItems: true,
  items: { type: 'string', enum: CATEGORIES },
};
const TYPE_LIST = {
  type: ['array', 'null'],
  minItems: 1,
  maxItems: SINK_LIMITS.list,
  uniqueItems: true,
  items: { type: 'string', pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*){1,5}$', maxLength: 200 },
};
const FIELDS = {
  name: { type: 'string', minLength: 1, maxLength: SINK_LIMITS.name, pattern: '\\S' },
  url: { type: 'string', minLength: 1, maxLength: SINK_LIMITS.url },
  secret: { type: 'string', minLength: SINK_LIMITS.secretMin, maxLength: SINK_LIMITS.secretMax },
  tenants: TENANTS,
  categories: CATEGORY_LIST,
  types: TYPE_LIST,
  personalData: { type: 'boolean' },
};

export const CREATE_SINK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind', 'url', 'tenants', 'from'],
  properties: {
    ...FIELDS,
    kind: { type: 'string', enum: SINK_KINDS },
    from: { type: 'string', enum: ['end', 'start'] },
  },
} as const;

export const PATCH_SINK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: FIELDS,
} as const;

export const REPLAY_SINK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['log', 'from'],
  properties: {
    log: { type: 'string', minLength: 1, maxLength: 63 },
    from: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const;

interface SinkBody {
  name?: string;
  kind?: SinkKind;
  url?: string;
  secret?: string;
  tenants?: string[];
  categories?: string[] | null;
  types?: string[] | null;
  from?: SinkStart;
  personalData?: boolean;
}

const validateCreate = validator<SinkBody>(CREATE_SINK_SCHEMA);
const validatePatch = validator<SinkBody>(PATCH_SINK_SCHEMA);
const validateReplay = validator<{ log: string; from: number }>(REPLAY_SINK_SCHEMA);

function refuse(path: string, message: string): never {
  throw new RequestValidationError([{ path, message }]);
}

/**
 * The transports of a syslog sink: plain syslog over TCP or TLS, RELP over TCP. No RELP over TLS:
 * rsyslog's imrelp with TLS demands a client certificate, and a sink has no place for one.
 */
const SYSLOG_SCHEMES = ['tcp:', 'tls:', 'relp:'];

/** Whether a syslog sink's URL is RELP (acknowledged per message) rather than plain syslog. */
export function isRelpUrl(url: string): boolean {
  return /^relp:\/\//i.test(url);
}

/** Whether `hostname` (as `URL` gives it) is a loopback address. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The problem with `url` as the destination of a sink of `kind`, or null: `https://`, or
 * `http://` to a loopback address (tests), for the HTTP kinds; `tcp://host:port`,
 * `tls://host:port` or `relp://host:port` for syslog. Credentials in the URL are refused: they
 * belong in the secret, which is never echoed, while the URL is shown and recorded.
 */
export function urlProblem(kind: SinkKind, url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not an absolute URL';
  }
  if (parsed.username !== '' || parsed.password !== '')
    return 'must not carry credentials: put them in secret, which is never shown';
  if (parsed.hash !== '') return 'must not have a fragment';
  if (parsed.hostname === '') return 'must name a host';
  if (kind === 'syslog') {
    if (!SYSLOG_SCHEMES.includes(parsed.protocol)) return 'a syslog sink takes tcp://, tls:// or relp://host:port';
    if (parsed.port === '') return 'must name a port';
    if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '')
      return 'a syslog URL is only scheme://host:port (tcp, tls or relp)';
    return null;
  }
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:')
    return isLoopbackHost(parsed.hostname) ? null : 'http:// only to a loopback address; use https://';
  return 'must be https:// (or http:// to a loopback address)';
}

/** The URL as shown and recorded: scheme, host, port and path; no query (it may carry a token). */
export function shownUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname === '/' && !url.endsWith('/') ? '' : parsed.pathname;
  return `${parsed.protocol}//${parsed.host}${path}${parsed.search === '' ? '' : '?…'}`;
}

function checkTenants(tenants: readonly string[], path: string): void {
  if (tenants.includes('*') && tenants.length > 1) refuse(path, '"*" stands alone: every tenant');
  tenants.forEach((tenant, i) => {
    if (tenant !== '*' && (!LOG_NAME_PATTERN.test(tenant) || tenant === PLATFORM_LOG))
      refuse(`${path}/${i}`, 'is not a tenant name');
  });
}

function checkKind(kind: SinkKind, url: string | undefined, secret: string | undefined | null): void {
  if (url !== undefined) {
    const problem = urlProblem(kind, url);
    if (problem !== null) refuse('/url', problem);
  }
  if (secret === null && kind !== 'syslog')
    refuse('/secret', kind === 'ndjson' ? 'is required: it keys the HMAC signature' : 'is required: the HEC token');
}

/** A new sink from a request body; RequestValidationError naming the field otherwise. */
export function parseCreateSink(body: unknown): NewSink {
  const b = validateCreate(body);
  const kind = b.kind as SinkKind;
  checkKind(kind, b.url, b.secret ?? null);
  checkTenants(b.tenants as string[], '/tenants');
  return {
    name: b.name as string,
    kind,
    url: b.url as string,
    secret: b.secret ?? null,
    tenants: b.tenants as string[],
    categories: b.categories ?? null,
    types: b.types ?? null,
    from: b.from as SinkStart,
    personalData: b.personalData ?? false,
  };
}

/** A change from a PATCH body for a sink of `kind`. */
export function parsePatchSink(body: unknown, kind: SinkKind): SinkChange {
  const b = validatePatch(body);
  checkKind(kind, b.url, b.secret);
  if (b.tenants !== undefined) checkTenants(b.tenants, '/tenants');
  const change: { -readonly [K in keyof SinkChange]: SinkChange[K] } = {};
  if (b.name !== undefined) change.name = b.name;
  if (b.url !== undefined) change.url = b.url;
  if (b.secret !== undefined) change.secret = b.secret;
  if (b.tenants !== undefined) change.tenants = b.tenants;
  if (b.categories !== undefined) change.categories = b.categories;
  if (b.types !== undefined) change.types = b.types;
  if (b.personalData !== undefined) change.personalData = b.personalData;
  return change;
}

/** A replay: move the sink's position in `log` back to `from`. */
export function parseReplay(body: unknown): { log: string; from: number } {
  const b = validateReplay(body);
  if (!LOG_NAME_PATTERN.test(b.log) || b.log === PLATFORM_LOG) refuse('/log', 'is not a tenant log');
  return b;
}
