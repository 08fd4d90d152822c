//! The service at a national concours's volume (`make bench-scale`): for each size
//! (1,000, 10,000 and 50,000 dossiers by default), a fresh PostgreSQL database seeded
//! directly (about three file rows a dossier, a quarter closed, real small files for
//! the closed ones), then the passes timed in this process (reminders, purge) and the
//! release server measured over loopback: the candidate's login, dossier page and
//! closure; the staff list (first page, a filter by stage, a search by name); the CSV
//! and XLSX exports and the ZIP of the closed dossiers, each with the server's peak
//! memory (reset before each through `/proc/PID/clear_refs`). Writes `scale.json`,
//! `scale.md` and `scale.svg` (the curves); sequential requests, bounded counts.

use std::{path::Path, time::Instant};

use anyhow::{Context, bail};
use domain::{
    DossierNumber,
    candidate::{Email, PersonName, PhoneNumber},
    registration::Registration,
};
use serde_json::{Value, json};
use services::platform::volume::{FIRST_NAMES, SURNAMES};
use sqlx::{Postgres, QueryBuilder};

use crate::{
    Args,
    harness::{
        EXAM, Samples, Server, client, drop_pg_database, login, memory_kib, pdf, pg_database,
        round, seed,
    },
};

const STAFF_EMAIL: &str = "agent.volume@cdg-exemple.fr";
const STAFF_PASSWORD: &str = "instruction des dossiers à grande échelle";
/// Requests of each kind at each size (sequential: latency, not throughput).
const SAMPLES: usize = 30;
/// Heavy downloads (exports, ZIP) at each size.
const DOWNLOADS: usize = 3;

/// The measures, in the order of the table and the picture.
const MEASURES: [(&str, &str); 10] = [
    ("login", "Candidate: login"),
    ("dossier_page", "Candidate: dossier page"),
    ("closure", "Candidate: closure"),
    ("staff_home", "Staff: exams counted by stage"),
    ("list_first_page", "Staff: list, first page"),
    ("list_filter", "Staff: list, filter by stage"),
    ("list_search", "Staff: list, search by name"),
    ("csv", "Staff: CSV export"),
    ("xlsx", "Staff: XLSX export"),
    ("zip", "Staff: ZIP of closed dossiers"),
];

pub(crate) async fn scale(args: &Args, sizes: &[usize]) -> anyhow::Result<Value> {
    let pg = std::env::var("DATABASE_URL_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut runs = Vec::new();
    let mut plans = Value::Null;
    for (k, &size) in sizes.iter().enumerate() {
        let (url, name) = pg_database(&pg).await?;
        eprintln!("== {size} dossiers on PostgreSQL");
        let last = k + 1 == sizes.len();
        let run = one_size(args, &url, size, last).await;
        drop_pg_database(&pg, &name).await;
        let (run, explained) = run?;
        if last {
            plans = explained;
        }
        runs.push(run);
    }
    Ok(json!({
        "when": jiff::Timestamp::now().to_string(),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) },
        "runs": runs,
        "plans": plans,
    }))
}

