//! The one way to build the server, used by `main` and by every integration test.

use std::net::SocketAddr;

use app::{App, shell, state::AppState};
use axum::{Router, middleware, routing::get};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use services::{
    Db, SharedClock, access::passwords::Passwords, catalogue, files::storage::Storage,
    letters::mail::Mailer, platform::demo,
};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::{
    Settings, files, flood, franceconnect, messages, metrics, refusals, security, staff, tus,
};

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    grace: std::time::Duration,
    stop: tokio::sync::watch::Sender<bool>,
    /// `/metrics`, on its own (private) address when configured.
    metrics: Option<(TcpListener, Router)>,
    /// The connections open now, capped per client and in all.
    open: crate::connections::Open,
}

/// Stops a running server as SIGTERM does: no new connections, requests in flight
/// (an upload on a slow phone) finish within the grace, then it returns.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Sender<bool>);

impl Stop {
    pub fn stop_now(&self) {
        let _ = self.0.send(true);
    }
}

/// How often the deadline reminders due are looked for and expired rows purged: a
/// reminder goes at most this late, and a mail that could not be sent is retried this soon.
const REMINDER_PASS: std::time::Duration = std::time::Duration::from_secs(60);
/// How often the outbox is looked at: a promised mail leaves at most this late.
const MAIL_PASS: std::time::Duration = std::time::Duration::from_secs(2);
/// The most a connection reads at a time (hyper's buffer; see [`serve`]).
pub const READ_BUFFER: usize = 64 * 1024;
/// The orphan sweep lists every stored file: once an hour is enough.
const SWEEP_EVERY_PASSES: u32 = 60;

/// The migrations, then the columns they added filled for the rows already there
/// (the dossiers' list columns: once, by any server, idempotent).
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate().await?;
    let filled = services::dossiers::fill_list_keys(db).await?;
    if filled > 0 {
        tracing::info!(filled, "list columns filled for older dossiers");
    }
    Ok(())
}

impl Application {
    /// Connects and migrates the database, imports the exams folder, and binds the
    /// address (port 0 picks a free one).
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        // The Centre first: a site that names no one does not start.
        let centre = services::platform::centre::read(&settings.centre_file)?;
        // The audit the déclaration d'accessibilité states, compiled in: whole or nothing.
        services::platform::accessibility::audit().map_err(Clone::clone)?;
        let db = Db::connect(&settings.database_url).await?;
        migrate(&db).await?;
        let imported = catalogue::import_dir(&db, &settings.exams_dir, &*clock).await?;
        // The spool of uploads on their way to a bucket: the data folder, on disk.
        let storage =
            Storage::from_url(&settings.storage_url, &settings.data_dir.join("spool")).await?;
        // argon2id hashes on all cores but one: a login storm queues instead of taking
        // every core from page renders and uploads (measured by `make bench`).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let passwords = Passwords::new(cores.saturating_sub(1).max(1))?;
        let mailer = match &settings.smtp {
            Some(relay) => Mailer::smtp(relay, &settings.mail_from)?,
            None => Mailer::to_files(settings.mail_dir.clone(), &settings.mail_from)?,
        }
        .signed(&centre.signature());
        if !settings.demo {
            match demo::retire(&db, &*clock, &passwords).await {
                Ok(true) => tracing::warn!("APP_DEMO is off: the demo accounts are closed"),
                Ok(false) => {}
                Err(error) => tracing::error!(%error, "demo accounts not closed"),
            }
        }
        if settings.demo {
            match demo::seed(&db, &*clock, &passwords).await {
                Ok(number) => tracing::info!(
                    "demo candidate: n° de dossier {number}, mot de passe « {} »",
                    demo::DEMO_PASSWORD
                ),
                Err(error) => tracing::warn!(%error, "demo candidate not seeded"),
            }
            match services::access::staff::seed_demo(&db, &passwords, &*clock).await {
                Ok(()) => tracing::info!(
                    "demo staff member: {}, mot de passe « {} »",
                    services::access::staff::DEMO_EMAIL,
                    services::access::staff::DEMO_PASSWORD
                ),
                Err(error) => tracing::warn!(%error, "demo staff member not seeded"),
            }
        }

