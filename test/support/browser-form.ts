import { TEST_PASSWORD } from './in-process.js';

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
  ) {}

  async get(path: string): Promise<string> {
    const response = await fetch(`${this.issuer}${path}`, { headers: { ...this.headers, cookie: this.cookie } });
    return this.keep(response);
  }

  async post(path: string, form: Record<string, string>): Promise<string> {
    const response = await fetch(`${this.issuer}${path}`, {
      method: 'POST',
      headers: { ...this.headers, cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      // Like a browser submitting the page's form: its hidden fields go along.
      body: new URLSearchParams({ csrf: this.csrf(), ...this.hiddenRequest(), ...form }),
      redirect: 'manual',
    });
    return this.keep(response);
  }

  /** The Cookie header this browser sends. */
  get cookieHeader(): string {
    return this.cookie;
  }

  private hiddenRequest(): Record<string, string> {
    const sealed = /name="request" value="([^"]+)"/.exec(this.lastPage)?.[1];
    return sealed ? { request: sealed } : {};
  }

  csrf(): string {
    return /name="csrf" value="([^"]+)"/.exec(this.lastPage)?.[1] ?? '';
  }

  /** Enters the code, signs in if asked, and presses Approve or Deny. Returns the final page. */
  async decide(userCode: string, decision: 'approve' | 'deny', username = 'alice', password = TEST_PASSWORD) {
    await this.get('/device');
    let page = await this.post('/device', { user_code: userCode });
    if (page.includes('action="/device/sign-in"')) {
      page = await this.post('/device/sign-in', { user_code: userCode, username, password });
    }
    if (!page.includes('action="/device/decision"')) return page;
    return this.post('/device/decision', { user_code: userCode, decision });
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
 * confirms the code, signs in and presses Approve, then waits for "Device approved". The one place that knows the
 * verification pages' order, so a change to it (sign-in first...) is adapted here for every Chromium test.
 */
export async function approveInBrowser(page: ApprovalPage, completeUrl: string, credentials: { username: string; password: string }): Promise<void> {
  await page.goto(completeUrl);
  await page.getByRole('heading', { name: 'Check the code' }).waitFor();
  await page.getByRole('button', { name: 'Yes, the codes match' }).click();
  await page.getByLabel('Username').fill(credentials.username);
  await page.getByLabel('Password').fill(credentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('heading', { name: 'Device approved' }).waitFor();
}
