// Receive certstream messages with the certstream npm client (Node build) and save them.
//
// Usage: node certstream_client.js URL OUTPUT COUNT TIMEOUT_SECS
//
// Prints "node client connected" once the WebSocket is open and writes every non-heartbeat
// message as one JSON line to OUTPUT. Exits with code 0 when COUNT messages have arrived, 2 after
// TIMEOUT_SECS, and 1 when the connection fails or closes first.

'use strict';

const fs = require('fs');
const CertStreamClient = require('certstream');

function main() {
  const [url, output, countText, timeoutText] = process.argv.slice(2);
  const count = Number.parseInt(countText, 10);
  const timeoutSecs = Number.parseFloat(timeoutText);
  if (!url || !output || !(count > 0) || !(timeoutSecs > 0)) {
    console.error('usage: node certstream_client.js URL OUTPUT COUNT TIMEOUT_SECS');
    process.exit(64);
  }

  const messages = [];
  let heartbeats = 0;
  let finished = false;

  function finish(code, reason) {
    if (finished) {
      return;
    }
    finished = true;
    const lines = messages.map((message) => JSON.stringify(message) + '\n').join('');
    fs.writeFileSync(output, lines);
    console.log(`received ${messages.length} messages, ${heartbeats} heartbeats (${reason})`);
    process.exit(code);
  }

  // The library parses each frame with JSON.parse before calling this, so a frame that is not
  // JSON throws inside its message handler and ends the process with an uncaught exception.
  const client = new CertStreamClient((message) => {
    if (message.message_type === 'heartbeat') {
      heartbeats += 1;
      return;
    }
    messages.push(message);
    if (messages.length >= count) {
      finish(0, 'count reached');
    }
  });
  client.connect(url);

  // The library exposes no open, error or close callback, so listen on its `ws` socket (a `ws`
  // package WebSocket). Without an error listener a failed connection would throw unhandled.
  client.ws.on('open', () => console.log('node client connected'));
  client.ws.on('error', (err) => {
    console.error(`WebSocket error on ${url}: ${err.message}`);
    finish(1, 'connection error');
  });
  client.ws.on('close', (code, reason) => {
    console.error(`WebSocket closed by the server: code ${code} ${reason || ''}`);
    finish(1, 'connection closed');
  });

  setTimeout(() => finish(2, `timed out after ${timeoutSecs} s`), timeoutSecs * 1000);
}

main();
