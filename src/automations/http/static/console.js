// The web console: plain ES module, no build step, no dependency.
//
// Safety: text from the database (titles, prompts, questions, options, results) is only
// ever inserted with text nodes (`el()` below and `textContent`), never as HTML, so a
// title with markup stays text; control and bidi characters are shown as U+FFFD.
//
// Freshness: the list is read once (its `X-Event-Seq` header is the journal position
// it reflects), then the event stream from that position keeps everything current.
// Without a token that stream is an EventSource, which reconnects by itself with
// `Last-Event-ID`; with a token (EventSource cannot send headers) it is read with
// fetch() and parsed here, reconnecting the same way.

"use strict";

const TOKEN_KEY = "automations.token";
const EXECUTOR_KEY = "automations.executor";
const PAGE = 20;
const PREVIEW_DELAY = 250;
const RECONNECT_DELAY = 1000;

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const when = new Intl.DateTimeFormat(undefined, {
  weekday: "short", year: "numeric", month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit",
});
const whenSeconds = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  automations: new Map(), // id -> automation (the newest revision seen)
  rows: new Map(), // id -> {article, head, ledger}
  ledgers: new Map(), // id -> {open, runs: Map(runId -> run), order: [runId], cursor, loaded}
  lastRun: new Map(), // automation id -> newest run seen
  waiting: new Map(), // runId -> run awaiting input
  waitingCards: new Map(), // runId -> {li, blockerId}
  runRevisions: new Map(), // runId -> the newest revision seen
  deleted: new Set(), // automation ids whose tombstone was seen
  stream: null,
  lastEventId: null,
  generation: 0,
};

// ---------------------------------------------------------------- DOM helpers

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text from the database, made safe to show: control and bidi characters are visible. */
function clean(value) {
  return String(value ?? "").replace(CONTROL, "\uFFFD");
}

