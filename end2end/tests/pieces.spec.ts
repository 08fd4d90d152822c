import { expect } from "@playwright/test";
import {
  DEMO_NUMBER,
  DEMO_PASSWORD,
  expectNoA11yViolations,
  hydrated,
  login,
  needs,
  ownClient,
  ownServer,
  pdfFile,
  registerQuickly,
  test,
} from "./helpers";

const js = (name: string) => name !== "no-js";

test("deposit, check, delete and deposit again the files of a pièce", async ({ page, browser }, info) => {
  await registerQuickly(page);
  // A real JPEG, as a phone camera would give: Chromium draws one.
  const shotPage = await browser.newPage();
  await shotPage.setContent("<body style='background:#c33'>recto</body>");
  const jpeg = { name: "Photo verso.JPG", mimeType: "image/jpeg", buffer: await shotPage.screenshot({ type: "jpeg" }) };
  await shotPage.close();

  const piece = page.locator("[data-piece=piece-identite]");
  await expect(piece).toContainText("obligatoire");
  await expect(piece).toContainText("à fournir");
  await expectNoA11yViolations(page, js(info.project.name));
  await page.getByRole("link", { name: "Ouvrir le dossier de la pièce : Pièce d'identité en cours de validité" }).click();
  // The document window: a modal dialog named by its pièce (a page of its own without
  // JavaScript), whose title takes the focus; the dossier behind it is inert.
  const dialog = page.getByRole("dialog", { name: "Pièce d'identité en cours de validité" });
  await expect(dialog).toBeVisible();
  await expect(page.locator("[inert] [data-piece=piece-identite]")).toHaveCount(1);
  if (js(info.project.name)) await expect(dialog.getByRole("heading", { level: 2 })).toBeFocused();
  // The accepted formats and the size limit are written next to the input.
  await expect(page.getByText("Format PDF ou JPEG, 10,0 Mo au maximum par fichier")).toBeVisible();
  await expectNoA11yViolations(page, js(info.project.name));

  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("Carte d'identité recto.pdf"));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await page.getByRole("link", { name: "OK" }).click();
  await expect(page.locator(".file")).toHaveCount(1);
  await expect(page.locator(".file").first()).toContainText("Carte d'identité recto.pdf");

  await page.getByLabel("choisir un fichier").setInputFiles(jpeg);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await expect(page.locator(".file")).toHaveCount(2);
  // Two files is this pièce's maximum.
  await expect(page.getByLabel("choisir un fichier")).toHaveCount(0);

  // The eye shows it in the page.
  await page.getByRole("link", { name: "Voir « Photo verso.JPG »" }).click();
  const img = page.getByRole("img", { name: "Aperçu de Photo verso.JPG" });
  await expect(img).toBeVisible();
  await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBeGreaterThan(0);
  await expectNoA11yViolations(page, js(info.project.name));

  // The trash can deletes it, after confirmation.
  await page.getByRole("link", { name: "Supprimer « Photo verso.JPG »" }).click();
  await page.getByRole("button", { name: "Oui, supprimer" }).click();
  await expect(page.getByText("Le fichier a été supprimé.")).toBeVisible();
  await expect(page.locator(".file")).toHaveCount(1);

  await page.getByLabel("choisir un fichier").setInputFiles(jpeg);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();

  await page.getByRole("link", { name: "fermer" }).click();
  await expect(page.locator("[data-piece=piece-identite]")).toContainText("2 fichiers déposés");
});

test("a wrong type or an oversize file is refused with a French message, and nothing is lost", async ({ page }, info) => {
  await registerQuickly(page);
  const uploads: string[] = [];
  await page.goto("/espace/pieces/diplome");
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("licence.pdf"));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();

  await expect(page.locator(".file")).toHaveCount(1);
  if (js(info.project.name)) await hydrated(page);
  page.on("request", (r) => {
    if (r.url().includes("/fichiers") || r.url().includes("/tus")) uploads.push(r.url());
  });
  await page.getByLabel("choisir un fichier").setInputFiles({ name: "image.pdf", mimeType: "application/pdf", buffer: Buffer.from("\x89PNG\r\n\x1a\n0000", "latin1") });
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  // With JavaScript the browser names the file; without, the page words the code the
  // server's redirect carries (an address never carries the site's text).
  const named = (name: string, rest: string) => (js(info.project.name) ? `« ${name} » ${rest}` : `Le fichier ${rest}`);
  await expect(page.getByRole("alert")).toHaveText(named("image.pdf", "doit être au format PDF ou JPEG."));

  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("gros.pdf", 10 * 1024 * 1024));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByRole("alert")).toHaveText(named("gros.pdf", "fait plus de 10 Mo, le maximum. Photographiez le document avec « prendre une photo », ou réduisez-le."));

  // A photo cut short (the phone lost the end of it): refused as damaged.
  const photo = await page.screenshot({ type: "jpeg" });
  await page.getByLabel("choisir un fichier").setInputFiles({ name: "coupee.jpg", mimeType: "image/jpeg", buffer: photo.subarray(0, photo.length - 200) });
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByRole("alert")).toHaveText(named("coupee.jpg", "est incomplet ou endommagé : enregistrez-le de nouveau, puis déposez-le."));
  // The file already saved is still there.
  await expect(page.locator(".file")).toHaveCount(1);
  await expect(page.locator(".file")).toContainText("licence.pdf");
  // With JavaScript, both were refused in the browser: not one byte was sent.
  if (js(info.project.name)) expect(uploads).toEqual([]);
  else expect(uploads.length).toBe(3);
});

