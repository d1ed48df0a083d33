// wirelab's classroom page: a browser following the teacher's lesson.
//
// The page is served at the class's join code (http://HOST:PORT/CODE) and opens a
// WebSocket to the same path. The protocol is small JSON text messages (see
// simulator/live/classroom.py). The page says two things:
//
//   {"type": "join", "key": "3f9c…", "name": "Ada", "view": true}
//   {"type": "answer", "lesson": "tcp-handshake", "step": 4, "answer": "61"}
//
// and reads these:
//
//   hello / moment   the teacher's moment: lesson, step, packets shown, answers revealed
//   view             what that step shows: narration, ladder, packet, checkpoint (a
//                    document made by the teacher's wirelab: simulator/views/page.py)
//   welcome          your number in the class (and your name)
//   verdict          your answer to a checkpoint, judged, once the teacher reveals it
//   note             a line about your answer ("An empty answer is not counted.")
//
// `key` is made up here once and kept in localStorage, so a reconnection (or a
// reload) is the same student with the same answers. Everything that comes from
// the network goes into the page as text (textContent, createElement): a lesson or
// a name can never add HTML or script to the page.
//
// Every message type received is also pushed to `window.classLog`, for tests and
// for you, in the developer console (where the Network tab shows the frames too).

"use strict";

// --- the page's parts ---------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const ui = {
  lessonTitle: $("lesson-title"),
  connection: $("connection"),
  bar: $("bar"),
  previous: $("previous"),
  next: $("next"),
  back: $("back"),
  main: $("main"),
  stepTitle: $("step-title"),
  narration: $("narration"),
  checkpoint: $("checkpoint"),
  checkpointTitle: $("checkpoint-title"),
  question: $("question"),
  choices: $("choices"),
  answerForm: $("answer-form"),
  answer: $("answer"),
  feedback: $("feedback"),
  tableBox: $("table-box"),
  tableTitle: $("table-title"),
  routes: $("routes"),
  window: $("window"),
  ladderCut: $("ladder-cut"),
  ladder: $("ladder"),
  packetTitle: $("packet-title"),
  packetSummary: $("packet-summary"),
  explain: $("explain"),
  panes: document.querySelector(".packet-panes"),
  fields: $("fields"),
  bytesTitle: $("bytes-title"),
  hex: $("hex"),
  bytesCut: $("bytes-cut"),
  notes: $("notes"),
  nameForm: $("name-form"),
  name: $("name"),
  welcome: $("welcome"),
};

window.classLog = [];

// As wirelab's own follower (simulator/live/classroom.py): a growing pause between
// attempts, then every 5 s, for about ten minutes.
const RECONNECT_DELAYS = [0.2, 0.5, 1, 2, 5];
const RECONNECT_ATTEMPTS = 120;
const POLICY_VIOLATION = 1008; // the teacher's side refused this page: trying again would not help
const MAX_NAME = 32;
const MAX_ANSWER = 200;
const MAX_NOTES = 5;

// --- what the page knows ---------------------------------------------------------------

const state = {
  socket: null,
  failures: 0,
  stopped: false, // refused, or given up: no more reconnections
  connected: false,
  moment: null, // the teacher's latest moment (hello / moment)
  latest: null, // the view of the teacher's latest moment
  views: new Map(), // "lesson step" → the latest view received of that step
  shown: null, // the view on the page
  attached: true, // following the teacher (false: looking around)
  pending: new Map(), // "lesson step" → an answer sent, not yet revealed
  sent: new Map(), // "lesson step" → the answer this student sent
  verdicts: new Map(), // "lesson step" → the verdict on it
  number: null, // this student's number in the class
  lit: null, // [buffer, start, end]: the bytes lit in the hex dump
  ladderTarget: null, // the ladder's row to keep in sight
  momentAt: 0, // performance.now() when it came
  staleTimer: 0,
};

const stepKey = (lesson, step) => `${lesson} ${step}`;

// --- local storage (a private window may refuse it: then it lasts as long as the page) ---

const memory = {};
function stored(name) {
  try {
    return localStorage.getItem(name);
  } catch {
    return memory[name] ?? null;
  }
}
function store(name, value) {
  memory[name] = value;
  try {
    localStorage.setItem(name, value);
  } catch {
    // kept in memory only
  }
}

function studentKey() {
  let key = stored("wirelab.class.key");
  if (!key || !/^[0-9a-f]{16}$/.test(key)) {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    key = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    store("wirelab.class.key", key);
  }
  return key;
}

// One line of plain text, white space made single spaces, at most `limit` characters.
function clean(text, limit) {
  return text.split(/\s+/).filter(Boolean).join(" ").slice(0, limit);
}

// --- small DOM helpers: text only, never HTML ------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function note(text, kind = "note") {
  const item = el("li", `note ${kind}`, text);
  ui.notes.prepend(item);
  while (ui.notes.children.length > MAX_NOTES) ui.notes.lastElementChild.remove();
}

const str = (value) => (typeof value === "string" ? value : "");
const int = (value) => (Number.isInteger(value) ? value : null);
const list = (value) => (Array.isArray(value) ? value : []);
const object = (value) => (value !== null && typeof value === "object" && !Array.isArray(value) ? value : null);

// --- Markdown, as much as the lessons use --------------------------------------------------
// Headings, paragraphs, lists (nested), block quotes, tables, rules, fenced and indented
// preformatted blocks (kept exactly: never re-wrapped), **bold**, *italic*, `code`.

