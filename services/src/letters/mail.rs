//! Outgoing mail: written as `.eml` files under the data folder by default, so the
//! embedded set-up needs no mail server; sent to an SMTP relay when one is configured
//! ([`SmtpRelay`]: `SMTP_URL`, with TLS and credentials, or plain SMTP to `SMTP_HOST`).

use std::{fmt, path::PathBuf};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
    transport::smtp::client::{Certificate, Tls, TlsParameters},
};

/// A PDF sent with a message: the accusé de réception, the dossier d'inscription.
#[derive(Clone, Debug)]
pub struct MailFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    /// Who writes: the Centre's name and contacts under every message.
    signature: Option<std::sync::Arc<str>>,
}

#[derive(Clone)]
enum Transport {
    Files(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("cannot write the message: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot create the mail folder: {0}")]
    Io(#[from] std::io::Error),
}

/// The SMTP relay and how to reach it, checked when the settings are read so that a
/// mistake stops the start-up rather than every mail. Printed (Debug or Display), it
/// never shows the password.
#[derive(Clone)]
pub struct SmtpRelay(Relay);

#[derive(Clone)]
enum Relay {
    /// Plain SMTP to a relay on a trusted network.
    Plain { host: String, port: u16 },
    /// A URL as lettre reads it: scheme, credentials, `tls=`, default ports.
    Url {
        /// As given: it may hold the password, so only lettre reads it.
        url: String,
        /// The same with `***` for the password.
        shown: String,
        /// The name the relay's certificate must carry.
        host: String,
        security: Security,
        /// In place of the TLS parameters lettre builds from the URL, which trust the
        /// system's roots only: these trust an extra root too.
        tls: Option<Tls>,
    },
}

#[derive(Clone, Copy)]
enum Security {
    Plain,
    /// `?tls=opportunistic`: STARTTLS when offered (a man in the middle can hide it).
    StartTlsIfOffered,
    /// `?tls=required`: STARTTLS or no mail.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

/// Why an SMTP relay setting is refused; `reason` is the sentence for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("{}", self.reason())]
    Form,
    #[error("{}", self.reason())]
    TlsMode,
    #[error("{}", self.reason())]
    MissingPassword,
    #[error("{}", self.reason())]
    PasswordInClear,
    #[error("{}", self.reason())]
    NotPem,
    #[error("{}", self.reason())]
    RootWithoutTls,
}

impl RelayError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Form => {
                "expected smtp://[USER:PASSWORD@]HOST[:PORT][?tls=required] or \
                 smtps://[USER:PASSWORD@]HOST[:PORT]"
            }
            Self::TlsMode => "tls= takes required (STARTTLS) or opportunistic",
            Self::MissingPassword => "expected USER:PASSWORD@HOST (percent-encoded)",
            Self::PasswordInClear => {
                "credentials are sent only over TLS: add ?tls=required, or use smtps://"
            }
            Self::NotPem => "expected a PEM file of one or more certificates",
            Self::RootWithoutTls => {
                "an extra root certificate needs a TLS relay (smtps:// or ?tls=)"
            }
        }
    }
}

impl SmtpRelay {
    /// Plain SMTP, no credentials: a relay next to the server forwards the mail.
    pub fn plain(host: &str, port: u16) -> Self {
        Self(Relay::Plain {
            host: host.to_string(),
            port,
        })
    }

