/**
 * A task's timeline, built from its events: per turn the model call, per tool call the marks
 * its events set (queued, waiting for a lock, approval asked and decided, started, finished).
 * `segmentsOf` turns a call's marks into the bars of the waterfall.
 */
export function createTimeline() {
  return { turns: new Map(), firstAt: undefined, lastAt: undefined, status: undefined, finished: false };
}

function turnOf(timeline, index) {
  let turn = timeline.turns.get(index);
  if (!turn) {
    turn = { index, llm: undefined, calls: new Map(), gatheredAt: undefined };
    timeline.turns.set(index, turn);
  }
  return turn;
}

function callOf(timeline, turnIndex, id, name) {
  const turn = turnOf(timeline, turnIndex);
  let call = turn.calls.get(id);
  if (!call) {
    call = { id, name, turn: turnIndex, index: turn.calls.size, status: 'queued', marks: {}, workerId: undefined, approval: undefined, error: undefined };
    turn.calls.set(id, call);
  }
  if (name) call.name = name;
  return call;
}

/** Applies one event (its name and parsed data); a repeated event sets the same facts again. */
export function applyEvent(timeline, name, data) {
  const at = data.at;
  if (typeof at === 'number') {
    timeline.firstAt = timeline.firstAt === undefined ? at : Math.min(timeline.firstAt, at);
    timeline.lastAt = timeline.lastAt === undefined ? at : Math.max(timeline.lastAt, at);
  }
  const turnIndex = data.turn;
  switch (name) {
    case 'task.status':
      timeline.status = data.status;
      break;
    case 'task.finished':
      timeline.status = data.status;
      timeline.finished = true;
      break;
    case 'llm.started':
      turnOf(timeline, turnIndex).llm = { startedAt: at, finishedAt: undefined, model: data.model, error: undefined, text: '' };
      break;
    case 'llm.delta': {
      const llm = turnOf(timeline, turnIndex).llm;
      if (llm) llm.text += data.text ?? '';
      break;
    }
    case 'llm.finished': {
      const turn = turnOf(timeline, turnIndex);
      turn.llm ??= { startedAt: data.started_at ?? at, model: undefined, text: '' };
      turn.llm.finishedAt = data.finished_at ?? at;
      turn.llm.error = data.error ?? undefined;
      turn.llm.toolCallCount = data.tool_call_count;
      turn.llm.usage = data.usage;
      break;
    }
    case 'tool_call.queued': {
      const call = callOf(timeline, turnIndex, data.tool_call_id, data.name);
      call.index = data.index ?? call.index;
      call.pool = data.pool;
      call.marks.queued ??= at;
      break;
    }
    case 'tool_call.waiting_lock': {
      const call = callOf(timeline, turnIndex, data.tool_call_id, data.name);
      call.marks.lock ??= at;
      if (call.status === 'queued') call.status = 'waiting_lock';
      break;
    }
    case 'tool_call.started': {
      const call = callOf(timeline, turnIndex, data.tool_call_id, data.name);
      // Again on a retry, or after a park: the run is the last start.
      call.marks.started = at;
      call.workerId = data.worker_id ?? call.workerId;
      call.attempt = data.attempt;
      if (call.marks.finished === undefined) call.status = call.approval && call.approval.decidedAt === undefined ? 'awaiting_approval' : 'running';
      break;
    }
    case 'tool_call.progress': {
      callOf(timeline, turnIndex, data.tool_call_id, data.name).progress = data.value;
      break;
    }
    case 'tool_call.finished': {
      const call = callOf(timeline, turnIndex, data.tool_call_id, data.name);
      call.marks.finished = at;
      call.status = data.status;
      call.error = data.error_code ?? undefined;
      call.workerId = data.worker_id ?? call.workerId;
      call.ms = data.ms;
      break;
    }
    case 'approval.requested': {
      const call = callOf(timeline, turnIndex, data.tool_call_id, data.name);
      call.approval = { requestedAt: data.requested_at ?? at, timeoutAt: data.timeout_at, arguments: data.arguments, decidedAt: undefined };
      call.marks.approval = call.approval.requestedAt;
      if (call.marks.finished === undefined) call.status = 'awaiting_approval';
      break;
    }
    case 'approval.decided': {
      const call = callOf(timeline, turnIndex, data.tool_call_id, data.name);
      call.approval ??= { requestedAt: undefined };
      Object.assign(call.approval, { decidedAt: data.decided_at ?? at, approve: data.approve, by: data.by, reason: data.reason });
      call.marks.decided = call.approval.decidedAt;
      if (call.marks.finished === undefined) call.status = data.approve ? 'queued' : 'failed';
      break;
    }
    case 'turn.gathered':
      turnOf(timeline, turnIndex).gatheredAt = at;
      break;
    default:
      break;
  }
}

/** A call waiting for approval as `GET /v1/tasks/:id` lists it (`pending_approvals`), when its event was not seen. */
export function applyPendingApproval(timeline, pending, turnIndex) {
  const call = findCall(timeline, pending.tool_call_id) ?? callOf(timeline, turnIndex, pending.tool_call_id, pending.name);
  if (call.approval) return;
  call.approval = { requestedAt: pending.requested_at, timeoutAt: pending.timeout_at, arguments: pending.arguments, decidedAt: undefined };
  call.marks.approval = pending.requested_at;
  if (call.marks.finished === undefined) call.status = 'awaiting_approval';
}

export function findCall(timeline, id) {
  for (const turn of timeline.turns.values()) if (turn.calls.has(id)) return turn.calls.get(id);
  return undefined;
}

/** Is this call waiting for a person's decision? */
export function isPending(call) {
  return call.approval !== undefined && call.approval.decidedAt === undefined && call.marks.finished === undefined;
}

/**
 * The bars of one call, in time order: `queue` (queued, or back in the queue after a decision),
 * `lock` (parked for its resources), `approval` (waiting for a person), `run` (started →
 * finished). The last one grows to `now` while the call is not finished.
 */
export function segmentsOf(call, now) {
  const { marks } = call;
  const points = [];
  if (marks.queued !== undefined) points.push({ at: marks.queued, kind: 'queue' });
  if (marks.lock !== undefined) points.push({ at: marks.lock, kind: 'lock' });
  if (marks.approval !== undefined) points.push({ at: marks.approval, kind: 'approval' });
  // After the decision: back to its lock line if it stood in one, else the queue, until it starts.
  if (marks.decided !== undefined) points.push({ at: marks.decided, kind: marks.lock !== undefined ? 'lock' : 'queue' });
  // A worker that picks a call up before asking for approval starts it again once it is approved.
  if (marks.started !== undefined && (marks.approval === undefined || marks.started > marks.approval)) points.push({ at: marks.started, kind: 'run' });
  points.sort((a, b) => a.at - b.at);
  const end = marks.finished ?? now;
  const segments = [];
  for (let index = 0; index < points.length; index += 1) {
    const from = points[index].at;
    const to = index + 1 < points.length ? points[index + 1].at : end;
    if (to < from) continue;
    segments.push({ kind: points[index].kind, from, to, live: index + 1 === points.length && marks.finished === undefined });
  }
  return segments;
}