        let mut leptos_options = get_configuration(None)?.leptos_options;
        leptos_options.site_addr = settings.address;
        leptos_options.site_root = settings.site_root.to_string_lossy().as_ref().into();
        // Hashed file names (cargo-leptos `hash-files`): leptos reads the hash file for
        // the scripts, `app::stylesheet` for the CSS.
        if let Some(hash_file) = settings.hash_file.as_ref().filter(|f| f.is_file()) {
            leptos_options.hash_files = true;
            leptos_options.hash_file = hash_file.to_string_lossy().as_ref().into();
        }

        let state = AppState {
            leptos_options: leptos_options.clone(),
            db: db.clone(),
            clock,
            passwords,
            mailer,
            storage,
            base_url: settings.base_url.as_str().into(),
            centre: std::sync::Arc::new(centre),
            secure_cookies: settings.base_url.starts_with("https://"),
            trusted_proxies: settings.trusted_proxies.clone().into(),
            service_email: settings.service_email.as_deref().map(Into::into),
            stylesheet: app::stylesheet_of(&leptos_options).into(),
            franceconnect: match settings.franceconnect.clone() {
                Some(fc) => Some(std::sync::Arc::new(
                    services::access::franceconnect::FranceConnect::new(fc)
                        .map_err(|e| anyhow::anyhow!("APP_FRANCECONNECT_*: {e}"))?,
                )),
                None => None,
            },
            antivirus: settings.clamd.clone().map(|clamd| app::state::Antivirus {
                clamd,
                arrived: Default::default(),
            }),
        };
        let counted = std::sync::Arc::new(metrics::Metrics::default());
        let gates = crate::pacing::Gates::with_slots(settings.upload_slots);
        let health = std::sync::Arc::new(crate::health::Health::default());
        let open = crate::connections::Open::new(
            settings.connection_caps,
            settings.trusted_proxies.clone().into(),
        );
        let routes = route_list();
        let router = Router::new()
            .route("/healthz", {
                let (instance, health) = (settings.instance.clone(), health.clone());
                get(move |state| crate::health::healthz(state, health, instance))
            })
            .merge(files::routes())
            .merge(messages::routes())
            .merge(franceconnect::routes())
            .merge(tus::routes())
            .merge(staff::routes(&state))
            .leptos_routes_with_context(&state, routes, security::provide_request_nonce, {
                let options = leptos_options.clone();
                move || shell(options.clone())
            })
            // Pages rendered by the fallback (404s) get the same context as the others.
            .fallback(leptos_axum::file_and_error_handler_with_context::<
                AppState,
                _,
            >(
                {
                    let state = state.clone();
                    move || {
                        provide_context(state.clone());
                        security::provide_request_nonce();
                    }
                },
                shell,
            ))
            // This server's upload gates, for every handler that reads a body.
            .layer(axum::Extension(gates.clone()))
            .layer(middleware::from_fn_with_state(state.clone(), staff::gate))
            .layer(middleware::from_fn_with_state(
                settings
                    .public_origin
                    .as_deref()
                    .map(std::sync::Arc::<str>::from),
                security::same_origin,
            ))
            .layer(middleware::from_fn(security::server_fn_body_limit))
            // Before any body is read or page made: a flood is answered at the door.
            .layer(middleware::from_fn_with_state(
                (state.clone(), flood::Gate::default()),
                flood::limit,
            ))
            // Outside every refusal above: a form post refused anywhere ends on a page.
            .layer(middleware::from_fn(refusals::as_pages))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                security::headers,
            ))
            .layer(TraceLayer::new_for_http())
            .layer(middleware::from_fn_with_state(
                counted.clone(),
                metrics::count,
            ))
            .with_state(state.clone());
        let metrics = match settings.metrics_address {
            Some(address) => Some((
                TcpListener::bind(address).await?,
                metrics::router(state.clone(), counted, gates, health, open.clone()),
            )),
            None => None,
        };

        let open_files = crate::connections::raise_open_files();
        let listener = TcpListener::bind(settings.address).await?;
        tracing::info!(
            address = %listener.local_addr()?,
            database = ?db.kind(),
            exams = imported,
            instance = %settings.instance,
            open_files,
            "listening on {}",
            settings.base_url
        );
        Ok(Self {
            listener,
            router,
            state,
            grace: settings.shutdown_grace,
            stop: tokio::sync::watch::channel(false).0,
            metrics,
            open,
        })
    }

    /// What stops this server when `run_until_stopped` runs, besides SIGTERM and Ctrl-C.
    pub fn stop(&self) -> Stop {
        Stop(self.stop.clone())
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The database handle, for tests that inspect or break it.
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    pub fn storage(&self) -> &Storage {
        &self.state.storage
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref()?.0.local_addr().ok()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Every instance runs the pass; each reminder is claimed in the database, so
        // it still goes once.
        let reminders = tokio::spawn(send_reminders(self.state.clone()));
        let mails = tokio::spawn(deliver_mails(self.state.clone()));
        let scans = tokio::spawn(scan_files(self.state.clone()));
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move { axum::serve(listener, router).await })
        });
        let served = serve(self.listener, self.router, self.open, self.stop, self.grace).await;
        reminders.abort();
        mails.abort();
        scans.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        served
    }
}