/** An element; `props` are DOM properties (never innerHTML); strings become text nodes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [name, fn] of Object.entries(value)) node.addEventListener(name, fn);
    else if (key === "innerHTML") throw new Error("no innerHTML");
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(clean(child)));
  }
  return node;
}

function fmt(ms) {
  return ms === null || ms === undefined ? "—" : when.format(new Date(ms));
}

function fmtShort(ms) {
  return ms === null || ms === undefined ? "—" : whenSeconds.format(new Date(ms));
}

// ---------------------------------------------------------------- HTTP

class HttpError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : (body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (state.token) h.Authorization = `Bearer ${state.token}`;
  return h;
}

async function api(method, path, body, extraHeaders = {}) {
  const init = { method, headers: headers(extraHeaders), cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401) {
    askForToken(state.token ? "That token was refused." : "");
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return { data, response };
}

function showProblem(message) {
  const p = $("problem");
  p.textContent = message || "";
  p.hidden = !message;
}

// ---------------------------------------------------------------- token

function askForToken(message) {
  closeStream();
  $("console").hidden = true;
  $("token-form").hidden = false;
  $("token-error").textContent = message;
  setLive("off", "needs a token");
  $("token").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  $("token-form").hidden = true;
  start();
});

// ---------------------------------------------------------------- schedule in words

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const pad = (n) => String(n).padStart(2, "0");
const isNum = (s) => /^\d+$/.test(s);

function duration(ms) {
  const units = [["day", 86400000], ["hour", 3600000], ["minute", 60000], ["second", 1000]];
  const parts = [];
  let rest = ms;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
      rest -= n * size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest} ms`);
  if (parts.length === 1 && parts[0].startsWith("1 ")) return parts[0].slice(2);
  return parts.join(" ");
}

function cronWords(expression) {
  const f = expression.trim().split(/\s+/);
  if (f.length !== 5) return null;
  const [min, hour, dom, mon, dow] = f;
  const anyDay = dom === "*" && mon === "*";
  if (f.every((x) => x === "*")) return "every minute";
  const step = /^\*\/(\d+)$/;
  if (step.test(min) && hour === "*" && anyDay && dow === "*") return `every ${min.match(step)[1]} minutes`;
  if (isNum(min) && hour === "*" && anyDay && dow === "*") return `every hour at minute ${Number(min)}`;
  if (isNum(min) && step.test(hour) && anyDay && dow === "*") {
    return `every ${hour.match(step)[1]} hours at minute ${Number(min)}`;
  }
  if (!isNum(min) || !isNum(hour)) return null;
  const at = `at ${pad(hour)}:${pad(min)}`;
  if (anyDay && dow === "*") return `every day ${at}`;
  if (anyDay && (dow === "1-5" || dow === "MON-FRI")) return `on weekdays ${at}`;
  if (anyDay && (dow === "0,6" || dow === "6,0" || dow === "SAT,SUN")) return `on weekends ${at}`;
  if (anyDay && isNum(dow) && Number(dow) <= 7) return `every ${DAYS[Number(dow)]} ${at}`;
  if (isNum(dom) && mon === "*" && dow === "*") return `on day ${Number(dom)} of every month ${at}`;
  return null;
}

function scheduleWords(a) {
  const s = a.schedule;
  if (!s) return `once, ${fmt(a.fireAt)} (your time)`;
  if (s.type === "interval") {
    const start = s.start ? `, from ${fmt(s.start)}` : "";
    return `every ${duration(s.every)}${start}`;
  }
  if (s.type === "cron") {
    const words = cronWords(s.expression);
    return words ? `${words} (${a.timezone})` : `cron “${s.expression}” (${a.timezone})`;
  }
  return s.type;
}

// ---------------------------------------------------------------- automations

function upsertAutomation(a) {
  const known = state.automations.get(a.id);
  if (state.deleted.has(a.id) || (known && known.revision > a.revision)) return;
  state.automations.set(a.id, a);
  renderAutomation(a);
}

function removeAutomation(id, deleted = true) {
  if (deleted) state.deleted.add(id);
  state.automations.delete(id);
  const row = state.rows.get(id);
  if (row) row.article.remove();
  state.rows.delete(id);
  state.ledgers.delete(id);
  for (const [runId, run] of state.waiting) {
    if (run.automationId === id) setWaiting(run, false);
  }
  renderCounts();
}

function renderCounts() {
  const n = state.automations.size;
  $("automation-count").textContent = n ? String(n) : "";
  $("empty").hidden = n > 0;
}

function button(label, onClick, className = "") {
  return el("button", { type: "button", className, on: { click: onClick } }, label);
}

/** Run `action` with `btn` disabled; a refusal is shown on the automation. */
async function act(btn, action, where) {
  btn.disabled = true;
  try {
    await action();
    if (where) where.textContent = "";
  } catch (error) {
    if (where) where.textContent = describe(error);
  } finally {
    btn.disabled = false;
  }
}

function describe(error) {
  if (error instanceof HttpError) {
    if (error.body && Array.isArray(error.body.details)) {
      return error.body.details.map((d) => `${d.field}: ${d.message}`).join("; ");
    }
    return `${error.body?.error ?? "error"} (HTTP ${error.status})`;
  }
  return String(error.message || error);
}

/** The card of an automation: built once, then updated in place, so that a button
 * under the pointer, an open prompt or a message survives the events that follow. */
function renderAutomation(a) {
  let row = state.rows.get(a.id);
  if (!row) {
    row = automationCard(a.id);
    state.rows.set(a.id, row);
    $("automations").prepend(row.article);
  }
  const last = state.lastRun.get(a.id);
  const fires = (a.nextFires || []).slice(0, 3);
  row.article.classList.toggle("paused", a.paused);
  setText(row.title, a.title);
  row.pausedPill.hidden = !a.paused;
  setText(row.schedule, scheduleWords(a));
  setText(row.next, a.paused ? "— (paused)" : fires.length ? fires.map(fmt).join(" · ") : "—");
  row.last.replaceChildren(...(last
    ? [runBadge(last), document.createTextNode(` ${fmtShort(last.triggeredAt)}`)]
    : [document.createTextNode("none yet")]));
  setText(row.executor, a.executor);
  setText(row.prompt, a.prompt);
  setText(row.pause, a.paused ? "Resume" : "Pause");
  const open = Boolean(state.ledgers.get(a.id)?.open);
  setText(row.runs, open ? "Hide runs" : "Runs");
  row.runs.setAttribute("aria-expanded", String(open));
  renderCounts();
}

