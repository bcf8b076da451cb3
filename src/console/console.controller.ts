import { Body, Controller, Get, Inject, Optional, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ConsoleSessions, Principal, RequirePermission } from '../access';
import { csvRow } from '../investigation';
import { AuthenticationError } from '../platform';
import { ApiAnswer, ApiError, ConsoleApi, queryOf } from './console-api';
import { ConsoleAssets } from './console-assets';
import { Html } from './html';
import { OidcClient, OidcFailure } from './oidc-client';
import { EVENT_FILTERS, EventItem, SearchResult, eventPage, eventRows, eventsPage } from './pages/events';
import { HOLD_FORM_FIELDS, HoldForm, HoldView, holdBody, holdPage, holdsPage, newHoldPage } from './pages/holds';
import { Viewer } from './pages/layout';
import {
  deletionPage,
  deletionsPage,
  errorPage,
  keysPage,
  logPage,
  logsPage,
  principalsPage,
  settingsPage,
  signInPage,
  signedInPage,
  subjectRequestPage,
  subjectRequestsPage,
} from './pages/other';
import { SIGN_IN_STATE_LIFETIME_MS, SignInStateSeal } from './sign-in-state';

/** The console's OpenID Connect client and the seal of its state cookie; absent without `OIDC_*`. */
export const CONSOLE_OIDC = Symbol('CONSOLE_OIDC');
export interface ConsoleOidc {
  readonly client: OidcClient;
  readonly seal: SignInStateSeal;
}

/** The session cookie: HttpOnly, SameSite=Strict, Secure behind TLS. */
const SESSION_COOKIE = 'audit_console';
/** The sign-in form's double-submit token (there is no session yet to bind a CSRF token to). */
const SIGN_IN_COOKIE = 'audit_console_sign_in';
/**
 * The sealed state of a sign-in at the identity provider (state, nonce, PKCE verifier, where to go
 * next). SameSite=Lax: the provider's redirect back is a cross-site top-level GET, which Strict
 * would strip it from. Only on the callback's path, for ten minutes.
 */
const OIDC_STATE_COOKIE = 'audit_console_oidc';
const OIDC_CALLBACK_PATH = '/console/sign-in/oidc/callback';

/**
 * What every console answer carries: a policy that allows scripts, styles and requests to this
 * origin only (no inline script or style, no eval), no framing, no referrer, no caching of pages
 * that hold evidence.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with form posts,
  // and the origin check below needs the real one. Other hosts still get no referrer.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

type Form = Record<string, string | undefined>;

/** A key's secret as the API shows it once, at creation or rotation. */
interface KeySecret {
  readonly name: string;
  readonly key: string;
}

interface Signed {
  readonly token: string;
  readonly principal: Principal;
  readonly viewer: Viewer;
}

/**
 * The console (docs/console.md): server-rendered pages for investigators and legal staff at stable
 * URLs. Each page calls the JSON API in-process with the session's token (`ConsoleApi`), so what a
 * person may see and do, and what is recorded, is exactly what their key would get.
 */
