import type { FastifyReply, FastifyRequest } from 'fastify';

/** Reads one cookie by name; the only cookie we set, so a full parser is not needed. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface SessionCookie {
  name: string;
  secure: boolean;
}

/** The session cookie: HttpOnly, SameSite=Lax, Secure (and the __Host- prefix) when the issuer is https. */
export function sessionCookie(issuer: string): SessionCookie {
  const secure = issuer.startsWith('https:');
  return { name: secure ? '__Host-tether_session' : 'tether_session', secure };
}

export function setSessionCookie(reply: FastifyReply, cookie: SessionCookie, value: string, maxAge: number): void {
  const attributes = [`${cookie.name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAge}`];
  if (cookie.secure) attributes.push('Secure');
  reply.header('set-cookie', attributes.join('; '));
}
