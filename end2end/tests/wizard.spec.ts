import { expect } from "@playwright/test";
import {
  DEMO_EXAM,
  DEMO_NUMBER,
  DEMO_PASSWORD,
  PASSWORD,
  expectNoA11yViolations,
  hydrated,
  login,
  mailTo,
  register,
  test,
  uniqueName,
} from "./helpers";

const js = (name: string) => name !== "no-js";

test("a new candidate pre-registers, gets the number by mail, logs out and back in", async ({ page }, info) => {
  const name = uniqueName();
  const email = `${name.toLowerCase()}@exemple.fr`;
  const number = await register(page, js(info.project.name), { name, email });
  await expect(page.getByRole("status")).toContainText(email);
  await expectNoA11yViolations(page, js(info.project.name));

  const mail = await mailTo(email, number);
  expect(mail).toContain(`Votre n° de dossier : ${number}`);

  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(page).toHaveURL(/\/connexion\?info=deconnecte/);
  await expect(page.getByText("Vous êtes déconnecté.")).toBeVisible();
  // Logged out: the espace sends back to the login page.
  await page.goto("/espace");
  await expect(page).toHaveURL(/\/connexion/);

  // The number as people type it: lowercase, without dashes.
  await login(page, number.replace(/-/g, "").toLowerCase(), PASSWORD);
  await expect(page).toHaveURL(/\/espace$/);
  await expect(page.locator("[data-dossier-number]")).toHaveText(number);
});

test("wrong answers get a French message next to the field and in a summary", async ({ page }, info) => {
  const requests: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST") requests.push(r.url());
  });
  await page.goto(`/inscription/${DEMO_EXAM}/identite`);
  if (js(info.project.name)) await hydrated(page);
  await page.getByLabel("Nom de naissance").fill("R2D2");
  await page.getByLabel("Date de naissance").fill("31/02/1990");
  await page.getByRole("button", { name: "Suivant" }).click();

  const summary = page.getByRole("alert").filter({ hasText: "à corriger" });
  await expect(summary).toBeVisible();
  await expect(summary).toContainText("Nom de naissance : Utilisez seulement des lettres");
  await expect(summary).toContainText("Date de naissance : Saisissez une date réelle");
  // Every field of the step is checked, not only those touched.
  await expect(summary).toContainText("Civilité : Indiquez votre civilité.");
  await expect(summary).toContainText("Prénom(s) : Saisissez votre ou vos prénoms.");
  // Listed in the order of the form, not of the fields' names.
  const items = await summary.locator("li").allTextContents();
  const at = (label: string) => items.findIndex((t) => t.startsWith(label));
  expect(at("Civilité")).toBe(0);
  expect(at("Nom de naissance")).toBeLessThan(at("Prénom(s)"));
  expect(at("Prénom(s)")).toBeLessThan(at("Date de naissance"));
  await expect(page.locator("#champ-date_naissance")).toHaveAttribute("aria-invalid", "true");
  // What was typed is still there.
  await expect(page.getByLabel("Date de naissance")).toHaveValue("31/02/1990");
  if (js(info.project.name)) {
    // Checked in the browser by the same rules: nothing was sent, and focus moved to the summary.
    expect(requests).toEqual([]);
    await expect(summary).toBeFocused();
  } else {
    expect(requests.length).toBe(1);
  }
  await expectNoA11yViolations(page, js(info.project.name));

  // Correcting a field clears its message (once hydrated) and the next step accepts it.
  await page.getByLabel("Nom de naissance").fill("Dupont");
  if (js(info.project.name)) {
    await expect(summary).not.toContainText("Nom de naissance");
  }
});