/// The app's routes, listed once per process. Listing them runs the app with resources
/// suppressed through a process-wide flag (leptos_server, leptos-rs/leptos#4773): a
/// page another server of this process renders meanwhile (the tests run many) would
/// wait for its data for ever.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

async fn send_reminders(state: AppState) {
    let mut every = tokio::time::interval(REMINDER_PASS);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut passes: u32 = 0;
    loop {
        every.tick().await;
        let pass =
            services::dossiers::reminders::send_due(&state.db, &*state.clock, &state.base_url);
        if let Err(error) = pass.await {
            tracing::error!(%error, "deadline reminders pass failed");
        }
        // The sweep lists the whole store: on the first pass (in the background, so a
        // server starts without waiting for a bucket's listing), then hourly.
        let sweep = passes.is_multiple_of(SWEEP_EVERY_PASSES);
        passes = passes.wrapping_add(1);
        services::platform::housekeeping::run(&state.db, &*state.clock, &state.storage, sweep)
            .await;
    }
}

/// How often files waiting for the antivirus are looked for when none arrives: the
/// pass after clamd comes back, and files another server took and dropped.
const SCAN_PASS: std::time::Duration = std::time::Duration::from_secs(10);

/// The antivirus's passes: at once when a file arrives here, else every [`SCAN_PASS`].
async fn scan_files(state: AppState) {
    let Some(antivirus) = state.antivirus.clone() else {
        return;
    };
    loop {
        let _ = tokio::time::timeout(SCAN_PASS, antivirus.arrived.notified()).await;
        // Until nothing is left that clamd could take (each pass takes a few).
        loop {
            let pass = services::files::antivirus::pass(
                &state.db,
                &state.storage,
                &*state.clock,
                &antivirus.clamd,
                16,
            );
            match pass.await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "antivirus pass failed");
                    break;
                }
            }
        }
    }
}

async fn deliver_mails(state: AppState) {
    let head = state.letterhead();
    let mut every = tokio::time::interval(MAIL_PASS);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let pass = services::letters::deliver_due_keeping(
            &state.db,
            &*state.clock,
            &state.mailer,
            &head,
            Some(&state.storage),
        );
        if let Err(error) = pass.await {
            tracing::error!(%error, "mail pass failed");
        }
    }
}

/// Serves until stopped (SIGTERM, Ctrl-C or [`Stop`]): then no new connection is taken,
/// requests in flight have `grace` to finish, and whatever is left is cut. Each
/// connection must send its request heads within [`connections::HEAD_WITHIN`]
/// (hyper's timer), and holds a place among the open ones ([`connections::Open`]).
async fn serve(
    listener: TcpListener,
    router: Router,
    open: crate::connections::Open,
    stop: tokio::sync::watch::Sender<bool>,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::{conn::auto, graceful::GracefulShutdown},
    };
    use tower::Service;

    let mut stopped = stop.subscribe();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(crate::connections::HEAD_WITHIN)
        // hyper's read buffer grows to about 400 KiB on a fast body, and the multipart
        // parser copies each read whole into its own: with a hundred uploads in flight,
        // tens of megabytes held for nothing. Reads of 64 KiB keep both small.
        .max_buf_size(READ_BUFFER);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    // The peer address feeds the per-address limits (`ConnectInfo`).
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut stopping = std::pin::pin!(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of files, or a connection reset before it was taken: go on.
                Err(error) => {
                    tracing::warn!(%error, "connection not accepted");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopping => break,
        };
        let Some(ticket) = open.admit(peer.ip()) else {
            // Past a cap: closed at once, before a byte is read.
            drop(stream);
            continue;
        };
        let Ok(service) = make_service.call(peer).await;
        let service = hyper_util::service::TowerToHyperService::new(service);
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ticket = ticket;
            let _ = connection.await;
        });
    }
    drop(listener);
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "shutting down: finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace over: requests still in flight are cut");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
