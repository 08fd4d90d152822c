import { test as base, expect, Browser, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** Each test is a client of its own behind a reverse proxy: the e2e server trusts
 * 127.0.0.1 (`APP_TRUSTED_PROXIES`), so its per-client limits count each test apart, as
 * they count candidates apart behind a real proxy, instead of adding the whole run up. */
export const test = base.extend({
  context: async ({ context }, use) => {
    await context.setExtraHTTPHeaders(ownClient());
    await use(context);
  },
});

/** A configuration a test needs (clamd, say): under CI its absence fails the run;
 * elsewhere the test is skipped and the skip written where `make test` counts them at
 * its end (TEST_SKIPS_FILE), so it is never silent. */
export function needs(configuration: string, present: boolean, title: string) {
  if (present) return;
  if (process.env.CI) throw new Error(`${configuration} est requis sous CI : « ${title} » ne peut pas s'exécuter sans`);
  if (process.env.TEST_SKIPS_FILE) fs.appendFileSync(process.env.TEST_SKIPS_FILE, `${configuration}\tPlaywright : ${title}\n`);
  test.skip(true, `${configuration} absent`);
}

/** The header that makes a browser context a client of its own (see `test`): for the
 * contexts a test opens itself, which would otherwise all count as 127.0.0.1. */
export function ownClient(): Record<string, string> {
  const byte = () => 1 + Math.floor(Math.random() * 254);
  return { "X-Forwarded-For": `10.${byte()}.${byte()}.${byte()}` };
}

/** Waits until the page's browser code runs: each part marks what works only then
 * `data-waiting` until it does. Before, a click posts the plain form (the path without
 * JavaScript, another test's subject). `networkidle` is not enough: the Wasm is compiled
 * and run after the network went quiet, late on a loaded machine. */
export async function hydrated(page: Page) {
  await expect(page.locator("[data-waiting]")).toHaveCount(0);
}

export const DEMO_EXAM = "demo-redacteur-territorial";
export const DEMO_NUMBER = "99-DEM0-0001";
export const DEMO_PASSWORD = "essai du parcours candidat";
export const PASSWORD = "cheval correct agrafe";

/** Letters only, so it is a valid name, and new each time (one dossier per person). */
export function uniqueName(): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let s = "";
  for (let i = 0; i < 8; i++) s += letters[Math.floor(Math.random() * letters.length)];
  return "Test" + s;
}

export async function expectNoA11yViolations(page: Page, jsEnabled: boolean) {
  if (!jsEnabled) return; // axe runs as a script in the page
  // After a client-side navigation the URL changes before the page's data arrives: the
  // check is of the settled page, not of its « Chargement… » placeholder.
  await expect(page.locator(".loading")).toHaveCount(0);
  await expect(page.locator("h1").first()).toBeAttached(); // even under an open dialog (inert)
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`)).toEqual([]);
}

export interface Candidate {
  name: string;
  email: string;
  number?: string;
}

/** Goes through the whole wizard on the demo exam and returns the dossier number. */
export async function register(page: Page, jsEnabled: boolean, candidate: Candidate): Promise<string> {
  await page.goto("/");
  await page.locator(`[data-exam=${DEMO_EXAM}]`).getByRole("link", { name: /Se préinscrire/ }).click();
  // The start page says what the préinscription asks, then « Commencer ».
  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}$`));
  await expect(page.getByRole("heading", { name: "Les pièces à préparer" })).toBeVisible();
  await page.getByRole("link", { name: "Commencer ma préinscription" }).click();
  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}/identite`));
  await expectNoA11yViolations(page, jsEnabled);

  await page.getByLabel("Madame").check();
  await page.getByLabel("Nom de naissance").fill(candidate.name);
  await page.getByLabel("Prénom(s)").fill("Zoé Anne-Marie");
  await page.getByLabel("Date de naissance").fill("14/07/1990");
  await page.getByLabel("Commune de naissance").fill("Château-Gontier");
  await page.getByLabel("Pays de naissance").fill("France");
  await page.getByLabel("Française").check();
  await next(page, "coordonnees", jsEnabled);

  await page.getByLabel("Adresse électronique", { exact: true }).fill(candidate.email);
  await page.getByLabel("Confirmation de l'adresse électronique").fill(candidate.email);
  await page.getByLabel("Téléphone").fill("06 12 34 56 78");
  await page.getByLabel("Adresse", { exact: true }).fill("12 rue de la Paix");
  await page.getByLabel("Code postal").fill("53000");
  await page.getByLabel("Commune", { exact: true }).fill("Laval");
  await next(page, "voie", jsEnabled);

  await page.getByLabel(/Concours externe/).check();
  await next(page, "situation", jsEnabled);

  await page.getByLabel("Diplôme").fill("Licence d'administration publique");
  await page.getByLabel("Année d'obtention").fill("2012");
  await next(page, "amenagement", jsEnabled);

  await page.getByLabel("Non").check();
  await next(page, "mot-de-passe", jsEnabled);

  await page.getByLabel("Mot de passe", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirmation du mot de passe").fill(PASSWORD);
  await next(page, "verification", jsEnabled);

  await expect(page.getByRole("heading", { level: 1 })).toContainText("Vérifiez vos réponses");
  await expect(page.locator(".summary").first()).toContainText(candidate.name);
  await page.getByLabel(/Je certifie sur l'honneur/).check();
  await page.getByRole("button", { name: "Créer mon dossier" }).click();

  await expect(page).toHaveURL(/\/espace\?nouveau=1/);
  const number = (await page.locator("[data-dossier-number]").textContent())!.trim();
  expect(number).toMatch(/^\d\d-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  return number;
}

async function next(page: Page, step: string, jsEnabled: boolean) {
  await page.getByRole("button", { name: "Suivant" }).click();
  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}/${step}$`));
  await expectNoA11yViolations(page, jsEnabled);
}

