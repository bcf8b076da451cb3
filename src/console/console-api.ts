import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

/** An answer of the JSON API to one of the console's calls. */
export interface ApiAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Record<string, string | string[] | number | undefined>;
}

/** The error body every JSON API refusal has (docs/api.md "Errors"). */
export interface ApiError {
  readonly code?: string;
  readonly message?: string;
  readonly errors?: { path: string; message: string }[];
}

/**
 * The console's only way to the service: the JSON API itself, called in-process (Fastify's
 * `inject`, no socket) with the session's token as the bearer. Every permission, tenant scope,
 * validation rule and read record is therefore the API's, applied once; the console renders
 * answers and has no rule of its own.
 */
@Injectable()
export class ConsoleApi {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async call<T = unknown>(
    session: string,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<ApiAnswer<T>> {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const answer = await fastify.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${session}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    const type = String(answer.headers['content-type'] ?? '');
    const parsed =
      type.startsWith('application/json') && answer.body !== '' ? (JSON.parse(answer.body) as T) : (undefined as T);
    return { status: answer.statusCode, body: parsed, text: answer.body, headers: answer.headers };
  }
}

/** A query string from form or URL fields, leaving out empty ones (an empty filter is no filter). */
export function queryOf(fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined && value !== '') params.set(name, value);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
