//! The main scenario: one full run of the product on one database and store, the last
//! evening in numbered steps, then the database and the store checked.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use services::files::storage::Storage;
use sqlx::Row;

use crate::{
    Args,
    attacker::{ATTACKER_DOSSIERS, Attack, Evening, evening},
    bare::{remove_all, settle},
    harness::{
        Bases, MIB, Run, Samples, Seeded, Server, Upload, address_of, client, cpu_seconds, login,
        memory_kib, mib_per_server, pages, pdf, product_upload, round, round2, run_all,
        scenario_uploads, seed,
    },
};

/// One full run of the product on one database and store.
pub(crate) async fn product(args: &Args, run: &Run<'_>) -> anyhow::Result<Value> {
    let n = args.candidates;
    let url = run.database_url;
    let data = tempfile::tempdir()?;
    // Scenario candidates, then those of the memory phase, the storm's, and the two
    // evenings side by side (without, then with an attacker) and the attacker's own.
    let seeded = seed(
        url,
        data.path(),
        n + args.big + args.storm + 2 * n + ATTACKER_DOSSIERS,
    )
    .await?;
    let client = client();
    // One after the other: each migrates and imports the exams at start-up.
    let mut servers = Vec::new();
    for &port in run.ports {
        let server = Server::start(args, port, url, data.path(), run.storage_url)?;
        server.wait_ready(&client).await?;
        servers.push(server);
    }
    let bases = Bases(servers.iter().map(|s| s.base.clone()).collect());
    let mut kinds: BTreeMap<&str, Samples> = BTreeMap::new();

    // 1. Every candidate logs in.
    let cookies = log_in_all(args, &client, &bases, &servers, &seeded, &mut kinds).await;

    // 2. Three uploads each.
    let phase = upload_all(args, &client, &bases, &servers, &cookies, &mut kinds).await;

    // 3. The dossier page, then « CLÔTURER » twice at once (a double click), the two
    //    posts to two servers when there are two.
    pages_and_closures(args, &client, &bases, &servers, &cookies, &mut kinds).await;

    // 4. Uploads of 8 MiB in flight at once (100 by default), each server's memory
    //    sampled meanwhile.
    let (mem_cookies, rss_before_big, big_wall, big_peaks, big_samples) =
        big_uploads(args, &client, &bases, &servers, &seeded).await?;

    // 5. The login storm: dossier pages at rest, then during 100 concurrent logins.
    let (rest, storm_logins, during, storm_rounds, peak_total) =
        login_storm(args, &client, &bases, &servers, &seeded, &mem_cookies).await?;

    // 6. The evening again, side by side in this run: fresh candidates without an
    //    attacker, then others while one client attacks.
    let (quiet, attacked, attacker) = evening_again(args, &client, &bases, &seeded).await?;
    let ratio = |a: &Samples, q: &Samples| round2(a.quantile(0.99) / q.quantile(0.99).max(0.001));
    // Every request has had its answer: nothing is being written any more.
    drop(servers);

    // 7. The database and the store after the run.
    let (closed, keys, files) = check_after_run(url, run, &data).await?;
    let expected_rows = 3 * n + args.big + 4 * n;
    // A file answered 201 without its row is lost as much as a row without its file.
    let missing_rows = expected_rows.saturating_sub(keys.len());
    let lost = files.rows_without_object + missing_rows;
    let errors: usize = kinds.values().map(|s| s.errors).sum::<usize>()
        + big_samples.errors
        + storm_logins.errors
        + during.errors
        + quiet.errors()
        + attacked.errors();

    let (wall, mb) = (phase.wall, phase.bytes as f64 / 1e6);
    let (big_peak, big_peak_each) = mib_per_server(&big_peaks);
    let (total_peak, total_peak_each) = mib_per_server(&peak_total);
    let result = json!({
        "run": run.label,
        "database": run.database,
        "store": if run.storage_url.is_some() { "s3" } else { "local" },
        "servers": run.ports.len(),
        "candidates": n,
        "concurrency": args.concurrency,
        "requests": kinds.iter().map(|(k, s)| (k.to_string(), s.summary())).collect::<serde_json::Map<_, _>>(),
        "uploads": {
            "count": phase.count,
            "megabytes": round(mb),
            "seconds": round2(wall.as_secs_f64()),
            "per_second": round(phase.count as f64 / wall.as_secs_f64()),
            "mb_per_second": round(mb / wall.as_secs_f64()),
            "cpu_seconds_servers": round2(phase.cpu_servers),
            "cpu_seconds_driver": round2(phase.cpu_driver),
        },
        "errors": errors,
        "check": {
            "closed_dossiers": closed,
            "expected_closed": n,
            "closures_exactly_once": closed == n as i64,
            "attachment_rows": keys.len(),
            "expected_rows": expected_rows,
            "stored_objects": files.stored_objects,
            "rows_without_object": files.rows_without_object,
            "objects_without_row": files.objects_without_row,
            "lost_files": lost,
            "no_file_lost": lost == 0 && files.objects_without_row == 0,
        },
        "memory": {
            "peak_rss_mib_after_scenario_uploads": mib_per_server(&phase.peak_after).0,
            "rss_mib_before_big_uploads": mib_per_server(&rss_before_big).0,
            "peak_rss_mib_during_big_uploads": big_peak,
            "peak_rss_mib_during_big_uploads_per_server": big_peak_each,
            "peak_rss_mib_whole_run": total_peak,
            "peak_rss_mib_whole_run_per_server": total_peak_each,
            "big_uploads": {
                "count": args.big,
                "mib_each": 8,
                "seconds": round(big_wall.as_secs_f64()),
                "errors": big_samples.errors,
            },
        },
        "attacked": {
            "without_attacker": quiet.summary(),
            "with_attacker": attacked.summary(),
            "honest_errors_with_attacker": attacked.errors(),
            "honest_errors_without_attacker": quiet.errors(),
            "p99_ratio": {
                "login": ratio(&attacked.login, &quiet.login),
                "upload": ratio(&attacked.upload, &quiet.upload),
                "dossier_page": ratio(&attacked.page, &quiet.page),
            },
            "attacker_requests": attacker,
        },
        "login_storm": {
            "logins": storm_logins.summary(),
            "dossier_page_at_rest": rest.summary(),
            "dossier_page_during_storm": during.summary(),
            "p99_ratio": round(during.quantile(0.99) / rest.quantile(0.99).max(0.001)),
            "rounds": STORM_ROUNDS,
            "p99_ratio_of_each_round": storm_rounds,
        },
    });
    Ok(result)
}

