import { expect, Browser, Page } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { OwnServer, PASSWORD, expectNoA11yViolations, login, mailTo, ownServer, pdfFile, register, registerQuickly, uniqueName, test } from "./helpers";

const js = (name: string) => name !== "no-js";
// The notices' words, with the capital of a sentence that opens its line.
const CLOSED = "Votre dossier est clôturé, il est en cours d'instruction";
const MISSED = "dossier non clôturé : inscription non prise en compte";

/** Steps 5–6 of the notices for one pièce: open its window, add a file, OK, close. */
async function deposit(page: Page, label: string, file: ReturnType<typeof pdfFile>) {
  await page.getByRole("link", { name: `Ouvrir le dossier de la pièce : ${label}` }).click();
  await expect(page.getByRole("dialog", { name: label })).toBeVisible();
  await page.getByLabel("choisir un fichier").setInputFiles(file);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await page.getByRole("link", { name: "OK" }).click();
  await expect(page.locator(".file")).toContainText(file.name);
  await page.getByRole("link", { name: "fermer" }).click();
  await expect(page).toHaveURL(/\/espace$/);
}

test("the notices' journey, from préinscription to « votre dossier est clôturé » and the receipt", async ({ page }, info) => {
  test.setTimeout(90_000);
  const jsOn = js(info.project.name);
  const name = uniqueName();
  const email = `${name.toLowerCase()}@exemple.fr`;
  // Step 2: préinscription; the number is shown.
  const number = await register(page, jsOn, { name, email });
  // Step 3: connexion espace sécurisé with the number and the password.
  // The header knows who is there: logged in, « Mon espace » and « Se déconnecter »;
  // logged out, the way in.
  const header = page.locator("header.site-header");
  await expect(header.getByRole("link", { name: "Mon espace" })).toBeVisible();
  await expect(header.getByRole("link", { name: "Connexion espace sécurisé" })).toHaveCount(0);
  await header.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(header.getByRole("link", { name: "Connexion espace sécurisé" })).toBeVisible();
  await expect(header.getByRole("link", { name: "Mon espace" })).toHaveCount(0);
  await login(page, number, PASSWORD);
  await expect(page.locator("[data-dossier-number]")).toHaveText(number);
  await expect(header.getByRole("link", { name: "Mon espace" })).toBeVisible();

  // Step 4: the pièces demandées; closing is not possible yet, and the page says why.
  const status = page.locator(".closure");
  await expect(status).toContainText("déposez d'abord ces pièces obligatoires");
  await expect(status.getByRole("link", { name: "Copie du diplôme" })).toBeVisible();
  await expect(page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" })).toHaveCount(0);
  await expect(page.locator("[data-countdown]")).toContainText(/\d+ j \d\d h/);
  await expectNoA11yViolations(page, jsOn);

  // Steps 5–7: every mandatory pièce.
  await deposit(page, "Pièce d'identité en cours de validité", pdfFile("Carte d'identité.pdf"));
  await deposit(page, "Copie du diplôme", pdfFile("Licence.PDF"));

  // Step 8: « CLÔTURER MON INSCRIPTION », after a confirmation that says what it means.
  await page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Clôturer mon inscription");
  await expect(page.getByText("Vous ne pourrez plus ajouter, remplacer ni supprimer de fichier.")).toBeVisible();
  // What is about to be sent: each pièce with its files.
  const sent = page.locator(".closure-sent");
  await expect(sent.locator("[data-sent=piece-identite]")).toContainText("Carte d'identité.pdf");
  await expect(sent.locator("[data-sent=diplome]")).toContainText("Licence.PDF");
  await expectNoA11yViolations(page, jsOn);
  await page.getByRole("button", { name: "Je clôture mon inscription" }).click();

  // Step 9: the exact sentence, the closure time, and no more changes.
  await expect(page).toHaveURL(/\/espace\?cloture=ok/);
  await expect(page.locator("[data-status]")).toHaveText(CLOSED);
  await expect(page.locator("[data-closed-at]")).toContainText(/ à \d{1,2} h \d\d/);
  await expect(page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" })).toHaveCount(0);
  // The text follows the dossier's state: no more invitation to deposit or delete.
  await expect(page.locator("[data-pieces-hint]")).toHaveText(/ne peuvent plus être modifiées/);
  await expect(page.getByText("déposer, vérifier ou supprimer")).toHaveCount(0);
  await expectNoA11yViolations(page, jsOn);
  await page.getByRole("link", { name: "Ouvrir le dossier de la pièce : Copie du diplôme" }).click();
  await expect(page.getByText("Votre dossier n'accepte plus de modification pour cette pièce.")).toBeVisible();
  await expect(page.getByLabel("choisir un fichier")).toHaveCount(0);
  await expect(page.getByRole("link", { name: /Supprimer/ })).toHaveCount(0);

  // Step 10: the accusé de réception, on the site and by email.
  await page.goto("/espace");
  await page.getByRole("link", { name: "Voir l'accusé de réception" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Accusé de réception");
  await expect(page.locator(".receipt")).toContainText(number);
  const rows = page.locator(".receipt-files tbody tr");
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText("Carte d'identité.pdf");
  await expect(rows.nth(1)).toContainText("Licence.PDF");
  await expect(rows.first().locator(".hash")).toHaveText(/^[0-9a-f]{64}$/);
  await expectNoA11yViolations(page, jsOn);
  // The smallest phone: the receipt stacks and wraps, nothing to scroll sideways.
  await page.setViewportSize({ width: 320, height: 640 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(rows.first().locator(".hash")).toBeVisible();
  const mail = await mailTo(email, "Accusé de réception");
  expect(mail).toContain(number);
  expect(mail).toContain((await rows.first().locator(".hash").textContent())!.trim());
});

/** The deadline of the exam below: midnight, Paris winter time. */
const DEADLINE = Date.parse("2026-12-16T00:00:00+01:00");
/** The server clock's start, `ms` before the deadline. */
const before = (ms: number) => new Date(DEADLINE - ms).toISOString();

/** A server of its own, its clock started half an hour before an exam's deadline: time
 * to register and deposit, and the last-hour warning. A test then restarts it seconds
 * before the deadline (`restart({ APP_NOW })`), on the same data. */
async function serverBeforeDeadline(): Promise<OwnServer> {
  return ownServer((dir) => {
    fs.mkdirSync(path.join(dir, "exams"));
    fs.writeFileSync(
      path.join(dir, "exams", "delai.toml"),
      [
        'slug = "delai"',
        'title = "Concours dont la date limite est ce soir"',
        'kind = "concours"',
        'session = "Session de test"',
        'voies = ["externe", "interne"]',
        'registration_deadline = "2026-12-15"',
        'instruction_cutoff = "2027-01-31"',
        "[[pieces]]",
        'code = "piece-identite"',
        `label = "Pièce d'identité en cours de validité"`,
        'requirement = "mandatory"',
      ].join("\n"),
    );
    return {
      APP_ENV: "test",
      APP_NOW: before(30 * 60_000),
      APP_EXAMS_DIR: path.join(dir, "exams"),
      APP_DEMO: "false",
    };
  });
}

/** Registered, the one pièce deposited, half an hour before the deadline. */
async function readyToClose(page: Page) {
  await registerQuickly(page, "delai");
  await deposit(page, "Pièce d'identité en cours de validité", pdfFile("cni.pdf"));
  await expect(page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" })).toBeVisible();
  await expect(page.locator(".warning")).toContainText("Moins d'une heure");
}

test("at the deadline the dossier turns to « non clôturé » and closure is refused", async ({ browser }, info) => {
  test.skip(info.project.name === "phone", "the clock is the same on every viewport: desktop with and without JavaScript");
  test.setTimeout(120_000);
  const jsOn = js(info.project.name);
  const server = await serverBeforeDeadline();
  const context = await browser.newContext({ baseURL: server.url, javaScriptEnabled: jsOn, locale: "fr-FR" });
  try {
    const page = await context.newPage();
    await readyToClose(page);
    // Restarted (a deploy) eight seconds before midnight: seconds left, still open.
    await server.restart({ APP_NOW: before(8_000) });
    await page.reload();
    await expect(page.locator("[data-countdown]")).toContainText("00 h 00 min");
    await expect(page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" })).toBeVisible();

    if (jsOn) {
      // The page switches by itself, on the server's time: no reload.
      await expect(page.locator("[data-status]")).toHaveText(MISSED, { timeout: 30_000 });
      await expect(page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" })).toHaveCount(0);
    } else {
      await expect(async () => {
        await page.reload();
        await expect(page.locator("[data-status]")).toHaveText(MISSED, { timeout: 1_000 });
      }).toPass({ timeout: 30_000, intervals: [1_000] });
    }
    // A closure sent anyway (an old tab, a forged request) is refused, and says so.
    const r = await page.request.post("/api/espace/cloturer", { headers: { Accept: "text/html", Origin: server.url }, maxRedirects: 0 });
    expect(r.headers()["location"]).toBe("/espace?erreur=delai");
    await page.goto("/espace?erreur=delai");
    await expect(page.getByRole("alert").first()).toContainText("La date limite est dépassée");
    await expect(page.locator("[data-status]")).toHaveText(MISSED);
    // Read-only: the pièce no longer takes files.
    await page.getByRole("link", { name: "Ouvrir le dossier de la pièce : Pièce d'identité en cours de validité" }).click();
    await expect(page.getByLabel("choisir un fichier")).toHaveCount(0);
  } finally {
    await context.close();
    server.stop();
  }
});

test("a closure confirmed in the last second before midnight is taken", async ({ browser }, info) => {
  test.skip(info.project.name === "phone", "the clock is the same on every viewport: desktop with and without JavaScript");
  test.setTimeout(120_000);
  const server = await serverBeforeDeadline();
  const context = await browser.newContext({ baseURL: server.url, javaScriptEnabled: js(info.project.name), locale: "fr-FR" });
  try {
    const page = await context.newPage();
    await readyToClose(page);
    await page.getByRole("link", { name: "CLÔTURER MON INSCRIPTION" }).click();
    await expect(page.getByRole("button", { name: "Je clôture mon inscription" })).toBeVisible();
    // Restarted 4 s before midnight; its clock runs from its own start, which comes
    // after `restarting`: 3 s after it, the server reads at most 23:59:59.
    const restarting = Date.now();
    await server.restart({ APP_NOW: before(4_000) });
    const lastSecond = restarting + 3_000;
    expect(Date.now(), "the restart took the last seconds").toBeLessThan(lastSecond);
    await page.waitForTimeout(lastSecond - Date.now());
    await page.getByRole("button", { name: "Je clôture mon inscription" }).click();
    await expect(page).toHaveURL(/\/espace\?cloture=ok/);
    await expect(page.locator("[data-status]")).toHaveText(CLOSED);
    await expect(page.locator("[data-closed-at]")).toContainText("23 h 59");
  } finally {
    await context.close();
    server.stop();
  }
});
