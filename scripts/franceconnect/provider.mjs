// A local OpenID Connect provider set up as FranceConnect v2 is: oidc-provider (the
// library FranceConnect's core runs on), ES256-signed id_token and userinfo, acr
// `eidas1`, pairwise subjects, `client_secret_post`, the `identite_pivot` scope, codes
// that live 30 s. Its citizen is FranceConnect's public test identity (login `test`).
//
//   FC_PORT       the port on 127.0.0.1 (default 4010; 0 picks one, printed)
//   FC_RP         the relying parties' origins, comma-separated (their callback is
//                 /franceconnect/retour, their post-logout return /franceconnect/deconnexion)
//
// Besides the client `concours` (secret `secret-concours`), three clients misbehave as a
// broken or hostile provider would, for the tests: `concours-eidas2` gets acr `eidas2`,
// `concours-sans-signature` a userinfo in plain JSON, `concours-signature-fausse` a
// userinfo whose signature is not the provider's, `concours-jeton-faux` such an id_token.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

const port = Number(process.env.FC_PORT ?? 4010);
const origins = (process.env.FC_RP ?? 'http://127.0.0.1:3000')
  .split(',')
  .map((o) => o.trim().replace(/\/$/, ''))
  .filter(Boolean);

// FranceConnect's public test identity (its integration platform's « test » / « 123 »).
const CITIZENS = {
  test: {
    given_name: 'Angela Claire Louise',
    given_name_array: ['Angela', 'Claire', 'Louise'],
    family_name: 'DUBOIS',
    preferred_username: '',
    birthdate: '1962-08-24',
    gender: 'female',
    birthplace: '75107',
    birthcountry: '99100',
    email: 'wossewodda-3728@yopmail.com',
  },
  // Born abroad: no birthplace, a foreign country.
  etranger: {
    given_name: 'Jean-Pierre',
    given_name_array: ['Jean-Pierre'],
    family_name: 'MARTIN',
    preferred_username: 'MARTIN-DURAND',
    birthdate: '1990-03-14',
    gender: 'male',
    birthplace: '',
    birthcountry: '99134',
    email: 'jp.martin@example.org',
  },
};
const PASSWORD = '123';

// Any other login of letters only is a citizen of its own, born in Laval, named after
// it: the browser tests run in parallel, each with its own identity (one dossier per
// person and exam).
function citizen(login) {
  if (CITIZENS[login]) return CITIZENS[login];
  if (!/^[a-z]{6,30}$/.test(login)) return undefined;
  return {
    given_name: 'Claire Marie',
    given_name_array: ['Claire', 'Marie'],
    family_name: login.toUpperCase(),
    preferred_username: '',
    birthdate: '1991-02-03',
    gender: 'female',
    birthplace: '53130',
    birthcountry: '99100',
    email: `${login}@exemple.fr`,
  };
}

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const signing = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'fc-es256' };

const client = (client_id, extra = {}) => ({
  client_id,
  client_secret: `secret-${client_id}`,
  token_endpoint_auth_method: 'client_secret_post',
  redirect_uris: origins.map((o) => `${o}/franceconnect/retour`),
  post_logout_redirect_uris: origins.map((o) => `${o}/franceconnect/deconnexion`),
  response_types: ['code'],
  grant_types: ['authorization_code'],
  id_token_signed_response_alg: 'ES256',
  userinfo_signed_response_alg: 'ES256',
  subject_type: 'pairwise',
  ...extra,
});
const clients = [
  client('concours'),
  client('concours-eidas2'),
  client('concours-sans-signature', { userinfo_signed_response_alg: undefined }),
  client('concours-signature-fausse'),
  client('concours-jeton-faux'),
];