function setText(node, value) {
  node.textContent = clean(value);
}

function automationCard(id) {
  const message = el("p", { className: "error action-error", role: "alert" });
  const path = `automation/${enc(id)}`;
  const run = button("Run now", (e) => act(e.currentTarget, async () => {
    const { data } = await api("POST", `${path}/run`);
    if (data && data.id) upsertRun(data);
  }, message), "primary");
  const pause = button("Pause", (e) => act(e.currentTarget, async () => {
    const paused = state.automations.get(id)?.paused;
    const { data } = await api("POST", `${path}/${paused ? "resume" : "pause"}`);
    if (data && data.id) upsertAutomation(data);
  }, message));
  const runs = button("Runs", () => toggleLedger(id));
  const remove = button("Delete", (e) => {
    const btn = e.currentTarget;
    if (btn.dataset.armed !== "yes") { // two clicks, no blocking dialog
      btn.dataset.armed = "yes";
      btn.textContent = "Really delete?";
      btn.classList.add("danger");
      setTimeout(() => {
        btn.dataset.armed = "";
        btn.textContent = "Delete";
        btn.classList.remove("danger");
      }, 4000);
      return;
    }
    act(btn, async () => {
      await api("DELETE", path);
      removeAutomation(id);
    }, message);
  });
  const row = {
    title: el("h3", { className: "title" }),
    pausedPill: el("span", { className: "pill pill-paused", hidden: true }, "paused"),
    schedule: el("p", { className: "schedule" }),
    next: el("dd", { className: "next" }),
    last: el("dd", { className: "last-run" }),
    executor: el("dd", { className: "executor" }),
    prompt: el("p", {}),
    pause,
    runs,
    ledger: el("div", { className: "ledger", hidden: true }),
  };
  row.article = el("article", { className: "card automation", dataset: { id } },
    el("div", { className: "title-line" }, row.title, row.pausedPill),
    row.schedule,
    el("dl", { className: "facts" },
      el("dt", {}, "next"), row.next,
      el("dt", {}, "last run"), row.last,
      el("dt", {}, "executor"), row.executor),
    el("details", { className: "prompt" }, el("summary", {}, "prompt"), row.prompt),
    el("div", { className: "actions" }, run, pause, runs, remove),
    message,
    row.ledger);
  return row;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- runs and ledger

function runBadge(run) {
  return el("span", { className: `state state-${run.state}` }, run.state.replace("_", " "));
}

function runSummary(run) {
  if (run.error) return `${run.error.code}: ${run.error.message}`;
  if (run.stopReason) return run.stopReason.replaceAll("_", " ");
  if (run.state === "awaiting_input" && run.blocker) {
    const r = run.blocker.request;
    return r.type === "question" ? `asks: ${r.text}` : `asks to use ${r.tool}`;
  }
  return run.result ?? "";
}

const ACTIVE = new Set(["scheduled", "running", "awaiting_input"]);
const isActive = (run) => ACTIVE.has(run.state);

/** Cancel a run (`POST /automation/runs/{runId}/cancel`); its end arrives as an event. */
function cancelButton(run, where) {
  return button("Cancel run", (e) => act(e.currentTarget, async () => {
    const { data } = await api("POST", `automation/runs/${enc(run.id)}/cancel`);
    if (data && data.id) upsertRun(data);
  }, where), "cancel");
}

function upsertRun(run) {
  // Replies and events race (a run-now reply may land after the stream's newer
  // revision): an older revision of a run never undoes a newer one.
  const seen = state.runRevisions.get(run.id);
  if (seen !== undefined && seen > run.revision) return;
  state.runRevisions.set(run.id, run.revision);
  const last = state.lastRun.get(run.automationId);
  const newest = !last
    || (last.id === run.id ? last.revision <= run.revision : last.triggeredAt <= run.triggeredAt);
  if (newest) {
    state.lastRun.set(run.automationId, run);
    const a = state.automations.get(run.automationId);
    if (a) renderAutomation(a);
  }
  const ledger = state.ledgers.get(run.automationId);
  if (ledger) { // kept while its first page loads too: that page may be older
    const known = ledger.runs.get(run.id);
    if (!known || known.revision <= run.revision) {
      ledger.runs.set(run.id, run);
      if (!known && !ledger.loaded) ledger.arrived.push(run.id);
      if (!known && ledger.loaded) ledger.order.unshift(run.id); // a new run is the newest
      if (ledger.loaded) renderLedger(run.automationId);
    }
  }
  setWaiting(run, run.state === "awaiting_input" && run.blocker !== null && run.blocker !== undefined);
}

async function toggleLedger(id) {
  let ledger = state.ledgers.get(id);
  if (!ledger) {
    ledger = { open: false, runs: new Map(), order: [], arrived: [], cursor: null, loaded: false };
    state.ledgers.set(id, ledger);
  }
  ledger.open = !ledger.open;
  const a = state.automations.get(id);
  if (a) renderAutomation(a);
  if (ledger.open && !ledger.loaded) await loadRuns(id, null);
  renderLedger(id);
}

async function loadRuns(id, cursor) {
  const ledger = state.ledgers.get(id);
  const query = `limit=${PAGE}` + (cursor ? `&cursor=${enc(cursor)}` : "");
  try {
    const { data } = await api("GET", `automation/${enc(id)}/runs?${query}`);
    if (!cursor) ledger.order = [];
    for (const run of data.items) {
      const known = ledger.runs.get(run.id);
      if (!ledger.order.includes(run.id)) ledger.order.push(run.id);
      if (!known || known.revision <= run.revision) ledger.runs.set(run.id, run);
    }
    if (!cursor) { // runs that arrived on the stream after the page was read are newer
      const listed = new Set(ledger.order);
      const newer = ledger.arrived.filter((runId) => !listed.has(runId)).reverse();
      ledger.order.unshift(...newer);
    }
    ledger.arrived = [];
    ledger.cursor = data.nextCursor;
    ledger.loaded = true;
    ledger.error = "";
  } catch (error) {
    ledger.error = describe(error);
  }
}

function renderLedger(id) {
  const row = state.rows.get(id);
  const ledger = state.ledgers.get(id);
  if (!row || !ledger) return;
  row.ledger.hidden = !ledger.open;
  if (!ledger.open) return;
  const body = el("tbody", {});
  for (const runId of ledger.order) {
    const run = ledger.runs.get(runId);
    body.append(el("tr", { dataset: { run: run.id, state: run.state } },
      el("td", {}, runBadge(run)),
      el("td", {}, run.trigger),
      el("td", {}, fmtShort(run.triggeredAt)),
      el("td", {}, run.completedAt ? fmtShort(run.completedAt) : ""),
      el("td", { className: "summary" }, runSummary(run)),
      el("td", {}, isActive(run) ? cancelButton(run, row.ledger) : null),
    ));
  }
  const more = ledger.cursor
    ? button("Older runs", (e) => act(e.currentTarget, async () => {
      await loadRuns(id, ledger.cursor);
      renderLedger(id);
    }), "more")
    : null;
  row.ledger.replaceChildren(...[
    ledger.order.length
      ? el("table", { className: "runs" },
        el("thead", {}, el("tr", {},
          el("th", {}, "state"), el("th", {}, "trigger"), el("th", {}, "triggered"),
          el("th", {}, "ended"), el("th", {}, "result"), el("th", {}, ""))),
        body)
      : el("p", { className: "muted" }, ledger.loaded ? "No runs yet." : "loading…"),
    more,
    ledger.error ? el("p", { className: "error" }, ledger.error) : null,
  ].filter((node) => node !== null)); // replaceChildren would write "null"
}

// ---------------------------------------------------------------- waiting on a person

function setWaiting(run, waiting) {
  const card = state.waitingCards.get(run.id);
  if (!waiting) {
    state.waiting.delete(run.id);
    if (card) card.li.remove();
    state.waitingCards.delete(run.id);
  } else {
    const known = state.waiting.get(run.id);
    if (known && known.revision > run.revision) return;
    state.waiting.set(run.id, run);
    if (!card || card.blockerId !== run.blocker.id) {
      const li = waitingCard(run);
      if (card) card.li.replaceWith(li);
      else $("waiting").prepend(li);
      state.waitingCards.set(run.id, { li, blockerId: run.blocker.id });
    }
  }
  const n = state.waiting.size;
  $("waiting-section").hidden = n === 0;
  $("waiting-count").textContent = n ? String(n) : "";
}

function waitingCard(run) {
  const blocker = run.blocker;
  const request = blocker.request;
  const a = state.automations.get(run.automationId);
  const message = el("p", { className: "error", role: "alert" });
  const answer = (reply) => async (event) => {
    const controls = li.querySelectorAll("button, input");
    controls.forEach((c) => { c.disabled = true; });
    try {
      const { data } = await api("POST", `automation/runs/${enc(run.id)}/answer`, { blockerId: blocker.id, reply: reply() });
      message.textContent = "";
      if (data && data.id) upsertRun(data);
    } catch (error) {
      message.textContent = describe(error);
      controls.forEach((c) => { c.disabled = false; });
    }
    event?.preventDefault?.();
  };
  let controls;
  let asked;
  if (request.type === "question") {
    asked = el("p", { className: "question" }, request.text);
    if (request.options && request.options.length) {
      controls = el("div", { className: "options" },
        request.options.map((option) => button(option, answer(() => option), "option")));
    } else {
      const input = el("input", { type: "text", className: "reply", required: true, ariaLabel: "your answer" });
      controls = el("form", { className: "text-answer", on: { submit: (e) => { e.preventDefault(); if (input.value.trim()) answer(() => input.value)(e); } } },
        input, el("button", { type: "submit", className: "primary" }, "Send"));
    }
  } else {
    asked = el("p", { className: "question" }, "May it use ", el("code", {}, request.tool), "?",
      request.detail ? el("span", { className: "muted detail" }, ` ${request.detail}`) : null);
    controls = el("div", { className: "options" },
      button("Allow", answer(() => true), "allow"),
      button("Deny", answer(() => false), "deny"));
  }
  const li = el("li", { className: "card waiting-run", dataset: { run: run.id, blocker: blocker.id } },
    el("div", { className: "waiting-head" },
      el("strong", { className: "automation-title" }, a ? a.title : run.automationId),
      el("span", { className: "muted" }, ` ${request.type} · asked ${fmtShort(blocker.askedAt)}`)),
    asked, controls,
    el("div", { className: "cancel-line" }, cancelButton(run, message)),
    message);
  return li;
}

// ---------------------------------------------------------------- event stream

function setLive(kind, text) {
  const live = $("live");
  live.className = `pill pill-${kind}`;
  live.textContent = text;
}

function onEvent(name, data, id) {
  if (id) state.lastEventId = id;
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  if (name === "automation.definition.updated") upsertAutomation(event.automation);
  else if (name === "automation.definition.deleted") removeAutomation(event.tombstone.id);
  else if (name === "automation.run.updated") upsertRun(event.run);
}

const NAMES = ["automation.definition.updated", "automation.definition.deleted", "automation.run.updated"];

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

function openStream(since) {
  closeStream();
  const url = `automation/events?since=${enc(since)}`;
  state.stream = state.token ? fetchStream(url, since) : eventSource(url);
}

function eventSource(url) {
  const source = new EventSource(url);
  source.onopen = () => setLive("on", "live");
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) { // refused: start over in a while
      setLive("off", "offline, retrying…");
      setTimeout(() => { if (state.stream === source) start(); }, RECONNECT_DELAY * 3);
    } else {
      setLive("off", "reconnecting…"); // the browser retries with Last-Event-ID
    }
  };
  for (const name of NAMES) source.addEventListener(name, (e) => onEvent(name, e.data, e.lastEventId));
  return source;
}

