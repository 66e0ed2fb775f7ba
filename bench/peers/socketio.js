// bench/peers/socketio.js — the socket.io peer: io.emit() to every connected socket
// (WebSocket transport only, no compression), the way socket.io's docs broadcast.
//   subscribers: socket.io over /socket.io/?EIO=4&transport=websocket, event "m"
//   publisher:   POST /pub (body = message) -> 202
// Usage: node socketio.js [port]   (prints "listening <port>" once it accepts connections)
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 0);
const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/pub') {
    if (!req.url.startsWith('/socket.io/')) res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    io.emit('m', Buffer.concat(chunks).toString());
    res.writeHead(202, { 'Content-Length': '0' }).end();
  });
});
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
});

server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