function markdown(text) {
  const fragment = document.createDocumentFragment();
  renderBlocks(fragment, text.replace(/\t/g, "    ").split("\n"));
  return fragment;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const TABLE_DELIMITER = /^ *\|? *:?-+:? *(\| *:?-+:? *)*\|? *$/;
const blank = (line) => /^\s*$/.test(line);

function listMarker(line) {
  const m = /^( {0,3})([-*+]|(\d{1,9})([.)]))( +|$)(.*)$/.exec(line);
  if (!m) return null;
  const ordered = m[3] !== undefined;
  let spaces = m[5].length;
  let content = m[6];
  if (content === "") spaces = 1;
  else if (spaces > 4) {
    content = " ".repeat(spaces - 1) + content; // indented code inside the item
    spaces = 1;
  }
  return {
    ordered,
    start: ordered ? Number(m[3]) : 1,
    delimiter: ordered ? m[4] : m[2],
    indent: m[1].length + m[2].length + spaces,
    content,
    // A list interrupts a paragraph only when it starts with "1." or a bullet, not empty.
    interrupts: content !== "" && (!ordered || m[3] === "1"),
  };
}

// Whether a line starts a block of its own (so it is no paragraph's lazy continuation).
function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || /^ {0,3}>/.test(line) ||
    (listMarker(line)?.interrupts ?? false);
}

function renderBlocks(parent, lines) {
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) {
      const p = el("p");
      inline(p, paragraph.join("\n"));
      parent.append(p);
    }
    paragraph = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (blank(line)) {
      flush();
      i += 1;
    } else if ((m = FENCE.exec(line)) && !(m[2][0] === "`" && m[3].includes("`"))) {
      flush();
      const indent = m[1].length;
      const close = new RegExp(`^ {0,3}${m[2][0] === "`" ? "`" : "~"}{${m[2].length},}[ \\t]*$`);
      const body = [];
      i += 1;
      while (i < lines.length && !close.test(lines[i])) {
        body.push(lines[i].replace(new RegExp(`^ {0,${indent}}`), ""));
        i += 1;
      }
      i += 1; // the closing fence (or the end)
      parent.append(el("pre", "pre", body.join("\n")));
    } else if (paragraph.length === 0 && /^ {4}/.test(line)) {
      flush();
      const body = [];
      while (i < lines.length && (/^ {4}/.test(lines[i]) || blank(lines[i]))) {
        body.push(lines[i].slice(4));
        i += 1;
      }
      while (body.length && blank(body[body.length - 1])) body.pop();
      parent.append(el("pre", "pre", body.join("\n")));
    } else if (paragraph.length && (m = SETEXT.exec(line))) {
      const heading = el(m[1][0] === "=" ? "h3" : "h4");
      inline(heading, paragraph.join("\n"));
      paragraph = [];
      parent.append(heading);
      i += 1;
    } else if ((m = HEADING.exec(line))) {
      flush();
      const heading = el(`h${Math.min(6, m[1].length + 2)}`);
      inline(heading, m[2] || "");
      parent.append(heading);
      i += 1;
    } else if (RULE.test(line)) {
      flush();
      parent.append(el("hr"));
      i += 1;
    } else if (line.trim().startsWith("|") && i + 1 < lines.length &&
               TABLE_DELIMITER.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      flush();
      i = renderTable(parent, lines, i);
    } else if (/^ {0,3}>/.test(line)) {
      flush();
      const inner = [];
      while (i < lines.length && !blank(lines[i]) &&
             (/^ {0,3}>/.test(lines[i]) || !startsBlock(lines[i]))) {
        inner.push(lines[i].replace(/^ {0,3}> ?/, ""));
        i += 1;
      }
      const quote = el("blockquote");
      renderBlocks(quote, inner);
      parent.append(quote);
    } else if ((m = listMarker(line)) && (paragraph.length === 0 || m.interrupts)) {
      flush();
      i = renderList(parent, lines, i, m);
    } else {
      paragraph.push(line.trim());
      i += 1;
    }
  }
  flush();
}

function renderList(parent, lines, i, first) {
  const listNode = el(first.ordered ? "ol" : "ul");
  if (first.ordered && first.start !== 1) listNode.start = first.start;
  let marker = first;
  while (marker !== null) {
    const item = [marker.content];
    i += 1;
    while (i < lines.length) {
      const line = lines[i];
      if (blank(line)) {
        // A blank line stays in the item when the item goes on after it.
        let next = i + 1;
        while (next < lines.length && blank(lines[next])) next += 1;
        if (next < lines.length && lines[next].startsWith(" ".repeat(marker.indent))) {
          for (; i < next; i += 1) item.push("");
          continue;
        }
        break;
      }
      if (line.startsWith(" ".repeat(marker.indent))) {
        item.push(line.slice(marker.indent));
      } else if (!blank(item[item.length - 1]) && !startsBlock(line) && !listMarker(line)) {
        item.push(line.trim()); // a lazy continuation of the item's paragraph
      } else {
        break;
      }
      i += 1;
    }
    const li = el("li");
    renderBlocks(li, item);
    listNode.append(li);
    // The next item of the same list, past blank lines.
    let next = i;
    while (next < lines.length && blank(lines[next])) next += 1;
    const following = next < lines.length ? listMarker(lines[next]) : null;
    if (following && following.ordered === first.ordered && following.delimiter === first.delimiter) {
      if (next > i) listNode.classList.add("loose");
      i = next;
      marker = following;
    } else {
      marker = null;
    }
  }
  if (!listNode.classList.contains("loose")) {
    // A tight list: its items' paragraphs are not paragraphs (no space around them).
    for (const li of listNode.children) {
      for (const p of [...li.children].filter((child) => child.tagName === "P")) {
        p.replaceWith(...p.childNodes);
      }
    }
  }
  parent.append(listNode);
  return i;
}