@ApiExcludeController()
@Controller('console')
@RequirePermission('public')
export class ConsoleController {
  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly api: ConsoleApi,
    private readonly assets: ConsoleAssets,
    @Optional() @Inject(CONSOLE_OIDC) private readonly oidc: ConsoleOidc | null,
  ) {}

  @Get()
  async home(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.signed(request);
    redirect(reply, signed === null ? '/console/sign-in' : '/console/events');
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() reply: FastifyReply): void {
    const asset = this.assets.get(name);
    if (asset === undefined) return void send(reply, 404, errorPage(null, 'Not found', { code: 'not_found' }));
    void reply
      .headers(SECURITY_HEADERS)
      .header('cache-control', 'public, max-age=300')
      .header('content-type', asset.type)
      .send(asset.body);
  }

  @Get('sign-in')
  signInForm(@Query('next') next: string | undefined, @Res() reply: FastifyReply): void {
    const csrf = randomBytes(24).toString('base64url');
    reply.header(
      'set-cookie',
      serializeCookie(SIGN_IN_COOKIE, csrf, { httpOnly: true, sameSite: 'strict', path: '/console' }),
    );
    send(reply, 200, signInPage(csrf, safeNext(next), null, this.providerName()));
  }

  /** Starts a sign-in at the identity provider: the sealed state cookie, and off to the provider. */
  @Get('sign-in/oidc')
  async signInWithProvider(
    @Query('next') next: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (!this.oidc) return send(reply, 404, errorPage(null, 'Not found', { code: 'not_found' }));
    let started: Awaited<ReturnType<OidcClient['start']>>;
    try {
      started = await this.oidc.client.start();
    } catch (e) {
      await this.sessions.refused('oidc', e instanceof OidcFailure ? e.code : 'provider_unreachable');
      return send(reply, 502, errorPage(null, 'Sign-in failed', providerProblem()));
    }
    const sealed = this.oidc.seal.seal({
      ...started.challenge,
      next: safeNext(next),
      expiresAt: Date.now() + SIGN_IN_STATE_LIFETIME_MS,
    });
    reply.header(
      'set-cookie',
      serializeCookie(OIDC_STATE_COOKIE, sealed, {
        httpOnly: true,
        sameSite: 'lax',
        secure: isSecure(request),
        path: OIDC_CALLBACK_PATH,
        maxAge: SIGN_IN_STATE_LIFETIME_MS / 1000,
      }),
    );
    redirect(reply, started.url);
  }

  /**
   * The provider's redirect back. The state must be the one sealed in this browser's cookie (else
   * another site's or an old sign-in), the code is redeemed with the PKCE verifier and the ID token
   * checked against the nonce; the subject must be a registered principal's. Every refusal is a
   * `console.sign_in_failed` entry and a page that says what to do; none echoes the code or a token.
   */
  @Get('sign-in/oidc/callback')
  async providerCallback(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (!this.oidc) return send(reply, 404, errorPage(null, 'Not found', { code: 'not_found' }));
    // The state is good for one attempt: cleared whatever happens next.
    reply.header(
      'set-cookie',
      serializeCookie(OIDC_STATE_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: OIDC_CALLBACK_PATH, maxAge: 0 }),
    );
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    const params = new URLSearchParams(query);
    const state = this.oidc.seal.open(cookies(request)[OIDC_STATE_COOKIE], new Date());
    const refuse = async (reason: string, status: number, error: ApiError) => {
      await this.sessions.refused('oidc', reason);
      send(reply, status, errorPage(null, 'Sign-in failed', error));
    };
    if (state === null) return refuse('state_missing_or_expired', 400, staleSignIn());
    if (!sameText(state.state, params.get('state'))) return refuse('state_mismatch', 400, staleSignIn());
    const providerError = params.get('error');
    if (providerError !== null) {
      const word = /^[a-z_]{1,64}$/.test(providerError) ? providerError : 'unregistered';
      return refuse(`provider_error:${word}`, 401, {
        code: 'unauthorized',
        message: `the identity provider did not sign you in (${word}); try again, or ask its administrators`,
      });
    }
    let identity: { issuer: string; subject: string };
    try {
      identity = await this.oidc.client.finish(query, state);
    } catch (e) {
      return refuse(e instanceof OidcFailure ? e.code : 'unexpected', 401, providerProblem());
    }
    try {
      const session = await this.sessions.signInWithProvider(`${identity.issuer}#${identity.subject}`);
      reply.header('set-cookie', sessionCookie(session.token, session.expiresAt, isSecure(request)));
      send(reply, 200, signedInPage(safeNext(state.next)));
    } catch (e) {
      // Refusals of the person (recorded by the sessions); anything else is the error filter's.
      if (!(e instanceof AuthenticationError)) throw e;
      send(reply, 403, errorPage(null, 'Sign-in refused', { code: 'unauthorized', message: e.message }));
    }
  }

  @Post('sign-in')
  async signIn(@Body() form: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const expected = cookies(request)[SIGN_IN_COOKIE];
    if (expected === undefined || !sameText(expected, form?._csrf))
      return send(reply, 403, errorPage(null, 'Sign-in refused', csrfProblem()));
    const key = typeof form.key === 'string' ? form.key.trim() : '';
    try {
      const session = await this.sessions.signIn(key);
      reply.header('set-cookie', [
        sessionCookie(session.token, session.expiresAt, isSecure(request)),
        serializeCookie(SIGN_IN_COOKIE, '', {
          httpOnly: true,
          sameSite: 'strict',
          path: '/console',
          maxAge: 0,
        }),
      ]);
      redirect(reply, safeNext(form.next));
    } catch (e) {
      const csrf = randomBytes(24).toString('base64url');
      reply.header(
        'set-cookie',
        serializeCookie(SIGN_IN_COOKIE, csrf, { httpOnly: true, sameSite: 'strict', path: '/console' }),
      );
      const message = e instanceof Error ? e.message : 'sign-in failed';
      send(reply, 401, signInPage(csrf, safeNext(form.next), { code: 'unauthorized', message }, this.providerName()));
    }
  }

  @Post('sign-out')
  async signOut(@Body() form: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const token = cookies(request)[SESSION_COOKIE];
    if (token !== undefined) {
      if (!this.sessions.csrfMatches(token, form?._csrf))
        return send(reply, 403, errorPage(null, 'Sign-out refused', csrfProblem()));
      await this.sessions.signOut(token);
    }
    reply.header(
      'set-cookie',
      serializeCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 0 }),
    );
    redirect(reply, '/console/sign-in');
  }

  @Get('events')
  async events(@Query() query: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const filters = eventFilters(query);
    if (Object.keys(filters).length === 0 && query.cursor === undefined)
      return send(reply, 200, eventsPage(signed.viewer, filters, null, null));
    const answer = await this.api.call<SearchResult & ApiError>(
      signed.token,
      'GET',
      `/v1/events${queryOf({ ...filters, cursor: query.cursor, limit: '50' })}`,
    );
    if (answer.status === 401) return this.expired(request, reply);
    send(
      reply,
      answer.status === 200 ? 200 : answer.status,
      eventsPage(
        signed.viewer,
        filters,
        answer.status === 200 ? answer.body : null,
        answer.status === 200 ? null : answer.body,
      ),
    );
  }

  /** The next page of results as table rows (htmx replaces the "older entries" row with them). */
  @Get('events/rows')
  async eventRows(@Query() query: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const filters = eventFilters(query);
    const answer = await this.api.call<SearchResult & ApiError>(
      signed.token,
      'GET',
      `/v1/events${queryOf({ ...filters, cursor: query.cursor, limit: '50' })}`,
    );
    if (answer.status !== 200)
      return send(reply, answer.status, errorPage(signed.viewer, 'Search failed', answer.body));
    send(reply, 200, eventRows(filters, answer.body));
  }

  @Get('events/:id')
  async event(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const answer = await this.api.call<EventItem & ApiError>(
      signed.token,
      'GET',
      `/v1/events/${encodeURIComponent(id)}`,
    );
    if (answer.status === 401) return this.expired(request, reply);
    if (answer.status !== 200) return send(reply, answer.status, errorPage(signed.viewer, 'Event', answer.body));
    const entry = answer.body;
    const holds = await this.holdsCovering(signed.token, entry);
    send(reply, 200, eventPage(signed.viewer, entry, holds));
  }

  /**
   * The entry with everything an outsider needs to verify it: the leaf bytes, the inclusion proof,
   * the signed checkpoint, and the key the server names (which the browser compares with the key
   * the person pinned, never trusting it by itself).
   */
  @Get('events/:id/evidence.json')
  async evidence(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const answer = await this.api.call<EventItem & ApiError>(
      signed.token,
      'GET',
      `/v1/events/${encodeURIComponent(id)}`,
    );
    if (answer.status !== 200) return sendJson(reply, answer.status, answer.body);
    const entry = answer.body;
    const key = await this.api.call(signed.token, 'GET', `/v1/logs/${encodeURIComponent(String(entry.log))}/key`);
    sendJson(reply, 200, {
      id: entry.id,
      log: entry.log,
      index: entry.index,
      leaf: entry.leaf,
      leafHash: entry.leafHash,
      inclusion: entry.inclusion,
      serverKey: key.status === 200 ? key.text.trim() : null,
    });
  }

  @Get('exports')
  async exports(@Query() query: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const format = query.format === 'csv' ? 'csv' : undefined;
    await this.download(request, reply, `/v1/exports${queryOf({ ...eventFilters(query), format })}`, 'Export', {
      filename: `export.${format ?? 'ndjson'}`,
    });
  }

  @Get('logs')
  async logs(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    send(reply, 200, logsPage(signed.viewer));
  }

  @Get('logs/open')
  openLog(@Query('log') log: string | undefined, @Res() reply: FastifyReply): void {
    redirect(reply, `/console/logs/${encodeURIComponent(log ?? '')}`);
  }

  @Get('logs/:log')
  async log(@Param('log') log: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    await this.renderLog(signed, log, null, reply);
  }

  @Post('logs/:log/verify')
  async verifyLog(
    @Param('log') log: string,
    @Body() form: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.submit<Record<string, unknown>>(
      request,
      reply,
      form,
      'POST',
      `/v1/logs/${encodeURIComponent(log)}/verify`,
      {},
      (signed, answer) => this.renderLog(signed, log, answer, reply),
    );
  }

  @Get('holds')
  async holds(@Query() query: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const filters = { tenant: query.tenant, status: query.status };
    await this.listPage<HoldView>(request, reply, `/v1/holds${queryOf(filters)}`, (viewer, items, error) =>
      holdsPage(viewer, filters, items, error),
    );
  }

  @Get('holds.csv')
  async holdsCsv(@Query() query: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const answer = await this.api.call<{ items: HoldView[] } & ApiError>(
      signed.token,
      'GET',
      `/v1/holds${queryOf({ tenant: query.tenant, status: query.status })}`,
    );
    if (answer.status !== 200) return send(reply, answer.status, errorPage(signed.viewer, 'Holds', answer.body));
    const rows = [['id', 'tenant', 'matter', 'status', 'placedAt', 'releasedAt', 'scope']].concat(
      answer.body.items.map((h) => [
        h.id,
        h.tenant,
        h.matter,
        h.status,
        String(h.placedAt ?? ''),
        String((h as unknown as { releasedAt?: string }).releasedAt ?? ''),
        JSON.stringify(h.scope),
      ]),
    );
    void reply
      .headers(SECURITY_HEADERS)
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="holds.csv"')
      .send(rows.map(csvRow).join(''));
  }

  @Get('holds/new')
  async newHold(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    send(reply, 200, newHoldPage(signed.viewer, holdForm({}), null, null));
  }

  @Post('holds/preview')
  async previewHold(@Body() body: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const form = holdForm(body);
    await this.submit<Record<string, unknown>>(
      request,
      reply,
      body,
      'POST',
      '/v1/holds/preview',
      holdBody(form),
      (signed, answer) => {
        const ok = answer.status === 200;
        const preview = ok ? (answer.body as Record<string, unknown>) : null;
        send(reply, answer.status, newHoldPage(signed.viewer, form, preview, ok ? null : answer.body));
      },
    );
  }

  @Post('holds')
  async placeHold(@Body() body: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const form = holdForm(body);
    await this.submit<HoldView>(request, reply, body, 'POST', '/v1/holds', holdBody(form), (signed, answer) =>
      answer.status === 201
        ? redirect(reply, `/console/holds/${encodeURIComponent(answer.body.id)}`)
        : send(reply, answer.status, newHoldPage(signed.viewer, form, null, answer.body)),
    );
  }

  @Get('holds/:id')
  async hold(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.detailPage<HoldView>(request, reply, `/v1/holds/${encodeURIComponent(id)}`, 'Hold', (viewer, hold) =>
      holdPage(viewer, hold, null),
    );
  }

  @Post('holds/:id/release')
  async releaseHold(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const path = `/v1/holds/${encodeURIComponent(id)}`;
    await this.submit<Record<string, unknown>>(
      request,
      reply,
      body,
      'POST',
      `${path}/release`,
      { reason: body.reason ?? '' },
      (signed, answer) => {
        const ok = answer.status === 200 || answer.status === 202;
        const notice = !ok
          ? undefined
          : answer.body.status === 'released'
            ? 'The hold is released.'
            : `Release requested: ${String(answer.body.approvals)} of ${String(answer.body.required)} legal persons so far.`;
        return this.renderHoldAfter(signed, reply, path, answer, ok, notice);
      },
    );
  }

  @Post('holds/:id/amend')
  async amendHold(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const path = `/v1/holds/${encodeURIComponent(id)}`;
    const { scope, description } = holdBody(holdForm(body));
    const payload = { scope, ...(description !== undefined ? { description } : {}), reason: body.reason ?? '' };
    await this.submit(request, reply, body, 'POST', `${path}/amend`, payload, (signed, answer) => {
      const ok = answer.status === 200;
      return this.renderHoldAfter(signed, reply, path, answer, ok, ok ? 'The hold is widened.' : undefined);
    });
  }

  @Get('subject-requests')
  async subjectRequests(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.listPage(request, reply, '/v1/subject-requests', subjectRequestsPage);
  }

  @Get('subject-requests/:id')
  async subjectRequest(
    @Param('id') id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.detailPage(
      request,
      reply,
      `/v1/subject-requests/${encodeURIComponent(id)}`,
      'Subject request',
      subjectRequestPage,
    );
  }

  @Get('subject-requests/:id/bundle')
  async subjectBundle(
    @Param('id') id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.download(request, reply, `/v1/subject-requests/${encodeURIComponent(id)}/bundle`, 'Access bundle', {
      contentType: 'application/x-ndjson',
      filename: `subject-request-${id.replace(/[^0-9a-f-]/g, '')}.ndjson`,
    });
  }

  @Get('deletions')
  async deletions(@Query() query: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const filters = { tenant: query.tenant, status: query.status };
    await this.listPage(request, reply, `/v1/deletion-requests${queryOf(filters)}`, deletionsPage);
  }

  @Get('deletions/:id')
  async deletion(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.detailPage(
      request,
      reply,
      `/v1/deletion-requests/${encodeURIComponent(id)}`,
      'Deletion request',
      deletionPage,
    );
  }

  @Get('keys')
  async keys(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    await this.renderKeys(signed, reply, null, null);
  }

  @Post('keys')
  async createKey(@Body() body: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const payload = {
      name: body.name ?? '',
      roles: commaList(body.roles),
      tenants: commaList(body.tenants),
      ...(body.principal ? { principal: body.principal.trim() } : {}),
    };
    await this.submit<KeySecret>(request, reply, body, 'POST', '/v1/keys', payload, (signed, answer) =>
      this.renderKeyAnswer(signed, reply, answer, 201),
    );
  }

  @Post('keys/:id/rotate')
  async rotateKey(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.submit<KeySecret>(
      request,
      reply,
      body,
      'POST',
      `/v1/keys/${encodeURIComponent(id)}/rotate`,
      {},
      (signed, answer) => this.renderKeyAnswer(signed, reply, answer, 200),
    );
  }

  @Post('keys/:id/revoke')
  async revokeKey(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.submit(
      request,
      reply,
      body,
      'DELETE',
      `/v1/keys/${encodeURIComponent(id)}`,
      undefined,
      (signed, answer) =>
        this.renderKeys(signed, reply, answer.status === 200 ? null : answer.body, null, answer.status),
    );
  }

  @Get('principals')
  async principals(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    await this.renderPrincipals(signed, reply, null, null);
  }

  /** A principal as `POST /v1/principals` makes it; empty optional fields are left out. */
  @Post('principals')
  async createPrincipal(@Body() body: Form, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const optional = (name: 'email' | 'oidcSubject') => {
      const value = body[name]?.trim() ?? '';
      return value === '' ? {} : { [name]: value };
    };
    const payload = { name: body.name ?? '', kind: body.kind ?? '', ...optional('email'), ...optional('oidcSubject') };
    await this.submit<{ name: string }>(request, reply, body, 'POST', '/v1/principals', payload, (signed, answer) =>
      this.renderPrincipalAnswer(
        signed,
        reply,
        answer,
        201,
        () => `Principal ${answer.body.name} created: grant it a role next.`,
      ),
    );
  }

  @Post('principals/:id/grants')
  async grantRole(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const payload = { role: body.role ?? '', tenants: commaList(body.tenants) };
    await this.submit<{ role: string; status: string }>(
      request,
      reply,
      body,
      'POST',
      `/v1/principals/${encodeURIComponent(id)}/grants`,
      payload,
      (signed, answer) =>
        this.renderPrincipalAnswer(signed, reply, answer, 201, () =>
          answer.body.status === 'pending'
            ? `The ${answer.body.role} grant waits for a second legal person to approve it.`
            : `Granted ${answer.body.role}.`,
        ),
    );
  }

  @Post('principals/:id/revoke')
  async revokePrincipal(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.submit<{ name: string }>(
      request,
      reply,
      body,
      'DELETE',
      `/v1/principals/${encodeURIComponent(id)}`,
      undefined,
      (signed, answer) =>
        this.renderPrincipalAnswer(
          signed,
          reply,
          answer,
          200,
          () => `Principal ${answer.body.name} revoked: its keys no longer work.`,
        ),
    );
  }

  @Post('grants/:id/revoke')
  async revokeGrant(
    @Param('id') id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.submit(
      request,
      reply,
      body,
      'DELETE',
      `/v1/grants/${encodeURIComponent(id)}`,
      undefined,
      (signed, answer) => this.renderPrincipalAnswer(signed, reply, answer, 200, () => 'Grant revoked.'),
    );
  }

  @Get('settings')
  async settings(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    send(reply, 200, settingsPage(signed.viewer));
  }

  private async renderKeys(
    signed: Signed,
    reply: FastifyReply,
    error: ApiError | null,
    secret: { name: string; key: string } | null,
    status = 200,
  ): Promise<void> {
    await this.renderList(signed, reply, '/v1/keys', status, (viewer, items, listError) =>
      keysPage(viewer, items, listError ?? error, secret),
    );
  }

  /** The hold as it is after a release request or an amendment, with the API's answer to that change. */
  private async renderHoldAfter(
    signed: Signed,
    reply: FastifyReply,
    path: string,
    answer: ApiAnswer<ApiError>,
    ok: boolean,
    notice: string | undefined,
  ): Promise<void> {
    const hold = await this.api.call<HoldView & ApiError>(signed.token, 'GET', path);
    if (hold.status !== 200) return send(reply, hold.status, errorPage(signed.viewer, 'Hold', hold.body));
    send(reply, ok ? 200 : answer.status, holdPage(signed.viewer, hold.body, ok ? null : answer.body, notice));
  }

  /** The keys page after a create or rotate: the new secret shown once when the API answered `expected`. */
  private renderKeyAnswer(
    signed: Signed,
    reply: FastifyReply,
    answer: ApiAnswer<KeySecret & ApiError>,
    expected: number,
  ): Promise<void> {
    return answer.status === expected
      ? this.renderKeys(signed, reply, null, { name: answer.body.name, key: answer.body.key })
      : this.renderKeys(signed, reply, answer.body, null, answer.status);
  }

  /** The principals page after a change: `notice` when the API answered `expected`, its error otherwise. */
  private renderPrincipalAnswer(
    signed: Signed,
    reply: FastifyReply,
    answer: ApiAnswer<ApiError>,
    expected: number,
    notice: () => string,
  ): Promise<void> {
    const ok = answer.status === expected;
    return this.renderPrincipals(
      signed,
      reply,
      ok ? null : answer.body,
      ok ? notice() : null,
      ok ? 200 : answer.status,
    );
  }

  private async renderPrincipals(
    signed: Signed,
    reply: FastifyReply,
    error: ApiError | null,
    notice: string | null,
    status = 200,
  ): Promise<void> {
    await this.renderList(signed, reply, '/v1/principals', status, (viewer, items, listError) =>
      principalsPage(viewer, items, listError ?? error, notice),
    );
  }

  private async renderLog(
    signed: Signed,
    log: string,
    report: { status: number; body: Record<string, unknown> } | null,
    reply: FastifyReply,
  ): Promise<void> {
    const checkpoint = await this.api.call<ApiError>(
      signed.token,
      'GET',
      `/v1/logs/${encodeURIComponent(log)}/checkpoint`,
    );
    const error =
      checkpoint.status === 200 || checkpoint.status === 404
        ? report !== null && report.status !== 200
          ? (report.body as ApiError)
          : null
        : checkpoint.body;
    const status = checkpoint.status === 200 || checkpoint.status === 404 ? (report?.status ?? 200) : checkpoint.status;
    const health = await this.api.call<{ details?: { ledger?: { status?: string } } }>(signed.token, 'GET', '/health');
    send(
      reply,
      status,
      logPage(
        signed.viewer,
        {
          log,
          checkpoint: checkpoint.status === 200 ? checkpoint.text : null,
          report: report !== null && report.status === 200 ? report.body : null,
          mirror: health.body?.details?.ledger?.status ?? 'unknown',
        },
        error,
      ),
    );
  }

  /**
   * A form post: the session with its CSRF check, the API call, then `then` with the answer; a
   * session that ended meanwhile (the API answers 401) goes to sign in.
   */
  private async submit<T = unknown>(
    request: FastifyRequest,
    reply: FastifyReply,
    form: Form,
    method: 'POST' | 'DELETE',
    path: string,
    payload: unknown,
    then: (signed: Signed, answer: ApiAnswer<T & ApiError>) => Promise<void> | void,
  ): Promise<void> {
    const signed = await this.requireForm(request, reply, form);
    if (signed === null) return;
    const answer = await this.api.call<T & ApiError>(signed.token, method, path, payload);
    if (answer.status === 401) return this.expired(request, reply);
    await then(signed, answer);
  }

  /** A page of one resource the API answers at `path` (GET), or an error page titled `title`. */
  private async detailPage<T = Record<string, unknown>>(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    title: string,
    render: (viewer: Viewer, body: T) => Html,
  ): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const answer = await this.api.call<T & ApiError>(signed.token, 'GET', path);
    if (answer.status === 401) return this.expired(request, reply);
    if (answer.status !== 200) return send(reply, answer.status, errorPage(signed.viewer, title, answer.body));
    send(reply, 200, render(signed.viewer, answer.body));
  }

  /** A page of the list the API answers at `path` (GET `{items}`); the page shows the API's error when it refused. */
  private async listPage<T = Record<string, unknown>>(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    render: (viewer: Viewer, items: T[] | null, error: ApiError | null) => Html,
  ): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    await this.renderList(signed, reply, path, 200, render);
  }

  /** Renders the list at `path` with `status`, or with the list's own status when the API refused it. */
  private async renderList<T = Record<string, unknown>>(
    signed: Signed,
    reply: FastifyReply,
    path: string,
    status: number,
    render: (viewer: Viewer, items: T[] | null, error: ApiError | null) => Html,
  ): Promise<void> {
    const list = await this.api.call<{ items: T[] } & ApiError>(signed.token, 'GET', path);
    const ok = list.status === 200;
    send(reply, ok ? status : list.status, render(signed.viewer, ok ? list.body.items : null, ok ? null : list.body));
  }

  /**
   * The API's answer at `path` as a file to save (an export, an access bundle), with the API's
   * content type unless `contentType` is given; an error page titled `title` when it refused.
   */
  private async download(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    title: string,
    file: { filename: string; contentType?: string },
  ): Promise<void> {
    const signed = await this.require(request, reply);
    if (signed === null) return;
    const answer = await this.api.call<ApiError>(signed.token, 'GET', path);
    if (answer.status !== 200) return send(reply, answer.status, errorPage(signed.viewer, title, answer.body));
    void reply
      .headers(SECURITY_HEADERS)
      .header('content-type', file.contentType ?? String(answer.headers['content-type']))
      .header('content-disposition', `attachment; filename="${file.filename}"`)
      .send(answer.text);
  }

  /** Holds that cover the entry, as `POST /v1/holds/check` answers for its tenant, subject, actor, category, type and time. */
  private async holdsCovering(
    token: string,
    entry: EventItem,
  ): Promise<{ held: boolean; holds: { id: string; matter?: string }[] } | null> {
    const personal = entry.personal as { subject?: string } | undefined;
    const actor = entry.actor as { id?: string } | undefined;
    const answer = await this.api.call<{ held: boolean; holds: { id: string; matter?: string }[] }>(
      token,
      'POST',
      '/v1/holds/check',
      {
        tenant: entry.log,
        ...(personal?.subject ? { subject: personal.subject } : {}),
        ...(actor?.id ? { actor: actor.id } : {}),
        ...(entry.category ? { category: entry.category } : {}),
        type: entry.type,
        at: entry.recordedAt,
      },
    );
    return answer.status === 200 ? answer.body : null;
  }

  private providerName(): string | null {
    return this.oidc ? this.oidc.client.providerName : null;
  }

  /** The signed-in session of the request, or null. */
  private async signed(request: FastifyRequest): Promise<Signed | null> {
    const token = cookies(request)[SESSION_COOKIE];
    if (token === undefined) return null;
    const principal = await this.sessions.principal(token);
    if (principal === null) return null;
    return {
      token,
      principal,
      viewer: {
        name: principal.name,
        roles: principal.roles,
        tenants: principal.tenants,
        csrf: this.sessions.csrfToken(token),
      },
    };
  }

  /** The session, or a redirect to sign in (back to this page afterwards). */
  private async require(request: FastifyRequest, reply: FastifyReply): Promise<Signed | null> {
    const signed = await this.signed(request);
    if (signed === null) this.expired(request, reply);
    return signed;
  }

  /** The session of a form post, whose CSRF token and origin must be the session's own. */
  private async requireForm(
    request: FastifyRequest,
    reply: FastifyReply,
    form: Form | undefined,
  ): Promise<Signed | null> {
    const signed = await this.signed(request);
    if (signed === null) {
      send(reply, 401, errorPage(null, 'Signed out', { code: 'unauthorized', message: 'sign in again' }));
      return null;
    }
    if (!this.sessions.csrfMatches(signed.token, form?._csrf) || !sameOrigin(request)) {
      send(reply, 403, errorPage(signed.viewer, 'Refused', csrfProblem()));
      return null;
    }
    return signed;
  }

  private expired(request: FastifyRequest, reply: FastifyReply): void {
    redirect(reply, `/console/sign-in?next=${encodeURIComponent(request.url)}`);
  }
}

