// wirelab's browser client: the whole WebSocket API of a web page, in one file.
//
//   const ws = new WebSocket("ws://host:port/path");  // starts the opening handshake
//   ws.onopen    = ...   // the server answered 101 Switching Protocols
//   ws.onmessage = ...   // a whole message arrived (text or binary)
//   ws.onerror   = ...   // something failed; a close event always follows
//   ws.onclose   = ...   // the connection is over: code, reason, wasClean
//   ws.send(data);       // a string is sent as a text message, bytes as binary
//   ws.close(code, reason);
//
// That is all a page gets. Frames, masking, ping/pong and compression are done by
// the browser underneath: the page only ever sees whole messages.
//
// Every event is shown in the #log list and also kept, as a plain object, in
// `window.wirelabLog`, so a script (or you, in the developer console) can read
// the whole story at once.

"use strict";

// --- the page's controls ----------------------------------------------------------

const $ = (id) => document.getElementById(id);
const ui = {
  connectForm: $("connect-form"),
  url: $("url"),
  connect: $("connect"),
  disconnect: $("disconnect"),
  state: $("state"),
  chatStatus: $("chat-status"),
  sendForm: $("send-form"),
  text: $("text"),
  sendText: $("send-text"),
  sendBinary: $("send-binary"),
  binaryAs: $("binary-as"),
  ping: $("ping"),
  closeForm: $("close-form"),
  closeCode: $("close-code"),
  closeReason: $("close-reason"),
  close: $("close"),
  closeCheck: $("close-check"),
  log: $("log"),
  clearLog: $("clear-log"),
};

// The WebSocket we are using now (null when there is none) and a counter that
// numbers the connections this page opened, so the log can tell them apart.
let ws = null;
let connectionNumber = 0;

// What the server said about /chat: our client number and how many are connected.
let chat = null;

const encoder = new TextEncoder(); // string → UTF-8 bytes

window.wirelabLog = [];

// --- close codes (RFC 6455 §7.4) ------------------------------------------------------
// The same explanations as wirelab's own table (simulator/ws/close_codes.py).

const CLOSE_CODES = {
  1000: "normal closure: the purpose of the connection has been fulfilled",
  1001: "going away: the server is shutting down or the browser left the page",
  1002: "protocol error: the peer broke a rule of RFC 6455",
  1003: "unsupported data: a kind of message the endpoint cannot accept",
  1005: "no status received: the close frame carried no code (never sent on the wire)",
  1006: "abnormal closure: the connection dropped without a close frame (never sent)",
  1007: "invalid payload data: e.g. a text message that is not valid UTF-8",
  1008: "policy violation: a message broke the endpoint's policy",
  1009: "message too big: more data than the endpoint is willing to process",
  1010: "mandatory extension: the client needed an extension the server did not accept",
  1011: "internal error: the server hit an unexpected condition",
  1012: "service restart: the server is restarting",
  1013: "try again later: the server is overloaded or dropped a slow reader",
  1014: "bad gateway: a gateway received an invalid response upstream",
  1015: "TLS handshake failure (never sent on the wire)",
};

function closeMeaning(code) {
  if (code in CLOSE_CODES) return CLOSE_CODES[code];
  if (code >= 3000 && code <= 3999) return "registered for libraries, frameworks and applications (IANA)";
  if (code >= 4000 && code <= 4999) return "private use: its meaning is agreed between the two applications";
  return "not a valid close code";
}

// A Close frame is a control frame: its payload is at most 125 bytes (RFC 6455
// §5.5). The code takes 2 of them, which leaves 123 bytes for the reason.
const MAX_REASON_BYTES = 123;

