import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { refusalBody, type CheckOptions, type Guard, type GuardResult } from '../guard.js';
import { rememberIdentity } from './identity.js';

export { identityOf } from './identity.js';

export interface ExpressGuardOptions extends CheckOptions {
  /** The origin clients use (for `htu`); default `req.protocol://req.host`, which honours Express's `trust proxy`. */
  publicUrl?: string;
}

/**
 * Express middleware: refuses what the guard refuses, otherwise records the identity (read it with
 * `identityOf(req)`, also at `res.locals.tether`) and calls `next()`. Express is a peer dependency of this file only.
 *
 * @example
 * app.get('/orders', tetherGuard(guard, { scopes: ['read'] }), (req, res) => res.json({ user: identityOf(req)?.sub }));
 */
export function tetherGuard(guard: Guard, options: ExpressGuardOptions = {}): RequestHandler {
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  return (request: Request, response: Response, next: NextFunction) => {
    const origin = publicUrl ?? `${request.protocol}://${request.get('host') ?? 'localhost'}`;
    const answer = (result: GuardResult): void => {
      if (!result.ok) {
        response.status(result.status).set(result.headers).type('application/json').send(refusalBody(result));
        return;
      }
      rememberIdentity(request, result.identity);
      response.locals['tether'] = result.identity;
      next();
    };
    let result: GuardResult | Promise<GuardResult>;
    try {
      result = guard.checkNow(
        {
          method: request.method,
          // originalUrl: a router mounted at a prefix rewrites req.url, but the client signed the full path.
          url: origin + request.originalUrl,
          authorization: request.headers.authorization,
          dpop: request.headers['dpop'],
          ip: request.ip,
          userAgent: request.get('user-agent'),
          route: typeof request.route?.path === 'string' ? request.baseUrl + request.route.path : undefined,
        },
        options,
      );
    } catch (error) {
      next(error);
      return;
    }
    // Synchronous when the guard can answer at once; next() then runs in this call, as Express expects of middleware.
    if (result instanceof Promise) result.then(answer, next);
    else answer(result);
  };
}