/// Resident memory of each server now and at its peak, in KiB.
fn memory(servers: &[Server]) -> Vec<(u64, u64)> {
    servers.iter().map(Server::memory_kib).collect::<Vec<_>>()
}

/// Step 1: every candidate logs in; their session cookies, in candidate order.
async fn log_in_all(
    args: &Args,
    client: &reqwest::Client,
    bases: &Bases,
    servers: &[Server],
    seeded: &Seeded,
    kinds: &mut BTreeMap<&str, Samples>,
) -> Vec<String> {
    let n = args.candidates;
    let cookies = Arc::new(tokio::sync::Mutex::new(vec![String::new(); n]));
    let samples = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    run_all((0..n).collect(), args.concurrency, |i| {
        let (client, bases, cookies, samples) = (
            client.clone(),
            bases.clone(),
            cookies.clone(),
            samples.clone(),
        );
        let number = seeded.numbers[i].clone();
        async move {
            let t = Instant::now();
            let r = login(&client, bases.at(i), &number).await;
            samples.lock().await.push(t, r.is_ok());
            if let Ok(c) = r {
                cookies.lock().await[i] = c;
            }
        }
    })
    .await;
    kinds.insert("login", take(&samples).await);
    eprintln!("   after logins: {:?} KiB (rss, peak)", memory(servers));
    cookies.lock().await.clone()
}

/// What step 2 measured.
struct UploadPhase {
    count: usize,
    bytes: usize,
    wall: Duration,
    peak_after: Vec<u64>,
    /// CPU time the servers took during the phase, and this process (the clients).
    cpu_servers: f64,
    cpu_driver: f64,
}