async fn one_size(
    args: &Args,
    url: &str,
    size: usize,
    explain: bool,
) -> anyhow::Result<(Value, Value)> {
    let data = tempfile::tempdir()?;
    let t = Instant::now();
    let template = seed(url, data.path(), 1).await?;
    let pool = sqlx::PgPool::connect(url).await?;
    let numbers = seed_dossiers(&pool, data.path(), &template.numbers[0], size).await?;
    let seeded_s = t.elapsed().as_secs_f64();
    // The product's own migration step on the seeded rows (it fills the columns a
    // release adds), then the planner's statistics.
    let t = Instant::now();
    let migrated = std::process::Command::new(&args.server)
        .arg("migrate")
        .env("DATABASE_URL", url)
        .env("APP_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .status()?;
    if !migrated.success() {
        bail!("server migrate: {migrated}");
    }
    let migrate_s = t.elapsed().as_secs_f64();
    // The planner's statistics and the visibility map: a live database's autovacuum
    // does both after this many inserts (PostgreSQL 13's insert threshold), and the
    // index-only scans of lists and counts need the map.
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    eprintln!("   seeded in {seeded_s:.1} s, migrated in {migrate_s:.1} s");

    // The periodic passes, as a server runs them, timed here.
    let db = services::Db::connect(url).await?;
    let clock = services::SystemClock;
    let t = Instant::now();
    let reminded =
        services::dossiers::reminders::send_due(&db, &clock, "http://127.0.0.1:3400").await?;
    let reminders_ms = t.elapsed().as_secs_f64() * 1000.0;
    let storage = services::files::storage::Storage::open(&data.path().join("files")).await?;
    let t = Instant::now();
    services::platform::housekeeping::run(&db, &clock, &storage, true).await;
    let purge_ms = t.elapsed().as_secs_f64() * 1000.0;
    let passwords = services::access::passwords::Passwords::new(1)?;
    services::access::staff::create(
        &db,
        &passwords,
        &clock,
        STAFF_EMAIL,
        "Agent Volume",
        STAFF_PASSWORD,
    )
    .await?;
    db.close().await;

    let server = Server::start(args, 3400, url, data.path(), None)?;
    let http = client();
    server.wait_ready(&http).await?;
    let base = server.base.clone();
    let staff = staff_login(&http, &base).await?;
    let mut m = serde_json::Map::new();

    // The candidate: open dossiers (three in four), each with its files.
    let open: Vec<&String> = numbers
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 != 0)
        .map(|(_, n)| n)
        .collect();
    let mut logins = Samples::default();
    let mut cookies = Vec::new();
    for number in open.iter().take(SAMPLES) {
        let t = Instant::now();
        let cookie = login(&http, &base, number).await;
        logins.push(t, cookie.is_ok());
        cookies.push(cookie?);
    }
    m.insert("login".into(), logins.summary());
    let mut pages = Samples::default();
    for cookie in &cookies {
        let t = Instant::now();
        let r = get(&http, &base, "/espace", cookie).await?;
        pages.push(t, r.status() == 200);
    }
    m.insert("dossier_page".into(), pages.summary());
    let mut closures = Samples::default();
    for cookie in &cookies {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/espace/cloturer"))
            .header("x-forwarded-for", crate::harness::address_of(cookie))
            .header("origin", &base)
            .header("accept", "text/html")
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await?;
        let to = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        closures.push(t, to == "/espace?cloture=ok");
    }
    m.insert("closure".into(), closures.summary());

    // The staff's list: it must show the dossiers it says it does.
    let list = format!("/service/concours/{EXAM}");
    for (key, query, expect) in [
        ("staff_home", String::new(), "Dernière soirée".to_string()),
        (
            "list_first_page",
            String::new(),
            format!("{size} dossiers (page 1 sur"),
        ),
        (
            "list_filter",
            "?etat=a-verifier".to_string(),
            "data-stage=\"a-verifier\"".to_string(),
        ),
        ("list_search", "?q=Martin".to_string(), "MARTIN".to_string()),
    ] {
        let mut s = Samples::default();
        for _ in 0..SAMPLES {
            let t = Instant::now();
            let path = match key {
                "staff_home" => "/service".to_string(),
                _ => format!("{list}{query}"),
            };
            let r = get(&http, &base, &path, &staff).await?;
            let ok = r.status() == 200;
            let body = r.text().await?;
            s.push(t, ok && body.contains(&expect));
        }
        m.insert(key.into(), s.summary());
    }
    for (key, path) in [
        ("csv", format!("/service/concours/{EXAM}/dossiers.csv")),
        ("xlsx", format!("/service/concours/{EXAM}/dossiers.xlsx")),
        ("zip", format!("/service/concours/{EXAM}/dossiers.zip")),
    ] {
        // One ZIP: it reads every closed dossier's files.
        let times = if key == "zip" { 1 } else { DOWNLOADS };
        m.insert(
            key.into(),
            download(&http, &server, &base, &path, &staff, times).await?,
        );
    }
    let explained = if explain {
        plans(&pool, &numbers[0]).await?
    } else {
        Value::Null
    };
    pool.close().await;
    drop(server);
    Ok((
        json!({
            "dossiers": size,
            "seeded_s": round(seeded_s),
            "migrate_s": round(migrate_s),
            "reminders": { "ms": round(reminders_ms), "mails": reminded },
            "purge_ms": round(purge_ms),
            "measures": m,
        }),
        explained,
    ))
}

