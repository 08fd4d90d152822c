//! Configuration from environment variables, with defaults for the embedded set-up
//! (SQLite file and files under `./data`, listening on 127.0.0.1:3000).

use std::{net::SocketAddr, path::PathBuf};

use services::letters::mail::SmtpRelay;

#[derive(Clone, Debug)]
pub struct Settings {
    /// `APP_ADDRESS`: where to listen.
    pub address: SocketAddr,
    /// `APP_DATA_DIR`: the embedded default's data folder.
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Where uploaded files are kept: `APP_STORAGE_URL` (`s3://BUCKET[/PREFIX]`, with
    /// the standard `AWS_*` variables), or else the folder `APP_STORAGE_DIR`.
    pub storage_url: String,
    /// `APP_EXAMS_DIR`: the exam definitions imported at start-up.
    pub exams_dir: PathBuf,
    /// `APP_CENTRE_FILE`: the Centre's name and contacts, read and checked at start-up.
    pub centre_file: PathBuf,
    /// `APP_SITE_ROOT`: the compiled front end (Wasm, JS, CSS, public assets).
    pub site_root: PathBuf,
    /// `APP_HASH_FILE`: the `hash.txt` cargo-leptos writes beside the server binary
    /// when it hashes the front end's file names (the default place). Found: pages name
    /// the hashed files and `/pkg` is served `immutable`.
    pub hash_file: Option<PathBuf>,
    /// `APP_BASE_URL`: the address users reach, for links in emails.
    pub base_url: String,
    /// The origin (`scheme://host[:port]`) of `APP_BASE_URL` when it is set: the only
    /// `Origin` a state-changing request may carry (see `security::same_origin`).
    pub public_origin: Option<String>,
    /// `RUST_LOG`: log filter.
    pub log_filter: String,
    /// `APP_LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `APP_MAIL_DIR`: where messages are written when no SMTP relay is set.
    pub mail_dir: PathBuf,
    /// `APP_MAIL_FROM`: the sender of every message.
    pub mail_from: String,
    /// An SMTP relay instead of files: `SMTP_URL` (`smtp://USER:PASSWORD@HOST:587?tls=required`,
    /// `smtps://…`, `smtp://HOST:25`), with `SMTP_CA_FILE` (PEM) a root to trust
    /// besides the system's; or else plain SMTP to `SMTP_HOST`:`SMTP_PORT` (default 25).
    /// Printed, it hides the password.
    pub smtp: Option<SmtpRelay>,
    /// `APP_DEMO=true`: seed the demo candidate (never on a real deployment).
    pub demo: bool,
    /// `APP_NOW=<RFC 3339 instant>`, read only with `APP_ENV=test`: the server's clock
    /// starts there and runs on, so a deadline can be tried without waiting for it.
    pub test_now: Option<jiff::Timestamp>,
    /// `APP_TRUSTED_PROXIES`: reverse proxies (addresses or CIDR ranges, comma-separated)
    /// whose `X-Forwarded-For` names the client; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<services::access::clients::IpNet>,
    /// `APP_INSTANCE`: this server's name, in its start-up log and in the `X-Instance`
    /// header of `/healthz` (default: a random one), so an operator behind a load
    /// balancer, and a test harness, know which server answered.
    pub instance: String,
    /// `APP_SHUTDOWN_GRACE` (seconds, default 60): on SIGTERM, how long requests in
    /// flight (uploads from slow phones) may take to finish.
    pub shutdown_grace: std::time::Duration,
    /// `APP_CONNECTIONS_PER_CLIENT` (default 128) and `APP_CONNECTIONS` (default
    /// 8192): open connections one client (an address, an IPv6 /64; not the site's
    /// own proxies), and everyone, may hold; past them a new one is closed at once.
    pub connection_caps: crate::connections::Caps,
    /// `APP_UPLOAD_SLOTS` (default 16 per core): upload bodies this server reads at
    /// once; past them a new body takes the slowest one's slot, or waits.
    pub upload_slots: usize,
    /// `APP_METRICS_ADDRESS`: where `/metrics` is served (a private interface); unset,
    /// nowhere. Never on the public address.
    pub metrics_address: Option<SocketAddr>,
    /// `APP_CLAMD`: clamd's socket, `unix:/run/clamav/clamd.ctl` or `tcp://host:3310`;
    /// each stored file is scanned. Unset: files are « non analysé ». With
    /// `APP_CLAMD_MAX_FILE` (clamd's `MaxFileSize`, as clamd.conf writes it: `25M`,
    /// default 25M): a larger file is « erreur d'analyse », never sent.
    pub clamd: Option<services::files::antivirus::Clamd>,
    /// `APP_SERVICE_EMAIL`: where a candidate's new message is announced (the mail
    /// holds a link, never the message). Unset: staff see unanswered messages in the
    /// dossier lists only.
    pub service_email: Option<String>,
    /// `APP_FRANCECONNECT_ISSUER`, `APP_FRANCECONNECT_CLIENT_ID` and
    /// `APP_FRANCECONNECT_CLIENT_SECRET`, all three or none: candidates may then sign in
    /// and pre-register with FranceConnect (callbacks under `APP_BASE_URL`).
    pub franceconnect: Option<services::access::franceconnect::Settings>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {reason} (got « {value} »)")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let address_text = lookup("APP_ADDRESS").unwrap_or_else(|| "127.0.0.1:3000".into());
        let address: SocketAddr = address_text.parse().map_err(|_| ConfigError::Invalid {
            name: "APP_ADDRESS",
            value: address_text.clone(),
            reason: "expected host:port, e.g. 127.0.0.1:3000",
        })?;
        let data_dir = PathBuf::from(lookup("APP_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = lookup("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("concours.db").display()));
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                value: database_url,
                reason: "expected sqlite://path or postgres://…",
            });
        }
        let storage_url = match lookup("APP_STORAGE_URL") {
            Some(url) if !url.starts_with("s3://") || url.len() <= "s3://".len() => {
                return Err(ConfigError::Invalid {
                    name: "APP_STORAGE_URL",
                    value: url,
                    reason: "expected s3://BUCKET[/PREFIX] (a folder: APP_STORAGE_DIR)",
                });
            }
            Some(url) => url,
            None => lookup("APP_STORAGE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("files"))
                .display()
                .to_string(),
        };
        let given_base_url = lookup("APP_BASE_URL");
        let base_url = given_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let Some(origin) = crate::security::origin_of(&base_url) else {
            return Err(ConfigError::Invalid {
                name: "APP_BASE_URL",
                value: base_url,
                reason: "expected an http:// or https:// URL",
            });
        };
        let public_origin = given_base_url.map(|_| origin);
        let log_json = match lookup("APP_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_LOG_FORMAT",
                    value: other.into(),
                    reason: "expected text or json",
                });
            }
        };
        let smtp = smtp_relay(&lookup)?;
        // Outside APP_ENV=test the clock is the machine's, whatever APP_NOW says: a stray
        // variable on a real server must not move its deadlines.
        let test_now =
            match (lookup("APP_ENV").as_deref(), lookup("APP_NOW")) {
                (Some("test"), Some(now)) => Some(now.parse::<jiff::Timestamp>().map_err(
                    |_| ConfigError::Invalid {
                        name: "APP_NOW",
                        value: now.clone(),
                        reason: "expected an RFC 3339 instant, e.g. 2025-04-17T23:59:00+02:00",
                    },
                )?),
                _ => None,
            };
        let proxies_text = lookup("APP_TRUSTED_PROXIES").unwrap_or_default();
        let trusted_proxies = services::access::clients::parse_trusted_proxies(&proxies_text)
            .map_err(|_| ConfigError::Invalid {
                name: "APP_TRUSTED_PROXIES",
                value: proxies_text.clone(),
                reason: "expected addresses or CIDR ranges, comma-separated, e.g. 10.0.0.0/8,::1",
            })?;
        let demo = lookup("APP_DEMO").is_some_and(|v| v == "true" || v == "1");
        if demo && base_url.starts_with("https://") {
            // The demo accounts' passwords are printed in the README and the logs.
            return Err(ConfigError::Invalid {
                name: "APP_DEMO",
                value: "true".into(),
                reason: "the demo accounts have public passwords: never on a public (https) site",
            });
        }
        let instance = match lookup("APP_INSTANCE") {
            Some(text)
                if text.len() <= 64
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
            {
                text
            }
            Some(text) => {
                return Err(ConfigError::Invalid {
                    name: "APP_INSTANCE",
                    value: text,
                    reason: "expected at most 64 letters, digits, dots, dashes or underscores",
                });
            }
            None => services::access::secrets::new_token()
                .chars()
                .take(12)
                .collect(),
        };
        let grace_text = lookup("APP_SHUTDOWN_GRACE").unwrap_or_else(|| "60".into());
        let shutdown_grace = grace_text
            .parse::<u64>()
            .map(std::time::Duration::from_secs)
            .map_err(|_| ConfigError::Invalid {
                name: "APP_SHUTDOWN_GRACE",
                value: grace_text.clone(),
                reason: "expected a number of seconds",
            })?;
        let count = |name: &'static str, default: usize| match lookup(name) {
            None => Ok(default),
            Some(text) => {
                text.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::Invalid {
                        name,
                        value: text,
                        reason: "expected a number above 0",
                    })
            }
        };
        let default_caps = crate::connections::Caps::default();
        let connection_caps = crate::connections::Caps {
            per_client: count("APP_CONNECTIONS_PER_CLIENT", default_caps.per_client)?,
            total: count("APP_CONNECTIONS", default_caps.total)?,
        };
        let upload_slots = count("APP_UPLOAD_SLOTS", crate::pacing::Gates::default_slots())?;
        let metrics_address = match lookup("APP_METRICS_ADDRESS") {
            Some(text) => Some(text.parse().map_err(|_| ConfigError::Invalid {
                name: "APP_METRICS_ADDRESS",
                value: text.clone(),
                reason: "expected an address and port, e.g. 10.0.0.5:9100",
            })?),
            None => None,
        };
        let clamd_max_file = match lookup("APP_CLAMD_MAX_FILE") {
            None => services::files::antivirus::DEFAULT_MAX_FILE,
            Some(text) => parse_size(&text).ok_or_else(|| ConfigError::Invalid {
                name: "APP_CLAMD_MAX_FILE",
                value: text.clone(),
                reason: "expected clamd's MaxFileSize, e.g. 25M or 26214400",
            })?,
        };
        let clamd = match lookup("APP_CLAMD") {
            Some(text) => Some(
                services::files::antivirus::Clamd::parse(&text)
                    .map_err(|_| ConfigError::Invalid {
                        name: "APP_CLAMD",
                        value: text.clone(),
                        reason: "expected unix:/path/of/clamd.sock or tcp://host:port",
                    })?
                    .with_max_file(clamd_max_file),
            ),
            None => None,
        };
        let service_email = match lookup("APP_SERVICE_EMAIL") {
            Some(text) => Some(
                domain::candidate::Email::parse(&text)
                    .map_err(|_| ConfigError::Invalid {
                        name: "APP_SERVICE_EMAIL",
                        value: text.clone(),
                        reason: "expected an email address",
                    })?
                    .as_str()
                    .to_string(),
            ),
            None => None,
        };
        let franceconnect = franceconnect(&lookup, base_url.trim_end_matches('/'))?;
        Ok(Self {
            instance,
            service_email,
            franceconnect,
            clamd,
            test_now,
            shutdown_grace,
            connection_caps,
            upload_slots,
            metrics_address,
            trusted_proxies,
            mail_dir: lookup("APP_MAIL_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("mails")),
            mail_from: lookup("APP_MAIL_FROM")
                .unwrap_or_else(|| "Service concours <concours@localhost>".into()),
            smtp,
            demo,
            address,
            database_url,
            storage_url,
            exams_dir: lookup("APP_EXAMS_DIR")
                .unwrap_or_else(|| "exams".into())
                .into(),
            centre_file: lookup("APP_CENTRE_FILE")
                .unwrap_or_else(|| "centre.toml".into())
                .into(),
            hash_file: lookup("APP_HASH_FILE").map(PathBuf::from).or_else(|| {
                std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")))
            }),
            site_root: lookup("APP_SITE_ROOT")
                .unwrap_or_else(|| "target/site".into())
                .into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            public_origin,
            log_filter: lookup("RUST_LOG")
                .unwrap_or_else(|| "info,sqlx=warn,tower_http=info".into()),
            log_json,
            data_dir,
        })
    }
}

