// Open page.html in headless Chromium on the gateway's origin and save what its clients received.
//
// Usage: node driver.js CHROMIUM BASE_URL OUTPUT_DIR COUNT TIMEOUT_SECS
//
// BASE_URL is the gateway's http://127.0.0.1:PORT. The driver loads BASE_URL/health and writes
// page.html into that document. So the page has the gateway's origin, and its EventSource needs
// no CORS headers. It also has a loopback address, which Chromium's Local Network Access checks
// require before a page may open a WebSocket to 127.0.0.1. When request interception served
// the page, Chromium 156 blocked those WebSockets with
// net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS.
//
// Prints "browser clients connected" once every client of the page is open. Writes
// OUTPUT_DIR/<client>.jsonl with one received message per line and OUTPUT_DIR/summary.json.
// Exits with code 0 when every client has COUNT messages on each socket it opened, and with
// code 2 after TIMEOUT_SECS.

'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

// Flags that keep Chromium from contacting any host: no background networking, updates, sync or
// QUIC. Playwright passes a fresh --user-data-dir from launchPersistentContext.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const POLL_INTERVAL_MS = 250;

const PAGE_FILE = path.join(__dirname, 'page.html');

// Files the page loads from BASE_URL. Request interception serves them, so these requests never
// reach the gateway.
const PAGE_PREFIX = '/__certstream-compat/';
const PAGE_FILES = {
  'certstream.min.js': {
    file: path.join(__dirname, 'node_modules/certstream/dist/certstream.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Whether a client has COUNT messages on each socket it opened.
function isComplete(collection, count) {
  return collection.sockets > 0 && collection.messages >= count * collection.sockets;
}

function isLoopback(url) {
  const { hostname } = new URL(url);
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

// Serves the page files and aborts every request that would leave the loopback interface.
async function installRoutes(context, baseUrl) {
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (!isLoopback(url)) {
      console.error(`blocked a request to a non-loopback host: ${url}`);
      await route.abort('blockedbyclient');
      return;
    }
    const { pathname } = new URL(url);
    if (!url.startsWith(baseUrl) || !pathname.startsWith(PAGE_PREFIX)) {
      await route.continue();
      return;
    }
    const served = PAGE_FILES[pathname.slice(PAGE_PREFIX.length)];
    if (!served) {
      await route.fulfill({ status: 404, body: `no such test file: ${pathname}\n` });
      return;
    }
    await route.fulfill({
      status: 200,
      contentType: served.type,
      body: fs.readFileSync(served.file),
    });
  });
}

async function run(chromiumPath, baseUrl, outputDir, count, timeoutSecs) {
  // A fresh profile inside OUTPUT_DIR, so the caller's cleanup removes it even when the driver
  // is killed before its own cleanup runs.
  const userDataDir = fs.mkdtempSync(path.join(outputDir, 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    await installRoutes(context, baseUrl);
    const page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    // Chromium reports why a WebSocket failed only on the console, as an error message.
    page.on('console', (message) => {
      if (message.type() === 'error') {
        console.error(`page console: ${message.text()}`);
      }
    });
    await page.goto(`${baseUrl}/health`);
    await page.setContent(fs.readFileSync(PAGE_FILE, 'utf8'));

    const deadline = Date.now() + timeoutSecs * 1000;
    let connected = false;
    let summary;
    for (;;) {
      summary = await page.evaluate(() => window.certstreamSummary());
      const clients = Object.values(summary);
      if (!connected && clients.every((c) => c.open)) {
        connected = true;
        console.log('browser clients connected');
      }
      if (clients.every((c) => isComplete(c, count)) || Date.now() >= deadline) {
        break;
      }
      await sleep(POLL_INTERVAL_MS);
    }

    for (const name of Object.keys(summary)) {
      const text = await page.evaluate(
        (key) => window.certstreamCollections[key].messages.join('\n'),
        name,
      );
      fs.writeFileSync(path.join(outputDir, `${name}.jsonl`), text ? `${text}\n` : '');
    }
    fs.writeFileSync(path.join(outputDir, 'summary.json'), JSON.stringify(summary, null, 2));
    const counts = Object.entries(summary)
      .map(([name, c]) => `${name}=${c.messages} (${c.sockets} sockets)`)
      .join(' ');
    const complete = Object.values(summary).every((c) => isComplete(c, count));
    console.log(`received ${counts}${complete ? '' : ` (timed out after ${timeoutSecs} s)`}`);
    return complete ? 0 : 2;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

async function main() {
  const [chromiumPath, baseUrl, outputDir, countText, timeoutText] = process.argv.slice(2);
  const count = Number.parseInt(countText, 10);
  const timeoutSecs = Number.parseFloat(timeoutText);
  if (!chromiumPath || !baseUrl || !outputDir || !(count > 0) || !(timeoutSecs > 0)) {
    console.error('usage: node driver.js CHROMIUM BASE_URL OUTPUT_DIR COUNT TIMEOUT_SECS');
    process.exit(64);
  }
  if (!isLoopback(baseUrl)) {
    console.error(`BASE_URL must be a loopback address, got ${baseUrl}`);
    process.exit(64);
  }
  process.exitCode = await run(chromiumPath, baseUrl, outputDir, count, timeoutSecs);
}

main().catch((err) => {
  console.error(`browser driver failed: ${err.stack || err}`);
  process.exit(1);
});
