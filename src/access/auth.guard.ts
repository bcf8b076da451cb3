import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { CLOCK, Clock, enforceInputRule } from '../platform';
import { AuthenticationError, PermissionError } from '../platform';
import { ApiKeyStore } from './api-key.store';
import { bearerToken } from './api-key-secret';
import { ConsoleSessions, SESSION_PREFIX } from './console-sessions';
import { PERMISSION } from './permission.decorator';
import { RateLimiter } from './rate-limiter';
import { Permission, Principal, rolesGrant } from './roles';

export type AuthenticatedRequest = FastifyRequest & { principal?: Principal };

/**
 * Deny by default: a route must name its permission, and the caller's key must grant it and be
 * within its request budget (public routes have no key and no budget). Then the input rule
 * (docs/api.md "Input rule"): after authentication, so a caller without a key learns 401 first.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyStore,
    private readonly sessions: ConsoleSessions,
    private readonly rateLimiter: RateLimiter,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (permission === undefined) throw new PermissionError('this route has no permission and is closed');
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (permission === 'public') {
      enforceInputRule(request);
      return true;
    }
    const bearer = bearerToken(request.headers.authorization);
    if ('problem' in bearer) throw new AuthenticationError(bearer.problem);
    // A console session's token acts through the key it was opened with (docs/console.md): the
    // console's pages call this API with it, so every rule is this API's, applied once.
    const principal = bearer.token.startsWith(SESSION_PREFIX)
      ? await this.sessions.principal(bearer.token)
      : await this.keys.authenticate(bearer.token, this.clock.now());
    if (principal === null) throw new AuthenticationError('the API key is unknown, revoked or expired');
    this.rateLimiter.admit(principal);
    if (!rolesGrant(principal.roles, permission))
      throw new PermissionError(`this key's roles do not allow ${permission}`);
    request.principal = principal;
    enforceInputRule(request);
    return true;
  }
}
