//! Mail through a relay speaking TLS: scripts/smtp-tls-server.py (aiosmtpd) with a
//! self-signed certificate made here, trusted only through `SmtpRelay::trusting` (what
//! SMTP_CA_FILE does), with STARTTLS and with TLS from the first byte.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
};

use services::letters::mail::{Mailer, SmtpRelay};

const USER: &str = "concours";
/// Unusual characters, so that the URL's percent-decoding is tried too.
const PASSWORD: &str = "p@ss:wörd/ 1";
const PASSWORD_IN_URL: &str = "p%40ss%3Aw%C3%B6rd%2F%201";
const SUBJECT: &str = "Votre dossier est enregistré";
const BODY: &str = "Bonjour,\n\nvotre dossier n° 2026-0042 a bien été reçu ; à bientôt.\n";

/// Whether aiosmtpd is installed: without it the tests are skipped with a note on a
/// workstation, and fail under CI, where `scripts/tools.sh test` installs it.
fn aiosmtpd_installed() -> bool {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "aiosmtpd is missing (scripts/tools.sh test installs it)"
        );
        eprintln!("skipped: python3 -c 'import aiosmtpd' fails (pip install aiosmtpd)");
    }
    installed
}

/// A self-signed certificate for localhost and 127.0.0.1, and its key.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        // Not CN=localhost: Debian's snakeoil certificate, in /etc/ssl/certs, has it.
        .args(["-subj", "/CN=relais-de-test"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // An end-entity certificate: rustls refuses a CA's as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl req failed");
    (cert, key)
}

/// The Python relay, stopped when dropped (and by itself if the test dies: its
/// standard input closes).
struct Relay {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    mails: PathBuf,
    /// The certificate the relay presents.
    cert: PathBuf,
}

impl Relay {
    /// `mode`: `starttls` or `tls`.
    fn start(mode: &str, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let (cert, key) = certificate(dir);
        let mails = dir.join("mails");
        std::fs::create_dir_all(&mails).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/smtp-tls-server.py");
        let log_path = dir.join("relay.log");
        let mut child = Command::new("python3")
            .arg(script)
            .args([mode, &port.to_string()])
            .args([&mails, &cert, &key])
            .args(["--user", USER, "--password", PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let relay = Self {
            child,
            _stdin: stdin,
            port,
            mails,
            cert,
        };
        assert_eq!(
            line.trim(),
            "ready",
            "{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        relay
    }

    fn root(&self) -> Vec<u8> {
        std::fs::read(&self.cert).unwrap()
    }

    /// What the relay received, as Python's email package reads it.
    fn received(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.mails)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send(relay: &SmtpRelay) -> Result<(), services::letters::mail::MailError> {
    Mailer::smtp(relay, "Service concours <concours@exemple.fr>")?
        .send("camille@exemple.fr", SUBJECT, BODY.to_string(), None)
        .await
}

fn assert_delivered(relay: &Relay) {
    let received = relay.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["login"], USER);
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["camille@exemple.fr"]));
    assert_eq!(mail["subject"], SUBJECT);
    // The SMTP transfer may add line ends at the end.
    let body = mail["body"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(body.trim_end(), BODY.trim_end());
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_credentials_deliver() {
    if !aiosmtpd_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for mode in ["starttls", "tls"] {
        let relay = Relay::start(mode, &dir.path().join(mode));
        let url = match mode {
            "starttls" => format!(
                "smtp://{USER}:{PASSWORD_IN_URL}@localhost:{}?tls=required",
                relay.port
            ),
            _ => format!("smtps://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{}", relay.port),
        };
        let smtp = SmtpRelay::from_url(&url)
            .unwrap()
            .trusting(&relay.root())
            .unwrap();
        send(&smtp).await.unwrap();
        assert_delivered(&relay);
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_being_shown() {
    if !aiosmtpd_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for mode in ["starttls", "tls"] {
        let relay = Relay::start(mode, &dir.path().join(mode));
        let url = match mode {
            "starttls" => format!(
                "smtp://{USER}:pas-le-bon@localhost:{}?tls=required",
                relay.port
            ),
            _ => format!("smtps://{USER}:pas-le-bon@localhost:{}", relay.port),
        };
        let smtp = SmtpRelay::from_url(&url)
            .unwrap()
            .trusting(&relay.root())
            .unwrap();
        let error = send(&smtp).await.unwrap_err().to_string();
        assert!(error.contains("535"), "{mode}: {error}");
        assert!(!error.contains("pas-le-bon"), "{mode}: {error}");
        assert!(relay.received().is_empty(), "{mode}");
    }
}

#[tokio::test]
async fn a_certificate_not_trusted_is_refused() {
    if !aiosmtpd_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for mode in ["starttls", "tls"] {
        let relay = Relay::start(mode, &dir.path().join(mode));
        let url = match mode {
            "starttls" => format!(
                "smtp://{USER}:{PASSWORD_IN_URL}@localhost:{}?tls=required",
                relay.port
            ),
            _ => format!("smtps://{USER}:{PASSWORD_IN_URL}@localhost:{}", relay.port),
        };
        // The system's roots only, as without SMTP_CA_FILE.
        let smtp = SmtpRelay::from_url(&url).unwrap();
        let error = send(&smtp).await.unwrap_err().to_string();
        assert!(
            error.contains("invalid peer certificate"),
            "{mode}: {error}"
        );
        assert!(relay.received().is_empty(), "{mode}");
    }
}