test("someone else's file is not served", async ({ page, browser }) => {
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("licence.pdf"));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  const href = await page.getByRole("link", { name: "Voir « licence.pdf »" }).getAttribute("href");
  const id = new URL(href!, "http://x").searchParams.get("voir");
  const own = await page.request.get(`/espace/fichiers/${id}`);
  expect(own.status()).toBe(200);

  const other = await browser.newPage({ extraHTTPHeaders: ownClient() });
  await registerQuickly(other);
  const stolen = await other.request.get(`/espace/fichiers/${id}`);
  expect(stolen.status()).toBe(404);
  await other.close();
});

test("the network lost in the middle of an upload: it says so, and the file arrives when the network is back, without a click", async ({ page, context }, info) => {
  test.skip(!js(info.project.name), "resuming needs JavaScript; without it the browser shows its own error page");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  const offsets: number[] = [];
  await page.route("**/espace/pieces/diplome/tus/*", async (route) => {
    const request = route.request();
    if (request.method() === "PATCH") {
      offsets.push(Number(request.headers()["upload-offset"]));
      // The third part: the phone enters a tunnel.
      if (offsets.length === 3) {
        await context.setOffline(true);
        await route.abort("internetdisconnected");
        return;
      }
    }
    await route.continue();
  });
  const size = 3_000_000;
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("licence.pdf", size));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByRole("alert")).toContainText("Connexion perdue : l'envoi reprendra tout seul");
  await expect(page.locator("progress")).toBeVisible();
  // Said to a screen reader by a status region, by quarters (RGAA 7.5).
  await expect(page.getByRole("status").filter({ hasText: /^Envoi en cours : (0|25|50|75) %$/ })).toHaveCount(1);
  await context.setOffline(false);
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await expect(page.locator(".file")).toHaveCount(1);
  // It went on from where it stopped: only the first part started at 0, and the lost
  // part was sent again once.
  expect(offsets.filter((o) => o === 0)).toHaveLength(1);
  expect(offsets.length).toBe(Math.ceil(size / (512 * 1024)) + 1);
});

test("a phone that goes offline in the middle of a slow upload says so at once and finishes when back online", async ({ page, context }, info) => {
  test.skip(!js(info.project.name), "resuming needs JavaScript");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  // A slow mobile link, then a tunnel: the request under way gets no error, it stalls.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 50, downloadThroughput: 250_000, uploadThroughput: 100_000 });
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("licence.pdf", 1_500_000));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.locator("progress")).toBeVisible();
  await context.setOffline(true);
  await expect(page.getByRole("alert")).toContainText("Connexion perdue : l'envoi reprendra tout seul", { timeout: 5_000 });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await context.setOffline(false);
  await expect(page.getByText("fichier enregistré")).toBeVisible({ timeout: 20_000 });
  await expect(page.locator(".file")).toHaveCount(1);
});

test("after a reload in the middle of an upload, the same file continues where it stopped", async ({ page }, info) => {
  test.skip(!js(info.project.name), "resuming needs JavaScript");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  const file = pdfFile("licence.pdf", 3_000_000);
  let patches = 0;
  let held = () => {};
  const third = new Promise<void>((resolve) => (held = resolve));
  await page.route("**/espace/pieces/diplome/tus/*", async (route) => {
    // The third part never gets an answer: the candidate reloads the page meanwhile.
    if (route.request().method() === "PATCH" && ++patches === 3) {
      held();
      return;
    }
    await route.continue();
  });
  await page.getByLabel("choisir un fichier").setInputFiles(file);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await third;
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await page.reload();
  await hydrated(page);
  const resumedAt: number[] = [];
  page.on("request", (r) => {
    if (r.method() === "PATCH") resumedAt.push(Number(r.headers()["upload-offset"]));
  });
  await page.getByLabel("choisir un fichier").setInputFiles(file);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  // At least the two parts acknowledged before the reload (the server also keeps what
  // arrived of the third), never from the start.
  expect(resumedAt[0]).toBeGreaterThanOrEqual(2 * 512 * 1024);
  await expect(page.locator(".file")).toHaveCount(1);
});

