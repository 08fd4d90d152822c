import { expect } from "@playwright/test";
import { DEMO_EXAM, DEMO_NUMBER, expectNoA11yViolations, login, pdfFile, registerQuickly, test } from "./helpers";

const js = (name: string) => name !== "no-js";

test("a refused form comes back to its page with the reason, the real wait and whom to ask", async ({ page }, info) => {
  // Where `server::refusals` sends a form the limits refused (tested over HTTP for
  // every form): the page as it was, the refusal above it.
  await page.goto("/numero-oublie?refus=limite-demandes&attente=2400");
  const refusal = page.locator("[data-refus=limite-demandes]");
  await expect(refusal).toBeVisible();
  await expect(refusal).toContainText("Beaucoup de demandes ont été faites depuis votre connexion internet");
  await expect(refusal).toContainText("Vous pourrez réessayer dans 40 minutes.");
  await expect(refusal).toContainText("service concours");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("N° de dossier oublié");
  await expect(page.getByRole("button", { name: "Recevoir mes numéros" })).toBeVisible();
  await expectNoA11yViolations(page, js(info.project.name));
  // A code it does not know says nothing: no text from an address becomes the site's.
  await page.goto("/numero-oublie?refus=%3Cb%3Evotre%20compte%20est%20bloqu%C3%A9");
  await expect(page.locator("[data-refus]")).toHaveCount(0);
});

test("a wrong password keeps the number typed, and the password can be shown", async ({ page }, info) => {
  await login(page, DEMO_NUMBER.toLowerCase(), "pas le bon mot de passe");
  await expect(page.getByRole("alert")).toHaveText(/Numéro de dossier ou mot de passe incorrect/);
  await expect(page.getByLabel("Identifiant (n° de dossier)")).toHaveValue(DEMO_NUMBER);
  const password = page.getByLabel("Mot de passe", { exact: true });
  if (js(info.project.name)) {
    await password.fill("essai");
    await page.getByLabel("Afficher le mot de passe").check();
    await expect(password).toHaveAttribute("type", "text");
    await page.getByLabel("Afficher le mot de passe").uncheck();
    await expect(password).toHaveAttribute("type", "password");
  } else {
    // Without scripts the box could do nothing: it is not offered.
    await expect(page.getByLabel("Afficher le mot de passe")).toBeHidden();
  }
  await expectNoA11yViolations(page, js(info.project.name));
});

test("before the first step, a page says what the préinscription asks", async ({ page }, info) => {
  await page.goto("/");
  await page.locator(`[data-exam=${DEMO_EXAM}]`).getByRole("link", { name: /Se préinscrire/ }).click();
  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}$`));
  await expect(page.locator(".deadline")).toContainText(/^Date limite de clôture : le \w+ \d/);
  await expect(page.locator(".deadline")).toContainText("avant minuit (heure de Paris)");
  const pieces = page.locator(".start-pieces");
  await expect(pieces).toContainText("Copie du diplôme");
  await expect(pieces).toContainText("concours externe");
  await expect(page.getByText("Comptez 10 minutes")).toBeVisible();
  await expectNoA11yViolations(page, js(info.project.name));
  await page.getByRole("link", { name: "Commencer ma préinscription" }).click();
  await expect(page).toHaveURL(/\/identite$/);
});

test("the aménagement's details appear with « Oui », on several lines, and are not optional", async ({ page }, info) => {
  await page.goto(`/inscription/${DEMO_EXAM}/amenagement`);
  const details = page.getByLabel("Aménagements demandés");
  await expect(details).toBeHidden();
  await page.getByLabel("Oui").check();
  await expect(details).toBeVisible();
  expect(await details.evaluate((e) => e.tagName)).toBe("TEXTAREA");
  await expect(page.locator(".amenagement-details")).not.toContainText("facultatif");
  await page.getByRole("button", { name: "Suivant" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "à corriger" })).toContainText("Décrivez les aménagements que vous demandez.");
  await expectNoA11yViolations(page, js(info.project.name));
  await page.getByLabel("Non").check();
  await expect(details).toBeHidden();
});

test("a pièce's card opens its window; the window counts its files; after OK the file is in view", async ({ page }, info) => {
  await registerQuickly(page);
  await page.goto("/espace");
  // The whole card, not only the folder button.
  await page.locator("[data-piece=diplome]").click({ position: { x: 30, y: 20 } });
  await expect(page).toHaveURL(/\/espace\/pieces\/diplome$/);
  await expect(page.locator("#fichier-aide")).toContainText("Cette pièce : 0 fichier sur 3.");
  await expect(page.locator("fieldset.pages")).toContainText("« prendre une photo » ouvre l'appareil photo");
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("Licence.pdf"));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await page.getByRole("link", { name: "OK" }).click();
  await expect(page).toHaveURL(/#gestion-titre$/);
  await expect(page.locator(".file", { hasText: "Licence.pdf" })).toBeInViewport();
  await expect(page.locator("#fichier-aide")).toContainText("Cette pièce : 1 fichier sur 3.");
  await expectNoA11yViolations(page, js(info.project.name));
});
