import type { DurationSummary } from './percentiles.js';
import type { MonitorSnapshot, NodeSnapshot, ProviderSnapshot } from './snapshot.js';

/** Every line of the table fits a terminal this wide. */
export const TABLE_WIDTH = 100;

interface Column<T> {
  title: string;
  width: number;
  /** Text columns are left-aligned, numbers right-aligned. */
  left?: boolean;
  cell(name: string, row: T): string;
}

const providerColumns: Column<ProviderSnapshot>[] = [
  { title: 'PROVIDER', width: 12, left: true, cell: (name) => name },
  { title: 'KIND', width: 8, left: true, cell: (_, p) => p.kind },
  { title: 'STATE', width: 7, left: true, cell: (_, p) => p.state },
  { title: 'SIZE', width: 4, cell: (_, p) => count(p.size) },
  { title: 'USE', width: 4, cell: (_, p) => count(p.inUse) },
  { title: 'IDLE', width: 4, cell: (_, p) => count(p.idle) },
  { title: 'WAIT', width: 4, cell: (_, p) => count(p.waiting) },
  { title: 'MADE', width: 5, cell: (_, p) => count(p.created) },
  { title: 'GONE', width: 5, cell: (_, p) => count(p.destroyed) },
  { title: 'ERR', width: 4, cell: (_, p) => count(p.errors) },
  { title: 'TMO', width: 4, cell: (_, p) => count(p.acquireTimeouts) },
  { title: 'LEAK', width: 4, cell: (_, p) => count(p.leaks) },
  { title: 'WAIT95', width: 6, cell: (_, p) => percentile(p.acquireWaitMs) },
  { title: 'HOLD95', width: 6, cell: (_, p) => percentile(p.holdMs) },
  { title: 'HEALTH', width: 8, left: true, cell: (_, p) => health(p) },
];

const nodeColumns: Column<NodeSnapshot>[] = [
  { title: 'NODE', width: 30, left: true, cell: (name) => name },
  { title: 'RUNS', width: 7, cell: (_, n) => count(n.runs) },
  { title: 'ERR', width: 6, cell: (_, n) => count(n.errors) },
  { title: 'LEASES', width: 7, cell: (_, n) => count(n.leases) },
  { title: 'HELD', width: 8, cell: (_, n) => duration(n.holdMs.total) },
  { title: 'HOLD95', width: 7, cell: (_, n) => percentile(n.holdMs) },
];

/**
 * A snapshot as a fixed-width text table: one row per provider, warnings under them, then one
 * row per node and a line for runs. Every line fits in `TABLE_WIDTH` columns.
 */
export function renderTable(snapshot: MonitorSnapshot): string {
  const lines = [`kaygraph monitor  ${new Date(snapshot.time).toISOString()}`, ''];

  const providers = Object.entries(snapshot.providers);
  lines.push(...rows(providerColumns, providers));
  if (providers.length === 0) lines.push('(no providers)');
  for (const [name, p] of providers) {
    for (const warning of warningsOf(p)) lines.push(`! ${name}: ${warning}`);
  }

  const nodes = Object.entries(snapshot.nodes);
  if (nodes.length > 0) lines.push('', ...rows(nodeColumns, nodes));

  const { started, ok, failed } = snapshot.runs;
  lines.push('', `runs: ${started} started, ${ok} ok, ${failed} failed`);
  return `${lines.map(clip).join('\n')}\n`;
}

/** One plain line per provider, for logs and pipes where a redrawn table makes no sense. */
export function renderLines(snapshot: MonitorSnapshot): string {
  const time = new Date(snapshot.time).toISOString();
  const lines = Object.entries(snapshot.providers).map(([name, p]) =>
    [
      `${time} provider=${name}`,
      `state=${p.state} size=${p.size} inUse=${p.inUse} idle=${p.idle} waiting=${p.waiting}`,
      `errors=${p.errors} timeouts=${p.acquireTimeouts} leaks=${p.leaks}`,
      `waitP95=${p.acquireWaitMs.p95}ms holdP95=${p.holdMs.p95}ms health=${health(p)}`,
    ].join(' '),
  );
  const { started, ok, failed } = snapshot.runs;
  lines.push(`${time} runs started=${started} ok=${ok} failed=${failed}`);
  return `${lines.join('\n')}\n`;
}

function rows<T>(columns: Column<T>[], entries: [string, T][]): string[] {
  const header = columns.map((c) => pad(c.title, c.width, c.left)).join(' ');
  const body = entries.map(([name, row]) =>
    columns.map((c) => pad(c.cell(name, row), c.width, c.left)).join(' '),
  );
  return [header.trimEnd(), ...body.map((line) => line.trimEnd())];
}

function warningsOf(p: ProviderSnapshot): string[] {
  const warnings = [...p.warnings];
  if (p.health.ok === false) {
    warnings.push(`health check failed: ${p.health.error ?? 'no reason given'}`);
  }
  return warnings;
}

function health(p: ProviderSnapshot): string {
  if (p.health.ok === null) return '-';
  if (!p.health.ok) return 'FAIL';
  return `ok ${duration(p.health.latencyMs ?? 0)}`;
}

function percentile(summary: DurationSummary): string {
  return summary.count === 0 ? '-' : duration(summary.p95);
}

/** A duration in at most six characters. */
export function duration(ms: number): string {
  if (ms < 10) return `${Math.round(ms * 10) / 10}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 6000) / 10}m`;
  return `${Math.round(ms / 360_000) / 10}h`;
}

/** A count in four characters: 9999 stays, 123456 becomes 123k. */
function count(value: number): string {
  if (value < 10_000) return String(value);
  if (value < 1_000_000) return `${Math.floor(value / 1000)}k`;
  if (value < 1_000_000_000) return `${Math.floor(value / 1_000_000)}M`;
  return `${Math.floor(value / 1_000_000_000)}G`;
}

function pad(text: string, width: number, left = false): string {
  const flat = text.replace(/\s+/g, ' ');
  const cut = flat.length > width ? `${flat.slice(0, width - 1)}~` : flat;
  return left ? cut.padEnd(width) : cut.padStart(width);
}

function clip(line: string): string {
  return line.length > TABLE_WIDTH ? `${line.slice(0, TABLE_WIDTH - 3)}...` : line;
}