// A table row's cells: split at "|" outside code spans, "\|" kept as "|".
function cells(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  const out = [];
  let cell = "";
  let code = false;
  for (let k = 0; k < text.length; k += 1) {
    const char = text[k];
    if (char === "\\" && text[k + 1] === "|") {
      cell += "|";
      k += 1;
    } else if (char === "`") {
      code = !code;
      cell += char;
    } else if (char === "|" && !code) {
      out.push(cell.trim());
      cell = "";
    } else {
      cell += char;
    }
  }
  out.push(cell.trim());
  return out;
}

function renderTable(parent, lines, i) {
  const head = cells(lines[i]);
  const aligns = cells(lines[i + 1]).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : "");
  const table = el("table", "md-table");
  const thead = el("thead");
  const row = el("tr");
  head.forEach((text, k) => {
    const th = el("th", aligns[k] ? `align-${aligns[k]}` : "");
    inline(th, text);
    row.append(th);
  });
  thead.append(row);
  table.append(thead);
  const tbody = el("tbody");
  i += 2;
  while (i < lines.length && !blank(lines[i]) && lines[i].includes("|")) {
    const tr = el("tr");
    const values = cells(lines[i]);
    head.forEach((_, k) => {
      const td = el("td", aligns[k] ? `align-${aligns[k]}` : "");
      inline(td, values[k] ?? "");
      tr.append(td);
    });
    tbody.append(tr);
    i += 1;
  }
  table.append(tbody);
  const scroller = el("div", "table-scroll");
  scroller.append(table);
  parent.append(scroller);
  return i;
}

// Inline Markdown: code spans first (nothing inside them is read), then emphasis.
function inline(parent, text, emphasis = true) {
  const code = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g;
  let at = 0;
  for (const m of text.matchAll(code)) {
    if (m.index > at) spans(parent, text.slice(at, m.index), emphasis);
    let body = m[2].replace(/\n/g, " ");
    if (body.length > 2 && body.startsWith(" ") && body.endsWith(" ")) body = body.slice(1, -1);
    parent.append(el("code", "", body));
    at = m.index + m[0].length;
  }
  if (at < text.length) spans(parent, text.slice(at), emphasis);
}

const EMPHASIS = new RegExp([
  String.raw`\*\*(?=\S)([\s\S]*?\S)\*\*`, // **strong**
  String.raw`(?<![\w])__(?=\S)([\s\S]*?\S)__(?![\w])`, // __strong__
  String.raw`\*(?=[^\s*])([\s\S]*?[^\s*])\*`, // *emphasis*
  String.raw`(?<![\w])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\w])`, // _emphasis_
  String.raw`\\([!-/:-@[-\x60{-~])`, // \* and other escapes
  String.raw`\[([^\]\n]+)\]\(([^()\s]+)\)`, // [text](address): the text, then the address
].join("|"), "g");

function spans(parent, text, emphasis) {
  if (!emphasis) {
    parent.append(document.createTextNode(text));
    return;
  }
  let at = 0;
  for (const m of text.matchAll(EMPHASIS)) {
    if (m.index > at) parent.append(document.createTextNode(text.slice(at, m.index)));
    if (m[1] !== undefined || m[2] !== undefined) {
      const strong = el("strong");
      spans(strong, m[1] ?? m[2], true);
      parent.append(strong);
    } else if (m[3] !== undefined || m[4] !== undefined) {
      const em = el("em");
      spans(em, m[3] ?? m[4], true);
      parent.append(em);
    } else if (m[5] !== undefined) {
      parent.append(document.createTextNode(m[5]));
    } else {
      parent.append(document.createTextNode(`${m[6]} (${m[7]})`));
    }
    at = m.index + m[0].length;
  }
  if (at < text.length) parent.append(document.createTextNode(text.slice(at)));
}

// --- connecting ---------------------------------------------------------------------------

const code = (() => {
  try {
    return decodeURIComponent(location.pathname.replace(/^\/+|\/+$/g, ""));
  } catch {
    return ""; // a malformed %-escape: no code
  }
})();

function classUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/${encodeURIComponent(code)}`;
}

// The connection's state: a few words in the corner (`short`), the whole line as its title.
function setConnection(text, stateName, short = text) {
  ui.connection.textContent = short;
  ui.connection.title = text;
  ui.connection.dataset.state = stateName;
}

function connect() {
  if (state.socket !== null || state.stopped) return;
  let socket;
  try {
    socket = new WebSocket(classUrl());
  } catch (error) {
    setConnection(`cannot connect: ${error.message}`, "closed");
    state.stopped = true;
    return;
  }
  state.socket = socket;
  setConnection("connecting…", "connecting");

  socket.addEventListener("open", () => {
    state.failures = 0;
    state.connected = true;
    setConnection("connected", "open");
    join();
    for (const [key, text] of state.pending) {
      const [lesson, step] = splitKey(key);
      send({ type: "answer", lesson, step, answer: text });
    }
  });

  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") return; // the teacher's side sends text only
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      window.classLog.push("unreadable");
      return;
    }
    if (object(message) === null) return;
    window.classLog.push(str(message.type) || "unknown");
    try {
      received(message);
    } catch (error) {
      // One message the page cannot show must not stop the class.
      console.warn("wirelab class: cannot show", message.type, error);
    }
  });

  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    state.connected = false;
    if (event.code === POLICY_VIOLATION) {
      state.stopped = true;
      setConnection("refused", "closed");
      note(`The teacher's wirelab refused this page: ${event.reason || "no reason given"}. ` +
        "Check the address, then reload the page.", "problem");
      updateBar();
      return;
    }
    state.failures += 1;
    if (state.failures > RECONNECT_ATTEMPTS) {
      state.stopped = true;
      setConnection("gave up", "closed");
      note("The teacher's wirelab cannot be reached. Reload the page to try again.", "problem");
      return;
    }
    const delay = RECONNECT_DELAYS[Math.min(state.failures - 1, RECONNECT_DELAYS.length - 1)];
    const why = event.code === 1001 ? "the teacher ended the class" : "the connection was lost";
    setConnection(`${why}; reconnecting in ${delay} s`, "connecting", "reconnecting…");
    setTimeout(connect, delay * 1000);
  });
}