function send(reply: FastifyReply, status: number, page: Html): void {
  void reply
    .status(status)
    .headers(SECURITY_HEADERS)
    .header('content-type', 'text/html; charset=utf-8')
    .send(page.text);
}

function sendJson(reply: FastifyReply, status: number, body: unknown): void {
  void reply
    .status(status)
    .headers(SECURITY_HEADERS)
    .header('content-type', 'application/json; charset=utf-8')
    .send(body);
}

function redirect(reply: FastifyReply, location: string): void {
  void reply.status(303).headers(SECURITY_HEADERS).header('location', location).send();
}

/** The session cookie (docs/console.md "Sessions"), whichever way the person signed in. */
function sessionCookie(token: string, expires: Date, secure: boolean): string {
  return serializeCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure, path: '/', expires });
}

function cookies(request: FastifyRequest): Record<string, string | undefined> {
  const header = request.headers.cookie;
  return typeof header === 'string' ? parseCookies(header) : {};
}

function isSecure(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

/** A form post from another origin is refused even with a token: browsers send Origin on every POST. */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** Where to go after signing in: a console path of this origin only (no open redirect). */
function safeNext(next: string | undefined): string {
  return typeof next === 'string' && /^\/console(\/[^\\]*)?(\?.*)?$/.test(next) && !next.startsWith('//')
    ? next
    : '/console/events';
}

function sameText(a: string, b: unknown): boolean {
  if (typeof b !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function csrfProblem(): ApiError {
  return {
    code: 'csrf_refused',
    message: 'the form is stale or was not sent by this console: reload the page and try again',
  };
}

function staleSignIn(): ApiError {
  return {
    code: 'sign_in_state_refused',
    message: 'this sign-in did not start in this browser, was changed, or is older than ten minutes: sign in again',
  };
}

function providerProblem(): ApiError {
  return {
    code: 'identity_provider_failed',
    message:
      'the identity provider could not be reached or its answer was refused: try again, or sign in with an API key',
  };
}

function eventFilters(query: Form): Record<string, string> {
  const filters: Record<string, string> = {};
  for (const { name } of EVENT_FILTERS) {
    const value = query[name];
    if (typeof value === 'string' && value.trim() !== '') filters[name] = value.trim();
  }
  return filters;
}

/** A comma-separated form field as a list, empty items left out. */
function commaList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function holdForm(body: Form): HoldForm {
  const form = {} as Record<keyof HoldForm, string>;
  for (const name of HOLD_FORM_FIELDS) form[name] = typeof body[name] === 'string' ? body[name] : '';
  return form;
}
