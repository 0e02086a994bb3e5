// Printing only: the comparison table, per-run details, and the checks that make a bad run visible.

const int = (n) => Math.round(n).toLocaleString('en-US');
const pct = (n) => `${Math.round(n * 100)}%`;

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const line = (r) => r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join(' | ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}

/** Problems that make a figure meaningless (wrong answers, replayed proofs) or suspect (unsaturated server). */
export function problems(name, run) {
  const found = [];
  if (run.unexpected > 0) found.push(`${name}: ${int(run.unexpected)} of ${int(run.total)} answers were not the expected kind`);
  if (run.exhausted > 0) found.push(`${name}: ran out of fresh DPoP proofs (${int(run.exhausted)} requests reused one)`);
  if (run.errors > 0) found.push(`${name}: ${int(run.errors)} connection errors/timeouts`);
  return found;
}

export function warnings(name, run) {
  const found = [];
  if (run.serverCpu < 0.9) {
    found.push(`${name}: the server was busy only ${pct(run.serverCpu)} of the time (blocked on I/O, starved, or under-loaded)`);
  }
  if (run.otherCpu > 0.1) {
    found.push(`${name}: other processes used ${run.otherCpu.toFixed(2)} cores meanwhile; req/CPU-s is the figure to trust`);
  }
  if (run.loadCpu > 0.95) found.push(`${name}: the load generator used ${pct(run.loadCpu)} of its core`);
  if (run.slowDown > 0.01 * run.total) {
    found.push(`${name}: ${pct(run.slowDown / run.total)} of the answers were slow_down: codes were polled faster than their interval, another path (raise BENCH_BOUND_DEVICES)`);
  }
  return found;
}

export function detail(name, run) {
  const other = [...run.other].map(([kind, { count, samples }]) => `${kind || '(no status)'} ×${int(count)} e.g. ${samples[0]}`);
  return [
    `  ${name.padEnd(38)} ${int(run.valid)} valid of ${int(run.total)} in ${run.seconds.toFixed(1)} s` +
      `, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, server CPU ${pct(run.serverCpu)}, load-gen CPU ${pct(run.loadCpu)}` +
      (Number.isNaN(run.otherCpu) ? '' : `, other processes ${run.otherCpu.toFixed(2)} cores`) +
      (run.slowDown ? `, of which slow_down ×${int(run.slowDown)}` : ''),
    ...other.map((o) => `      unexpected: ${o}`),
  ].join('\n');
}

/** metric | Tether req/s | oidc-provider req/s | ratio | target | met (`unit` names the column figures). */
export function comparison(metrics, unit = 'req/s') {
  const rows = [['metric', `Tether ${unit}`, `oidc-provider ${unit}`, 'ratio', 'target', 'met']];
  for (const m of metrics) {
    const ratio = m.tether / m.oidc;
    rows.push([m.label, int(m.tether), int(m.oidc), `${ratio.toFixed(2)}×`, `≥ ${m.target}×`, ratio >= m.target ? 'yes' : 'NO']);
  }
  return table(rows);
}

export { int, pct, table };
