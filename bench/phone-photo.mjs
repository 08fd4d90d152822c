// A typical phone photo deposited over a link limited to 2 Mbit/s (Chromium's own
// network throttling, both ways, 50 ms of latency), from the document window of the
// demo candidate: sent as taken (« envoyer l'original »), then made lighter by the
// browser first (what a candidate gets by default). Prints a JSON line.
// Usage: node bench/phone-photo.mjs BASE_URL SESSION_COOKIE
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("../end2end/node_modules/playwright-core");
const [base, cookie] = process.argv.slice(2);
const [name, value] = cookie.split("=");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true });
await context.addCookies([{ name, value, url: base }]);
const page = await context.newPage();
await page.goto(`${base}/espace/pieces/piece-identite`);
await page.waitForLoadState("networkidle");

// 12 megapixels (4032 × 3024), as a phone's camera gives, with its grain.
const photo = Buffer.from(
  await page.evaluate(async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 4032;
    canvas.height = 3024;
    const c = canvas.getContext("2d");
    const gradient = c.createLinearGradient(0, 0, 4032, 3024);
    gradient.addColorStop(0, "#dde");
    gradient.addColorStop(1, "#889");
    c.fillStyle = gradient;
    c.fillRect(0, 0, 4032, 3024);
    const grain = c.getImageData(0, 0, 4032, 3024);
    let seed = 11;
    for (let i = 0; i < grain.data.length; i += 4) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = (seed % 24) - 12;
      grain.data[i] += n;
      grain.data[i + 1] += n;
      grain.data[i + 2] += n;
    }
    c.putImageData(grain, 0, 0);
    c.fillStyle = "#123";
    c.font = "160px serif";
    for (let line = 0; line < 14; line++) c.fillText("RÉPUBLIQUE FRANÇAISE — carte d'identité", 120, 260 + line * 190);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }),
  "base64",
);

const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
const link = 2_000_000 / 8;
await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 50, downloadThroughput: link, uploadThroughput: link });

const file = { name: "IMG_0420.jpg", mimeType: "image/jpeg", buffer: photo };
const saved = page.getByText("fichier enregistré");

// As taken: the lighter copy is offered first; the candidate asks for the original.
await page.getByLabel("choisir un fichier").setInputFiles(file);
await page.getByRole("button", { name: "ajouter le fichier" }).click();
const offered = page.getByRole("button", { name: "envoyer l'original" });
await offered.waitFor();
const lighterText = await page.getByRole("status").filter({ hasText: "photo allégée" }).textContent();
let started = Date.now();
await offered.click();
await saved.waitFor({ timeout: 120_000 });
const original = (Date.now() - started) / 1000;

// Made lighter by the browser (the default): the reduction's time counts.
await page.getByRole("link", { name: "OK" }).click();
await page.waitForLoadState("networkidle");
await page.getByLabel("choisir un fichier").setInputFiles(file);
started = Date.now();
await page.getByRole("button", { name: "ajouter le fichier" }).click();
await saved.waitFor({ timeout: 120_000 });
const lighter = (Date.now() - started) / 1000;

const sizes = await page.locator(".file-meta").allTextContents();
await browser.close();
console.log(
  JSON.stringify({
    photo_bytes: photo.length,
    notice: lighterText?.replace("envoyer l'original", "").trim(),
    seconds_original: original,
    seconds_lighter: lighter,
    stored: sizes,
  }),
);