/// Step 2: three uploads per candidate.
async fn upload_all(
    args: &Args,
    client: &reqwest::Client,
    bases: &Bases,
    servers: &[Server],
    cookies: &[String],
    kinds: &mut BTreeMap<&str, Samples>,
) -> UploadPhase {
    let n = args.candidates;
    let samples = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    settle();
    // File by file across candidates, as phones send them: one candidate's uploads do
    // not overlap (the server reads at most two of a dossier's at once).
    let uploads = scenario_uploads(n);
    let bytes: usize = uploads.iter().map(|(_, u)| u.body.len()).sum();
    let count = uploads.len();
    let servers_cpu = || -> f64 { servers.iter().map(|s| cpu_seconds(s.child.id())).sum() };
    let (servers_before, driver_before) = (servers_cpu(), cpu_seconds(std::process::id()));
    let wall = run_all(
        uploads.iter().cloned().enumerate().collect(),
        args.concurrency,
        |(j, (i, u))| {
            let (client, bases, cookie, samples) = (
                client.clone(),
                bases.clone(),
                cookies[i].clone(),
                samples.clone(),
            );
            async move { product_upload(&client, bases.at(j), &cookie, &u, &samples).await }
        },
    )
    .await;
    let (cpu_servers, cpu_driver) = (
        servers_cpu() - servers_before,
        cpu_seconds(std::process::id()) - driver_before,
    );
    kinds.insert("upload", take(&samples).await);
    let peak_after: Vec<u64> = memory(servers).iter().map(|m| m.1).collect();
    eprintln!(
        "   after uploads: {:?} KiB; {:.2} s; CPU s: servers {cpu_servers:.2}, driver {cpu_driver:.2}",
        memory(servers),
        wall.as_secs_f64()
    );
    UploadPhase {
        count,
        bytes,
        wall,
        peak_after,
        cpu_servers,
        cpu_driver,
    }
}

/// Step 3: each candidate opens the dossier page, then closes it twice at once.
async fn pages_and_closures(
    args: &Args,
    client: &reqwest::Client,
    bases: &Bases,
    servers: &[Server],
    cookies: &[String],
    kinds: &mut BTreeMap<&str, Samples>,
) {
    let n = args.candidates;
    let samples = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    let page = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    run_all((0..n).collect(), args.concurrency, |i| {
        let (client, bases, cookie, samples, page) = (
            client.clone(),
            bases.clone(),
            cookies[i].clone(),
            samples.clone(),
            page.clone(),
        );
        async move {
            let t = Instant::now();
            let r = client
                .get(format!("{}/espace", bases.at(i)))
                .header("cookie", &cookie)
                .header("x-forwarded-for", address_of(&cookie))
                .send()
                .await;
            let ok = match r {
                Ok(r) if r.status() == 200 => r
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("CLÔTURER MON INSCRIPTION")),
                _ => false,
            };
            page.lock().await.push(t, ok);
            let close = |base: &str| {
                client
                    .post(format!("{base}/api/espace/cloturer"))
                    .header("x-forwarded-for", address_of(&cookie))
                    .header("origin", base)
                    .header("accept", "text/html")
                    .header("cookie", &cookie)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send()
            };
            let t = Instant::now();
            let (a, b) = tokio::join!(close(bases.at(i)), close(bases.at(i + 1)));
            let closed = |r: &Result<reqwest::Response, reqwest::Error>| {
                r.as_ref().is_ok_and(|r| {
                    r.headers()
                        .get("location")
                        .is_some_and(|l| l == "/espace?cloture=ok")
                })
            };
            let mut s = samples.lock().await;
            s.push(t, closed(&a));
            s.push(t, closed(&b));
        }
    })
    .await;
    kinds.insert("dossier_page", take(&page).await);
    kinds.insert("closure", take(&samples).await);
    eprintln!("   after pages and closures: {:?} KiB", memory(servers));
}