// Listening first, so that with FC_PORT=0 the issuer names the port it got.
const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const salt = randomBytes(16).toString('hex');
const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signing] },
  async findAccount(ctx, id) {
    const found = citizen(id);
    if (!found) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...found }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email'],
    identite_pivot: [
      'given_name', 'given_name_array', 'family_name', 'birthdate', 'gender',
      'birthplace', 'birthcountry', 'preferred_username',
    ],
  },
  scopes: ['openid', 'email', 'identite_pivot'],
  acrValues: ['eidas1', 'eidas2', 'eidas3'],
  subjectTypes: ['pairwise'],
  async pairwiseIdentifier(ctx, accountId, c) {
    return createHash('sha256').update(`${c.sectorIdentifier}${accountId}${salt}`).digest('hex');
  },
  features: {
    devInteractions: { enabled: false },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Déconnexion', `<h1>Se déconnecter de FranceConnect ?</h1>${form}
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Se déconnecter</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Déconnecté', '<h1>Vous êtes déconnecté de FranceConnect.</h1>');
      },
    },
  },
  ttl: { AuthorizationCode: 30, AccessToken: 60, IdToken: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Erreur', `<h1>Erreur</h1><pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
  },
});
provider.proxy = false;

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · FranceConnect (local)</title>
<style>body{font-family:sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem}
label,input,button{display:block;margin:.5rem 0;font-size:1rem}input{width:100%;padding:.5rem}
button{padding:.6rem 1rem;background:#000091;color:#fff;border:0}button.secondary{background:#fff;color:#000091;border:1px solid #000091}</style>
</head><body><main>${body}</main></body></html>`;
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 10000) break;
  }
  return new URLSearchParams(raw);
}

// The identity provider's screens: a login form, and « annuler » (access_denied).
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return next();
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = page('Connexion', `<h1>Fournisseur d'identité de test</h1>
      <p>Identifiant <code>test</code>, mot de passe <code>${PASSWORD}</code>.</p>
      <form method="post">
        <label for="login">Identifiant</label><input id="login" name="login" autocomplete="off">
        <label for="password">Mot de passe</label><input id="password" name="password" type="password">
        <button type="submit" name="action" value="login">Se connecter</button>
        <button type="submit" name="action" value="cancel" class="secondary">Annuler et revenir</button>
      </form>`);
    return undefined;
  }
  const form = await formBody(ctx.req);
  if (form.get('action') === 'cancel') {
    return provider.interactionFinished(ctx.req, ctx.res, {
      error: 'access_denied',
      error_description: "L'usager a annulé la connexion.",
    }, { mergeWithLastSubmission: false });
  }
  const login = form.get('login') ?? '';
  if (!citizen(login) || form.get('password') !== PASSWORD) {
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = page('Connexion', `<h1>Identifiant ou mot de passe incorrect</h1>
      <p><a href="${ctx.path}">Réessayer</a></p>`);
    return undefined;
  }
  const clientId = details.params.client_id;
  const grant = new provider.Grant({ accountId: login, clientId });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  const grantId = await grant.save();
  return provider.interactionFinished(ctx.req, ctx.res, {
    login: { accountId: login, acr: clientId === 'concours-eidas2' ? 'eidas2' : 'eidas1', amr: ['pwd'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
});

// A JWT whose signature is not the provider's: one byte of it changed, when it is for
// the client `client`.
function forged(jwt, client) {
  try {
    const aud = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).aud;
    if (aud !== client && !(Array.isArray(aud) && aud.includes(client))) return jwt;
  } catch {
    return jwt;
  }
  const cut = jwt.lastIndexOf('.') + 1;
  const bytes = Buffer.from(jwt.slice(cut), 'base64url');
  bytes[5] ^= 0x55;
  return jwt.slice(0, cut) + bytes.toString('base64url');
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/me' && typeof ctx.body === 'string') {
    ctx.body = forged(ctx.body, 'concours-signature-fausse');
  }
  if (ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: forged(ctx.body.id_token, 'concours-jeton-faux') };
  }
});

server.on('request', provider.callback());
console.log(`FranceConnect local: ${issuer}`);