export async function login(page: Page, number: string, password: string) {
  await page.goto("/connexion");
  await page.getByLabel("Identifiant (n° de dossier)").fill(number);
  await page.getByLabel("Mot de passe", { exact: true }).fill(password);
  await page.getByRole("button", { name: "connexion" }).click();
}

/** The text of every mail written by the server, decoded from quoted-printable. */
export function mails(): string[] {
  const dir = process.env.MAIL_DIR;
  if (!dir) throw new Error("MAIL_DIR is not set");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => fs.readFileSync(path.join(dir, f)))
    .map((raw) => {
      const text = raw.toString("latin1").replace(/=\r\n/g, "");
      const bytes = Buffer.from(
        text.replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
        "latin1",
      );
      return bytes.toString("utf8");
    });
}

export async function mailTo(address: string, containing: string): Promise<string> {
  let found: string | undefined;
  await expect(async () => {
    found = mails().find((m) => m.includes(`To: ${address}`) && m.includes(containing));
    expect(found).toBeDefined();
  }).toPass({ timeout: 10_000 });
  return found!;
}

/** Creates a dossier through the wizard's own endpoints (no page loads) and leaves the
 * page's context logged in to it. For tests about what comes after préinscription. */
export async function registerQuickly(page: Page, exam = DEMO_EXAM, domain = "exemple.fr"): Promise<string> {
  const name = uniqueName();
  const email = `${name.toLowerCase()}@${domain}`;
  const steps: [string, Record<string, string>][] = [
    ["identite", { civilite: "madame", nom_naissance: name, prenoms: "Zoé", date_naissance: "14/07/1990", lieu_naissance: "Laval", pays_naissance: "France", nationalite: "francaise" }],
    ["coordonnees", { email, email_confirmation: email, telephone: "0612345678", adresse: "1 rue", code_postal: "53000", commune: "Laval", pays: "France" }],
    ["voie", { voie: "externe" }],
    ["situation", { diplome: "Licence", diplome_annee: "2012" }],
    ["amenagement", { amenagement: "non" }],
    ["mot-de-passe", { mot_de_passe: PASSWORD, mot_de_passe_confirmation: PASSWORD }],
  ];
  await page.goto("/");
  for (const [step, fields] of steps) {
    const form: Record<string, string> = { exam, step, direction: "next" };
    for (const [k, v] of Object.entries(fields)) form[`fields[${k}]`] = v;
    const r = await page.request.post("/api/inscription/etape", { form, headers: { Accept: "text/html" }, maxRedirects: 0 });
    expect(r.status(), step).toBe(302);
    expect(r.headers()["location"], step).not.toContain("resume-erreurs");
  }
  const r = await page.request.post("/api/inscription/creer", { form: { exam, attestation: "oui" }, headers: { Accept: "text/html" }, maxRedirects: 0 });
  expect(r.headers()["location"]).toBe("/espace?nouveau=1");
  await page.goto("/espace");
  return (await page.locator("[data-dossier-number]").textContent())!.trim();
}