/** An event stream read with fetch(), for a server that needs a token. */
function fetchStream(url, since) {
  const controller = new AbortController();
  const handle = { close: () => controller.abort() };
  let retry = RECONNECT_DELAY;
  let lastId = String(since);
  const connect = async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(url, {
          headers: { ...headers({ Accept: "text/event-stream" }), "Last-Event-ID": lastId },
          signal: controller.signal,
          cache: "no-store",
        });
        if (response.status === 401) {
          askForToken("That token was refused.");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        setLive("on", "live");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        let fields = { event: "message", data: [], id: null };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let nl;
          while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
            if (line === "") { // dispatch
              if (fields.id !== null) lastId = fields.id;
              if (fields.data.length) onEvent(fields.event, fields.data.join("\n"), fields.id ?? lastId);
              fields = { event: "message", data: [], id: null };
              continue;
            }
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let text = colon < 0 ? "" : line.slice(colon + 1);
            if (text.startsWith(" ")) text = text.slice(1);
            if (field === "event") fields.event = text;
            else if (field === "data") fields.data.push(text);
            else if (field === "id") fields.id = text;
            else if (field === "retry" && /^\d+$/.test(text)) retry = Number(text);
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      setLive("off", "reconnecting…");
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
  };
  connect();
  return handle;
}

