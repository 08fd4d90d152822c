//! The local FranceConnect of the tests (`scripts/franceconnect/provider.mjs`, npm
//! oidc-provider set up as FranceConnect v2), started per test on a port of its own,
//! and a browser that goes through its screens.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use openidconnect::reqwest;

use crate::access::franceconnect::{CALLBACK_PATH, Callback, Settings};

/// A provider running; stopped when dropped.
pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider's script, from the workspace's root.
pub fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/franceconnect/provider.mjs")
}

/// Starts a provider whose clients come back to `origins` (the relying parties'
/// addresses), if node and the provider's packages are here (`scripts/tools.sh test`
/// installs them); otherwise says it is missing (a failure under CI).
pub fn start(origins: &[&str]) -> Option<Provider> {
    let script = script();
    let installed = script
        .with_file_name("node_modules")
        .join("oidc-provider")
        .is_dir();
    let child = installed
        .then(|| {
            Command::new("node")
                .arg(&script)
                .env("FC_PORT", "0")
                .env("FC_RP", origins.join(","))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        })
        .flatten();
    let Some(mut child) = child else {
        super::missing(
            "FranceConnect",
            "node et scripts/franceconnect/node_modules, installés par scripts/tools.sh test",
        );
        return None;
    };
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the provider says where it listens");
    let issuer = line
        .trim()
        .strip_prefix("FranceConnect local: ")
        .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
        .to_string();
    Some(Provider { issuer, child })
}

impl Provider {
    /// The relying party's settings for the client `client_id` of this provider.
    pub fn settings(&self, client_id: &str, base_url: &str) -> Settings {
        Settings {
            issuer: self.issuer.clone(),
            client_id: client_id.into(),
            client_secret: format!("secret-{client_id}"),
            base_url: base_url.into(),
        }
    }
}

/// A browser at the provider: its cookies kept (by name: the provider's paths are its
/// own), no redirect followed on its own.
pub struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("the provider answers");
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().unwrap_or_default();
            if let Some((name, value)) = set.split(';').next().and_then(|c| c.split_once('=')) {
                self.cookies.insert(name.trim().into(), value.into());
            }
        }
        response
    }

    /// Follows the provider's redirects from `url` until one leaves it; that address.
    async fn follow(&mut self, mut url: String, issuer: &str) -> String {
        for _ in 0..10 {
            if !url.starts_with(issuer) {
                return url;
            }
            let response = self.send(self.http.get(&url)).await;
            let Some(location) = response.headers().get(reqwest::header::LOCATION) else {
                return url;
            };
            let location = location.to_str().expect("an address").to_string();
            url = if location.starts_with('/') {
                format!("{issuer}{location}")
            } else {
                location
            };
        }
        panic!("too many redirects at the provider");
    }

    /// Goes from the authorization address to the provider's login screen, then signs
    /// in as `login` (`test` is FranceConnect's test identity) or cancels (`None`):
    /// the address the provider sends the browser back to.
    pub async fn at_provider(
        &mut self,
        authorize: &str,
        issuer: &str,
        login: Option<&str>,
    ) -> String {
        // The last address at the provider that did not redirect: its login screen.
        let interaction = self.follow(authorize.to_string(), issuer).await;
        assert!(
            interaction.contains("/interaction/"),
            "the login screen: {interaction}"
        );
        let form: Vec<(&str, &str)> = match login {
            Some(login) => vec![("login", login), ("password", "123"), ("action", "login")],
            None => vec![("action", "cancel")],
        };
        let response = self.send(self.http.post(&interaction).form(&form)).await;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .unwrap_or_else(|| panic!("the login is accepted: {}", response.status()))
            .to_str()
            .expect("an address")
            .to_string();
        let location = if location.starts_with('/') {
            format!("{issuer}{location}")
        } else {
            location
        };
        self.follow(location, issuer).await
    }
}

impl Browser {
    /// At the provider's logout address (from the relying party's logout): confirms
    /// « Se déconnecter » on its screen, and answers where the provider sends the
    /// browser back.
    pub async fn log_out(&mut self, end_session: &str, issuer: &str) -> String {
        let response = self.send(self.http.get(end_session)).await;
        if let Some(location) = response.headers().get(reqwest::header::LOCATION) {
            return location.to_str().expect("an address").to_string();
        }
        let page = response.text().await.expect("the logout screen");
        let attribute = |name: &str, after: &str| {
            let from = page.find(after).unwrap_or(0);
            let at = page[from..]
                .find(&format!("{name}=\""))
                .map(|i| from + i + name.len() + 2)?;
            let end = page[at..].find('"')? + at;
            Some(page[at..end].to_string())
        };
        let action = attribute("action", "<form").expect("the logout form");
        let xsrf = attribute("value", "name=\"xsrf\"").expect("the logout form's token");
        let action = if action.starts_with('/') {
            format!("{issuer}{action}")
        } else {
            action
        };
        let response = self
            .send(
                self.http
                    .post(&action)
                    .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")]),
            )
            .await;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .unwrap_or_else(|| panic!("the logout is confirmed: {}", response.status()))
            .to_str()
            .expect("an address")
            .to_string();
        self.follow(location, issuer).await
    }
}

/// The callback's query, read from the address the provider sent the browser to.
pub fn callback_of(url: &str) -> Callback {
    assert!(url.contains(CALLBACK_PATH), "back to the callback: {url}");
    let parsed = url::Url::parse(url).expect("an address");
    let get = |k: &str| {
        parsed
            .query_pairs()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.into_owned())
    };
    Callback {
        state: get("state"),
        code: get("code"),
        error: get("error"),
    }
}