test("« Annuler l'envoi » stops the upload and abandons it on the server", async ({ page }, info) => {
  test.skip(!js(info.project.name), "cancelling needs JavaScript");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  let patches = 0;
  await page.route("**/espace/pieces/diplome/tus/*", async (route) => {
    // The second part hangs, as on a slow link: the candidate gives up.
    if (route.request().method() === "PATCH" && ++patches === 2) return;
    await route.continue();
  });
  const deleted = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().includes("/tus/"));
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("licence.pdf", 2_000_000));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect.poll(() => patches).toBe(2);
  await page.getByRole("button", { name: "Annuler l'envoi" }).click();
  await expect(page.getByRole("alert")).toHaveText("Envoi annulé : le fichier n'a pas été enregistré.");
  expect((await deleted).status()).toBe(204);
  await page.reload();
  await expect(page.getByText("Aucun fichier déposé pour cette pièce.")).toBeVisible();
});

test("a long file name without spaces never widens the window on a 320 px screen", async ({ page }) => {
  await registerQuickly(page);
  await page.setViewportSize({ width: 320, height: 640 });
  await page.goto("/espace/pieces/diplome");
  const name = "Attestation_employeur_service_ressources_humaines_2026_version_finale.pdf";
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile(name));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  const id = await page.locator(".file").first().getAttribute("data-file");
  // The list, the preview's title, the deletion's question (RGAA 10.11).
  for (const address of ["/espace/pieces/diplome", `/espace/pieces/diplome?voir=${id}`, `/espace/pieces/diplome?supprimer=${id}`]) {
    await page.goto(address);
    await expect(page.getByText(name).first()).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, address).toBeLessThanOrEqual(0);
  }
});

test("Escape closes the document window and the focus goes back to its folder button", async ({ page }, info) => {
  test.skip(!js(info.project.name), "a key handler needs JavaScript; without it « fermer » is the way back");
  await registerQuickly(page);
  await expect(page.locator("[data-piece=diplome]")).toBeVisible();
  await page.waitForLoadState("networkidle");
  // With the keyboard only: a screen-reader user must not lose their place in the list.
  const folder = page.getByRole("link", { name: "Ouvrir le dossier de la pièce : Copie du diplôme" });
  await folder.focus();
  await page.keyboard.press("Enter");
  // Hydrated (client-side or after a full load), the title has the focus.
  await expect(page.getByRole("dialog").getByRole("heading", { level: 2 })).toBeFocused();
  // The keyboard stays in the window: nothing behind it (page, header, footer) takes
  // the focus (RGAA 7.1, 12.8).
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press("Tab");
    const where = await page.evaluate(() => {
      const a = document.activeElement;
      return !a || a === document.body || a.closest("[role=dialog]") ? "inside" : a.outerHTML.slice(0, 80);
    });
    expect(where, `after ${i + 1} Tab`).toBe("inside");
  }
  await page.getByRole("dialog").getByRole("heading", { level: 2 }).focus();
  await page.keyboard.press("Escape");
  await expect(page).toHaveURL(/\/espace$/);
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(folder).toBeFocused();
  // « fermer » does the same.
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog").getByRole("heading", { level: 2 })).toBeFocused();
  await page.getByRole("dialog").getByRole("link", { name: "fermer" }).focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/espace$/);
  await expect(folder).toBeFocused();
});

test("on a desktop, a file dropped on the window is added like a chosen one", async ({ page }, info) => {
  test.skip(info.project.name !== "desktop", "drag and drop needs a mouse and JavaScript");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await expect(page.getByText("ou glissez-déposez le fichier ici")).toBeVisible();
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["%PDF-1.7\n1 0 obj << >> endobj\nstartxref\n0\n%%EOF\n"], "déposé.pdf", { type: "application/pdf" }));
    return dt;
  });
  await page.locator(".drop-zone").dispatchEvent("dragover", { dataTransfer });
  await page.locator(".drop-zone").dispatchEvent("drop", { dataTransfer });
  await expect.poll(() => page.getByLabel("choisir un fichier").evaluate((i: HTMLInputElement) => i.files?.length)).toBe(1);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await expect(page.locator(".file")).toContainText("déposé.pdf");
});