test("back and reload keep the answers", async ({ page }) => {
  await page.goto(`/inscription/${DEMO_EXAM}/identite`);
  await page.getByLabel("Madame").check();
  await page.getByLabel("Nom de naissance").fill("Le Bihan-Kerouédan");
  await page.getByLabel("Prénom(s)").fill("Éloïse");
  await page.getByLabel("Date de naissance").fill("01/01/1985");
  await page.getByLabel("Commune de naissance").fill("Brest");
  await page.getByLabel("Pays de naissance").fill("France");
  await page.getByLabel("Française").check();
  await page.getByRole("button", { name: "Suivant" }).click();
  await expect(page).toHaveURL(/coordonnees$/);
  await page.getByLabel("Téléphone").fill("02 43 59 09 09");
  await page.getByRole("button", { name: "Précédent" }).click();
  await expect(page).toHaveURL(/identite$/);
  await expect(page.getByLabel("Nom de naissance")).toHaveValue("Le Bihan-Kerouédan");
  await page.reload();
  await expect(page.getByLabel("Prénom(s)")).toHaveValue("Éloïse");
  await page.goto(`/inscription/${DEMO_EXAM}/coordonnees`);
  await expect(page.getByLabel("Téléphone")).toHaveValue("02 43 59 09 09");
});

test("registration is refused once the deadline has passed", async ({ page }) => {
  await page.goto("/inscription/animateur-territorial-2025/identite");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Les inscriptions sont closes");
  await expect(page.locator("form")).toHaveCount(0);
});

test("the demo candidate logs in; a wrong password gets the same message as an unknown dossier", async ({ page }, info) => {
  await login(page, DEMO_NUMBER, "pas le bon mot de passe");
  await expect(page.getByRole("alert")).toHaveText(/Numéro de dossier ou mot de passe incorrect/);
  await login(page, "26-ZZZZ-ZZZZ", DEMO_PASSWORD);
  await expect(page.getByRole("alert")).toHaveText(/Numéro de dossier ou mot de passe incorrect/);
  await expectNoA11yViolations(page, js(info.project.name));
  await login(page, DEMO_NUMBER, DEMO_PASSWORD);
  await expect(page).toHaveURL(/\/espace$/);
  await expect(page.locator("[data-dossier-number]")).toHaveText(DEMO_NUMBER);
});

test("a forgotten password is replaced through the emailed link, once", async ({ page }, info) => {
  const name = uniqueName();
  const email = `${name.toLowerCase()}@exemple.fr`;
  const number = await register(page, js(info.project.name), { name, email });
  await page.getByRole("button", { name: "Se déconnecter" }).click();

  await page.goto("/connexion");
  await page.getByRole("link", { name: "Mot de passe oublié ?" }).click();
  await page.getByLabel("N° de dossier").fill(number);
  await page.getByLabel("Adresse électronique").fill(email.toUpperCase());
  await page.getByRole("button", { name: "Recevoir un lien" }).click();
  await expect(page.getByRole("status")).toContainText("Si ce numéro de dossier et cette adresse correspondent");
  await expectNoA11yViolations(page, js(info.project.name));

  const mail = await mailTo(email, "/mot-de-passe/");
  const link = mail.match(/https?:\/\/\S+\/mot-de-passe\/\S+/)![0];
  await page.goto(link);
  await page.getByLabel("Nouveau mot de passe").fill("une toute nouvelle phrase");
  await page.getByLabel("Confirmation du mot de passe").fill("une toute nouvelle phrase");
  await page.getByRole("button", { name: "Enregistrer" }).click();
  await expect(page.getByRole("status")).toContainText("Votre nouveau mot de passe est enregistré");

  await login(page, number, PASSWORD);
  await expect(page.getByRole("alert")).toHaveText(/incorrect/);
  await login(page, number, "une toute nouvelle phrase");
  await expect(page).toHaveURL(/\/espace$/);

  // The link served once.
  await page.goto(link);
  await expect(page.getByRole("alert")).toContainText("Ce lien n'est plus valable");
});

test("a forgotten dossier number is emailed", async ({ page }, info) => {
  const name = uniqueName();
  const email = `${name.toLowerCase()}@exemple.fr`;
  const number = await register(page, js(info.project.name), { name, email });
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await page.goto("/numero-oublie");
  await page.getByLabel(/Adresse électronique/).fill(email);
  await page.getByRole("button", { name: "Recevoir mes numéros" }).click();
  await expect(page.getByRole("status")).toContainText("Si des dossiers ont été ouverts avec cette adresse");
  const mail = await mailTo(email, "numéros des dossiers");
  expect(mail).toContain(number);
});
