/** Renders a finished task for people: the transcript, then a timeline of model and tool calls. */

interface DemoCall {
  id: string;
  name: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
}

export interface DemoTask {
  id: string;
  status: string;
  created_at: number;
  messages: Array<{
    role: string;
    content?: unknown;
    tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
    tool_call_id?: string;
  }>;
  turns: Array<{ index: number; llm: { started_at: number; finished_at: number }; tool_calls: DemoCall[] }>;
  usage: { prompt_tokens: number; completion_tokens: number; llm_calls: number; tool_calls: number };
  output: string | null;
  error?: { code: string; message: string };
}

const WIDTH = 48;

export function renderTranscript(task: DemoTask): string {
  const lines = [`Transcript of task ${task.id} (${task.status})`];
  for (const message of task.messages) {
    if (message.tool_calls?.length) {
      lines.push(`  assistant → ${message.tool_calls.length} tool calls in one message:`);
      for (const call of message.tool_calls) lines.push(`      ${call.function.name}(${call.function.arguments})  [${call.id}]`);
    } else if (message.role === 'tool') {
      lines.push(`  tool [${message.tool_call_id}]: ${String(message.content)}`);
    } else {
      lines.push(`  ${message.role}: ${String(message.content ?? '').replaceAll('\n', '\n      ')}`);
    }
  }
  if (task.error) lines.push(`  error: ${task.error.code}: ${task.error.message}`);
  const { usage } = task;
  lines.push(
    `Usage: ${usage.llm_calls} LLM round trips, ${usage.tool_calls} tool calls, ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens (scripted model: estimates)`,
  );
  return lines.join('\n');
}

export function renderTimeline(task: DemoTask): string {
  const rows: Array<{ label: string; where: string; start: number; end: number }> = [];
  for (const turn of task.turns) {
    rows.push({ label: `LLM call ${turn.index + 1}`, where: 'model', start: turn.llm.started_at, end: turn.llm.finished_at });
    for (const call of turn.tool_calls) {
      if (call.started_at === null || call.finished_at === null) continue;
      rows.push({ label: `  ${call.name}`, where: call.worker_id ?? '-', start: call.started_at, end: call.finished_at });
    }
  }
  if (rows.length === 0) return 'Timeline: nothing ran.';
  const origin = Math.min(...rows.map((row) => row.start));
  const span = Math.max(1, Math.max(...rows.map((row) => row.end)) - origin);
  const column = (t: number) => Math.round(((t - origin) / span) * WIDTH);
  const lines = [`\nTimeline (0 ms = first model call; ${span} ms in all)`];
  for (const row of rows) {
    const from = column(row.start);
    const to = Math.max(from + 1, column(row.end));
    const bar = ' '.repeat(from) + '█'.repeat(to - from) + ' '.repeat(Math.max(0, WIDTH - to));
    lines.push(
      `${row.label.padEnd(16)} ${row.where.padEnd(9)} |${bar}| ${String(row.start - origin).padStart(5)} → ${String(row.end - origin).padStart(5)} ms`,
    );
  }
  lines.push(...parallelismSummary(task));
  return lines.join('\n');
}

function parallelismSummary(task: DemoTask): string[] {
  return task.turns
    .filter((turn) => turn.tool_calls.length > 1)
    .map((turn) => {
      const ran = turn.tool_calls.filter((call) => call.started_at !== null && call.finished_at !== null);
      const firstStart = Math.min(...ran.map((call) => call.started_at!));
      const latestStart = Math.max(...ran.map((call) => call.started_at!));
      const earliestEnd = Math.min(...ran.map((call) => call.finished_at!));
      const lastEnd = Math.max(...ran.map((call) => call.finished_at!));
      const oneAfterAnother = ran.reduce((sum, call) => sum + call.finished_at! - call.started_at!, 0);
      const workers = new Set(ran.map((call) => call.worker_id));
      const origin = task.turns[0]!.llm.started_at;
      // An instant call (get_time) can end before a call picked up a few ms later starts: the
      // span against the sum is what parallel execution saves, whatever the shortest call.
      const together = latestStart < earliestEnd ? `, all running at once between ${latestStart - origin} and ${earliestEnd - origin} ms` : '';
      return `Turn ${turn.index + 1}: ${ran.length} tool calls in ${lastEnd - firstStart} ms from first start to last end (one after another: ${oneAfterAnother} ms)${together}, on ${workers.size} worker process${workers.size === 1 ? '' : 'es'} (${[...workers].join(', ')}).`;
    });
}
