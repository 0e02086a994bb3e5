import type { FastifyInstance } from 'fastify';
import { TEST_PASSWORD } from './in-process.js';

/** Sends requests in process with a chosen client address (Fastify's inject `remoteAddress`), not over TCP. */
export interface InjectFrom {
  app: FastifyInstance;
  remoteAddress: string;
}

/**
 * Drives the verification page's HTML forms with fetch, as a browser without JavaScript would: keeps the
 * session cookie and echoes each page's CSRF token. For protocol tests; the Chromium test covers a real browser.
 */
export class FormBrowser {
  private cookie = '';
  lastPage = '';
  lastStatus = 0;
  lastHeaders = new Headers();

  constructor(
    private readonly issuer: string,
    private readonly headers: Record<string, string> = {},
    private readonly from?: InjectFrom,
  ) {}

  async get(path: string): Promise<string> {
    const headers = { ...this.headers, cookie: this.cookie };
    if (this.from) return this.keepInjected(await this.from.app.inject({ method: 'GET', url: path, headers, remoteAddress: this.from.remoteAddress }));
    const response = await fetch(`${this.issuer}${path}`, { headers });
    return this.keep(response);
  }

  async post(path: string, form: Record<string, string>): Promise<string> {
    const headers = { ...this.headers, cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded' };
    // Like a browser submitting the page's form: its hidden fields go along.
    const body = new URLSearchParams({ csrf: this.csrf(), ...this.hiddenRequest(), ...form }).toString();
    if (this.from) {
      return this.keepInjected(await this.from.app.inject({ method: 'POST', url: path, headers, payload: body, remoteAddress: this.from.remoteAddress }));
    }
    const response = await fetch(`${this.issuer}${path}`, { method: 'POST', headers, body, redirect: 'manual' });
    return this.keep(response);
  }

  /** The Cookie header this browser sends. */
  get cookieHeader(): string {
    return this.cookie;
  }

  /** The sealed request (review) or carried code (sign-in, confirm) the last page's forms hold. */
  private hiddenRequest(): Record<string, string> {
    const hidden: Record<string, string> = {};
    for (const name of ['request', 'carry']) {
      const sealed = new RegExp(`name="${name}" value="([^"]+)"`).exec(this.lastPage)?.[1];
      if (sealed) hidden[name] = sealed;
    }
    return hidden;
  }

  /** Opens the page and signs in (the page asks for that before any code), unless already signed in. */
  async signIn(username = 'alice', password = TEST_PASSWORD): Promise<string> {
    const page = await this.get('/device');
    if (!page.includes('action="/device/sign-in"')) return page;
    return this.post('/device/sign-in', { username, password });
  }

  /**
   * Signs in with the "Sign in with ..." link of upstream provider `name` (one that signs the person in at once,
   * such as test/sso/fake-provider.ts), following the redirects there and back. Returns the page it ends on.
   */
  async signInUpstream(name: string): Promise<string> {
    const page = await this.get('/device');
    const link = new RegExp(`href="(/device/upstream/${name}[^"]*)"`).exec(page)?.[1];
    if (!link) return page;
    return this.navigate(`${this.issuer}${link.replace(/&amp;/g, '&')}`);
  }

  /** A top-level navigation that follows redirects, sending the session cookie to this issuer only. */
  async navigate(url: string): Promise<string> {
    let next = url;
    for (let hop = 0; hop < 10; hop++) {
      const ours = new URL(next).origin === new URL(this.issuer).origin;
      const response = await fetch(next, { headers: ours ? { ...this.headers, cookie: this.cookie } : {}, redirect: 'manual' });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const set = ours ? response.headers.get('set-cookie') : null;
        if (set) this.cookie = set.split(';')[0] ?? '';
        next = new URL(location, next).href;
        continue;
      }
      if (ours) return this.keep(response);
      this.lastStatus = response.status;
      this.lastPage = await response.text();
      return this.lastPage;
    }
    throw new Error(`too many redirects from ${url}`);
  }

  csrf(): string {
    return /name="csrf" value="([^"]+)"/.exec(this.lastPage)?.[1] ?? '';
  }

  /** Signs in if asked (first, as the page wants), enters the code, and presses Approve or Deny. Returns the final page. */
  async decide(userCode: string, decision: 'approve' | 'deny', username = 'alice', password = TEST_PASSWORD) {
    const signedIn = await this.signIn(username, password);
    if (!signedIn.includes('action="/device"')) return signedIn;
    const page = await this.post('/device', { user_code: userCode });
    if (!page.includes('action="/device/decision"')) return page;
    return this.post('/device/decision', { decision });
  }

  private keepInjected(response: { statusCode: number; headers: Record<string, unknown>; body: string }): string {
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? String(value[0]) : String(value));
    }
    const set = headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0] ?? '';
    this.lastStatus = response.statusCode;
    this.lastHeaders = headers;
    this.lastPage = response.body;
    return this.lastPage;
  }

  private async keep(response: Response): Promise<string> {
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0] ?? '';
    this.lastStatus = response.status;
    this.lastHeaders = response.headers;
    this.lastPage = await response.text();
    return this.lastPage;
  }
}

/** The part of a playwright Page the approval walk uses (typed here so protocol tests need no playwright). */
interface ApprovalPage {
  goto(url: string): Promise<unknown>;
  getByRole(role: 'heading' | 'button', options: { name: string }): { waitFor(): Promise<void>; click(): Promise<void> };
  getByLabel(label: string): { fill(value: string): Promise<void> };
}

/**
 * A person approving in a real browser (Chromium through playwright): opens the link with the code filled in,
 * signs in (sign-in comes first; the code from the link rides along), confirms the code and presses Approve, then
 * waits for "Device approved". The one place that knows the verification pages' order for these tests.
 */
export async function approveInBrowser(page: ApprovalPage, completeUrl: string, credentials: { username: string; password: string }): Promise<void> {
  await page.goto(completeUrl);
  await page.getByLabel('Username').fill(credentials.username);
  await page.getByLabel('Password').fill(credentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Check the code' }).waitFor();
  await page.getByRole('button', { name: 'Yes, the codes match' }).click();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('heading', { name: 'Device approved' }).waitFor();
}
