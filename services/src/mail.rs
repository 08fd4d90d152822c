//! Outgoing mail: written as `.eml` files under the data folder by default, so the
//! embedded set-up needs no mail server; sent to an SMTP relay when `SMTP_HOST` is set.

use std::path::PathBuf;

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, SinglePart, header::ContentType},
};

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
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

impl Mailer {
    /// Messages become files in `dir`.
    pub fn to_files(dir: PathBuf, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            from: from.parse()?,
            transport: Transport::Files(AsyncFileTransport::new(dir)),
        })
    }

    /// Messages go to an SMTP relay on a trusted network, without TLS (this build has
    /// no TLS stack; a relay next to the server forwards them).
    pub fn smtp_relay(host: &str, port: u16, from: &str) -> Result<Self, MailError> {
        Ok(Self {
            from: from.parse()?,
            transport: Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(port)
                    .build(),
            ),
        })
    }

    /// A plain-text message in French; lettre picks the transfer encoding (long lines
    /// become quoted-printable).
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(subject)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )?;
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
