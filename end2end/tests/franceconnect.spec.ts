import { expect, Page } from "@playwright/test";
import { test, DEMO_EXAM, PASSWORD, uniqueName, expectNoA11yViolations } from "./helpers";

// The server runs with a local FranceConnect (scripts/franceconnect/provider.mjs, started
// by scripts/e2e.sh): these journeys go through its screens, on the desktop, the phone and
// without JavaScript (plain redirects and forms).

/** At the provider's login screen: signs in as `login` (letters only: a citizen of its
 * own, named after it), or cancels. */
async function atProvider(page: Page, login: string | null) {
  await expect(page.getByRole("heading", { name: "Fournisseur d'identité de test" })).toBeVisible();
  expect(page.url()).toContain(process.env.FC_ISSUER ?? "http://127.0.0.1:");
  if (login === null) {
    await page.getByRole("button", { name: "Annuler et revenir" }).click();
    return;
  }
  await page.getByLabel("Identifiant").fill(login);
  await page.getByLabel("Mot de passe").fill("123");
  await page.getByRole("button", { name: "Se connecter" }).click();
}

async function next(page: Page, step: string) {
  await page.getByRole("button", { name: "Suivant" }).click();
  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}/${step}$`));
}

test("préinscription avec FranceConnect : l'identité certifiée est verrouillée, puis connexion et déconnexion sans mot de passe", async ({ page, javaScriptEnabled }) => {
  const login = uniqueName().toLowerCase();
  await page.goto(`/inscription/${DEMO_EXAM}/identite`);
  await expect(page.getByRole("link", { name: "Qu'est-ce que FranceConnect ?" })).toHaveAttribute("title", /nouvelle fenêtre/);
  await page.getByRole("button", { name: "S'identifier avec FranceConnect" }).click();
  await atProvider(page, login);

  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}/identite\\?franceconnect=certifie`));
  await expect(page.locator("[data-franceconnect=certifie]")).toContainText("Votre identité est certifiée par FranceConnect");
  const certified = page.getByRole("region", { name: "Identité certifiée par FranceConnect" });
  await expect(certified).toContainText(login.toUpperCase());
  await expect(certified).toContainText("Claire Marie");
  await expect(certified).toContainText("03/02/1991");
  // Locked: not fields of the form; the button is gone.
  await expect(page.getByLabel("Nom de naissance")).toHaveCount(0);
  await expect(page.getByLabel("Date de naissance")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "S'identifier avec FranceConnect" })).toHaveCount(0);
  await expectNoA11yViolations(page, javaScriptEnabled);

  await page.getByLabel("Commune de naissance").fill("Laval");
  await page.getByLabel("Française").check();
  await next(page, "coordonnees");
  // The address FranceConnect gave is offered, and may be changed.
  await expect(page.getByLabel("Adresse électronique", { exact: true })).toHaveValue(`${login}@exemple.fr`);
  await page.getByLabel("Téléphone").fill("06 12 34 56 78");
  await page.getByLabel("Adresse", { exact: true }).fill("12 rue de la Paix");
  await page.getByLabel("Code postal").fill("53000");
  await page.getByLabel("Commune", { exact: true }).fill("Laval");
  await next(page, "voie");
  await page.getByLabel(/Concours externe/).check();
  await next(page, "situation");
  await page.getByLabel("Diplôme").fill("Licence d'administration publique");
  await page.getByLabel("Année d'obtention").fill("2012");
  await next(page, "amenagement");
  await page.getByLabel("Non").check();
  await next(page, "mot-de-passe");
  await page.getByLabel("Mot de passe", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirmation du mot de passe").fill(PASSWORD);
  await next(page, "verification");
  await expect(page.locator(".summary").first()).toContainText(login.toUpperCase());
  await page.getByLabel(/Je certifie sur l'honneur/).check();
  await page.getByRole("button", { name: "Créer mon dossier" }).click();

  await expect(page).toHaveURL(/\/espace\?nouveau=1/);
  const number = (await page.locator("[data-dossier-number]").textContent())!.trim();
  await expect(page.locator("[data-certified]")).toContainText("certifiée par FranceConnect à la préinscription");
  // Already certified: nothing to link.
  await expect(page.getByRole("button", { name: /Lier mon dossier avec/ })).toHaveCount(0);

  // « Se déconnecter »: the provider's logout, then the catalogue.
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(page.getByRole("heading", { name: "Se déconnecter de FranceConnect ?" })).toBeVisible();
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(page).toHaveURL(/\/\?franceconnect=deconnecte$/);
  await expect(page.locator("[data-franceconnect=deconnecte]")).toContainText("Vous êtes déconnecté de votre espace sécurisé et de FranceConnect");
  await page.goto("/espace");
  await expect(page).toHaveURL(/\/connexion/);

  // Back in with FranceConnect: no number, no password.
  await page.goto("/connexion");
  await expectNoA11yViolations(page, javaScriptEnabled);
  await page.getByRole("button", { name: "S'identifier avec FranceConnect" }).click();
  await atProvider(page, login);
  await expect(page).toHaveURL(/\/espace$/);
  await expect(page.locator("[data-dossier-number]")).toHaveText(number);
});

test("FranceConnect annulé ou sans dossier : le candidat revient sur notre page, avec l'explication", async ({ page, javaScriptEnabled }) => {
  await page.goto(`/inscription/${DEMO_EXAM}/identite`);
  await page.getByRole("button", { name: "S'identifier avec FranceConnect" }).click();
  await atProvider(page, null);
  await expect(page).toHaveURL(new RegExp(`/inscription/${DEMO_EXAM}/identite\\?franceconnect=annule`));
  await expect(page.getByRole("alert").filter({ hasText: "Vous avez annulé la connexion avec FranceConnect" })).toBeVisible();
  // The form is there as before, to fill by hand.
  await expect(page.getByLabel("Nom de naissance")).toBeVisible();
  await expectNoA11yViolations(page, javaScriptEnabled);

  // An identity with no dossier, at the login page.
  await page.goto("/connexion");
  await page.getByRole("button", { name: "S'identifier avec FranceConnect" }).click();
  await atProvider(page, uniqueName().toLowerCase());
  await expect(page).toHaveURL(/\/connexion\?franceconnect=aucun-dossier/);
  await expect(page.getByRole("alert").filter({ hasText: "Aucun dossier n'est lié à cette identité FranceConnect" })).toBeVisible();
  await expectNoA11yViolations(page, javaScriptEnabled);
});
