//! FranceConnect, the State's identity federation, as its v2 asks of a relying party:
//! the authorization code flow with `acr_values=eidas1` and the scopes `openid
//! identite_pivot email`; a `state` and a `nonce` bound to the browser (a cookie whose
//! hash is kept with them) and used once; the code exchanged at once with
//! `client_secret_post`; the id_token verified (ES256 or RS256 against the provider's
//! keys, issuer, audience, expiry, nonce) and its `acr` checked; `/userinfo` answered as
//! a signed JWT and verified the same way. The provider's metadata comes from its
//! discovery document, kept an hour.
//!
//! Nothing of a flow lives in process memory (`franceconnect_flows`): any server may
//! take the provider's answer.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use domain::certified::CertifiedIdentity;
use openidconnect::{
    AuthType, AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKey, LogoutRequest, Nonce,
    OAuth2TokenResponse, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl,
    RequestTokenError, Scope, TokenResponse,
    core::{
        CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdToken,
        CoreJwsSigningAlgorithm,
    },
    reqwest,
};
use serde::Deserialize;
use sqlx::Row;
use tokio::sync::RwLock;

use crate::{
    Clock, Db, DbError,
    access::secrets::{new_token, token_hash},
};

/// Where the provider sends the browser back, under the site's address.
pub const CALLBACK_PATH: &str = "/franceconnect/retour";
/// Where the provider sends the browser after its logout.
pub const LOGOUT_RETURN_PATH: &str = "/franceconnect/deconnexion";
/// A flow not back from the provider after this long is forgotten.
pub const FLOW_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// The only level of assurance FranceConnect gives, and the one asked for.
pub const ACR: &str = "eidas1";
/// How long the provider's metadata and keys are kept.
const METADATA_FOR: Duration = Duration::from_secs(3600);
/// Each call to the provider: the code lives 30 s.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The relying party's settings: `APP_FRANCECONNECT_*` and the site's address.
#[derive(Clone, Debug)]
pub struct Settings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The site's address, without a trailing slash: the callbacks are under it.
    pub base_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FranceConnectError {
    /// The candidate cancelled at the provider (`access_denied`).
    #[error("cancelled at the provider")]
    Cancelled,
    /// The provider could not be reached, or answered an error page.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// No flow of this browser has this state: missing, forged, replayed, or started
    /// in another browser.
    #[error("unknown state")]
    UnknownState,
    /// The flow is older than [`FLOW_LIFETIME_MS`].
    #[error("flow expired")]
    Expired,
    /// The provider refused the code (expired, used, not ours).
    #[error("code refused: {0}")]
    CodeRefused(String),
    /// What the provider sent does not verify (signature, issuer, audience, expiry,
    /// nonce, acr, unsigned userinfo, missing identity).
    #[error("invalid answer: {0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for FranceConnectError {
    fn from(value: sqlx::Error) -> Self {
        Self::Db(value.into())
    }
}

/// What a flow is for, kept with it until the provider answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Signing into the espace of the dossiers linked to the identity.
    Connexion,
    /// Starting a préinscription to this exam with the certified identity.
    Inscription(String),
    /// Linking this dossier (signed in with its password) to the identity.
    Lien(String),
}

impl Purpose {
    fn columns(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            Self::Connexion => ("connexion", None, None),
            Self::Inscription(exam) => ("inscription", Some(exam), None),
            Self::Lien(dossier) => ("lien", None, Some(dossier)),
        }
    }

    fn from_columns(purpose: &str, exam: Option<String>, dossier: Option<String>) -> Option<Self> {
        match (purpose, exam, dossier) {
            ("connexion", _, _) => Some(Self::Connexion),
            ("inscription", Some(exam), _) => Some(Self::Inscription(exam)),
            ("lien", _, Some(dossier)) => Some(Self::Lien(dossier)),
            _ => None,
        }
    }
}

/// An identity the provider certified, verified.
#[derive(Clone, Debug)]
pub struct Certified {
    /// The pairwise subject: this identity for this service only.
    pub subject: String,
    pub identity: CertifiedIdentity,
    /// The id_token, for the logout at the provider.
    pub id_token: String,
}

