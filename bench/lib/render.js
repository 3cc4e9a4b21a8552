import { fmt } from './stats.js';

/**
 * Ratio of ours to each contender, oriented so that > 1 always means ours is better.
 * For "higher is better" units that is ours / theirs; for times it is theirs / ours.
 * A table may set its own `unit` and `lowerIsBetter`, e.g. a CPU-time table in a rate group.
 */
function ratio(result, table, row) {
  const ours = table.rows.find((r) => r.contender === 'kaygraph' || r.ours);
  if (!ours || !Number.isFinite(row.median) || !Number.isFinite(ours.median)) return Number.NaN;
  const lowerIsBetter = table.lowerIsBetter ?? result.lowerIsBetter;
  return lowerIsBetter ? row.median / ours.median : ours.median / row.median;
}

function tableLines(result, table) {
  const lines = [];
  const hasP99 = table.columns.includes('p99');
  const unit = table.unit ?? result.unit;
  const p99Head = hasP99 ? ` p99 (${table.p99Unit ?? unit}) |` : '';
  lines.push(`| contender | median (${unit}) |${p99Head} ours vs. it |`);
  lines.push(`| --- | ---: |${hasP99 ? ' ---: |' : ''} ---: |`);
  for (const row of table.rows) {
    const r = ratio(result, table, row);
    lines.push(
      `| ${row.contender} | ${fmt(row.median)} |${hasP99 ? ` ${fmt(row.p99, 3)} |` : ''} ${fmt(r)}× |`,
    );
  }
  return lines;
}

function goalLine(goal) {
  const mark = goal.met ? 'met' : 'NOT met';
  return `- ${mark}: ${goal.goal} — measured ${fmt(goal.value, 3)} (target ${goal.lowerIsBetter ? '≤' : '≥'} ${goal.target})`;
}

export function renderText(result) {
  const out = [`\n## ${result.name}${result.note ? ` (${result.note})` : ''}`];
  for (const table of result.tables) out.push(`\n${table.title}`, ...tableLines(result, table));
  out.push('', ...result.goals.map(goalLine));
  return out.join('\n');
}

export function renderMarkdown(machine, results) {
  const out = [
    '# Benchmark results',
    '',
    `Run ${machine.date} on Node ${machine.node}, ${machine.nproc} cores (${machine.cpu}).`,
    'Ratios compare contenders measured in the same process run, in interleaved rounds; a ratio',
    'above 1 means KayGraph did better. Absolute numbers on a shared machine are noise.',
    'Regenerate with `pnpm bench`; `bench/results.json` keeps the raw figures of this run.',
    'What was measured about the causes of the goals not met is in `bench/FINDINGS.md`.',
  ];
  for (const result of results) {
    if (result.error) {
      out.push('', `## ${result.name}`, '', 'FAILED:', '', '```', result.error, '```');
      continue;
    }
    out.push('', `## ${result.name}`, '');
    if (result.note) out.push(result.note, '');
    for (const table of result.tables) out.push(`${table.title}:`, '', ...tableLines(result, table), '');
    out.push(...result.goals.map(goalLine));
  }
  return `${out.join('\n')}\n`;
}