/// FranceConnect's three settings, all or none; its issuer over https (or on this
/// machine, for the local provider).
fn franceconnect(
    lookup: &impl Fn(&str) -> Option<String>,
    base_url: &str,
) -> Result<Option<services::access::franceconnect::Settings>, ConfigError> {
    const NAMES: [&str; 3] = [
        "APP_FRANCECONNECT_ISSUER",
        "APP_FRANCECONNECT_CLIENT_ID",
        "APP_FRANCECONNECT_CLIENT_SECRET",
    ];
    let [issuer, client_id, client_secret] = NAMES.map(lookup);
    let (issuer, client_id, client_secret) = match (issuer, client_id, client_secret) {
        (None, None, None) => return Ok(None),
        (Some(i), Some(c), Some(s)) => (i, c, s),
        (i, c, s) => {
            let missing = [i, c, s]
                .iter()
                .zip(NAMES)
                .filter(|(v, _)| v.is_none())
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError::Invalid {
                name: "APP_FRANCECONNECT_*",
                value: format!("{missing} manquant(s)"),
                reason: "set all three (ISSUER, CLIENT_ID, CLIENT_SECRET) or none",
            });
        }
    };
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| issuer.starts_with(p));
    if !(issuer.starts_with("https://") || local) {
        return Err(ConfigError::Invalid {
            name: "APP_FRANCECONNECT_ISSUER",
            value: issuer,
            reason: "expected an https:// URL (http only on this machine)",
        });
    }
    Ok(Some(services::access::franceconnect::Settings {
        issuer: issuer.trim_end_matches('/').to_string(),
        client_id,
        client_secret,
        base_url: base_url.to_string(),
    }))
}

