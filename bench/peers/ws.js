// bench/peers/ws.js — the `ws` peer: a Node.js WebSocket broadcast server, written the way
// the ws README broadcasts (send the same data to every open client).
//   subscribers: WebSocket on /sub      publisher: POST /pub (body = message) -> 202
// Usage: node ws.js [port]   (prints "listening <port>" once it accepts connections)
'use strict';
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/pub') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const data = Buffer.concat(chunks);
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
    }
    res.writeHead(202, { 'Content-Length': '0' }).end();
  });
});

server.on('upgrade', (req, socket, head) => {
  if (req.url !== '/sub') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
wss.on('connection', (ws) => ws.on('error', () => {}));

server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