/// The provider's answer as the callback received it.
#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// The end of a flow: what it was for (unknown when its state was), and how it went.
pub struct Finished {
    pub purpose: Option<Purpose>,
    pub outcome: Result<Certified, FranceConnectError>,
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party: settings, an HTTP client that follows no redirect, and the
/// provider's metadata once read.
pub struct FranceConnect {
    settings: Settings,
    http: reqwest::Client,
    metadata: RwLock<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

impl FranceConnect {
    pub fn new(settings: Settings) -> Result<Self, String> {
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| format!("issuer: {e}"))?;
        RedirectUrl::new(format!("{}{CALLBACK_PATH}", settings.base_url))
            .map_err(|e| format!("base URL: {e}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            http,
            metadata: RwLock::new(None),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The provider's discovery document and keys, read again after an hour (or sooner
    /// after a signature that did not verify: its keys may have changed).
    async fn metadata(&self) -> Result<Arc<ProviderMetadataWithLogout>, FranceConnectError> {
        if let Some((at, metadata)) = &*self.metadata.read().await
            && at.elapsed() < METADATA_FOR
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| FranceConnectError::Unavailable(e.to_string()))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| FranceConnectError::Unavailable(format!("discovery: {e}")))?;
        let metadata = Arc::new(metadata);
        *self.metadata.write().await = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    async fn forget_metadata_after_a_minute(&self) {
        let mut kept = self.metadata.write().await;
        if kept
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() > Duration::from_secs(60))
        {
            *kept = None;
        }
    }

    fn client(&self, metadata: &ProviderMetadataWithLogout) -> Result<Client, FranceConnectError> {
        let redirect = RedirectUrl::new(format!("{}{CALLBACK_PATH}", self.settings.base_url))
            .map_err(|e| FranceConnectError::Invalid(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(AuthType::RequestBody))
    }

    /// Starts a flow for the browser whose cookie is `browser`: its state and nonce are
    /// kept with the hash of that cookie; the answer is the provider's address to send
    /// the browser to.
    pub async fn start(
        &self,
        db: &Db,
        clock: &dyn Clock,
        browser: &str,
        purpose: &Purpose,
    ) -> Result<String, FranceConnectError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata)?;
        let (state, nonce) = (new_token(), new_token());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                {
                    let state = state.clone();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.clone();
                    move || Nonce::new(nonce)
                },
            )
            .add_scope(Scope::new("identite_pivot".into()))
            .add_scope(Scope::new("email".into()))
            .add_auth_context_value(AuthenticationContextClass::new(ACR.into()))
            .add_prompt(CoreAuthPrompt::Login)
            .add_prompt(CoreAuthPrompt::Consent)
            .url();
        let (kind, exam, dossier) = purpose.columns();
        sqlx::query(
            "INSERT INTO franceconnect_flows (state_hash, browser_hash, nonce, purpose, exam_slug, dossier_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash(&state))
        .bind(token_hash(browser))
        .bind(&nonce)
        .bind(kind)
        .bind(exam)
        .bind(dossier)
        .bind(clock.now().as_millisecond())
        .execute(db.pool())
        .await?;
        Ok(url.to_string())
    }