// What may a page pass to ws.close(code, reason)? The browser checks exactly this
// (WHATWG WebSockets standard) and throws if it does not hold; we check first so
// that we can say why in plain words.
function checkClose(codeText, reason) {
  const reasonBytes = encoder.encode(reason).length;
  if (reasonBytes > MAX_REASON_BYTES) {
    return {
      ok: false,
      why: `The reason is ${reasonBytes} bytes of UTF-8 (characters outside ASCII take 2 to 4 ` +
        `bytes each); at most ${MAX_REASON_BYTES} fit, because a Close frame's payload is ` +
        `at most 125 bytes and the code takes 2. The browser would throw a SyntaxError.`,
    };
  }
  if (codeText.trim() === "") {
    // ws.close() with no arguments sends a Close frame with no body at all.
    if (reason !== "") {
      return {
        ok: false,
        why: "A reason needs a code: in the Close frame the 2-byte code comes first and " +
          "the reason follows it. Choose a code, e.g. 1000.",
      };
    }
    return {
      ok: true,
      code: undefined,
      note: "No code: the Close frame has no body, and the server takes the code to be 1005.",
    };
  }
  const code = Number(codeText);
  if (!Number.isInteger(code)) {
    return { ok: false, why: `"${codeText}" is not a whole number.` };
  }
  if (code !== 1000 && (code < 3000 || code > 4999)) {
    let which = `${code} is not a close code a page may choose`;
    if (code in CLOSE_CODES) which = `${code} (${CLOSE_CODES[code]}) is for the browser or the server to use themselves`;
    return {
      ok: false,
      why: `${which}. A page may only send 1000 or a code from 3000 to 4999; ` +
        `the browser would throw an InvalidAccessError.`,
    };
  }
  return { ok: true, code, note: `${code}: ${closeMeaning(code)}.` };
}

// --- bytes --------------------------------------------------------------------------

function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

