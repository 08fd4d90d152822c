//! What the law asks a public service's site to publish, linked from every page's
//! footer: the déclaration d'accessibilité (in the official model, its figures read
//! from the audit grid kept in `accessibilite/`), the mentions légales and the page on
//! personal data. Plain pages, rendered on the server from the Centre's description.

use leptos::prelude::*;
use leptos_meta::Title;

use domain::accessibility::{Audit, Conformity};

use crate::centre;

/// The audit shipped with the site (`services::platform::accessibility`), checked at
/// start-up.
#[cfg(feature = "ssr")]
fn audit() -> Option<&'static Audit> {
    services::platform::accessibility::audit().ok()
}
#[cfg(not(feature = "ssr"))]
fn audit() -> Option<&'static Audit> {
    None
}

/// The state every page's footer gives (the official model asks for it on the home
/// page at least).
fn conformity() -> Conformity {
    audit().map_or(Conformity::None, Audit::conformity)
}

/// The legal links at the foot of every page, candidates' and staff's.
#[component]
pub fn LegalLinks() -> impl IntoView {
    view! {
        <nav class="legal-links" aria-label="Informations légales">
            <ul>
                <li><a href="/accessibilite">{format!("Accessibilité : {}", conformity().words())}</a></li>
                <li><a href="/mentions-legales">"Mentions légales"</a></li>
                <li><a href="/donnees-personnelles">"Données personnelles"</a></li>
            </ul>
        </nav>
    }
}

/// « 2026-12-06 » as « dimanche 6 décembre 2026 ».
fn long_day(day: &str) -> String {
    day.parse::<jiff::civil::Date>()
        .map_or_else(|_| day.to_string(), domain::french::long_date)
}

/// `/accessibilite`: the déclaration d'accessibilité, in the model the État publishes.
#[component]
pub fn AccessibilityPage() -> impl IntoView {
    let (Some(centre), Some(audit)) = (centre(), audit()) else {
        return view! { <Title text="Déclaration d'accessibilité" /><h1>"Déclaration d'accessibilité"</h1> }.into_any();
    };
    let facts = audit.facts.clone();
    let (met, not_met) = audit.counts();
    let state = audit.conformity();
    let because = match state {
        Conformity::Total => "",
        _ => " en raison des non-conformités énumérées ci-dessous",
    };
    let not_met_list: Vec<_> = audit
        .not_met()
        .map(|c| view! { <li><strong>{format!("Critère {} : ", c.id)}</strong>{c.note.clone()}</li> })
        .collect();
    let feedback = format!("mailto:{}", centre.contact_accessibilite);
    view! {
        <Title text="Déclaration d'accessibilité" />
        <article class="legal">
            <h1>"Déclaration d'accessibilité"</h1>
            <p>
                {centre.nom.clone()}
                " s'engage à rendre ses sites internet, intranet et extranet et ses progiciels accessibles conformément à l'article 47 de la loi n° 2005-102 du 11 février 2005."
            </p>
            <p>
                "Le schéma pluriannuel de mise en accessibilité et le plan d'action de l'année sont publiés sur le site du Centre : "
                <a href=centre.site.clone()>{centre.site.clone()}</a>"."
            </p>
            <p>"Cette déclaration d'accessibilité s'applique au service d'inscription en ligne aux concours et examens professionnels."</p>

            <h2>"État de conformité"</h2>
            <p>
                "Le service d'inscription en ligne est "<strong>{state.words()}</strong>
                " avec le référentiel général d'amélioration de l'accessibilité (RGAA), version 4.1"
                {because}"."
            </p>

            <h2>"Résultats des tests"</h2>
            <p>
                {format!(
                    "L'audit de conformité réalisé par {} révèle que {} % des critères du RGAA version 4.1 sont respectés : {} critères conformes et {} non conformes sur les {} qui s'appliquent (les {} autres ne s'appliquent pas à ce service).",
                    facts.realise_par,
                    audit.rate(),
                    met,
                    not_met,
                    met + not_met,
                    audit.criteria.len() - met - not_met,
                )}
            </p>

            <h2>"Contenus non accessibles"</h2>
            <h3>"Non-conformités"</h3>
            {if not_met_list.is_empty() {
                view! { <p>"Aucune."</p> }.into_any()
            } else {
                view! { <ul>{not_met_list}</ul> }.into_any()
            }}
            <h3>"Dérogations pour charge disproportionnée"</h3>
            <List items=facts.derogations.clone() />
            <h3>"Contenus non soumis à l'obligation d'accessibilité"</h3>
            <List items=facts.non_soumis.clone() />

            <h2>"Établissement de cette déclaration d'accessibilité"</h2>
            <p>{format!("Cette déclaration a été établie le {}.", long_day(&facts.date))}</p>
            <h3>"Méthode"</h3>
            <p>{facts.methode.clone()}</p>
            <h3>"Technologies utilisées pour la réalisation du site"</h3>
            <List items=facts.technologies.clone() />
            <h3>"Environnement de test"</h3>
            <List items=facts.environnement.clone() />
            <h3>"Outils pour évaluer l'accessibilité"</h3>
            <List items=facts.outils.clone() />
            <h3>"Pages du site ayant fait l'objet de la vérification de conformité"</h3>
            <ul>
                {facts.pages.iter().map(|(name, address)| view! { <li>{format!("{name} : {address}")}</li> }).collect_view()}
            </ul>

            <h2>"Retour d'information et contact"</h2>
            <p>"Si vous n'arrivez pas à accéder à un contenu ou à un service, vous pouvez contacter le responsable du site pour être orienté vers une alternative accessible ou obtenir le contenu sous une autre forme :"</p>
            <ul>
                <li>"Écrire à "<a href=feedback>{centre.contact_accessibilite.clone()}</a></li>
                <li>{format!("Téléphoner au {}", centre.telephone)}</li>
                <li>{format!("Écrire par la poste : {}, {}", centre.nom, centre.adresse)}</li>
            </ul>

            <h2>"Voies de recours"</h2>
            <p>"Cette procédure est à utiliser dans le cas suivant : vous avez signalé au responsable du site internet un défaut d'accessibilité qui vous empêche d'accéder à un contenu ou à un des services du portail et vous n'avez pas obtenu de réponse satisfaisante."</p>
            <ul>
                <li>"Écrire un message au "<a href="https://formulaire.defenseurdesdroits.fr/">"Défenseur des droits"</a></li>
                <li>"Contacter "<a href="https://www.defenseurdesdroits.fr/saisir/delegues">"le délégué du Défenseur des droits dans votre région"</a></li>
                <li>"Envoyer un courrier par la poste (gratuit, ne pas mettre de timbre) : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07"</li>
            </ul>
        </article>
    }
    .into_any()
}