/// Step 4: 8 MiB uploads all in flight; cookies, memory before, wall time, peaks, samples.
async fn big_uploads(
    args: &Args,
    client: &reqwest::Client,
    bases: &Bases,
    servers: &[Server],
    seeded: &Seeded,
) -> anyhow::Result<(Vec<String>, Vec<u64>, Duration, Vec<u64>, Samples)> {
    let n = args.candidates;
    let samples = Arc::new(tokio::sync::Mutex::new(Samples::default()));
    let mem_numbers: Vec<String> = seeded.numbers[n..n + args.big].to_vec();
    let mut mem_cookies = Vec::new();
    for (j, number) in mem_numbers.iter().enumerate() {
        mem_cookies.push(login(client, bases.at(j), number).await?);
    }
    eprintln!(
        "   after {} more logins: {:?} KiB",
        args.big,
        memory(servers)
    );
    let big = Upload {
        piece: "diplome",
        name: "scan 8 Mo.pdf".into(),
        mime: "application/pdf",
        body: pdf(8 * MIB),
    };
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peaks = vec![0u64; pids.len()];
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    *peak = (*peak).max(memory_kib(*pid).0);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peaks
        })
    };
    let rss_before_big: Vec<u64> = memory(servers).iter().map(|m| m.0).collect();
    let big_wall = run_all(
        mem_cookies.iter().cloned().enumerate().collect(),
        args.big.max(1),
        |(j, cookie)| {
            let (client, bases, big, samples) =
                (client.clone(), bases.clone(), big.clone(), samples.clone());
            async move { product_upload(&client, bases.at(j), &cookie, &big, &samples).await }
        },
    )
    .await;
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    let big_peaks = sampler.await?;
    let big_samples = take(&samples).await;
    Ok((
        mem_cookies,
        rss_before_big,
        big_wall,
        big_peaks,
        big_samples,
    ))
}

/// Windows at rest and windows of storm, alternated: what drifts on the machine while
/// the bench runs (another process, the CPU's clock, the server's caches) falls on both
/// sides, and each side's p99 is read from a thousand pages, not from the few a single
/// storm lets through. The ratio of a single round moved from 1.3 to 4.5 between runs
/// of one binary.
const STORM_ROUNDS: usize = 5;
/// Pages of each window at rest: as many as a storm usually lets through.
const PAGES_AT_REST: usize = 200;

/// Step 5: the login storm, [`STORM_ROUNDS`] times: pages at rest, then pages during
/// `args.storm` concurrent logins; the pooled samples of each side, each round's p99
/// ratio, and peak memory after.
async fn login_storm(
    args: &Args,
    client: &reqwest::Client,
    bases: &Bases,
    servers: &[Server],
    seeded: &Seeded,
    mem_cookies: &[String],
) -> anyhow::Result<(Samples, Samples, Samples, Vec<f64>, Vec<u64>)> {
    let n = args.candidates;
    let watcher = mem_cookies[0].clone();
    let storm_numbers: Vec<String> =
        seeded.numbers[n + args.big..n + args.big + args.storm].to_vec();
    let (mut rest, mut logins, mut during) =
        (Samples::default(), Samples::default(), Samples::default());
    let mut rounds = Vec::new();
    for _ in 0..STORM_ROUNDS {
        let quiet = pages(client, bases, &watcher, PAGES_AT_REST).await;
        let (round_logins, loaded) = one_storm(client, bases, &watcher, &storm_numbers).await?;
        rounds.push(round2(
            loaded.quantile(0.99) / quiet.quantile(0.99).max(0.001),
        ));
        rest.extend(quiet);
        logins.extend(round_logins);
        during.extend(loaded);
    }
    let peak_total: Vec<u64> = memory(servers).iter().map(|m| m.1).collect();
    Ok((rest, logins, during, rounds, peak_total))
}

/// One storm: every number logs in at once, while the watcher loads its dossier page
/// again and again until the last login has answered.
async fn one_storm(
    client: &reqwest::Client,
    bases: &Bases,
    watcher: &str,
    numbers: &[String],
) -> anyhow::Result<(Samples, Samples)> {
    let storm_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (client, bases, done) = (client.clone(), bases.clone(), storm_done.clone());
        let numbers = numbers.to_vec();
        tokio::spawn(async move {
            let mut s = Samples::default();
            let results = stream::iter(numbers.into_iter().enumerate())
                .map(|(j, number)| {
                    let (client, bases) = (client.clone(), bases.clone());
                    async move {
                        // Timed as each answers: they are collected only once all have.
                        let t = Instant::now();
                        let ok = login(&client, bases.at(j), &number).await.is_ok();
                        (t.elapsed(), ok)
                    }
                })
                .buffer_unordered(100)
                .collect::<Vec<_>>()
                .await;
            for (took, ok) in results {
                s.record(took, ok);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            s
        })
    };
    let mut during = Samples::default();
    let mut j = 0;
    while !storm_done.load(std::sync::atomic::Ordering::SeqCst) {
        let t = Instant::now();
        let ok = client
            .get(format!("{}/espace", bases.at(j)))
            .header("cookie", watcher)
            .header("x-forwarded-for", address_of(&format!("{watcher}/{j}")))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        during.push(t, ok);
        j += 1;
    }
    Ok((storm.await?, during))
}

