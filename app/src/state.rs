//! What every server function and server render can read from the context.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use services::{
    Db, SharedClock, access::passwords::Passwords, files::storage::Storage, letters::mail::Mailer,
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub clock: SharedClock,
    pub passwords: Passwords,
    pub mailer: Mailer,
    pub storage: Storage,
    /// The public address, for links in emails.
    pub base_url: Arc<str>,
    /// The Centre that runs the site (`APP_CENTRE_FILE`).
    pub centre: Arc<domain::centre::Centre>,
    /// Cookies get `Secure` when the site is served over HTTPS.
    pub secure_cookies: bool,
    /// `APP_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[services::access::clients::IpNet]>,
    /// The antivirus, when `APP_CLAMD` names one.
    pub antivirus: Option<Antivirus>,
    /// `APP_SERVICE_EMAIL`: where candidates' messages are announced.
    pub service_email: Option<Arc<str>>,
    /// The stylesheet's address (`/pkg/concours.css`, or its hashed name), read once
    /// from the hash file at start-up rather than at each page.
    #[from_ref(skip)]
    pub stylesheet: Arc<str>,
    /// FranceConnect, when `APP_FRANCECONNECT_*` configure it.
    pub franceconnect: Option<Arc<services::access::franceconnect::FranceConnect>>,
}

/// clamd's address, and the bell that wakes the scanner when a file arrives.
#[derive(Clone)]
pub struct Antivirus {
    pub clamd: services::files::antivirus::Clamd,
    pub arrived: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// The antivirus state a new file starts in.
    pub fn first_scan(&self) -> domain::antivirus::VirusScan {
        match self.antivirus {
            Some(_) => domain::antivirus::VirusScan::Pending,
            None => domain::antivirus::VirusScan::NotScanned,
        }
    }

    /// The Centre and the site's address, at the head of letters and printouts.
    pub fn letterhead(&self) -> services::letters::Letterhead {
        services::letters::Letterhead {
            centre: self.centre.clone(),
            base_url: self.base_url.to_string(),
        }
    }

    /// A candidate's file is stored: the scanner is woken, the service told when it
    /// answers a correction request, and the dossier's followers told.
    pub async fn file_stored(&self, dossier: &services::dossiers::Dossier, piece: &str) {
        self.file_arrived();
        let told = services::dossiers::messages::correction_answered(
            &self.db,
            &*self.clock,
            dossier,
            piece,
            self.service_email.as_deref(),
            &self.base_url,
        )
        .await;
        if let Err(error) = told {
            tracing::error!(%error, "the service could not be told of a correction");
        }
        // A message's file comes with its message, which tells the followers already.
        if piece != services::files::attachments::MESSAGE_PIECE {
            let told = services::dossiers::following::notify(
                &self.db,
                &*self.clock,
                &self.base_url,
                dossier,
                services::dossiers::following::News::File,
            )
            .await;
            if let Err(error) = told {
                tracing::error!(%error, "the dossier's followers could not be told of a file");
            }
        }
    }

    /// Tells the scanner a file arrived (nothing without an antivirus).
    pub fn file_arrived(&self) {
        if let Some(antivirus) = &self.antivirus {
            antivirus.arrived.notify_one();
        }
    }
}