#[component]
fn List(items: Vec<String>) -> impl IntoView {
    if items.is_empty() {
        view! { <p>"Aucun."</p> }.into_any()
    } else {
        view! { <ul>{items.into_iter().map(|item| view! { <li>{item}</li> }).collect_view()}</ul> }
            .into_any()
    }
}

/// `/mentions-legales`: who publishes the site, who answers for it, who hosts it.
#[component]
pub fn LegalNoticePage() -> impl IntoView {
    let Some(centre) = centre() else {
        return view! { <Title text="Mentions légales" /><h1>"Mentions légales"</h1> }.into_any();
    };
    view! {
        <Title text="Mentions légales" />
        <article class="legal">
            <h1>"Mentions légales"</h1>
            <h2>"Éditeur"</h2>
            <p>
                {centre.nom.clone()}<br />
                {centre.adresse.clone()}<br />
                "Téléphone : "{centre.telephone.clone()}<br />
                "Courriel : "<a href=format!("mailto:{}", centre.email)>{centre.email.clone()}</a><br />
                "Site : "<a href=centre.site.clone()>{centre.site.clone()}</a>
            </p>
            <h2>"Directeur de la publication"</h2>
            <p>{centre.directeur_publication.clone()}</p>
            <h2>"Hébergement"</h2>
            <p>{centre.hebergeur.nom.clone()}<br />{centre.hebergeur.adresse.clone()}</p>
            <h2>"Données personnelles"</h2>
            <p>"Ce que le service fait de vos données, et vos droits : "<a href="/donnees-personnelles">"données personnelles"</a>"."</p>
            <h2>"Cookies"</h2>
            <p>"Le site ne dépose que les cookies nécessaires à son fonctionnement : la session de votre espace sécurisé et le brouillon de votre préinscription. Aucun cookie de mesure d'audience ni de publicité ; ils ne demandent donc pas votre consentement."</p>
            <h2>"Accessibilité"</h2>
            <p><a href="/accessibilite">{format!("Accessibilité : {}", conformity().words())}</a></p>
        </article>
    }
    .into_any()
}

