// Node's `ws` as an echo server for bench/echo.py: `node echo.js PORT [MODE]`.
// MODE is bench/echo.py's --compression: "" (off), "defaults" (ws's own
// permessage-deflate settings) or "zlib" (zlib's: 32 KiB windows, memLevel 8,
// level 6, every message compressed). Prints "READY <port>" once listening and
// stops on SIGTERM or SIGINT.
"use strict";

const { WebSocketServer } = require("ws");

const MAX_SIZE = 32 * 1024 * 1024; // as every server in bench/echo.py
const port = Number(process.argv[2] || 0);
const mode = process.argv[3] || "";

let perMessageDeflate = false;
if (mode === "defaults") {
  perMessageDeflate = true;
} else if (mode === "zlib") {
  perMessageDeflate = { zlibDeflateOptions: { level: 6, memLevel: 8 }, threshold: 0 };
}

const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: MAX_SIZE,
  perMessageDeflate,
});

server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});

server.on("listening", () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});

function stop() {
  for (const client of server.clients) client.terminate();
  server.close(() => process.exit(0));
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