    /// Ends the flow the provider answers: its state taken (once, by this browser),
    /// then the code exchanged and every token verified.
    pub async fn finish(
        &self,
        db: &Db,
        clock: &dyn Clock,
        browser: Option<&str>,
        callback: &Callback,
    ) -> Finished {
        let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty()) else {
            return Finished {
                purpose: None,
                outcome: Err(FranceConnectError::UnknownState),
            };
        };
        let flow = match take_flow(db, state).await {
            Ok(flow) => flow,
            Err(e) => {
                return Finished {
                    purpose: None,
                    outcome: Err(e),
                };
            }
        };
        let Some(flow) = flow else {
            return Finished {
                purpose: None,
                outcome: Err(FranceConnectError::UnknownState),
            };
        };
        let purpose = Purpose::from_columns(&flow.purpose, flow.exam, flow.dossier);
        let outcome = if browser.map(token_hash).as_deref() != Some(flow.browser_hash.as_str()) {
            Err(FranceConnectError::UnknownState)
        } else if clock.now().as_millisecond() - flow.created_at > FLOW_LIFETIME_MS {
            Err(FranceConnectError::Expired)
        } else {
            self.verify(callback, &flow.nonce).await
        };
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "FranceConnect: sign-in refused");
        }
        Finished { purpose, outcome }
    }

    async fn verify(
        &self,
        callback: &Callback,
        nonce: &str,
    ) -> Result<Certified, FranceConnectError> {
        match callback.error.as_deref() {
            Some("access_denied") => return Err(FranceConnectError::Cancelled),
            Some(error) => {
                return Err(FranceConnectError::Unavailable(format!(
                    "the provider answered {error}"
                )));
            }
            None => {}
        }
        let code = callback
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| FranceConnectError::Invalid("no code".into()))?;
        let metadata = self.metadata().await?;
        let client = self.client(&metadata)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| FranceConnectError::Invalid(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r)
                    if matches!(
                        r.error(),
                        CoreErrorResponseType::InvalidGrant | CoreErrorResponseType::InvalidClient
                    ) =>
                {
                    FranceConnectError::CodeRefused(r.to_string())
                }
                RequestTokenError::Request(e) => FranceConnectError::Unavailable(e.to_string()),
                other => FranceConnectError::Invalid(other.to_string()),
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| FranceConnectError::Invalid("no id_token".into()))?;
        let verifier = client.id_token_verifier().set_allowed_algs([
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ]);
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_string())) {
            Ok(claims) => claims,
            Err(e) => {
                self.forget_metadata_after_a_minute().await;
                return Err(FranceConnectError::Invalid(format!("id_token: {e}")));
            }
        };
        let acr = claims.auth_context_ref().map(|a| a.as_str());
        if acr != Some(ACR) {
            return Err(FranceConnectError::Invalid(format!(
                "acr {acr:?}, not {ACR}"
            )));
        }
        let subject = claims.subject().as_str().to_string();
        let userinfo = self
            .userinfo(&metadata, tokens.access_token().secret(), &subject)
            .await?;
        let identity = CertifiedIdentity::from_claims(
            userinfo.family_name.as_deref(),
            userinfo.given_name.as_deref(),
            userinfo.birthdate.as_deref(),
            userinfo.gender.as_deref(),
            userinfo.birthplace.as_deref(),
            userinfo.birthcountry.as_deref(),
            userinfo.email.as_deref(),
            userinfo.preferred_username.as_deref(),
        )
        .map_err(|e| FranceConnectError::Invalid(e.to_string()))?;
        Ok(Certified {
            subject,
            identity,
            id_token: id_token.to_string(),
        })
    }

    /// `/userinfo`, which FranceConnect answers as a JWT signed like the id_token:
    /// anything else (plain JSON, another algorithm, a key not the provider's, another
    /// issuer, audience or subject) is refused. openidconnect's own userinfo request
    /// accepts RS256 only, so the signature is checked here with its keys.
    async fn userinfo(
        &self,
        metadata: &ProviderMetadataWithLogout,
        access_token: &str,
        subject: &str,
    ) -> Result<UserInfo, FranceConnectError> {
        let url = metadata
            .userinfo_endpoint()
            .ok_or_else(|| FranceConnectError::Invalid("no userinfo endpoint".into()))?;
        let response = self
            .http
            .get(url.as_str())
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/jwt")
            .send()
            .await
            .map_err(|e| FranceConnectError::Unavailable(format!("userinfo: {e}")))?;
        if !response.status().is_success() {
            return Err(FranceConnectError::Unavailable(format!(
                "userinfo: status {}",
                response.status()
            )));
        }
        let jwt_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim() == "application/jwt")
            });
        let body = response
            .text()
            .await
            .map_err(|e| FranceConnectError::Unavailable(format!("userinfo: {e}")))?;
        if !jwt_type {
            return Err(FranceConnectError::Invalid("userinfo not signed".into()));
        }
        let verified = verify_jws(metadata, &body);
        if verified.is_err() {
            self.forget_metadata_after_a_minute().await;
        }
        let payload = verified?;
        let info: UserInfo = serde_json::from_slice(&payload)
            .map_err(|e| FranceConnectError::Invalid(format!("userinfo: {e}")))?;
        if info.iss.as_deref() != Some(metadata.issuer().as_str()) {
            return Err(FranceConnectError::Invalid("userinfo: issuer".into()));
        }
        if !info.aud.contains(&self.settings.client_id) {
            return Err(FranceConnectError::Invalid("userinfo: audience".into()));
        }
        if info.sub != subject {
            return Err(FranceConnectError::Invalid("userinfo: subject".into()));
        }
        Ok(info)
    }

    /// The provider's logout address for a session opened with `id_token`, coming back
    /// to [`LOGOUT_RETURN_PATH`] with `state`.
    pub async fn logout_url(
        &self,
        id_token: &str,
        state: &str,
    ) -> Result<String, FranceConnectError> {
        let metadata = self.metadata().await?;
        let end = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()
            .ok_or_else(|| FranceConnectError::Invalid("no end_session_endpoint".into()))?;
        let token: CoreIdToken = id_token
            .parse()
            .map_err(|e| FranceConnectError::Invalid(format!("id_token: {e}")))?;
        let back =
            PostLogoutRedirectUrl::new(format!("{}{LOGOUT_RETURN_PATH}", self.settings.base_url))
                .map_err(|e| FranceConnectError::Invalid(e.to_string()))?;
        Ok(LogoutRequest::from(end)
            .set_id_token_hint(&token)
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(back)
            .set_state(CsrfToken::new(state.to_string()))
            .http_get_url()
            .to_string())
    }
}

