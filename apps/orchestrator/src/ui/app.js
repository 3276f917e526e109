import { readSse } from './sse.js';
import { applyEvent, applyPendingApproval, createTimeline, findCall, isPending, segmentsOf } from './timeline.js';

const KEY_STORAGE = 'volley.apiKey';
const LIST_REFRESH_MS = 2000;
const LABEL_OF = { queue: 'queue wait', lock: 'lock wait', approval: 'approval wait', run: 'run' };
const ENDED = new Set(['completed', 'failed', 'cancelled']);

const view = document.getElementById('view');
const keyForm = document.getElementById('key-form');
const forgetKey = document.getElementById('forget-key');
/** Whatever the current view runs (timers, streams): stopped when the view changes. */
let stopView = () => {};

// ——— the API key: asked once, kept in this tab ———

const storedKey = () => sessionStorage.getItem(KEY_STORAGE);

class Unauthorized extends Error {}

/** Every call to the API: the key as a Bearer token when there is one; a 401 asks for it. */
async function api(path, init = {}) {
  const key = storedKey();
  const headers = { ...(init.headers ?? {}), ...(key ? { authorization: `Bearer ${key}` } : {}) };
  const response = await fetch(path, { ...init, headers, cache: 'no-store' });
  if (response.status === 401) {
    askForKey(key ? 'That key was refused.' : '');
    throw new Unauthorized('unauthorized');
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

function askForKey(message) {
  stopView();
  if (storedKey()) sessionStorage.removeItem(KEY_STORAGE);
  view.replaceChildren();
  keyForm.hidden = false;
  forgetKey.hidden = true;
  document.getElementById('key-error').textContent = message;
  document.getElementById('key-input').focus();
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('key-input');
  sessionStorage.setItem(KEY_STORAGE, input.value.trim());
  input.value = '';
  keyForm.hidden = true;
  route();
});

forgetKey.addEventListener('click', () => askForKey(''));

// ——— small DOM helpers ———

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'testid') node.dataset.testid = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.filter((child) => child !== undefined && child !== null));
  return node;
}

const clip = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
const time = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
const duration = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const statusChip = (status, testid) => el('span', { class: `status status-${status}`, testid }, status ?? '…');

function showError(container, error) {
  if (error instanceof Unauthorized) return;
  container.replaceChildren(el('p', { class: 'error', testid: 'error' }, String(error.message ?? error)));
}

// ——— routing: #/ is the list, #/tasks/<id> a task ———

function route() {
  stopView();
  stopView = () => {};
  keyForm.hidden = true;
  forgetKey.hidden = !storedKey();
  const match = /^#\/tasks\/([^/]+)$/.exec(location.hash);
  if (match) stopView = showTask(decodeURIComponent(match[1]));
  else stopView = showList();
}

window.addEventListener('hashchange', route);

// ——— the list of the tenant's tasks ———