// ---------------------------------------------------------------- loading

async function start() {
  const generation = ++state.generation;
  closeStream();
  showProblem("");
  let list;
  let seq;
  try {
    const { data, response } = await api("GET", "automation");
    list = data;
    seq = response.headers.get("X-Event-Seq") ?? "0";
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) {
      showProblem(`Could not list automations: ${describe(error)}. Retrying…`);
      setLive("off", "offline");
      setTimeout(() => { if (generation === state.generation) start(); }, RECONNECT_DELAY * 3);
    }
    return;
  }
  if (generation !== state.generation) return;
  $("token-form").hidden = true;
  $("console").hidden = false;
  for (const id of [...state.automations.keys()]) {
    if (!list.some((a) => a.id === id)) removeAutomation(id, false);
  }
  for (const a of [...list].reverse()) upsertAutomation(a); // prepend: newest ends on top
  renderCounts();
  openStream(seq);
  schedulePreview(); // it may have been refused before a token was given
  for (const [id, ledger] of state.ledgers) { // read again: events may have been missed
    ledger.loaded = false;
    ledger.arrived = [];
    if (ledger.open) loadRuns(id, null).then(() => renderLedger(id));
  }
  // Runs waiting on a person: the newest page of each automation's ledger.
  await Promise.all(list.map(async (a) => {
    try {
      const { data } = await api("GET", `automation/${enc(a.id)}/runs?limit=${PAGE}`);
      for (const run of [...data.items].reverse()) upsertRun(run);
    } catch {
      // shown when the ledger is opened
    }
  }));
}