/// Step 6: the evening without, then with an attacker; both, and the attacker's answers.
async fn evening_again(
    args: &Args,
    client: &reqwest::Client,
    bases: &Bases,
    seeded: &Seeded,
) -> anyhow::Result<(Evening, Evening, BTreeMap<String, usize>)> {
    let n = args.candidates;
    let from = n + args.big + args.storm;
    let quiet_numbers = &seeded.numbers[from..from + n];
    let attacked_numbers = &seeded.numbers[from + n..from + 2 * n];
    let attacker_numbers = &seeded.numbers[from + 2 * n..from + 2 * n + ATTACKER_DOSSIERS];
    let quiet = evening(client, bases, quiet_numbers, args.concurrency).await;
    let attack = Attack::start(client, bases, attacker_numbers, attacked_numbers).await?;
    // The attack settles first (its limits fill), as it would on the night.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attacked = evening(client, bases, attacked_numbers, args.concurrency).await;
    let attacker = attack.stop().await;
    Ok((quiet, attacked, attacker))
}

/// Step 7: closed dossiers, the attachment rows' keys, and the store checked against them.
async fn check_after_run(
    url: &str,
    run: &Run<'_>,
    data: &tempfile::TempDir,
) -> anyhow::Result<(i64, Vec<String>, StoreCheck)> {
    let db = services::Db::connect(url).await?;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(db.pool())
                .await
                .and_then(|r| r.try_get::<i64, _>("n"))
        }
    };
    let closed = count(
        "SELECT COUNT(*) AS n FROM dossiers WHERE status = 'closed' AND closed_at IS NOT NULL",
    )
    .await?;
    let keys: Vec<String> = sqlx::query("SELECT storage_key FROM attachments")
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|r| r.try_get("storage_key"))
        .collect::<Result<_, _>>()?;
    db.close().await;
    let store = match run.storage_url {
        Some(url) => Storage::from_url(url, &data.path().join("spool")).await?,
        // $APP_DATA_DIR/files is the local store's root.
        None => Storage::open(&data.path().join("files")).await?,
    };
    let files = store_check(&store, &keys).await?;
    if run.storage_url.is_some() {
        // The bucket may be shared: the run's files go once counted.
        remove_all(&store).await?;
    }
    Ok((closed, keys, files))
}

/// What the store holds against the attachment rows.
struct StoreCheck {
    stored_objects: usize,
    /// Rows whose `storage_key` the store does not have: lost files.
    rows_without_object: usize,
    /// Stored files that no row names (orphans: written, never committed in the
    /// database, not cleaned up).
    objects_without_row: usize,
}

/// Every row's file in the store (`Storage::exists`), and every stored file named by a
/// row (`Storage::list`): the same check for a local folder and a bucket.
async fn store_check(store: &Storage, keys: &[String]) -> anyhow::Result<StoreCheck> {
    let found = stream::iter(keys)
        .map(|k| store.exists(k))
        .buffer_unordered(16)
        .filter(|exists| std::future::ready(*exists))
        .count()
        .await;
    let listed: std::collections::HashSet<String> =
        store.list().await?.into_iter().map(|(k, _)| k).collect();
    let named: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
    Ok(StoreCheck {
        stored_objects: listed.len(),
        rows_without_object: keys.len() - found,
        objects_without_row: listed
            .iter()
            .filter(|k| !named.contains(k.as_str()))
            .count(),
    })
}

async fn take(samples: &Arc<tokio::sync::Mutex<Samples>>) -> Samples {
    std::mem::take(&mut *samples.lock().await)
}
