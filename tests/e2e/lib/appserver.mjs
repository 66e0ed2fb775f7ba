// A minimal app server speaking the Azure SignalR service protocol (reference §2) over `ws`,
// for Default-mode tests: handshake, answers its clients' hub handshakes, implements hub
// methods echo(x) -> x, broadcast(text) -> 'msg'(text) to all, joinGroup(g),
// sendToGroup(g, text), and exposes the raw service messages it saw.
import WebSocket from 'ws';
import { encode, decode } from '@msgpack/msgpack';
import { randomUUID } from 'node:crypto';
import { mint, audBase } from './signalr.mjs';

export function varint(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

export function frame(arr) {
  const body = Buffer.from(encode(arr));
  return Buffer.concat([varint(body.length), body]);
}

/** Splits VarInt-framed messages; returns [messages, rest]. */
export function unframe(buf) {
  const msgs = [];
  let off = 0;
  for (;;) {
    let len = 0;
    let shift = 0;
    let i = off;
    let done = false;
    while (i < buf.length) {
      const b = buf[i++];
      len |= (b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) { done = true; break; }
    }
    if (!done || i + len > buf.length) break;
    msgs.push(buf.subarray(i, i + len));
    off = i + len;
  }
  return [msgs, buf.subarray(off)];
}

const RS = '\x1e';

/** Encodes one hub message for a client protocol. */
function hubMsg(protocol, m) {
  if (protocol === 'json') return Buffer.from(JSON.stringify(m) + RS);
  let arr;
  if (m.type === 1) arr = [1, {}, m.invocationId ?? null, m.target, m.arguments, []];
  else if (m.type === 3) arr = m.error !== undefined ? [3, {}, m.invocationId, 1, m.error] : [3, {}, m.invocationId, 3, m.result];
  else if (m.type === 7) arr = [7, m.error ?? null, false];
  else arr = [6];
  return frame(arr);
}

function parseClient(protocol, buf) {
  if (protocol === 'json') {
    return buf.toString('utf8').split(RS).filter(Boolean).map((t) => JSON.parse(t));
  }
  const [msgs] = unframe(buf);
  return msgs.map((b) => {
    const a = decode(b);
    if (a[0] === 1) return { type: 1, invocationId: a[2] ?? undefined, target: a[3], arguments: a[4] };
    return { type: a[0] };
  });
}

export async function startAppServer(dp, hub, { connType = 0, serverId = `test_${randomUUID()}` } = {}) {
  const token = await mint(dp.key, { aud: `${audBase(dp.url)}server/?hub=${hub}`, nameid: serverId });
  const ws = new WebSocket(`${dp.url.replace(/^http/, 'ws')}/server/?hub=${hub}&cid=${randomUUID()}`, {
    headers: { Authorization: `Bearer ${token}`, 'X-ASRS-Server-Id': serverId },
  });
  const seen = [];
  const clients = new Map(); // connId -> {protocol, handshaken, claims, query}
  const closed = [];
  let rest = Buffer.alloc(0);
  let handshakeResolve;
  const handshake = new Promise((r) => { handshakeResolve = r; });
  const app = {
    ws, seen, clients, closed, serverId,
    send(arr) { ws.send(frame(arr)); },
    payloads(target, args) {
      return {
        json: hubMsg('json', { type: 1, target, arguments: args }),
        messagepack: hubMsg('messagepack', { type: 1, target, arguments: args }),
      };
    },
    close() { ws.close(); },
  };
  const toClient = (id, m) => {
    const c = clients.get(id);
    if (c) app.send([6, id, hubMsg(c.protocol, m), {}]);
  };
  let ackId = 0;
  const acks = new Map();
  /** Sends arr with an ack id inserted at index pos (default: just before {ext}); resolves the Ack. */
  app.ack = (arr, pos = arr.length - 1) => {
    const id = ++ackId;
    const m = [...arr];
    m.splice(pos, 0, id);
    app.send(m);
    return new Promise((r) => acks.set(id, r));
  };
  ws.on('message', (data) => {
    rest = Buffer.concat([rest, Buffer.from(data)]);
    const [msgs, r] = unframe(rest);
    rest = Buffer.from(r);
    for (const b of msgs) {
      const m = decode(b);
      seen.push(m);
      switch (m[0]) {
        case 2: handshakeResolve(m); break;
        case 4: clients.set(m[1], { claims: m[2], query: m[4], protocol: (m[5] && m[5][3]) || 'json', handshaken: false }); break;
        case 5: closed.push(m[1]); clients.delete(m[1]); break;
        case 20: { const f = acks.get(m[1]); if (f) { acks.delete(m[1]); f(m); } break; }
        case 6: {
          const id = m[1];
          const c = clients.get(id);
          if (!c) break;
          let payload = Buffer.from(m[2]);
          if (!c.handshaken) {
            const i = payload.indexOf(0x1e);
            const hs = JSON.parse(payload.subarray(0, i).toString());
            c.protocol = hs.protocol;
            c.handshaken = true;
            app.send([6, id, Buffer.from(`{}${RS}`), {}]);
            payload = payload.subarray(i + 1);
            if (!payload.length) break;
          }
          for (const hm of parseClient(c.protocol, payload)) {
            if (hm.type !== 1) continue;
            const reply = (result) => hm.invocationId && toClient(id, { type: 3, invocationId: hm.invocationId, result });
            if (hm.target === 'echo') reply(hm.arguments[0]);
            else if (hm.target === 'broadcast') { app.send([10, [], app.payloads('msg', hm.arguments), {}]); reply(null); }
            else if (hm.target === 'joinGroup') app.ack([18, id, hm.arguments[0], {}]).then(() => reply(null));
            else if (hm.target === 'sendToGroup') { app.send([13, hm.arguments[0], [], app.payloads('msg', [hm.arguments[1]]), {}, [], null]); reply(null); }
            else if (hm.invocationId) toClient(id, { type: 3, invocationId: hm.invocationId, error: `unknown method ${hm.target}` });
          }
          break;
        }
        default: break;
      }
    }
  });
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); ws.once('unexpected-response', (q, r) => rej(new Error(`status ${r.statusCode}`))); });
  ws.send(frame([1, 1, connType, '', 0, {}, false]));
  const hs = await handshake;
  if (hs[1]) throw new Error(`handshake refused: ${hs[1]}`);
  return app;
}
