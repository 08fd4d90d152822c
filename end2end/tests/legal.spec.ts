import { expect } from "@playwright/test";
import { DEMO_NUMBER, DEMO_PASSWORD, expectNoA11yViolations, login, test } from "./helpers";

// The example Centre of the shipped centre.toml.
const CENTRE = "Centre de gestion de la fonction publique territoriale (exemple)";

const PAGES = [
  { link: /^Accessibilité : (totalement|partiellement|non) conforme$/, url: "/accessibilite", title: "Déclaration d'accessibilité" },
  { link: "Mentions légales", url: "/mentions-legales", title: "Mentions légales" },
  { link: "Données personnelles", url: "/donnees-personnelles", title: "Données personnelles" },
];

test("every page's footer links the three legal pages, and each opens", async ({ page }, info) => {
  const js = info.project.name !== "no-js";
  // A candidate page, a page of the espace, and the staff's login page.
  await login(page, DEMO_NUMBER, DEMO_PASSWORD);
  await expect(page).toHaveURL(/\/espace$/);
  for (const start of ["/", "/espace", "/service/connexion"]) {
    for (const legal of PAGES) {
      await page.goto(start);
      const footer = page.getByRole("navigation", { name: "Informations légales" });
      await footer.getByRole("link", { name: legal.link }).click();
      await expect(page).toHaveURL(new RegExp(`${legal.url}$`));
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(legal.title);
      await expect(page).toHaveTitle(legal.title);
    }
  }
  for (const legal of PAGES) {
    await page.goto(legal.url);
    await expectNoA11yViolations(page, js);
  }
});

test("the déclaration d'accessibilité follows the official model, its figures from the grid", async ({ page }) => {
  await page.goto("/accessibilite");
  const main = page.locator("main");
  for (const heading of [
    "État de conformité",
    "Résultats des tests",
    "Contenus non accessibles",
    "Établissement de cette déclaration d'accessibilité",
    "Retour d'information et contact",
    "Voies de recours",
  ]) {
    await expect(main.getByRole("heading", { level: 2, name: heading })).toBeVisible();
  }
  for (const heading of [
    "Non-conformités",
    "Dérogations pour charge disproportionnée",
    "Contenus non soumis à l'obligation d'accessibilité",
    "Technologies utilisées pour la réalisation du site",
    "Environnement de test",
    "Outils pour évaluer l'accessibilité",
    "Pages du site ayant fait l'objet de la vérification de conformité",
  ]) {
    await expect(main.getByRole("heading", { level: 3, name: heading })).toBeVisible();
  }
  await expect(main).toContainText(`${CENTRE} s'engage à rendre ses sites internet`);
  await expect(main).toContainText("référentiel général d'amélioration de l'accessibilité (RGAA), version 4.1");
  // The rate and the state agree with each other and with the footer.
  const results = await main.getByText(/révèle que \d+ % des critères/).textContent();
  const [, rate, met, notMet] = results!.match(/que (\d+) % .* : (\d+) critères conformes et (\d+) non conformes/)!;
  expect(Number(rate)).toBe(Math.floor((100 * Number(met)) / (Number(met) + Number(notMet))));
  const state = Number(notMet) === 0 ? "totalement conforme" : Number(rate) >= 50 ? "partiellement conforme" : "non conforme";
  await expect(main.locator("strong").filter({ hasText: /conforme$/ })).toHaveText(state);
  await expect(page.getByRole("navigation", { name: "Informations légales" }).getByRole("link").first()).toHaveText(
    `Accessibilité : ${state}`,
  );
  // One line of the non-conformities per criterion not met.
  await expect(main.locator("h3:text('Non-conformités') + ul > li")).toHaveCount(Number(notMet));
  await expect(main.getByRole("link", { name: "Défenseur des droits", exact: true })).toHaveAttribute(
    "href",
    "https://formulaire.defenseurdesdroits.fr/",
  );
  await expect(main.getByRole("link", { name: "accessibilite@cdg-exemple.fr" })).toHaveAttribute(
    "href",
    "mailto:accessibilite@cdg-exemple.fr",
  );
});

test("the mentions légales and the personal data page name the Centre's people", async ({ page }) => {
  await page.goto("/mentions-legales");
  const main = page.locator("main");
  await expect(main).toContainText(CENTRE);
  await expect(main).toContainText("La présidente du Centre de gestion (exemple)");
  await expect(main).toContainText("Hébergeur (exemple)");
  await page.goto("/donnees-personnelles");
  for (const heading of ["Responsable du traitement", "Finalités et base légale", "Données collectées", "Destinataires", "Durées de conservation", "Vos droits", "Réclamation"]) {
    await expect(main.getByRole("heading", { level: 2, name: heading })).toBeVisible();
  }
  await expect(main.getByRole("link", { name: "dpo@cdg-exemple.fr" })).toHaveAttribute("href", "mailto:dpo@cdg-exemple.fr");
  await expect(main).toContainText("24 mois après la date limite");
  await expect(main.getByRole("link", { name: /cnil\.fr/ })).toBeVisible();
});