// ---------------------------------------------------------------- the form

const form = $("create");
const fields = {
  title: $("f-title"), prompt: $("f-prompt"), expression: $("f-expression"), every: $("f-every"),
  unit: $("f-unit"), start: $("f-start"), at: $("f-at"), timezone: $("f-timezone"), executor: $("f-executor"),
};

function kind() {
  return form.querySelector("input[name=kind]:checked").value;
}

function localMs(value) {
  if (!value) return null;
  const ms = new Date(value).getTime(); // datetime-local: the viewer's local time
  return Number.isNaN(ms) ? value : ms;
}

function draft() {
  const k = kind();
  let schedule;
  if (k === "cron") schedule = { type: "cron", expression: fields.expression.value.trim() };
  else if (k === "interval") {
    schedule = { type: "interval", every: Math.round(Number(fields.every.value) * Number(fields.unit.value)) };
    const start = localMs(fields.start.value);
    if (start !== null) schedule.start = start;
  } else schedule = { type: "once", at: localMs(fields.at.value) };
  const body = {
    title: fields.title.value,
    prompt: fields.prompt.value,
    timezone: fields.timezone.value.trim(),
    schedule,
  };
  const executor = fields.executor.value.trim();
  if (executor) body.executor = executor;
  return body;
}

function showFieldErrors(details, only = null) {
  const general = [];
  for (const p of form.querySelectorAll(".field-error")) {
    if (!only || only(p.dataset.field)) p.textContent = "";
  }
  for (const { field, message } of details) {
    if (only && !only(field)) continue;
    const slot = form.querySelector(`.field-error[data-field="${CSS.escape(field)}"]`)
      ?? form.querySelector(`.field-error[data-field="${CSS.escape(field.split(".")[0])}"]`);
    const text = message.replaceAll("_", " ");
    if (slot) slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
    else general.push(`${field}: ${text}`);
  }
  if (!only) $("form-errors").replaceChildren(...general.map((g) => el("li", {}, g)));
}