function send(fields) {
  const socket = state.socket;
  if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(fields));
  return true;
}

function join() {
  const name = clean(ui.name.value, MAX_NAME);
  send({ type: "join", key: studentKey(), name, view: true });
}

function splitKey(key) {
  const at = key.lastIndexOf(" ");
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

// --- what arrives ----------------------------------------------------------------------------

function received(message) {
  switch (message.type) {
    case "hello":
    case "moment":
      moved(message);
      break;
    case "view":
      viewed(message);
      break;
    case "welcome":
      state.number = int(message.number);
      ui.welcome.textContent = state.number === null ? "" :
        `You are student ${state.number}${str(message.name) ? ` (${str(message.name)})` : ""}.`;
      setConnection(state.number === null ? "connected" : `connected · student ${state.number}`,
        "open", state.number === null ? "connected" : `student ${state.number}`);
      break;
    case "verdict":
      judged(message);
      break;
    case "note":
      note(str(message.text));
      break;
    default:
      break; // a newer teacher's wirelab may say more: what this page does not know, it skips
  }
}

function moved(moment) {
  if (moment.type === "hello") state.attached = true; // a (re)connection: back in step
  state.moment = moment;
  state.momentAt = performance.now();
  const lesson = str(moment.lesson);
  for (const step of list(moment.revealed)) state.pending.delete(stepKey(lesson, step));
  clearTimeout(state.staleTimer);
  // The view of this moment comes right after it; none at all means the teacher's wirelab
  // cannot describe this step to a browser.
  state.staleTimer = setTimeout(updateBar, 1500);
  updateBar();
}

function viewed(view) {
  const lesson = object(view.lesson);
  const step = object(view.step);
  if (lesson === null || step === null || int(step.index) === null) return;
  state.views.set(stepKey(str(lesson.id), step.index), view);
  state.latest = view;
  if (state.attached) show(view);
  else updateBar();
}

function judged(verdict) {
  const key = stepKey(str(verdict.lesson), int(verdict.step));
  state.verdicts.set(key, verdict);
  state.pending.delete(key);
  const shown = state.shown;
  if (shown !== null && stepKey(shown.lesson.id, shown.step.index) === key) showCheckpoint(shown);
}

// --- following and looking around -------------------------------------------------------

// The views of the lesson on the page, in step order.
function stepsSeen() {
  const shown = state.shown;
  if (shown === null) return [];
  return [...state.views.values()]
    .filter((view) => view.lesson.id === shown.lesson.id)
    .sort((a, b) => a.step.index - b.step.index);
}

function lookAt(direction) {
  const shown = state.shown;
  if (shown === null) return;
  const seen = stepsSeen();
  const target = direction < 0
    ? seen.filter((view) => view.step.index < shown.step.index).pop()
    : seen.find((view) => view.step.index > shown.step.index);
  if (target === undefined) return;
  state.attached = false;
  show(target);
}

function backToTeacher() {
  state.attached = true;
  if (state.latest !== null) show(state.latest);
  else updateBar();
}

function updateBar() {
  const shown = state.shown;
  const moment = state.moment;
  let text;
  if (shown === null) {
    text = moment === null ? "Waiting for the teacher…" :
      `The teacher is at step ${int(moment.step) + 1} of “${str(moment.title)}”.`;
  } else {
    const step = shown.step;
    text = `Step ${step.index + 1}/${shown.lesson.steps}`;
    if (state.attached && str(step.playing)) text += ` · ${step.playing}`;
    if (state.attached) {
      text += " · following the teacher";
    } else if (moment !== null) {
      let where = `step ${int(moment.step) + 1}`;
      if (str(moment.lesson) !== shown.lesson.id) where = `“${str(moment.title)}”, ${where}`;
      text += ` · looking around · teacher at ${where}`;
    } else {
      text += " · looking around";
    }
    // A moment whose view has not come (a second on): say where the teacher is.
    const latest = state.latest;
    const waiting = moment !== null && (latest === null || latest.seq < moment.seq) &&
      performance.now() - state.momentAt > 1000;
    if (state.attached && waiting &&
        (str(moment.lesson) !== shown.lesson.id || int(moment.step) !== step.index)) {
      text += ` · the teacher is at step ${int(moment.step) + 1}, not shown here yet`;
    }
  }
  ui.bar.textContent = text;
  ui.back.hidden = state.attached;
  const seen = stepsSeen();
  ui.previous.disabled = shown === null || !seen.some((v) => v.step.index < shown.step.index);
  ui.next.disabled = shown === null || !seen.some((v) => v.step.index > shown.step.index);
}

// --- showing a view ------------------------------------------------------------------------------

function show(view) {
  const before = state.shown;
  const newStep = before === null || before.lesson.id !== view.lesson.id ||
    before.step.index !== view.step.index;
  state.shown = view;
  ui.main.hidden = false;
  ui.lessonTitle.textContent = str(view.lesson.title);
  document.title = `wirelab · ${str(view.lesson.title)}`;
  showNarration(view, newStep);
  showCheckpoint(view);
  showTable(view);
  showLadder(view);
  showPacket(view);
  updateBar();
}

function showNarration(view, newStep) {
  const step = view.step;
  ui.stepTitle.textContent = `Step ${step.index + 1} of ${view.lesson.steps}`;
  if (!newStep && ui.narration.dataset.for === stepKey(view.lesson.id, step.index)) return;
  ui.narration.dataset.for = stepKey(view.lesson.id, step.index);
  const parts = document.createDocumentFragment();
  for (const block of list(view.narration)) {
    const text = str(block.text);
    if (block.kind === "title") parts.append(el("h2", "step-name", text));
    else if (block.kind === "pre") parts.append(el("pre", "pre", text));
    else parts.append(markdown(text));
  }
  ui.narration.replaceChildren(parts);
  ui.narration.scrollTop = 0;
  if (newStep) ui.narration.closest(".left").scrollTop = 0;
}

// --- the checkpoint ------------------------------------------------------------------------

function showCheckpoint(view) {
  const checkpoint = object(view.checkpoint);
  ui.checkpoint.hidden = checkpoint === null;
  if (checkpoint === null) return;
  const key = stepKey(view.lesson.id, view.step.index);
  ui.checkpointTitle.textContent = checkpoint.predict ? "Predict" : "Checkpoint";
  if (ui.question.dataset.for !== key || ui.question.dataset.text !== str(checkpoint.text)) {
    ui.question.dataset.for = key;
    ui.question.dataset.text = str(checkpoint.text);
    showQuestion(str(checkpoint.text));
    ui.answer.value = "";
  }
  const answered = checkpoint.answered === true;
  ui.answerForm.hidden = answered;
  ui.choices.classList.toggle("answered", answered);
  for (const button of ui.choices.querySelectorAll("button")) button.disabled = answered;

  const verdict = state.verdicts.get(key);
  const sent = state.sent.get(key);
  const expected = str(checkpoint.expected);
  const out = [];
  if (verdict !== undefined && (answered || str(verdict.expected))) {
    const right = verdict.right === true;
    const shownExpected = str(verdict.expected) || expected;
    ui.feedback.dataset.verdict = right ? "right" : "wrong";
    if (right) {
      out.push(el("strong", "right", "✓ Right: "), shownExpected || str(verdict.answer), ".");
    } else {
      out.push(el("strong", "wrong", "✗ "), "You answered ",
        el("strong", "", `“${str(verdict.answer).slice(0, 60)}”`), "; the answer is ",
        el("strong", "", shownExpected), ".");
    }
  } else if (answered) {
    ui.feedback.dataset.verdict = "revealed";
    out.push(el("strong", "", "Answer: "), expected);
    if (sent === undefined) out.push(" (you did not answer)");
  } else if (sent !== undefined) {
    ui.feedback.dataset.verdict = "sent";
    out.push("Your answer ", el("strong", "", `“${sent.slice(0, 60)}”`),
      " is in. The teacher will reveal the answer.");
  } else {
    ui.feedback.dataset.verdict = "none";
    out.push(checkpoint.predict
      ? "Type your prediction and send it; the teacher will reveal the answer."
      : "Type your answer and send it; the teacher will reveal the answer.");
  }
  ui.feedback.replaceChildren(...out);
}

// The question's text, its numbered choices (lines "1. …" after the first) as buttons
// that put their number in the answer box. `code` spans are shown as code.
function showQuestion(text) {
  const lines = text.split("\n");
  const prose = [];
  const choices = [];
  lines.forEach((line, k) => {
    const m = /^\s*(\d{1,2})\.\s+(.*)$/.exec(line);
    if (k > 0 && m && (choices.length > 0 || prose.length > 0)) choices.push([m[1], m[2]]);
    else if (choices.length === 0) prose.push(line);
    else choices[choices.length - 1][1] += ` ${line.trim()}`;
  });
  const paragraph = el("p");
  inline(paragraph, prose.join("\n"), false);
  ui.question.replaceChildren(paragraph);
  ui.choices.hidden = choices.length === 0;
  ui.choices.replaceChildren(...choices.map(([number, label]) => {
    const item = el("li");
    item.value = Number(number);
    const button = el("button", "choice");
    button.type = "button";
    button.dataset.choice = number;
    inline(button, label, false);
    button.addEventListener("click", () => {
      ui.answer.value = number;
      ui.answer.focus();
    });
    item.append(button);
    return item;
  }));
}

function sendAnswer() {
  const view = state.shown;
  const checkpoint = view === null ? null : object(view.checkpoint);
  if (checkpoint === null || checkpoint.answered) return;
  const text = clean(ui.answer.value, MAX_ANSWER);
  if (!text) {
    note("An empty answer is not counted.");
    return;
  }
  const key = stepKey(view.lesson.id, view.step.index);
  state.sent.set(key, text);
  state.pending.set(key, text);
  if (!send({ type: "answer", lesson: view.lesson.id, step: view.step.index, answer: text })) {
    note("Not connected: your answer goes to the teacher once the page reconnects.");
  }
  ui.answer.value = "";
  showCheckpoint(view);
}

// --- the table: a routing table, a TCP window ------------------------------------------------

function showTable(view) {
  const routes = object(view.routes);
  const window_ = object(view.window);
  ui.tableBox.hidden = routes === null && window_ === null;
  ui.routes.hidden = routes === null;
  ui.window.hidden = window_ === null;
  if (routes !== null) {
    ui.tableTitle.textContent = str(routes.title);
    showRoutes(routes);
  }
  if (window_ !== null) {
    ui.tableTitle.textContent = `TCP window · ${str(window_.side)}`;
    showWindow(window_);
  }
}

function showRoutes(routes) {
  const table = el("table", "routes");
  const head = el("tr");
  for (const heading of list(routes.headings)) head.append(el("th", "", heading));
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  const matched = int(routes.matched);
  const candidates = new Set(list(routes.candidates));
  list(routes.rows).forEach((row, k) => {
    const tr = el("tr");
    if (k === matched) tr.className = "matched";
    else if (candidates.has(k)) tr.className = "candidate";
    list(row).forEach((cell, c) => {
      const mark = c === 0 ? (k === matched ? "▶" : candidates.has(k) ? "·" : " ") : "";
      tr.append(el("td", c === 5 ? "covers" : "", `${mark}${str(cell)}`));
    });
    body.append(tr);
  });
  table.append(thead, body);
  const scroller = el("div", "table-scroll");
  scroller.append(table);
  const parts = [scroller];
  if (str(routes.reason)) {
    parts.push(el("p", matched === null ? "reason unreachable" : "reason", str(routes.reason)));
  }
  ui.routes.replaceChildren(...parts);
}

function showWindow(window_) {
  const parts = [];
  const head = el("p", "window-head");
  head.append(el("strong", "", str(window_.side)), "  ", el("span", "state", str(window_.state)));
  if (int(window_.buffer) !== null) head.append(el("span", "muted", ` · buffer ${window_.buffer} B`));
  parts.push(head);
  const bar = object(window_.bar);
  if (bar !== null) {
    const strip = el("div", "window-bar");
    const pieces = window_.hidden
      ? [["readable", bar.readable], ["hidden", bar.hidden]]
      : [["readable", bar.readable], ["window", bar.window], ["held", bar.held]];
    for (const [kind, size] of pieces) {
      if (!(int(size) > 0)) continue;
      const piece = el("span", `part ${kind}`);
      piece.style.flexGrow = String(size); // CSSOM, which the page's policy allows
      piece.title = `${kind}: ${size} B`;
      strip.append(piece);
    }
    parts.push(strip);
  }
  const table = el("table", "window-rows");
  for (const row of list(window_.rows)) {
    const tr = el("tr");
    const [name, value, words] = list(row).map(str);
    tr.append(el("th", "", name), el("td", "value", value), el("td", "muted", words));
    table.append(tr);
  }
  parts.push(table);
  for (const warning of list(window_.warnings)) parts.push(el("p", "warning", `⚠ ${str(warning)}`));
  if (str(window_.note)) parts.push(el("p", "muted", str(window_.note)));
  ui.window.replaceChildren(...parts);
}

// --- the ladder --------------------------------------------------------------------------------

function showLadder(view) {
  const ladder = object(view.ladder) ?? { columns: [], arrows: [] };
  const columns = list(ladder.columns).map(str);
  const count = Math.max(columns.length, 1);
  const at = (index) => ((index + 0.5) / count) * 100; // a lifeline's place, in % of the lanes
  const selected = int(ladder.selected);
  const rows = document.createDocumentFragment();

  const heading = el("div", "ladder-row ladder-heading");
  heading.append(el("span", "no", "No."), el("span", "time", "Time"));
  const names = el("div", "lanes");
  columns.forEach((name, k) => {
    const label = el("span", "lifeline-name", name);
    label.style.left = `${at(k)}%`;
    label.style.maxWidth = `${100 / count}%`;
    label.title = name;
    names.append(label);
  });
  heading.append(names);
  rows.append(heading);

  const arrows = list(ladder.arrows);
  if (arrows.length === 0) rows.append(el("p", "empty", "No packets yet."));
  let target = null;
  for (const arrow of arrows) {
    const row = el("div", "ladder-row arrow");
    row.setAttribute("role", "listitem");
    row.dataset.n = String(arrow.n);
    if (arrow.own) row.classList.add("own");
    if (arrow.n === selected) {
      row.classList.add("selected");
      row.setAttribute("aria-current", "true");
    }
    const time = typeof arrow.t === "number" ? arrow.t.toFixed(3) : "";
    row.append(el("span", "no", str(arrow.no)), el("span", "time", time));
    const lanes = el("div", "lanes");
    columns.forEach((_, k) => {
      const line = el("span", "lifeline");
      line.style.left = `${at(k)}%`;
      lanes.append(line);
    });
    const src = int(arrow.src) ?? 0;
    const dst = int(arrow.dst) ?? 0;
    const label = str(arrow.label);
    const shaft = el("div", "shaft");
    if (src === dst) {
      shaft.classList.add("loop");
      shaft.style.left = `${at(src)}%`;
      shaft.append(el("span", "label", `↺ ${label}`));
    } else {
      const left = Math.min(src, dst);
      const right = Math.max(src, dst);
      shaft.classList.add(dst > src ? "rightward" : "leftward");
      if (arrow.lost) shaft.classList.add("lost");
      const width = at(right) - at(left);
      shaft.style.left = `${at(left)}%`;
      shaft.style.width = `${width}%`;
      // The label is centred on the shaft and may be wider than it (over the lifelines
      // beside it), but never past the edges of the diagram.
      const centre = (at(left) + at(right)) / 2;
      const text = el("span", "label", label);
      text.style.maxWidth = `${(2 * Math.min(centre, 100 - centre) * 100) / width}%`;
      shaft.append(text);
      shaft.append(el("span", "head", arrow.lost ? "✗" : dst > src ? "▶" : "◀"));
    }
    lanes.append(shaft);
    row.title = `${arrow.no ? `packet ${arrow.no} · ` : ""}${time} s · ` +
      `${columns[src] ?? "?"} → ${columns[dst] ?? "?"}${arrow.lost ? " (lost)" : ""}: ${label}`;
    row.append(lanes);
    rows.append(row);
    // In sight: the selected arrow, else the step's last, else the last of all.
    if (arrow.n === selected) target = row;
    else if (selected === null || target === null || !target.classList.contains("selected")) {
      if (arrow.own || target === null || !target.classList.contains("own")) target = row;
    }
  }
  ui.ladder.replaceChildren(rows);
  const before = int(ladder.before) ?? 0;
  const after = int(ladder.after) ?? 0;
  const cut = [];
  if (before) cut.push(`${before} earlier packet${before === 1 ? "" : "s"}`);
  if (after) cut.push(`${after} later packet${after === 1 ? "" : "s"}`);
  ui.ladderCut.hidden = cut.length === 0;
  ui.ladderCut.textContent = cut.length ? `${cut.join(" and ")} not shown here.` : "";
  state.ladderTarget = target;
  reveal(ui.ladder, target);
}

// Scroll `box` (and only it) so that `row` is in sight, near its middle.
function reveal(box, row) {
  if (row === null || !row.isConnected || box.clientHeight === 0) return;
  const top = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
  if (top < 32 || top + row.offsetHeight > box.clientHeight) {
    box.scrollTop = Math.max(0, box.scrollTop + top - box.clientHeight / 2);
  }
}

// --- the packet: fields and bytes ---------------------------------------------------------------

function showPacket(view) {
  const packet = object(view.packet);
  if (packet === null) {
    ui.packetTitle.textContent = "Fields and bytes";
    ui.packetSummary.textContent = "";
    ui.explain.hidden = false;
    ui.explain.replaceChildren(el("p", "muted", str(view.empty) || "No packet."));
    ui.fields.replaceChildren();
    ui.hex.replaceChildren();
    ui.bytesTitle.textContent = "";
    ui.bytesCut.hidden = true;
    ui.panes.hidden = true;
    state.lit = null;
    return;
  }
  ui.panes.hidden = false;
  const number = str(packet.number);
  ui.packetTitle.textContent = number ? `Packet ${number}` : `Packet #${int(packet.trace)}`;
  ui.packetSummary.textContent = str(packet.title);
  showExplanation(object(packet.explain), str(packet.title));
  const lit = list(packet.lit);
  state.lit = lit.length === 3 ? lit : null;
  const tree = document.createDocumentFragment();
  for (const node of list(packet.fields)) tree.append(fieldNode(node));
  const cutFields = int(object(view.cut)?.fields) ?? 0;
  if (cutFields) tree.append(el("p", "cut", `${cutFields} more fields not shown here.`));
  ui.fields.replaceChildren(tree);
  ui.fields.scrollTop = 0;
  reveal(ui.fields, ui.fields.querySelector(".field.lit"));
  showHex();
}

// The explanation bar: the lit field (name, where, problem, explanation, line) or, with
// none lit, the packet's problems (its summary is the packet's title already).
function showExplanation(explain, title) {
  const summaryOnly = explain !== null && !str(explain.field) && str(explain.text) === title;
  ui.explain.hidden = explain === null || (summaryOnly && list(explain.problems).length === 0);
  if (ui.explain.hidden) {
    ui.explain.replaceChildren();
    return;
  }
  const line = el("p", "explain-line");
  if (str(explain.field)) line.append(el("strong", "field-name", str(explain.field)), "  ");
  if (str(explain.where)) line.append(el("span", "muted", `${str(explain.where)}  `));
  for (const problem of list(explain.problems)) {
    line.append(el("span", "problem", `⚠ ${str(problem)}  `));
  }
  if (!summaryOnly) inline(line, str(explain.text), false);
  const parts = [line];
  if (str(explain.value) && str(explain.value) !== str(explain.text)) {
    parts.push(el("p", "explain-value", str(explain.value)));
  }
  ui.explain.replaceChildren(...parts);
}

function fieldNode(node) {
  const text = str(node.text);
  const at = list(node.at);
  const line = el("span", "field", text);
  line.tabIndex = 0;
  line.setAttribute("role", "treeitem");
  if (node.problem) line.classList.add("problem");
  if (node.lit) line.classList.add("lit");
  if (at.length === 3) {
    line.dataset.at = at.join(",");
    line.title = at[2] - at[1] === 1 ? `byte ${at[1]}` : `bytes ${at[1]}–${at[2] - 1}`;
  }
  const light = (event) => {
    if (at.length !== 3) return;
    if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
    if (event.type === "keydown") event.preventDefault();
    state.lit = at;
    for (const other of ui.fields.querySelectorAll(".field.lit")) other.classList.remove("lit");
    line.classList.add("lit");
    showHex();
  };
  line.addEventListener("click", light);
  line.addEventListener("keydown", light);
  const children = list(node.children);
  if (children.length === 0 && !Array.isArray(node.children)) {
    const leaf = el("div", "leaf");
    leaf.append(line);
    return leaf;
  }
  const details = el("details", "branch");
  details.open = node.open === true;
  const summary = el("summary");
  summary.append(line);
  details.append(summary);
  const inner = el("div", "children");
  for (const child of children) inner.append(fieldNode(child));
  details.append(inner);
  return details;
}

// Bytes a row: 16 where they fit, else 8 (a phone; or beside the fields, on a wide screen).
const SIDE_BY_SIDE = window.matchMedia("(min-width: 75rem)");
const FIELDS_ROOM = 300; // px the field tree keeps beside the bytes
function bytesPerRow() {
  const probe = el("span", "probe", "0".repeat(10));
  ui.hex.append(probe);
  const charWidth = probe.getBoundingClientRect().width / 10 || 8;
  probe.remove();
  const panes = ui.hex.closest(".packet-panes");
  const room = (panes ? panes.clientWidth : ui.hex.clientWidth) - (SIDE_BY_SIDE.matches ? FIELDS_ROOM : 0);
  const chars = Math.floor((room - 32) / charWidth); // its padding, border and scroll bar
  return chars >= 4 + 2 + 16 * 3 + 1 + 2 + 16 ? 16 : 8;
}

function showHex() {
  const view = state.shown;
  const packet = view === null ? null : object(view.packet);
  if (packet === null) return;
  const buffers = list(packet.buffers);
  const lit = state.lit;
  const number = lit !== null && int(lit[0]) !== null && lit[0] < buffers.length ? lit[0] : 0;
  const buffer = object(buffers[number]);
  if (buffer === null) return;
  const hex = str(buffer.hex);
  const offset = int(buffer.offset) ?? 0;
  const length = int(buffer.length) ?? hex.length / 2;
  const shownBytes = hex.length / 2;
  ui.bytesTitle.textContent = `${str(buffer.name)} · ${length} byte${length === 1 ? "" : "s"}` +
    (buffer.hidden ? " · ?? held back until the answer" : "");
  const [, litStart, litEnd] = lit !== null && lit[0] === number ? lit : [0, 0, 0];
  const perRow = bytesPerRow();
  const digits = Math.max(4, (offset + shownBytes).toString(16).length);
  const rows = document.createDocumentFragment();
  let litRow = null;
  for (let rowStart = offset - (offset % perRow); rowStart < offset + shownBytes; rowStart += perRow) {
    const row = el("div", "hex-row");
    row.append(el("span", "offset", rowStart.toString(16).padStart(digits, "0")), "  ");
    const ascii = el("span", "ascii");
    for (let column = 0; column < perRow; column += 1) {
      const at = rowStart + column;
      if (perRow === 16 && column === 8) row.append(" "); // two halves of 8, as hex dumps do
      if (at < offset || at >= offset + shownBytes) {
        row.append("   ");
        continue;
      }
      const pair = hex.slice(2 * (at - offset), 2 * (at - offset) + 2);
      const hidden = pair === "??";
      const byte = el("span", "byte", pair);
      const char = el("span", "char");
      const value = hidden ? -1 : parseInt(pair, 16);
      char.textContent = hidden ? "?" : value >= 0x20 && value < 0x7f ? String.fromCharCode(value) : ".";
      if (hidden) {
        byte.classList.add("hidden");
        char.classList.add("hidden");
      } else if (!(value >= 0x20 && value < 0x7f)) {
        char.classList.add("dot");
      }
      if (at >= litStart && at < litEnd) {
        byte.classList.add("lit");
        char.classList.add("lit");
        if (litRow === null) litRow = row;
      }
      row.append(byte, column < perRow - 1 ? " " : "");
      ascii.append(char);
    }
    row.append("  ", ascii);
    rows.append(row);
  }
  if (shownBytes === 0) rows.append(el("p", "empty", "These bytes are not shown here."));
  ui.hex.replaceChildren(rows);
  const cut = length - shownBytes;
  ui.bytesCut.hidden = cut <= 0;
  ui.bytesCut.textContent = cut > 0
    ? `${cut} more byte${cut === 1 ? "" : "s"} not shown here (bytes ${offset}–${offset + shownBytes - 1} are).`
    : "";
  ui.hex.scrollTop = 0;
  reveal(ui.hex, litRow);
}

// --- wiring ---------------------------------------------------------------------------------------

ui.name.value = (stored("wirelab.class.name") || "").slice(0, MAX_NAME);
ui.nameForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = clean(ui.name.value, MAX_NAME);
  ui.name.value = name;
  store("wirelab.class.name", name);
  join(); // joining again with the same key renames this student
  note(name ? `Your name is now “${name}”.` : "You are anonymous now.");
});
ui.answerForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sendAnswer();
});
ui.previous.addEventListener("click", () => lookAt(-1));
ui.next.addEventListener("click", () => lookAt(1));
ui.back.addEventListener("click", backToTeacher);
let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    showHex(); // 16 or 8 bytes a row
    reveal(ui.ladder, state.ladderTarget);
    reveal(ui.fields, ui.fields.querySelector(".field.lit"));
  }, 150);
});

if (!/^[A-Za-z0-9_-]{1,32}$/.test(code)) {
  setConnection("no join code", "closed");
  note("This page needs the class's address, as the teacher shows it: http://HOST:PORT/CODE.",
    "problem");
} else {
  connect();
}
updateBar();