async fn get(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: &str,
) -> anyhow::Result<reqwest::Response> {
    Ok(http
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .header("x-forwarded-for", crate::harness::address_of(path))
        .send()
        .await?)
}

async fn staff_login(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/api/service/connexion"))
        .header("origin", base)
        .header("accept", "text/html")
        .form(&[("email", STAFF_EMAIL), ("mot_de_passe", STAFF_PASSWORD)])
        .send()
        .await?;
    crate::harness::session_cookie(&r, "service")
        .with_context(|| format!("no staff session: {}", r.status()))
}

/// A heavy download, `times` times: its time, its size, and the server's peak
/// resident memory while it ran (the peak is reset before each).
async fn download(
    http: &reqwest::Client,
    server: &Server,
    base: &str,
    path: &str,
    cookie: &str,
    times: usize,
) -> anyhow::Result<Value> {
    let pid = server.child.id();
    let mut s = Samples::default();
    let mut peak = 0;
    let mut bytes = 0;
    for _ in 0..times {
        // « 5 » resets the peak resident size (VmHWM) to the current one.
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5")?;
        let t = Instant::now();
        let r = get(http, base, path, cookie).await?;
        let ok = r.status() == 200;
        let body = r.bytes().await?;
        s.push(t, ok && !body.is_empty());
        bytes = body.len();
        peak = peak.max(memory_kib(pid).1);
    }
    let mut v = s.summary();
    v["bytes"] = json!(bytes);
    v["peak_rss_mib"] = json!(round(peak as f64 / 1024.0));
    Ok(v)
}

/// `size` dossiers in all: the template's answers with other names, birth dates,
/// addresses and phones; one in four closed, each with three file rows (and their
/// files on disk when closed, for the ZIP).
async fn seed_dossiers(
    pool: &sqlx::PgPool,
    data: &Path,
    template: &str,
    size: usize,
) -> anyhow::Result<Vec<String>> {
    let row: (String, String, String, String) = sqlx::query_as(
        "SELECT id, exam_slug, answers, password_hash FROM dossiers WHERE number = $1",
    )
    .bind(template)
    .fetch_one(pool)
    .await?;
    let (template_id, exam, answers, password_hash) = row;
    // The template itself is replaced by the seeded ones.
    sqlx::query("DELETE FROM outbox").execute(pool).await?;
    sqlx::query("DELETE FROM dossiers WHERE id = $1")
        .bind(&template_id)
        .execute(pool)
        .await?;
    let base: Registration = serde_json::from_str(&answers)?;

    let now = jiff::Timestamp::now().as_millisecond();
    let file = pdf(1024);
    let sha = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&file))
    };
    let files = data.join("files").join("seed");
    std::fs::create_dir_all(&files)?;
    let mut numbers = Vec::with_capacity(size);
    const BATCH: usize = 1000;
    for start in (0..size).step_by(BATCH) {
        let mut dossiers = Vec::new();
        for i in start..(start + BATCH).min(size) {
            let mut r = base.clone();
            let surname = SURNAMES[i % SURNAMES.len()];
            let first = FIRST_NAMES[(i / SURNAMES.len()) % FIRST_NAMES.len()];
            r.birth_name = PersonName::parse(surname).map_err(|e| anyhow::anyhow!(e.0))?;
            r.first_names = PersonName::parse(first).map_err(|e| anyhow::anyhow!(e.0))?;
            // Distinct people: a name pair repeats only on another birth date.
            let combos = SURNAMES.len() * FIRST_NAMES.len();
            r.birth_date = jiff::civil::date(1970, 1, 1)
                .checked_add(jiff::Span::new().days((i / combos) as i64))?;
            r.email = Email::parse(&format!("candidat{i}@exemple.fr"))
                .map_err(|e| anyhow::anyhow!(e.0))?;
            r.phone =
                PhoneNumber::parse(&format!("06{:08}", i)).map_err(|e| anyhow::anyhow!(e.0))?;
            let mut random = [0u8; 5];
            random[1..].copy_from_slice(&(i as u32).to_be_bytes());
            random[0] = 0x5A;
            let number = DossierNumber::generate(2026, random);
            let closed = i % 4 == 0;
            let id = uuid::Uuid::new_v4().to_string();
            numbers.push(number.as_str().to_string());
            dossiers.push((id, number, r, closed, now - (size - i) as i64 * 1000, i));
        }
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO dossiers (id, number, exam_slug, status, identity_key, email, email_key, answers, password_hash, created_at, closed_at, reminded_at) ",
        );
        q.push_values(&dossiers, |mut b, (id, number, r, closed, at, i)| {
            b.push_bind(id)
                .push_bind(number.as_str())
                .push_bind(&exam)
                .push_bind(if *closed { "closed" } else { "open" })
                .push_bind(r.identity_key())
                .push_bind(r.email.as_str())
                .push_bind(r.email.key())
                .push_bind(serde_json::to_string(r).unwrap_or_default())
                .push_bind(&password_hash)
                .push_bind(at)
                .push_bind(closed.then_some(at + 500))
                // Reminded already but one in ten: the pass has some mails to post.
                .push_bind((i % 10 != 0).then_some(*at));
        });
        q.build().execute(pool).await?;
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO attachments (id, dossier_id, piece_code, storage_key, original_name, kind, size, sha256, created_at) ",
        );
        let rows: Vec<(String, &str, usize, &bool, i64)> = dossiers
            .iter()
            .flat_map(|(id, _, _, closed, at, _)| {
                [("piece-identite", 0), ("piece-identite", 1), ("diplome", 2)]
                    .into_iter()
                    .map(move |(piece, k)| (id.clone(), piece, k, closed, *at + k as i64))
            })
            .collect();
        for (id, _, k, closed, _) in &rows {
            if **closed {
                std::fs::write(files.join(format!("{id}-{k}")), &file)?;
            }
        }
        q.push_values(&rows, |mut b, (id, piece, k, _, at)| {
            b.push_bind(uuid::Uuid::new_v4().to_string())
                .push_bind(id)
                .push_bind(*piece)
                .push_bind(format!("seed/{id}-{k}"))
                .push_bind(format!("pièce {k}.pdf"))
                .push_bind("pdf")
                .push_bind(file.len() as i64)
                .push_bind(&sha)
                .push_bind(*at);
        });
        q.build().execute(pool).await?;
    }
    if numbers.len() != size {
        bail!("seeded {} dossiers of {size}", numbers.len());
    }
    Ok(numbers)
}

