/** The one stylesheet of the verification pages, served from our origin so the CSP can forbid every other. */
export const STYLESHEET = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #5b6470; --line: #d9dee5; --accent: #2457c5; --ok: #1e7b45; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f4f6f9; }
.brand { display: flex; align-items: center; gap: 8px; padding: 16px 24px; font-weight: 700; font-size: 18px; letter-spacing: .02em; }
.logo { color: var(--accent); flex: none; }
.card { max-width: 560px; margin: 24px auto; padding: 28px 32px; background: #fff; border: 1px solid var(--line); border-radius: 12px; }
h1 { font-size: 24px; margin: 0 0 12px; }
h1.ok { color: var(--ok); } h1.stop { color: var(--bad); }
label { display: block; font-weight: 600; margin: 16px 0 6px; }
input { width: 100%; padding: 10px 12px; font-size: 18px; border: 1px solid #aab2bd; border-radius: 8px; }
#user_code { font-family: ui-monospace, Menlo, Consolas, monospace; letter-spacing: .15em; text-transform: uppercase; }
button { font: inherit; font-weight: 700; padding: 12px 20px; border-radius: 8px; border: 2px solid transparent; cursor: pointer; margin-top: 20px; color: #fff; }
button:hover { filter: brightness(.92); }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
button.primary { background: var(--accent); width: 100%; }
.decision { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.decision button { width: 100%; font-size: 18px; }
button.approve { background: var(--ok); }
button.deny { background: var(--bad); }
/* After the different-network warning, Deny stays solid and Approve is only outlined: same size, less pull. */
.code { font: 700 36px/1.2 ui-monospace, Menlo, Consolas, monospace; letter-spacing: .12em; text-align: center; padding: 12px; background: #f0f3f8; border-radius: 8px; }
.code-inline { font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 700; letter-spacing: .08em; }
.warning { background: #fff8e1; border-left: 4px solid #d89b00; padding: 10px 14px; border-radius: 4px; }
.alarm { background: #fdecea; border: 2px solid var(--bad); color: #5c0f0a; padding: 12px 16px; border-radius: 8px; margin-bottom: 16px; }
.alarm h2 { margin: 0 0 6px; font-size: 20px; color: var(--bad); }
.alarm > :last-child, .warning > :last-child { margin-bottom: 0; }
.notice { background: #eef3fc; border-left: 4px solid var(--accent); padding: 10px 14px; border-radius: 4px; }
.error { color: var(--bad); font-weight: 600; }
.facts { display: grid; grid-template-columns: 140px 1fr; gap: 8px 12px; margin: 16px 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.scopes { margin: 0; padding-left: 18px; }
.muted { color: var(--muted); font-size: 14px; }
.ua { font-size: 13px; }
.account { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 4px 12px; margin: -8px 0 16px; padding-bottom: 12px; border-bottom: 1px solid var(--line); color: var(--muted); font-size: 14px; }
.account strong { color: var(--ink); overflow-wrap: anywhere; }
button.link { background: none; border: 0; padding: 0; margin: 0; color: var(--accent); font-weight: 600; font-size: 14px; text-decoration: underline; }
.nowrap { white-space: nowrap; }
.letters { overflow-wrap: anywhere; }
.withheld { text-decoration: line-through; }
.withheld-note { margin: 6px 0 0; }
a.button { display: block; text-align: center; text-decoration: none; font-weight: 700; padding: 12px 20px; border: 2px solid transparent; border-radius: 8px; margin-top: 12px; }
input::placeholder { color: #9aa3ae; }
a.button.upstream { background: var(--accent); color: #fff; }
a.button.upstream:hover { filter: brightness(.92); }
.sign-in-choices { margin-top: 16px; }
button.secondary { width: 100%; background: #fff; color: var(--accent); border-color: var(--accent); margin-top: 12px; }
.divider { display: flex; align-items: center; gap: 12px; color: var(--muted); font-size: 14px; margin: 24px 0 0; }
.divider::before, .divider::after { content: ""; flex: 1; border-top: 1px solid var(--line); }
.account-actions { display: inline-flex; gap: 16px; align-items: baseline; }
.account-actions a { font-weight: 600; font-size: 14px; }
.passkeys { list-style: none; margin: 16px 0; padding: 0; border-top: 1px solid var(--line); }
.passkeys li { display: flex; justify-content: space-between; align-items: center; gap: 12px; padding: 12px 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.passkeys form { flex: none; }
button.remove { margin: 0; padding: 8px 14px; background: #fff; color: var(--bad); border-color: var(--bad); font-size: 14px; }
[hidden] { display: none !important; }
footer { text-align: center; color: var(--muted); font-size: 13px; padding: 8px 24px 32px; }
a { color: var(--accent); }
@media (max-width: 600px) {
  .brand { padding: 12px 16px; }
  .card { margin: 8px 12px 16px; padding: 20px 18px; }
  h1 { font-size: 22px; }
  .facts { grid-template-columns: 1fr; gap: 0; }
  .facts dt { font-size: 14px; }
  .facts dd { margin-bottom: 10px; }
  .code { font-size: 26px; letter-spacing: .06em; padding: 12px 6px; }
}
`;