const scheduleField = (f) => f === "timezone" || f === "schedule" || f.startsWith("schedule.");

let previewTimer = null;
let previewNumber = 0;

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, PREVIEW_DELAY);
}

async function preview() {
  const number = ++previewNumber;
  const body = draft();
  // The preview is about the schedule: stand-ins for what is not typed yet.
  body.title = body.title.trim() ? body.title : "preview";
  body.prompt = body.prompt.trim() ? body.prompt : "preview";
  delete body.executor;
  const list = $("preview");
  const note = $("preview-note");
  try {
    const { data } = await api("POST", "automation/preview", body, { "X-Timezone": viewerZone });
    if (number !== previewNumber) return; // a newer draft was sent meanwhile
    showFieldErrors(data.errors, scheduleField);
    list.replaceChildren(...data.nextFires.slice(0, 5).map((f) =>
      el("li", { dataset: { at: String(f.at) } }, fmt(f.at))));
    note.textContent = data.valid
      ? (data.nextFires.length ? "" : "It would never fire.")
      : "Fix the schedule to see its fires.";
  } catch (error) {
    if (number !== previewNumber) return;
    const details = error instanceof HttpError && Array.isArray(error.body?.details) ? error.body.details : [];
    showFieldErrors(details, scheduleField);
    list.replaceChildren();
    note.textContent = details.length ? "Fix the schedule to see its fires." : describe(error);
  }
}

function showKind() {
  const k = kind();
  for (const box of form.querySelectorAll("[data-kind]")) box.hidden = box.dataset.kind !== k;
}

form.addEventListener("input", schedulePreview);
form.addEventListener("change", (event) => {
  if (event.target.name === "kind") showKind();
  schedulePreview();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const submit = $("create-button");
  submit.disabled = true;
  try {
    const { data } = await api("POST", "automation", draft());
    upsertAutomation(data);
    showFieldErrors([]);
    if (fields.executor.value.trim()) localStorage.setItem(EXECUTOR_KEY, fields.executor.value.trim());
    fields.title.value = "";
    fields.prompt.value = "";
    fields.title.focus();
  } catch (error) {
    if (error instanceof HttpError && Array.isArray(error.body?.details)) showFieldErrors(error.body.details);
    else showFieldErrors([{ field: "$", message: describe(error) }]);
  } finally {
    submit.disabled = false;
  }
});

function setUpForm() {
  $("zone").textContent = `times in ${viewerZone}`;
  fields.timezone.value = viewerZone;
  fields.executor.value = localStorage.getItem(EXECUTOR_KEY) || "demo";
  try {
    const zones = Intl.supportedValuesOf("timeZone");
    $("zones").replaceChildren(...zones.map((z) => el("option", { value: z })));
  } catch {
    // an older browser: free text only
  }
  showKind();
  schedulePreview();
}

setUpForm();
start();