/// The hot queries' plans at the largest size (EXPLAIN ANALYZE): each must use an
/// index rather than read a whole table, but where it reads the exam's own rows.
async fn plans(pool: &sqlx::PgPool, number: &str) -> anyhow::Result<Value> {
    // The texts of `services` (list.rs, reminders.rs), their parameters written in.
    let queries: [(&str, String); 10] = [
        (
            "a dossier by its number (login, dossier page)",
            format!(
                "SELECT d.id FROM dossiers d JOIN exams e ON e.slug = d.exam_slug WHERE d.number = '{number}'"
            ),
        ),
        (
            "a dossier's files",
            format!(
                "SELECT a.id FROM attachments a JOIN dossiers d ON d.id = a.dossier_id WHERE d.number = '{number}'"
            ),
        ),
        (
            "a list's length (the whole exam)",
            format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM dossiers d WHERE d.exam_slug = '{EXAM}' AND d.status IN ('open', 'closed', 'accepted', 'rejected')"
            ),
        ),
        (
            "a list's first page (the whole exam, by number)",
            format!(
                "SELECT d.id, d.number, d.status, d.review, d.corrections, d.closed_at, d.withdrawn_at, d.identity_key, d.email_key, d.usage_key, d.phone_key, d.voie, d.accommodation, CASE WHEN d.phone_key IS NULL THEN d.answers END AS answers FROM dossiers d WHERE d.exam_slug = '{EXAM}' AND d.status IN ('open', 'closed', 'accepted', 'rejected') ORDER BY d.number, d.number LIMIT 50 OFFSET 0"
            ),
        ),
        (
            "the rows a stage filter reads (« à vérifier »)",
            format!(
                "SELECT d.id, d.number, d.status, d.review, d.corrections, d.closed_at, d.withdrawn_at, d.identity_key, d.email_key, d.usage_key, d.phone_key, d.voie, d.accommodation, CASE WHEN d.phone_key IS NULL THEN d.answers END AS answers FROM dossiers d WHERE d.exam_slug = '{EXAM}' AND d.status IN ('open', 'closed', 'accepted', 'rejected') AND d.status = 'closed' AND d.withdrawn_at IS NULL AND (d.review IS NULL OR d.review NOT IN ('complete', 'incomplete') OR d.corrections IS NOT NULL) ORDER BY d.number"
            ),
        ),
        (
            "the files of dossiers with a correction request",
            format!(
                "SELECT a.dossier_id, a.piece_code, MAX(a.created_at) FROM attachments a JOIN dossiers d ON d.id = a.dossier_id WHERE d.corrections IS NOT NULL AND a.scan <> 'infected' AND ('{EXAM}' = '' OR d.exam_slug = '{EXAM}') GROUP BY a.dossier_id, a.piece_code"
            ),
        ),
        (
            "every exam counted by stage (no correction running)",
            "SELECT exam_slug, status, review, CAST(COUNT(*) AS BIGINT) AS n, CAST(COUNT(withdrawn_at) AS BIGINT) AS withdrawn FROM dossiers WHERE corrections IS NULL GROUP BY exam_slug, status, review".to_string(),
        ),
        (
            "an exam's flagged files (infected, not analysed)",
            format!(
                "SELECT a.dossier_id, COUNT(*) FROM attachments a JOIN dossiers d ON d.id = a.dossier_id WHERE d.exam_slug = '{EXAM}' AND a.scan IN ('infected', 'pending', 'error') GROUP BY a.dossier_id"
            ),
        ),
        (
            "a page's files counted",
            format!(
                "SELECT dossier_id, COUNT(*) FROM attachments WHERE dossier_id IN (SELECT id FROM dossiers WHERE exam_slug = '{EXAM}' ORDER BY number LIMIT 50) GROUP BY dossier_id"
            ),
        ),
        (
            "the reminders due",
            format!(
                "SELECT d.id FROM dossiers d JOIN exams e ON e.slug = d.exam_slug WHERE d.status = 'open' AND d.withdrawn_at IS NULL AND d.reminded_at IS NULL AND e.closes_at > {now} AND e.closes_at - {window} <= {now} AND d.created_at <= e.closes_at - {window}",
                now = jiff::Timestamp::now().as_millisecond(),
                window = 2 * 86_400_000
            ),
        ),
    ];
    let mut out = Vec::new();
    for (what, sql) in queries {
        let lines: Vec<(String,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN ANALYZE {sql}")))
                .fetch_all(pool)
                .await?;
        out.push(json!({
            "query": what,
            "plan": lines.into_iter().map(|(l,)| l).collect::<Vec<_>>().join("\n"),
        }));
    }
    Ok(Value::Array(out))
}