// "48 65 6c 6c 6f" or "48656c6c6f" → Uint8Array; throws an Error saying what is wrong.
function parseHex(text) {
  const digits = text.replace(/\s+/g, "");
  if (/[^0-9a-fA-F]/.test(digits)) throw new Error("hex digits are 0-9 and a-f only");
  if (digits.length % 2 !== 0) throw new Error("two hex digits make one byte: the count is odd");
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// Long messages are cut in the log (the whole data stays in window.wirelabLog).
function shorten(text, limit = 2000) {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

// --- the log --------------------------------------------------------------------------

// Add one entry: `event` is open | message | error | close | notice | send | note;
// `details` are plain values, kept in window.wirelabLog and (but for `data`) as
// data-* attributes on the entry (camelCase keys become data-kebab-case ones).
function log(event, summary, details = {}, body = null) {
  const now = new Date();
  const entry = { event, connection: connectionNumber, time: now.toISOString(), summary, ...details };
  window.wirelabLog.push(entry);

  const item = document.createElement("li");
  item.className = `entry ${event}`;
  item.dataset.event = event;
  item.dataset.connection = String(connectionNumber);
  for (const [key, value] of Object.entries(details)) {
    // Everything but the message itself, which the entry shows as its body.
    if (key !== "data" && value !== undefined && value !== null && typeof value !== "object") {
      item.dataset[key] = String(value);
    }
  }
  const time = document.createElement("time");
  time.dateTime = entry.time;
  time.textContent = clock(now);
  const name = document.createElement("span");
  name.className = "event";
  name.textContent = event;
  const text = document.createElement("span");
  text.className = "summary";
  text.textContent = summary;
  item.append(time, name, text);
  if (body !== null) {
    const pre = document.createElement("pre");
    pre.className = "data";
    pre.textContent = body;
    item.append(pre);
  }
  ui.log.append(item);
  ui.log.scrollTop = ui.log.scrollHeight; // keep the newest entry in view
}

// Local time of day with milliseconds, e.g. 14:03:27.512.
function clock(date) {
  const two = (n) => String(n).padStart(2, "0");
  const ms = String(date.getMilliseconds()).padStart(3, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${ms}`;
}

// --- connecting -------------------------------------------------------------------------

// ws:// for a page served over http://, wss:// (WebSocket over TLS) for https://.
function defaultUrl(path) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const host = location.host || "127.0.0.1:8765"; // opened as a file: wirelab's default port
  return `${scheme}${host}${path}`;
}

function usePath(path) {
  try {
    const url = new URL(ui.url.value);
    url.pathname = path;
    ui.url.value = url.href;
  } catch {
    ui.url.value = defaultUrl(path);
  }
}

function connect() {
  if (ws !== null) return;
  const url = ui.url.value.trim();
  let socket;
  try {
    // This one line starts everything: the TCP connection, then the HTTP
    // request with "Upgrade: websocket" and a random Sec-WebSocket-Key.
    socket = new WebSocket(url);
  } catch (error) {
    // A URL the constructor refuses (not ws:, wss:, http: or https:, or a fragment).
    log("note", `The browser refused the URL: ${error.name}: ${error.message}`);
    return;
  }
  // Binary messages as ArrayBuffer (bytes we can read at once), not Blob.
  socket.binaryType = "arraybuffer";
  connectionNumber += 1;
  ws = socket;
  chat = null;
  log("note", `Connecting to ${url} (connection ${connectionNumber})…`, { url });

  socket.addEventListener("open", () => {
    // The server accepted: 101 Switching Protocols. `protocol` is the subprotocol it
    // chose (Sec-WebSocket-Protocol) and `extensions` the extensions it accepted
    // (Sec-WebSocket-Extensions), e.g. permessage-deflate (RFC 7692).
    const extensions = socket.extensions;
    let summary = `Open: the server answered 101 Switching Protocols.`;
    summary += socket.protocol ? ` Subprotocol: ${socket.protocol}.` : " No subprotocol.";
    if (extensions.includes("permessage-deflate")) {
      summary += ` Extensions: ${extensions}: message payloads are compressed with DEFLATE ` +
        `(the frames have RSV1 set); the page still sees the plain data.`;
    } else {
      summary += extensions ? ` Extensions: ${extensions}.` : " No extensions.";
    }
    log("open", summary, { url: socket.url, protocol: socket.protocol, extensions });
    updateControls();
  });

  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      receivedText(event.data);
    } else {
      const bytes = new Uint8Array(event.data);
      const hex = toHex(bytes);
      log("message", `Binary message, ${plural(bytes.length, "byte")}:`,
        { kind: "binary", bytes: bytes.length, data: hex }, shorten(hex, 3 * 1024));
    }
  });

  socket.addEventListener("error", () => {
    // On purpose, the error event says nothing about what went wrong (a page must
    // not learn details of networks it cannot see). The close event comes next.
    log("error", "Error: the browser does not tell pages why. A close event follows.");
  });

  socket.addEventListener("close", (event) => {
    const { code, reason, wasClean } = event;
    const meaning = closeMeaning(code);
    const how = wasClean
      ? "cleanly: both sides sent a Close frame and TCP ended"
      : "not cleanly: the closing handshake did not complete";
    log("close",
      `Closed with ${code} (${meaning}), reason: ${reason ? `"${reason}"` : "none"}; ${how}.`,
      { code, meaning, reason, wasClean });
    if (ws === socket) ws = null;
    chat = null;
    updateControls();
  });

  updateControls();
}

// The server's own notices are small JSON objects; anything else is a message.
const NOTICE_TYPES = new Set(["welcome", "join", "leave"]);

function asNotice(text) {
  if (!text.startsWith("{")) return null;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  if (NOTICE_TYPES.has(value.type) && Number.isInteger(value.client) && Number.isInteger(value.clients)) {
    return value;
  }
  if (value.type === "pong" && typeof value.ms === "number") return value;
  return null;
}

function receivedText(text) {
  const notice = asNotice(text);
  const bytes = encoder.encode(text).length;
  if (notice === null) {
    // On /chat this is another client's message, relayed as it was sent.
    log("message", `Text message, ${plural(bytes, "byte")} of UTF-8:`,
      { kind: "text", bytes, data: text }, shorten(text));
    return;
  }
  // A notice arrived as an ordinary text message; it is the server speaking.
  const { type, client, clients } = notice;
  let summary;
  if (type === "welcome") {
    chat = { client, clients };
    summary = `Welcome: you are client #${client}; ${plural(clients, "client")} connected.`;
  } else if (type === "join") {
    if (chat) chat.clients = clients;
    summary = `Client #${client} joined; ${plural(clients, "client")} connected.`;
  } else if (type === "leave") {
    if (chat) chat.clients = clients;
    summary = `Client #${client} left; ${plural(clients, "client")} connected.`;
  } else {
    summary = `Pong: the server's Ping frame was answered by your browser on its own; ` +
      `the round trip took ${notice.ms} ms.`;
  }
  log("notice", summary, { notice: type, client, clients, ms: notice.ms, data: text });
  updateControls();
}

// --- sending ----------------------------------------------------------------------------

function sendText() {
  const text = ui.text.value;
  ws.send(text); // a string → one text message (opcode 0x1)
  const bytes = encoder.encode(text).length;
  log("send", `Sent a text message, ${plural(bytes, "byte")} of UTF-8:`,
    { kind: "text", bytes, data: text }, shorten(text));
}

function sendBinary() {
  let bytes;
  if (ui.binaryAs.value === "hex") {
    try {
      bytes = parseHex(ui.text.value);
    } catch (error) {
      log("note", `Not sent: ${error.message}.`);
      return;
    }
  } else {
    bytes = encoder.encode(ui.text.value);
  }
  ws.send(bytes); // bytes (ArrayBuffer, a typed array or Blob) → one binary message (0x2)
  const hex = toHex(bytes);
  log("send", `Sent a binary message, ${plural(bytes.length, "byte")}:`,
    { kind: "binary", bytes: bytes.length, data: hex }, shorten(hex, 3 * 1024));
}

function askForPing() {
  ws.send("/ping");
  log("send", "Sent the text /ping: the server will answer with a Ping frame.",
    { kind: "text", bytes: 5, data: "/ping" });
}

function closeNow() {
  const reason = ui.closeReason.value;
  const check = checkClose(ui.closeCode.value, reason);
  ui.closeCheck.textContent = check.ok ? check.note : check.why;
  ui.closeCheck.dataset.ok = String(check.ok);
  if (!check.ok) {
    log("note", `Not closed: ${check.why}`, { refused: true });
    return;
  }
  try {
    if (check.code === undefined) ws.close();
    else ws.close(check.code, reason);
  } catch (error) {
    // Our check above should have caught it; if not, the browser has the last word.
    log("note", `The browser refused: ${error.name}: ${error.message}`, { refused: true });
    return;
  }
  log("note", `Closing: sent a Close frame${check.code ? ` with ${check.code}` : ""}; ` +
    "waiting for the server's Close frame.", { code: check.code, reason });
  updateControls();
}

// --- keeping the controls in step with the connection -------------------------------

const STATES = ["connecting", "open", "closing", "closed"]; // WebSocket.readyState 0..3

function updateControls() {
  const state = ws === null ? "none" : STATES[ws.readyState];
  const open = state === "open";
  ui.connect.disabled = ws !== null;
  ui.disconnect.disabled = !(state === "connecting" || open);
  for (const button of [ui.sendText, ui.sendBinary, ui.ping, ui.close]) button.disabled = !open;
  ui.state.dataset.state = state;
  ui.state.textContent = state === "none" ? "not connected" : `${state} · ${ws.url}`;
  ui.chatStatus.hidden = chat === null;
  if (chat !== null) {
    ui.chatStatus.textContent = `you are client #${chat.client} · ${plural(chat.clients, "client")} connected`;
  }
}

// --- wiring ------------------------------------------------------------------------------

ui.url.value = defaultUrl("/echo");
for (const button of document.querySelectorAll("button.path")) {
  button.addEventListener("click", () => usePath(button.dataset.path));
}
ui.connectForm.addEventListener("submit", (event) => {
  event.preventDefault(); // we handle it here; do not reload the page
  connect();
});
ui.disconnect.addEventListener("click", () => {
  if (ws !== null) ws.close(1000, "disconnect button");
  updateControls();
});
ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (ws !== null && ws.readyState === WebSocket.OPEN) sendText();
});
ui.sendBinary.addEventListener("click", sendBinary);
ui.ping.addEventListener("click", askForPing);
ui.closeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (ws !== null && ws.readyState === WebSocket.OPEN) closeNow();
});
ui.clearLog.addEventListener("click", () => ui.log.replaceChildren());
updateControls();
