import type { FastifyInstance } from 'fastify';
import { InvalidRequest } from '../oauth/errors.js';
import { FormParams } from '../oauth/form-params.js';

const FORM = 'application/x-www-form-urlencoded';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Accepts only application/x-www-form-urlencoded bodies (RFC 6749 §3.2, RFC 8628 §3.1), strictly UTF-8, parsed
 * into FormParams. Any other content type, or a body that is not UTF-8, is invalid_request.
 */
export function registerFormBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(FORM, { parseAs: 'buffer' }, (_request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new InvalidRequest('The body must be UTF-8.'), undefined);
      return;
    }
    done(null, FormParams.parse(text));
  });
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(new InvalidRequest(`The body must be ${FORM}.`), undefined);
  });
}

/** The parsed body of a form request; a request without one (GET, or no body sent) has no parameters. */
export function formOf(body: unknown): FormParams {
  return body instanceof FormParams ? body : FormParams.empty();
}