/// The claims of FranceConnect's `/userinfo` this service reads.
#[derive(Debug, Deserialize)]
struct UserInfo {
    iss: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    aud: Vec<String>,
    sub: String,
    family_name: Option<String>,
    given_name: Option<String>,
    birthdate: Option<String>,
    gender: Option<String>,
    birthplace: Option<String>,
    birthcountry: Option<String>,
    email: Option<String>,
    preferred_username: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

/// The payload of a compact JWS signed (ES256 or RS256) by one of the provider's keys.
fn verify_jws(
    metadata: &ProviderMetadataWithLogout,
    jws: &str,
) -> Result<Vec<u8>, FranceConnectError> {
    let invalid = |why: &str| FranceConnectError::Invalid(format!("userinfo: {why}"));
    let mut parts = jws.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a compact JWS"));
    };
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        kid: Option<String>,
    }
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid("base64"));
    let head: Header = serde_json::from_slice(&decode(header)?).map_err(|_| invalid("header"))?;
    let alg = match head.alg.as_str() {
        "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "RS256" => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        other => return Err(invalid(&format!("algorithm {other}"))),
    };
    let signature = decode(signature)?;
    let signed = format!("{header}.{payload}");
    let verified = metadata
        .jwks()
        .keys()
        .iter()
        .filter(|key| head.kid.is_none() || key.key_id().map(|k| k.as_str()) == head.kid.as_deref())
        .any(|key| {
            key.verify_signature(&alg, signed.as_bytes(), &signature)
                .is_ok()
        });
    if !verified {
        return Err(invalid("signature"));
    }
    decode(payload)
}

struct Flow {
    browser_hash: String,
    nonce: String,
    purpose: String,
    exam: Option<String>,
    dossier: Option<String>,
    created_at: i64,
}

/// The flow of this state, deleted as it is read: a second answer with the same state
/// finds nothing.
async fn take_flow(db: &Db, state: &str) -> Result<Option<Flow>, FranceConnectError> {
    let row = sqlx::query(
        "DELETE FROM franceconnect_flows WHERE state_hash = $1 AND purpose <> 'choix'
         RETURNING browser_hash, nonce, purpose, exam_slug, dossier_id, created_at",
    )
    .bind(token_hash(state))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Flow {
        browser_hash: row.try_get("browser_hash")?,
        nonce: row.try_get("nonce")?,
        purpose: row.try_get("purpose")?,
        exam: row.try_get("exam_slug")?,
        dossier: row.try_get("dossier_id")?,
        created_at: row.try_get("created_at")?,
    }))
}