/// The markdown table: each measure's p99 (ms) at each size, and the ratio of the
/// largest to the smallest; the downloads' peak memory.
pub(crate) fn markdown(r: &Value) -> String {
    let runs = r["runs"].as_array().cloned().unwrap_or_default();
    let sizes: Vec<String> = runs.iter().map(|x| x["dossiers"].to_string()).collect();
    let mut md = String::from("# The service at volume (PostgreSQL, one server)\n\n");
    md.push_str(&format!(
        "Run {} on {} CPUs; {} sequential requests of each kind, {} downloads; p99 in ms.\n\n",
        r["when"].as_str().unwrap_or_default(),
        r["machine"]["cpus"],
        SAMPLES,
        DOWNLOADS
    ));
    md.push_str(&format!(
        "| measure | {} | largest / smallest |\n|---|{}---|\n",
        sizes.join(" | "),
        "---|".repeat(sizes.len())
    ));
    for (key, label) in MEASURES {
        let values: Vec<f64> = runs
            .iter()
            .map(|x| x["measures"][key]["p99_ms"].as_f64().unwrap_or(f64::NAN))
            .collect();
        let errors: u64 = runs
            .iter()
            .map(|x| x["measures"][key]["errors"].as_u64().unwrap_or(0))
            .sum();
        let ratio = values.last().unwrap_or(&f64::NAN) / values.first().unwrap_or(&f64::NAN);
        md.push_str(&format!(
            "| {label}{} | {} | {:.2}× |\n",
            if errors > 0 {
                format!(" (**{errors} errors**)")
            } else {
                String::new()
            },
            values
                .iter()
                .map(|v| format!("{v}"))
                .collect::<Vec<_>>()
                .join(" | "),
            ratio
        ));
    }
    for (key, label) in [("csv", "CSV"), ("xlsx", "XLSX"), ("zip", "ZIP")] {
        md.push_str(&format!(
            "| {label}: server's peak RSS (MiB) | {} | |\n",
            runs.iter()
                .map(|x| x["measures"][key]["peak_rss_mib"].to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    md.push_str(&format!(
        "| Reminders pass, ms (letters written: those due at the hour of the run) | {} | |\n| Purge pass, store swept (ms) | {} | |\n| Seeding (s) | {} | |\n",
        runs.iter()
            .map(|x| format!("{} ({})", x["reminders"]["ms"], x["reminders"]["mails"]))
            .collect::<Vec<_>>()
            .join(" | "),
        runs.iter().map(|x| x["purge_ms"].to_string()).collect::<Vec<_>>().join(" | "),
        runs.iter().map(|x| x["seeded_s"].to_string()).collect::<Vec<_>>().join(" | "),
    ));
    md.push_str(
        "\n![p99 as the dossiers grow](scale.svg)\n\n## Query plans at the largest size\n\n",
    );
    for p in r["plans"].as_array().cloned().unwrap_or_default() {
        md.push_str(&format!(
            "### {}\n\n```\n{}\n```\n\n",
            p["query"].as_str().unwrap_or_default(),
            p["plan"].as_str().unwrap_or_default()
        ));
    }
    md
}

/// The curves: each measure's p99 against the number of dossiers, both on log scales.
pub(crate) fn svg(r: &Value) -> String {
    const W: f64 = 760.0;
    const H: f64 = 420.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 250.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 50.0;
    const COLOURS: [&str; 10] = [
        "#000091", "#6a6af4", "#009081", "#c9191e", "#e4794a", "#a558a0", "#3a3a3a", "#b34000",
        "#18753c", "#695240",
    ];
    let runs = r["runs"].as_array().cloned().unwrap_or_default();
    let xs: Vec<f64> = runs.iter().filter_map(|x| x["dossiers"].as_f64()).collect();
    let ys: Vec<f64> = MEASURES
        .iter()
        .flat_map(|(k, _)| {
            runs.iter()
                .filter_map(|x| x["measures"][*k]["p99_ms"].as_f64())
        })
        .filter(|v| *v > 0.0)
        .collect();
    let (x0, x1) = bounds(&xs);
    let (y0, y1) = bounds(&ys);
    let (y0, y1) = (
        y0.log10().floor(),
        y1.log10().ceil().max(y0.log10().floor() + 1.0),
    );
    let (x0, x1) = (x0.log10(), x1.log10().max(x0.log10() + 1.0));
    let px = |x: f64| LEFT + (x.log10() - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y.log10() - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12"><rect width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="18" font-size="14">p99 (ms, log) as the dossiers grow (log)</text>"##
    );
    for e in (y0 as i32)..=(y1 as i32) {
        let y = py(10f64.powi(e));
        s.push_str(&format!(
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            10f64.powi(e)
        ));
    }
    for &x in &xs {
        let at = px(x);
        s.push_str(&format!(
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{TOP}" y2="{}" stroke="#ddd"/><text x="{at:.1}" y="{}" text-anchor="middle">{x}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 18.0
        ));
    }
    for (k, (key, label)) in MEASURES.iter().enumerate() {
        let points: Vec<String> = runs
            .iter()
            .filter_map(|x| {
                Some((
                    x["dossiers"].as_f64()?,
                    x["measures"][*key]["p99_ms"].as_f64()?,
                ))
            })
            .filter(|(_, y)| *y > 0.0)
            .map(|(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let c = COLOURS[k % COLOURS.len()];
        s.push_str(&format!(
            r##"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/><rect x="{}" y="{}" width="12" height="3" fill="{c}"/><text x="{}" y="{}">{label}</text>"##,
            points.join(" "),
            W - RIGHT + 12.0,
            TOP + 16.0 * k as f64 + 4.0,
            W - RIGHT + 30.0,
            TOP + 16.0 * k as f64 + 9.0
        ));
    }
    s.push_str("</svg>\n");
    s
}

fn bounds(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    if lo.is_finite() && lo > 0.0 {
        (lo, hi)
    } else {
        (1.0, 10.0)
    }
}