    /// `smtp://[USER:PASSWORD@]HOST[:PORT][?tls=required|opportunistic]` (ports 25, or
    /// 587 with `tls=`) or `smtps://[USER:PASSWORD@]HOST[:PORT]` (port 465); credentials
    /// percent-encoded. Checked here, then read by lettre's `from_url`.
    pub fn from_url(text: &str) -> Result<Self, RelayError> {
        let url = url::Url::parse(text).map_err(|_| RelayError::Form)?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(RelayError::Form)?;
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtps", _) => Security::Wrapper,
            ("smtp", None) => Security::Plain,
            ("smtp", Some("required")) => Security::StartTls,
            ("smtp", Some("opportunistic")) => Security::StartTlsIfOffered,
            ("smtp", Some(_)) => return Err(RelayError::TlsMode),
            _ => return Err(RelayError::Form),
        };
        // lettre ignores a user without a password: the relay would then refuse the
        // mail (or take it unauthenticated) long after the start-up.
        match (url.username().is_empty(), url.password().is_some()) {
            (true, false) => {}
            (false, true) => {
                if !matches!(security, Security::StartTls | Security::Wrapper) {
                    return Err(RelayError::PasswordInClear);
                }
            }
            _ => return Err(RelayError::MissingPassword),
        }
        AsyncSmtpTransport::<Tokio1Executor>::from_url(text).map_err(|_| RelayError::Form)?;
        let mut shown = url.clone();
        if url.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        Ok(Self(Relay::Url {
            url: text.to_string(),
            shown: shown.to_string(),
            host: host.to_string(),
            security,
            tls: None,
        }))
    }

    /// Also trusts the root certificates of `pem` (an internal authority, or a test's
    /// self-signed certificate), besides the system's.
    pub fn trusting(mut self, pem: &[u8]) -> Result<Self, RelayError> {
        let Relay::Url {
            host,
            security,
            tls,
            ..
        } = &mut self.0
        else {
            return Err(RelayError::RootWithoutTls);
        };
        let mode: fn(TlsParameters) -> Tls = match security {
            Security::Plain => return Err(RelayError::RootWithoutTls),
            Security::StartTlsIfOffered => Tls::Opportunistic,
            Security::StartTls => Tls::Required,
            Security::Wrapper => Tls::Wrapper,
        };
        // lettre takes a file without any certificate for an empty list.
        if !pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(RelayError::NotPem);
        }
        let root = Certificate::from_pem(pem).map_err(|_| RelayError::NotPem)?;
        let params = TlsParameters::builder(host.clone())
            .add_root_certificate(root)
            .build()
            .map_err(|_| RelayError::NotPem)?;
        *tls = Some(mode(params));
        Ok(self)
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        Ok(match &self.0 {
            Relay::Plain { host, port } => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(*port)
                    .build()
            }
            Relay::Url { url, tls, .. } => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?;
                match tls {
                    Some(tls) => builder.tls(tls.clone()),
                    None => builder,
                }
                .build()
            }
        })
    }
}

impl fmt::Display for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Relay::Plain { host, port } => write!(f, "smtp://{host}:{port}"),
            Relay::Url { shown, tls, .. } => {
                f.write_str(shown)?;
                if tls.is_some() {
                    f.write_str(" (and an extra root certificate)")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SmtpRelay")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// `text` with whatever precedes its last `@` hidden: the form of an `SMTP_URL` that
/// could not be read, for an error message.
pub fn without_credentials(text: &str) -> String {
    let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
    match rest.rsplit_once('@') {
        Some((_, after)) if scheme.is_empty() => format!("***@{after}"),
        Some((_, after)) => format!("{scheme}://***@{after}"),
        None => text.to_string(),
    }
}

impl Mailer {
    /// Messages become files in `dir`.
    pub fn to_files(dir: PathBuf, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            from: from.parse()?,
            transport: Transport::Files(AsyncFileTransport::new(dir)),
            signature: None,
        })
    }

    /// Messages go to `relay`.
    pub fn smtp(relay: &SmtpRelay, from: &str) -> Result<Self, MailError> {
        Ok(Self {
            from: from.parse()?,
            transport: Transport::Smtp(relay.transport()?),
            signature: None,
        })
    }

    /// Messages go to an SMTP relay on a trusted network, without TLS.
    pub fn smtp_relay(host: &str, port: u16, from: &str) -> Result<Self, MailError> {
        Self::smtp(&SmtpRelay::plain(host, port), from)
    }

    /// Every message ends with `signature`, after the usual `-- ` line (mail programs
    /// then show it as a signature).
    pub fn signed(mut self, signature: &str) -> Self {
        self.signature = Some(signature.into());
        self
    }

    /// A plain-text message in French, with a PDF file when given; lettre picks the
    /// transfer encoding (long lines become quoted-printable, the file base64).
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        body: String,
        pdf: Option<MailFile>,
    ) -> Result<(), MailError> {
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(subject);
        let body = match &self.signature {
            Some(signature) => format!("{}\n\n-- \n{signature}\n", body.trim_end()),
            None => body,
        };
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let message = match pdf {
            None => builder.singlepart(text)?,
            Some(file) => builder.multipart(MultiPart::mixed().singlepart(text).singlepart(
                Attachment::new(file.name).body(
                    file.bytes,
                    ContentType::parse("application/pdf").expect("a MIME type"),
                ),
            ))?,
        };
        match &self.transport {
            Transport::Files(t) => {
                t.send(message).await?;
            }
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }
}

/// The text of every message written to `dir`, oldest first, decoded from
/// quoted-printable: for tests and for reading mails in the embedded set-up.
pub fn read_mail_files(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| Ok((e.metadata()?.modified()?, e.path())))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    entries
        .into_iter()
        .map(|(_, path)| Ok(decode_quoted_printable(&std::fs::read(path)?)))
        .collect()
}

fn decode_quoted_printable(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'=' if raw[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if i + 2 < raw.len() => {
                match u8::from_str_radix(&String::from_utf8_lossy(&raw[i + 1..i + 3]), 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}