export function pdfFile(name: string, extraBytes = 0) {
  const body = "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + " ".repeat(extraBytes) + "\nstartxref\n0\n%%EOF\n";
  return { name, mimeType: "application/pdf", buffer: Buffer.from(body, "latin1") };
}

export interface OwnServer {
  restart: (changes: Record<string, string>) => Promise<void>;
  url: string;
  stop: () => void;
}

/** A port nothing listens on, found first (a fixed one may hold a stale server). */
async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** A server of its own, from the same build, with a fresh data folder: for a test that
 * changes what every other test sees (the clock, the catalogue). `prepare` fills the
 * folder and returns settings; the shipped exams and no demo data otherwise. It runs on
 * a free port, and is ready when this very process answers (its `X-Instance`).
 * `restart` stops it (as a deploy does) and starts it again on the same port and data
 * with some settings changed: a test prepares under one clock and goes on under another. */
export async function ownServer(prepare: (dir: string) => Record<string, string> = () => ({})): Promise<OwnServer> {
  const bin = process.env.E2E_SERVER_BIN;
  if (!bin) throw new Error("E2E_SERVER_BIN is not set (run through scripts/e2e.sh)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-server-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const settings = {
    APP_ADDRESS: `127.0.0.1:${port}`,
    APP_DATA_DIR: dir,
    APP_EXAMS_DIR: path.resolve(__dirname, "../../exams"),
    APP_CENTRE_FILE: path.resolve(__dirname, "../../centre.toml"),
    APP_SITE_ROOT: process.env.E2E_SITE_ROOT ?? "",
    APP_DEMO: "false",
    DATABASE_URL: `sqlite://${dir}/concours.db`,
    RUST_LOG: "warn",
    ...prepare(dir),
  };
  let run = 0;
  const start = async (changes: Record<string, string>) => {
    run += 1;
    const instance = `own-${process.pid}-${port}-${run}`;
    const server = spawn(bin, ["serve"], {
      env: { ...process.env, ...settings, ...changes, APP_INSTANCE: instance },
      stdio: "ignore",
    });
    const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    await expect(async () => {
      expect(gone, "the server stopped during start-up").toBe(false);
      const health = await fetch(`${url}/healthz`);
      expect(health.ok).toBe(true);
      expect(health.headers.get("x-instance")).toBe(instance);
    }).toPass({ timeout: 15_000 });
    return { server, exited };
  };
  let current = await start({});
  return {
    url,
    restart: async (changes) => {
      current.server.kill("SIGTERM");
      await current.exited;
      current = await start(changes);
    },
    stop: () => {
      current.server.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const STAFF_EMAIL = "service.concours@exemple.fr";
export const STAFF_PASSWORD = "essai du service concours";

/** A dossier closed by its candidate (logged in on `page`), through the requests the
 * pages send; returns its number. */
export async function closedDossier(page: Page, domain?: string): Promise<string> {
  const number = await registerQuickly(page, undefined, domain);
  const origin = new URL(page.url()).origin;
  for (const [piece, name] of [["piece-identite", "Carte d'identité.pdf"], ["diplome", "Licence.pdf"]]) {
    const r = await page.request.post(`/espace/pieces/${piece}/fichiers`, { multipart: { fichier: pdfFile(name) }, headers: { Accept: "application/json", Origin: origin } });
    expect(r.status()).toBe(201);
  }
  const closed = await page.request.post("/api/espace/cloturer", { form: {}, headers: { Accept: "text/html", Origin: origin }, maxRedirects: 0 });
  expect(closed.headers()["location"]).toBe("/espace?cloture=ok");
  return number;
}

/** The demo staff member, logged in on a browser context of its own. */
export async function staffPage(browser: Browser, baseURL?: string): Promise<Page> {
  const staff = await (await browser.newContext({ ...(baseURL ? { baseURL } : {}), extraHTTPHeaders: ownClient() })).newPage();
  await staff.goto("/service/connexion");
  await staff.getByLabel("Adresse électronique").fill(STAFF_EMAIL);
  await staff.getByLabel("Mot de passe", { exact: true }).fill(STAFF_PASSWORD);
  await staff.getByRole("button", { name: "Se connecter" }).click();
  await expect(staff.getByRole("heading", { level: 1 })).toHaveText("Concours et dossiers");
  return staff;
}

