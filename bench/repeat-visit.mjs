// What a browser fetches of the front end's JavaScript and Wasm on a first visit, and
// again on a second page and a reload: the bytes that came over the network and the
// requests that left the browser (a revalidation answered 304 is one). With hashed
// file names served `immutable`, the second visit should fetch and ask nothing.
// Usage: node bench/repeat-visit.mjs http://127.0.0.1:PORT > repeat-visit.json
// (Debian's Chromium through end2end's playwright-core, as the browser tests.)
import { chromium } from "../end2end/node_modules/playwright-core/index.mjs";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
});
const context = await browser.newContext();
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
const code = /\/pkg\/.*\.(js|wasm)(\?|$)/;
const seen = new Map();
cdp.on("Network.requestWillBeSent", (e) => {
  if (code.test(e.request.url)) seen.set(e.requestId, { url: e.request.url, network: false, cached: false, bytes: 0, status: 0 });
});
cdp.on("Network.responseReceived", (e) => {
  const r = seen.get(e.requestId);
  if (!r) return;
  r.status = e.response.status;
  r.network = !(r.cached || e.response.fromDiskCache || e.response.fromMemoryCache || e.response.fromPrefetchCache);
});
cdp.on("Network.requestServedFromCache", (e) => {
  const r = seen.get(e.requestId);
  if (r) {
    r.cached = true;
    r.network = false;
  }
});
cdp.on("Network.loadingFinished", (e) => {
  const r = seen.get(e.requestId);
  if (r && r.network) r.bytes = e.encodedDataLength;
});

async function visit(label, go) {
  seen.clear();
  await go();
  await page.waitForLoadState("networkidle");
  const rows = [...seen.values()];
  return {
    visit: label,
    files: rows.length,
    requests_sent: rows.filter((r) => r.network).length,
    revalidated_304: rows.filter((r) => r.network && r.status === 304).length,
    bytes_over_network: rows.reduce((s, r) => s + r.bytes, 0),
  };
}

const wizard = `${base}/inscription/demo-redacteur-territorial/identite`;
const results = [];
results.push(await visit("first visit: a wizard step", () => page.goto(wizard)));
results.push(await visit("the same step, reloaded", () => page.reload()));
await page.goto(`${base}/connexion`);
await page.fill("#numero", "99-DEM0-0001");
await page.fill("#mot_de_passe", "essai du parcours candidat");
results.push(
  await visit("another page: the dossier page after login", () =>
    Promise.all([page.waitForURL(/\/espace/), page.click("button[type=submit].primary")]),
  ),
);
results.push(await visit("the dossier page, reloaded", () => page.reload()));
results.push(await visit("back to the wizard step", () => page.goto(wizard)));
await browser.close();
console.log(JSON.stringify(results, null, 2));