function showList() {
  let stopped = false;
  let timer;
  const body = el('tbody', { testid: 'task-rows' });
  const note = el('p', { class: 'note' });
  view.replaceChildren(
    el('h1', {}, 'Tasks'),
    el(
      'table',
      { class: 'tasks', testid: 'task-list' },
      el('thead', {}, el('tr', {}, ...['Task', 'Status', 'Created', 'Model', 'Metadata'].map((name) => el('th', {}, name)))),
      body,
    ),
    note,
  );
  const refresh = async () => {
    try {
      const { tasks } = await api('/v1/tasks?limit=50');
      if (stopped) return;
      body.replaceChildren(
        ...tasks.map((task) =>
          el(
            'tr',
            { testid: 'task-row', 'data-task-id': task.id, onclick: () => (location.hash = `#/tasks/${encodeURIComponent(task.id)}`) },
            el('td', {}, el('a', { href: `#/tasks/${encodeURIComponent(task.id)}`, class: 'mono' }, task.id)),
            el('td', {}, statusChip(task.status)),
            el('td', {}, time(task.created_at)),
            el('td', {}, task.model ?? ''),
            el('td', {}, ...Object.entries(task.metadata ?? {}).map(([key, value]) => el('span', { class: 'chip' }, `${key}=${value}`))),
          ),
        ),
      );
      note.textContent = tasks.length === 0 ? 'No tasks yet.' : `Newest first; refreshed ${new Date().toLocaleTimeString()}.`;
      forgetKey.hidden = !storedKey();
    } catch (error) {
      if (!stopped) showError(note, error);
      if (error instanceof Unauthorized) return;
    }
    if (!stopped) timer = setTimeout(refresh, LIST_REFRESH_MS);
  };
  void refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// ——— one task: a live waterfall ———

function showTask(id) {
  const controller = new AbortController();
  const timeline = createTimeline();
  /** Client clock minus server clock, at least: the smallest (receipt − `at`) seen. */
  let skew;
  const serverNow = () => Date.now() - (skew ?? 0);
  let lastEventId;
  let task;
  let frame = 0;
  let ticker;

  const status = statusChip(undefined, 'task-status');
  const summary = el('p', { class: 'note', testid: 'task-summary' });
  const axis = el('div', { class: 'axis', testid: 'axis' });
  const rows = el('div', { class: 'rows', testid: 'waterfall' });
  const message = el('p', { class: 'note' });
  view.replaceChildren(
    el('p', {}, el('a', { href: '#/' }, '← Tasks')),
    el('h1', {}, 'Task ', el('span', { class: 'mono', testid: 'task-id' }, id), ' ', status),
    summary,
    el(
      'div',
      { class: 'legend' },
      ...['llm', 'queue', 'lock', 'approval', 'run', 'failed'].map((kind) =>
        el(
          'span',
          { class: 'legend-item' },
          el('i', { class: `seg seg-${kind}` }),
          kind === 'llm' ? 'model call' : kind === 'failed' ? 'failed run' : LABEL_OF[kind],
        ),
      ),
    ),
    el('div', { class: 'waterfall' }, el('div', { class: 'row axis-row' }, el('div', { class: 'label' }), axis), rows),
    message,
  );

  const rowsById = new Map();
  const schedule = () => {
    if (!frame)
      frame = requestAnimationFrame(() => {
        frame = 0;
        render();
      });
  };

  function rowFor(key, make) {
    let row = rowsById.get(key);
    if (!row) {
      row = make();
      rowsById.set(key, row);
    }
    return row;
  }

  function llmRow(turn) {
    return rowFor(`llm:${turn.index}`, () => {
      const label = el('div', { class: 'label' }, el('b', {}, `turn ${turn.index}`), ' model');
      const track = el('div', { class: 'track' });
      return { node: el('div', { class: 'row row-llm', testid: 'llm-row', 'data-turn': turn.index }, label, track), track, label };
    });
  }

  function callRow(call) {
    return rowFor(`call:${call.id}`, () => {
      const name = el('span', { class: 'tool' }, call.name ?? '?');
      const worker = el('span', { class: 'worker', testid: 'worker' });
      const decision = el('span', { class: 'decision', testid: 'decision' });
      const actions = el('span', { class: 'actions' });
      const label = el('div', { class: 'label' }, name, ' ', worker, ' ', decision, actions);
      const track = el('div', { class: 'track' });
      const node = el('div', { class: 'row row-call', testid: 'call-row', 'data-call-id': call.id }, label, track);
      return { node, track, name, worker, decision, actions, buttons: false };
    });
  }

  function renderActions(row, call) {
    const pending = isPending(call) && !ENDED.has(timeline.status);
    if (pending === row.buttons) return;
    row.buttons = pending;
    if (!pending) {
      row.actions.replaceChildren();
      return;
    }
    const reason = el('input', { type: 'text', class: 'reason', placeholder: 'reason (optional)', testid: 'deny-reason', hidden: true });
    const confirm = el(
      'button',
      { type: 'button', class: 'deny', testid: 'deny-confirm', hidden: true, onclick: () => decide(call.id, false, reason.value.trim()) },
      'Deny call',
    );
    row.actions.replaceChildren(
      el('button', { type: 'button', class: 'approve', testid: 'approve', 'data-call-id': call.id, onclick: () => decide(call.id, true) }, 'Approve'),
      el(
        'button',
        {
          type: 'button',
          class: 'deny',
          testid: 'deny',
          'data-call-id': call.id,
          onclick: (event) => {
            event.currentTarget.hidden = true;
            reason.hidden = false;
            confirm.hidden = false;
            reason.focus();
          },
        },
        'Deny',
      ),
      reason,
      confirm,
    );
  }

  async function decide(toolCallId, approve, reason) {
    const row = rowsById.get(`call:${toolCallId}`);
    for (const button of row?.actions.querySelectorAll('button') ?? []) button.disabled = true;
    try {
      const decision = { tool_call_id: toolCallId, approve, ...(approve || !reason ? {} : { reason }) };
      const answer = await api(`/v1/tasks/${encodeURIComponent(id)}/approvals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decisions: [decision] }),
      });
      // The event follows on the stream; the answer shows the decision at once.
      const call = findCall(timeline, toolCallId);
      if (call?.approval && call.approval.decidedAt === undefined) {
        Object.assign(call.approval, { decidedAt: answer.decisions[0].decided_at, approve, by: 'person', reason: decision.reason });
        call.marks.decided = call.approval.decidedAt;
        call.status = approve ? 'queued' : 'failed';
      }
      schedule();
    } catch (error) {
      for (const button of row?.actions.querySelectorAll('button') ?? []) button.disabled = false;
      showError(message, error);
    }
  }

  function render() {
    const now = timeline.finished ? timeline.lastAt : serverNow();
    const start = task?.created_at ? Math.min(task.created_at, timeline.firstAt ?? task.created_at) : timeline.firstAt;
    const end = Math.max(now ?? 0, timeline.lastAt ?? 0, (start ?? 0) + 1);
    const waiting = !timeline.finished && [...timeline.turns.values()].some((turn) => [...turn.calls.values()].some(isPending));
    // The stream says running; a task with a call waiting for a person is awaiting_approval, as GET shows it.
    status.textContent = waiting ? 'awaiting_approval' : (timeline.status ?? task?.status ?? '…');
    status.className = `status status-${status.textContent}`;
    if (start === undefined) return;
    const span = end - start;
    const place = (node, from, to) => {
      node.style.left = `${((from - start) / span) * 100}%`;
      node.style.width = `${Math.max(((to - from) / span) * 100, 0.15)}%`;
    };
    renderAxis(axis, span);
    const order = [];
    for (const turn of [...timeline.turns.values()].sort((a, b) => a.index - b.index)) {
      if (turn.llm) {
        const row = llmRow(turn);
        const to = turn.llm.finishedAt ?? now;
        const bar = el('div', {
          class: `seg seg-llm${turn.llm.error ? ' seg-failed' : ''}${turn.llm.finishedAt ? '' : ' live'}`,
          testid: 'llm-bar',
          'data-turn': turn.index,
          title: `model call: ${duration(to - turn.llm.startedAt)}`,
        });
        place(bar, turn.llm.startedAt, to);
        row.track.replaceChildren(bar, el('span', { class: 'bar-note' }, duration(to - turn.llm.startedAt)));
        row.track.lastChild.style.left = `calc(${((to - start) / span) * 100}% + 4px)`;
        order.push(row.node);
      }
      for (const call of [...turn.calls.values()].sort((a, b) => a.index - b.index)) {
        const row = callRow(call);
        row.name.textContent = call.name ?? '?';
        row.worker.textContent = call.workerId ?? '';
        row.node.dataset.status = call.status;
        const approval = call.approval;
        row.decision.textContent = !approval
          ? ''
          : approval.decidedAt === undefined
            ? 'awaiting approval'
            : approval.approve
              ? `approved${approval.by === 'timeout' ? '' : ''}`
              : `denied${approval.reason ? `: ${approval.reason}` : ''}`;
        row.decision.className = `decision${approval?.decidedAt === undefined ? ' pending' : approval.approve ? ' approved' : ' denied'}`;
        renderActions(row, call);
        const segments = segmentsOf(call, now).map((segment) => {
          const failed = segment.kind === 'run' && call.status === 'failed';
          const bar = el('div', {
            class: `seg seg-${segment.kind}${failed ? ' seg-failed' : ''}${segment.live ? ' live' : ''}`,
            testid: `seg-${segment.kind}`,
            'data-call-id': call.id,
            title: `${LABEL_OF[segment.kind]}: ${duration(segment.to - segment.from)}${segment.kind === 'run' && call.workerId ? ` on ${call.workerId}` : ''}${call.error ? ` (${call.error})` : ''}`,
          });
          place(bar, segment.from, segment.to);
          return bar;
        });
        const last = segments.length ? segmentsOf(call, now).at(-1).to : undefined;
        const note = el(
          'span',
          { class: 'bar-note' },
          `${call.status}${call.marks.finished && call.marks.started ? ` · ${duration(call.marks.finished - call.marks.started)}` : ''}${call.error ? ` · ${call.error}` : ''}`,
        );
        if (last !== undefined) note.style.left = `calc(${((last - start) / span) * 100}% + 4px)`;
        row.track.replaceChildren(...segments, note);
        order.push(row.node);
      }
    }
    if (rows.children.length !== order.length || order.some((node, index) => rows.children[index] !== node)) rows.replaceChildren(...order);
    const calls = [...timeline.turns.values()].reduce((sum, turn) => sum + turn.calls.size, 0);
    summary.textContent = `${task?.model ?? ''} · created ${time(task?.created_at)} · ${timeline.turns.size} turn(s), ${calls} call(s) · ${duration(span)}${task?.output && timeline.finished ? ` · answer: ${clip(task.output, 140)}` : ''}`;
  }

  async function loadTask() {
    task = await api(`/v1/tasks/${encodeURIComponent(id)}`);
    const turnIndex = Math.max(0, (task.turns?.length ?? 1) - 1);
    for (const pending of task.pending_approvals ?? []) applyPendingApproval(timeline, pending, turnIndex);
    if (timeline.status === undefined || ENDED.has(task.status)) timeline.status ??= task.status;
    schedule();
  }

  async function follow() {
    let backoff = 250;
    while (!controller.signal.aborted && !timeline.finished) {
      try {
        await readSse(`/v1/tasks/${encodeURIComponent(id)}/events`, {
          headers: { ...(storedKey() ? { authorization: `Bearer ${storedKey()}` } : {}), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
          signal: controller.signal,
          onEvent: (event) => {
            if (event.id) lastEventId = event.id;
            const data = JSON.parse(event.data);
            if (typeof data.at === 'number') skew = Math.min(skew ?? Infinity, Date.now() - data.at);
            applyEvent(timeline, event.event, data);
            if (event.event === 'task.finished') void loadTask().catch(() => {});
            schedule();
          },
        });
        backoff = 250;
        // The stream ended without task.finished (a restart): resume after the last event.
        if (!timeline.finished && !controller.signal.aborted) await new Promise((resolve) => setTimeout(resolve, backoff));
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error.status === 401) return askForKey('That key was refused.');
        if (error.status === 404) return showError(message, new Error("No such task (or not this tenant's)."));
        message.textContent = `Event stream interrupted (${error.message}); reconnecting…`;
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    message.textContent = '';
  }

  loadTask().then(
    () => follow(),
    (error) => showError(message, error),
  );
  // Bars of what is still going grow with the clock.
  ticker = setInterval(() => {
    if (!timeline.finished) schedule();
  }, 100);
  return () => {
    controller.abort();
    clearInterval(ticker);
    cancelAnimationFrame(frame);
  };
}

function renderAxis(axis, span) {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
  const step = steps.find((candidate) => span / candidate <= 8) ?? 3_600_000;
  const ticks = [];
  for (let at = 0; at <= span; at += step) {
    const tick = el('span', { class: 'tick' }, duration(at));
    tick.style.left = `${(at / span) * 100}%`;
    ticks.push(tick);
  }
  axis.replaceChildren(...ticks);
}

route();