/// `/donnees-personnelles`: the information the GDPR (articles 13 and 14) owes each
/// candidate.
#[component]
pub fn PersonalDataPage() -> impl IntoView {
    let Some(centre) = centre() else {
        return view! { <Title text="Données personnelles" /><h1>"Données personnelles"</h1> }
            .into_any();
    };
    let dpo = format!("mailto:{}", centre.delegue_protection_donnees);
    view! {
        <Title text="Données personnelles" />
        <article class="legal">
            <h1>"Données personnelles"</h1>
            <h2>"Responsable du traitement"</h2>
            <p>{format!("{}, {}.", centre.nom, centre.adresse)}</p>

            <h2>"Finalités et base légale"</h2>
            <p>"Vos données servent à organiser les concours et examens professionnels auxquels vous vous inscrivez : recevoir et instruire votre dossier d'inscription, vérifier que vous remplissez les conditions pour concourir, vous écrire (accusés de réception, demandes de pièces, décisions), vous convoquer aux épreuves et établir les statistiques que la loi demande."</p>
            <p>"Ce traitement est nécessaire à l'exécution d'une mission d'intérêt public dont le Centre de gestion est investi (article 6, paragraphe 1, e, du règlement général sur la protection des données) : l'organisation des concours et examens professionnels de la fonction publique territoriale que lui confient le code général de la fonction publique, le décret n° 2013-593 du 5 juillet 2013 relatif aux conditions générales de recrutement et d'avancement de grade des fonctionnaires territoriaux et les statuts particuliers de chaque cadre d'emplois."</p>

            <h2>"Données collectées"</h2>
            <ul>
                <li>"Votre identité : nom de naissance, nom d'usage, prénoms, date, lieu et pays de naissance."</li>
                <li>"Vos coordonnées : adresse postale, adresse électronique, téléphone."</li>
                <li>"Vos réponses à la préinscription : voie d'accès, diplôme ou situation administrative, demande d'aménagement d'épreuves."</li>
                <li>"Les pièces justificatives que vous déposez, avec leur nom, leur taille et leur empreinte SHA-256."</li>
                <li>"Vos messages au service et ses réponses, les courriels que le service vous envoie."</li>
                <li>"Pour la sécurité de votre espace : vos sessions de connexion en cours (date et heure), les tentatives de connexion récentes avec l'adresse IP d'où elles viennent (contre les essais de mot de passe), et votre mot de passe, conservé uniquement sous une forme chiffrée irréversible (argon2id)."</li>
            </ul>

            <h2>"Destinataires"</h2>
            <p>"Les agents du service concours du Centre de gestion ; pour les candidats admis à concourir, les membres du jury et les correcteurs, pour ce qui concerne les épreuves. Notre hébergeur ("{centre.hebergeur.nom.clone()}") conserve les données pour notre compte, sans y accéder. Vos données ne sont ni vendues, ni cédées, ni transférées hors de l'Union européenne."</p>

            <h2>"Durées de conservation"</h2>
            <ul>
                <li>"Une préinscription commencée et jamais terminée : 30 jours après votre dernière saisie."</li>
                <li>"Votre dossier, ses pièces, vos messages et les courriels qui le concernent : 24 mois après la date limite d'inscription du concours, sauf si le concours fixe une autre durée. Le dossier est alors effacé, qu'il ait été clôturé ou non, que vous vous soyez désisté ou non ; seuls des nombres anonymes restent, pour les statistiques du concours. Ce que le Centre conserve des lauréats (liste d'aptitude) ne relève pas de ce service."</li>
                <li>"Le texte des courriels envoyés : 180 jours au plus."</li>
                <li>"Une session de connexion : 20 heures au plus ; une tentative de connexion : 24 heures au plus."</li>
            </ul>

            <h2>"Vos droits"</h2>
            <p>"Vous pouvez accéder à vos données et en obtenir une copie (depuis votre espace : « Mes données »), les faire rectifier, demander leur effacement ou la limitation de leur traitement, et vous opposer à leur traitement pour des raisons tenant à votre situation particulière, dans les limites que fixent les règles des concours (un dossier clôturé ne peut pas être modifié après la date limite, mais vous pouvez vous désister)."</p>
            <p>"Pour exercer ces droits, écrivez au délégué à la protection des données du Centre : "<a href=dpo>{centre.delegue_protection_donnees.clone()}</a>{format!(", ou par la poste : {}, délégué à la protection des données, {}.", centre.nom, centre.adresse)}</p>

            <h2>"Réclamation"</h2>
            <p>"Si vous estimez, après nous avoir contactés, que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la Commission nationale de l'informatique et des libertés (CNIL) : "<a href="https://www.cnil.fr/fr/plaintes">"www.cnil.fr/fr/plaintes"</a>", ou 3 place de Fontenoy, TSA 80715, 75334 Paris CEDEX 07."</p>
        </article>
    }
    .into_any()
}