/// `SMTP_URL` wins over `SMTP_HOST`, kept for the set-ups written before it. Error
/// messages show the URL without its credentials.
fn smtp_relay(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<SmtpRelay>, ConfigError> {
    let relay = match (lookup("SMTP_URL"), lookup("SMTP_HOST")) {
        (Some(url), _) => Some(SmtpRelay::from_url(&url).map_err(|e| ConfigError::Invalid {
            name: "SMTP_URL",
            value: services::letters::mail::without_credentials(&url),
            reason: e.reason(),
        })?),
        (None, Some(host)) => {
            let port_text = lookup("SMTP_PORT").unwrap_or_else(|| "25".into());
            let port = port_text.parse().map_err(|_| ConfigError::Invalid {
                name: "SMTP_PORT",
                value: port_text.clone(),
                reason: "expected a port number",
            })?;
            Some(SmtpRelay::plain(&host, port))
        }
        (None, None) => None,
    };
    let Some(path) = lookup("SMTP_CA_FILE") else {
        return Ok(relay);
    };
    let invalid = |reason| ConfigError::Invalid {
        name: "SMTP_CA_FILE",
        value: path.clone(),
        reason,
    };
    // Unused, it would leave the operator believing the relay's certificate checked.
    let relay = relay.ok_or_else(|| invalid("only with SMTP_URL (smtps:// or ?tls=)"))?;
    let pem = std::fs::read(&path).map_err(|_| invalid("cannot read this file"))?;
    relay
        .trusting(&pem)
        .map(Some)
        .map_err(|e| invalid(e.reason()))
}

impl Settings {
    /// The server's clock: the machine's, or the test clock of `APP_ENV=test`.
    pub fn clock(&self) -> services::SharedClock {
        match self.test_now {
            Some(start) => {
                std::sync::Arc::new(services::platform::clock::StartedClock::starting_at(start))
            }
            None => std::sync::Arc::new(services::SystemClock),
        }
    }
}

/// A size as clamd.conf writes it: bytes, or a number with `K` or `M` (binary).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 1024),
        (i, 'M' | 'm') => (&text[..i], 1024 * 1024),
        _ => (text, 1),
    };
    number
        .parse::<u64>()
        .ok()?
        .checked_mul(unit)
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_are_the_embedded_set_up() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.address.to_string(), "127.0.0.1:3000");
        assert_eq!(s.database_url, "sqlite://data/concours.db");
        assert_eq!(s.storage_url, "data/files");
        assert_eq!(s.base_url, "http://127.0.0.1:3000");
        assert!(!s.log_json);
        assert_eq!(s.mail_dir, PathBuf::from("data/mails"));
        assert!(s.smtp.is_none() && !s.demo);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.shutdown_grace, std::time::Duration::from_secs(60));
    }

    #[test]
    fn the_data_folder_moves_the_database_and_the_files() {
        let s = settings(&[
            ("APP_DATA_DIR", "/tmp/x"),
            ("APP_BASE_URL", "https://cdg.example/"),
        ])
        .unwrap();
        assert_eq!(s.database_url, "sqlite:///tmp/x/concours.db");
        assert_eq!(s.storage_url, "/tmp/x/files");
        assert_eq!(s.base_url, "https://cdg.example");
        // Each server gets a name of its own unless it is given one.
        let other = settings(&[]).unwrap();
        assert_eq!(s.instance.len(), 12);
        assert_ne!(s.instance, other.instance);
        assert_eq!(
            settings(&[("APP_INSTANCE", "web-2.paris")])
                .unwrap()
                .instance,
            "web-2.paris"
        );
    }

    #[test]
    fn a_bucket_takes_the_place_of_the_folder() {
        let s = settings(&[
            ("APP_STORAGE_URL", "s3://concours/cdg72"),
            ("APP_STORAGE_DIR", "/ignored"),
        ])
        .unwrap();
        assert_eq!(s.storage_url, "s3://concours/cdg72");
        for wrong in ["/srv/files", "s3://", "gs://concours"] {
            assert!(
                settings(&[("APP_STORAGE_URL", wrong)]).is_err(),
                "{wrong} accepted"
            );
        }
    }

    #[test]
    fn clamd_s_file_limit_is_read_as_clamd_conf_writes_it() {
        let max = |v: &str| {
            settings(&[("APP_CLAMD", "tcp://av:3310"), ("APP_CLAMD_MAX_FILE", v)])
                .unwrap()
                .clamd
                .unwrap()
                .max_file
        };
        assert_eq!(max("25M"), 25 * 1024 * 1024);
        assert_eq!(max("400K"), 400 * 1024);
        assert_eq!(max("1000"), 1000);
        let default = settings(&[("APP_CLAMD", "tcp://av:3310")]).unwrap();
        assert_eq!(default.clamd.unwrap().max_file, 25 * 1024 * 1024);
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("APP_ADDRESS", "localhost"),
            ("DATABASE_URL", "mysql://x"),
            ("APP_BASE_URL", "cdg.example"),
            ("APP_LOG_FORMAT", "xml"),
            ("SMTP_PORT", "vingt-cinq"),
            ("SMTP_CA_FILE", "/nulle/part.pem"),
            ("APP_NOW", "demain"),
            ("APP_TRUSTED_PROXIES", "10.0.0.0/8,le-proxy"),
            ("APP_SHUTDOWN_GRACE", "une minute"),
            ("APP_INSTANCE", "serveur\r\nx-inject: 1"),
            ("APP_CLAMD_MAX_FILE", "25 Mo"),
            ("APP_CONNECTIONS_PER_CLIENT", "0"),
        ] {
            let err = settings(&[(name, value), ("SMTP_HOST", "relay"), ("APP_ENV", "test")])
                .unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn an_smtp_url_wins_and_its_password_is_never_printed() {
        let s = settings(&[
            ("SMTP_URL", "smtps://concours:s3cr%C3%A9t@mail.exemple.fr"),
            ("SMTP_HOST", "relay"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("s3cr"), "{printed}");
        assert!(
            printed.contains("smtps://concours:***@mail.exemple.fr"),
            "{printed}"
        );
        let plain = settings(&[("SMTP_HOST", "relay"), ("SMTP_PORT", "2525")]).unwrap();
        assert_eq!(plain.smtp.unwrap().to_string(), "smtp://relay:2525");
        for good in [
            "smtp://relay",
            "smtp://relay:25",
            "smtp://relay?tls=opportunistic",
            "smtp://u:p@relay:587?tls=required",
            "smtps://u:p@[::1]",
        ] {
            assert!(settings(&[("SMTP_URL", good)]).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn a_wrong_smtp_url_is_named_without_its_password() {
        for wrong in [
            "mail.exemple.fr:587",
            "http://u:s3cret@relay",
            "smtp://",
            "smtp://u:s3cret@relay?tls=yes",
            // A password is sent only under TLS that a man in the middle cannot remove.
            "smtp://u:s3cret@relay:25",
            "smtp://u:s3cret@relay?tls=opportunistic",
            "smtp://u@relay?tls=required",
            "smtp://u:s3cret@re lay?tls=required",
        ] {
            let err = settings(&[("SMTP_URL", wrong)]).unwrap_err().to_string();
            assert!(err.starts_with("SMTP_URL: "), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
        let err = settings(&[("SMTP_URL", "smtp://u:s3cret@relay:25")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("« smtp://***@relay:25 »"), "{err}");
    }

    /// A self-signed certificate, only parsed here.
    const ROOT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBhDCCASmgAwIBAgIUKFhq5puT39T5AmNZNopzwoFmtZQwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLY29uZmlnLXRlc3QwIBcNMjYxMjAyMTgzMDQzWhgPMjEyNjEx
MDgxODMwNDNaMBYxFDASBgNVBAMMC2NvbmZpZy10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEwDOedS6i/2WzFrQhf/estH+P//0WpcaH1dPCNSVboC+P+Y9+
+Kq5s/dgRlTjkgToijPafj4tfmkIbOV5BvRquaNTMFEwHQYDVR0OBBYEFD7IRojm
+GTYbHr/oWDBTAv/S8q+MB8GA1UdIwQYMBaAFD7IRojm+GTYbHr/oWDBTAv/S8q+
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAKStb5XzNpcMj3N9
SvAycviQ3EfOxjGKXrtw7UTgSzpeAiEA45KagcwKbSnyk1Ce/x4B5UFLNpAW4Og0
lFwA3xX4RYM=
-----END CERTIFICATE-----";

    #[test]
    fn an_extra_root_needs_a_tls_relay_and_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root.pem");
        std::fs::write(&root, ROOT).unwrap();
        let root = root.to_str().unwrap();
        let starttls = ("SMTP_URL", "smtp://u:p@relay?tls=required");
        let s = settings(&[starttls, ("SMTP_CA_FILE", root)]).unwrap();
        assert!(
            s.smtp
                .unwrap()
                .to_string()
                .ends_with("(and an extra root certificate)")
        );
        assert!(settings(&[("SMTP_URL", "smtps://relay"), ("SMTP_CA_FILE", root)]).is_ok());

        let not_pem = dir.path().join("key.txt");
        std::fs::write(&not_pem, "pas un certificat").unwrap();
        let missing = dir.path().join("missing.pem");
        for pairs in [
            vec![("SMTP_CA_FILE", root)],
            vec![("SMTP_HOST", "relay"), ("SMTP_CA_FILE", root)],
            vec![("SMTP_URL", "smtp://relay"), ("SMTP_CA_FILE", root)],
            vec![starttls, ("SMTP_CA_FILE", not_pem.to_str().unwrap())],
            vec![starttls, ("SMTP_CA_FILE", missing.to_str().unwrap())],
        ] {
            let err = settings(&pairs).unwrap_err().to_string();
            assert!(err.starts_with("SMTP_CA_FILE: "), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn the_demo_is_refused_on_a_public_site() {
        let err = settings(&[
            ("APP_DEMO", "true"),
            ("APP_BASE_URL", "https://cdg.example"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("APP_DEMO"), "{err}");
        assert!(settings(&[("APP_DEMO", "true")]).unwrap().demo);
        assert!(
            !settings(&[("APP_BASE_URL", "https://cdg.example")])
                .unwrap()
                .demo
        );
    }

    #[test]
    fn the_test_clock_needs_app_env_test() {
        let now = "2025-04-17T23:59:00+02:00";
        let ignored = settings(&[("APP_NOW", now)]).unwrap();
        assert_eq!(ignored.test_now, None);
        let ignored = settings(&[("APP_NOW", now), ("APP_ENV", "production")]).unwrap();
        assert_eq!(ignored.test_now, None);
        let test = settings(&[("APP_NOW", now), ("APP_ENV", "test")]).unwrap();
        assert_eq!(test.test_now, Some("2025-04-17T21:59:00Z".parse().unwrap()));
        assert!(test.clock().now() >= test.test_now.unwrap());
    }
}