test("a forged upload straight to the server is refused by the server, and nothing is stored", async ({ page }, info) => {
  test.skip(info.project.name !== "desktop", "the server's answer does not depend on the viewport");
  await registerQuickly(page);
  const origin = new URL(page.url()).origin;
  const send = (piece: string, file: ReturnType<typeof pdfFile>, from = origin) =>
    page.request.post(`/espace/pieces/${piece}/fichiers`, { multipart: { fichier: file }, headers: { Accept: "application/json", Origin: from } });
  // Skipping the browser's checks: a PNG named .pdf.
  const png = { name: "scan.pdf", mimeType: "application/pdf", buffer: Buffer.from("\x89PNG\r\n\x1a\n0000000000", "latin1") };
  const wrong = await send("diplome", png);
  expect(wrong.status()).toBe(415);
  expect((await wrong.json()).message).toBe("« scan.pdf » doit être au format PDF ou JPEG.");
  // From another site, with the candidate's cookie.
  expect((await send("diplome", pdfFile("ok.pdf"), "https://evil.example")).status()).toBe(403);
  // A pièce this candidate is not asked for (troisième concours only).
  expect((await send("justificatif-activite", pdfFile("ok.pdf"))).status()).toBe(404);
  await page.goto("/espace/pieces/diplome");
  await expect(page.getByText("Aucun fichier déposé pour cette pièce.")).toBeVisible();
});

test("each antivirus verdict is said to a screen reader as it comes: a clean file in a status, a virus in an alert", async ({ browser }, info) => {
  test.skip(!js(info.project.name), "the verdicts come by themselves only with JavaScript");
  // With clamd down, files wait for it and the window asks where they stand every 3 s;
  // the answers are given here, so the page is caught waiting whatever clamd's speed.
  const server = await ownServer(() => ({ APP_DEMO: "true", APP_CLAMD: "tcp://127.0.0.1:9" }));
  try {
    const context = await browser.newContext({ baseURL: server.url, extraHTTPHeaders: ownClient() });
    const page = await context.newPage();
    await login(page, DEMO_NUMBER, DEMO_PASSWORD);
    await page.goto("/espace/pieces/piece-identite");
    for (const name of ["propre.pdf", "virus.pdf"]) {
      await page.getByLabel("choisir un fichier").setInputFiles(pdfFile(name));
      await page.getByRole("button", { name: "ajouter le fichier" }).click();
      await expect(page.getByText("fichier enregistré")).toBeVisible();
      await page.goto("/espace/pieces/piece-identite");
    }
    await expect(page.getByText("Analyse antivirus en cours…")).toHaveCount(2);
    const id = async (name: string) => page.locator(".file", { hasText: name }).getAttribute("data-file");
    const [clean, infected] = [await id("propre.pdf"), await id("virus.pdf")];
    await page.route("**/espace/pieces/piece-identite/analyses", (route) =>
      route.fulfill({
        json: [
          { id: clean, scan: "clean", text: null },
          { id: infected, scan: "infected", text: "Virus détecté : ce fichier a été supprimé, merci d'en envoyer un autre." },
        ],
      }),
    );
    await expect(page.getByRole("status").filter({ hasText: "« propre.pdf » : analyse antivirus terminée, aucun virus." })).toHaveCount(1, {
      timeout: 10_000,
    });
    await expect(page.getByRole("alert").filter({ hasText: "« virus.pdf » : Virus détecté" })).toHaveCount(1);
    await expect(page.getByText("Analyse antivirus en cours…")).toHaveCount(0);
    await context.close();
  } finally {
    server.stop();
  }
});

test("a file carrying a virus: the window says so (by itself with JavaScript), and it is never served", async ({ page }, info) => {
  // scripts/with-clamd.sh starts one (make test does).
  needs("clamd", !!process.env.TEST_CLAMD, info.title);
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  // The EICAR test file, which every antivirus reports and which harms nothing.
  const eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  const body = "%PDF-1.7\n1 0 obj << >>\nstream\n" + eicar + "\nendstream\nendobj\nstartxref\n0\n%%EOF\n";
  await page.getByLabel("choisir un fichier").setInputFiles({ name: "virus.pdf", mimeType: "application/pdf", buffer: Buffer.from(body, "latin1") });
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  const verdict = page.getByText("Virus détecté : ce fichier a été supprimé, merci d'en envoyer un autre.", { exact: true });
  if (js(info.project.name)) {
    await expect(verdict).toBeVisible({ timeout: 20_000 });
  } else {
    await expect(async () => {
      await page.reload();
      await expect(verdict).toBeVisible({ timeout: 500 });
    }).toPass({ timeout: 20_000 });
  }
  // Not offered, not served, and the pièce is still to provide.
  await expect(page.getByRole("link", { name: "Voir « virus.pdf »" })).toHaveCount(0);
  const id = await page.locator(".file").first().getAttribute("data-file");
  expect((await page.request.get(`/espace/fichiers/${id}`)).status()).toBe(410);
  await page.goto("/espace");
  await expect(page.locator("[data-piece=diplome]")).toContainText("à fournir");
  await expectNoA11yViolations(page, js(info.project.name));
});
