//! results.md, written from results.json: the limits, the runs side by side against
//! their budgets, and the resumed upload.

use serde_json::Value;

pub(crate) fn markdown(r: &Value) -> String {
    let mut md = String::from("# Deadline-night benchmark\n\n");
    limits(r, &mut md);
    table(r, &mut md);
    resumed_section(r, &mut md);
    md
}

/// The limits (the bare handler of each store) and the notes, before the table.
fn limits(r: &Value, md: &mut String) {
    let limit = |store: &str, what: &str| {
        let b = &r["bare_handler"][store];
        if b.is_null() {
            format!("- {what}: skipped (no S3 bucket: TEST_S3_BUCKET not set).\n")
        } else {
            format!(
                "- {what}: {} uploads, {} MB in {} s = **{} MB/s** (errors {}; CPU {} s, clients and handler).\n",
                b["uploads"],
                b["megabytes"],
                b["seconds"],
                b["mb_per_second"],
                b["errors"],
                b["cpu_seconds"]
            )
        }
    };
    md.push_str(&format!(
        "Measured {} on {} CPU(s), loopback only. The limits: a bare axum handler that streams each upload body, computing its SHA-256 on the way, with no checks and no database (the same requests as the scenario's uploads; median of 3 runs):\n\n{}{}\n",
        r["when"].as_str().unwrap_or(""),
        r["machine"]["cpus"],
        limit("local", "local disk (a file per body, fsync)"),
        limit(
            "s3",
            "S3 (s3s-fs on loopback, through `services::files::storage`: create, write, commit)"
        ),
    ));
    for note in r["notes"].as_array().into_iter().flatten() {
        md.push_str(&format!("Note: {}\n\n", note.as_str().unwrap_or("")));
    }
}

/// The table of the runs side by side, one row per figure with its budget.
fn table(r: &Value, md: &mut String) {
    md.push_str("| | ");
    let runs = r["runs"].as_array().cloned().unwrap_or_default();
    md.push_str(
        &runs
            .iter()
            .map(|x| x["run"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    md.push_str(" |\n|---|");
    md.push_str(&"---|".repeat(runs.len()));
    md.push('\n');
    let mut row = |label: &str, f: &dyn Fn(&Value) -> String| {
        md.push_str(&format!(
            "| {label} | {} |\n",
            runs.iter().map(f).collect::<Vec<_>>().join(" | ")
        ));
    };
    // Per server when there are several: "210.3 MiB (105.1 + 105.2)".
    let mib = |x: &Value, key: &str| {
        let m = &x["memory"];
        let each = m[format!("{key}_per_server")]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if each.len() > 1 {
            let each: Vec<String> = each.iter().map(Value::to_string).collect();
            format!("{} MiB ({})", m[key], each.join(" + "))
        } else {
            format!("{} MiB", m[key])
        }
    };
    row("database / files / servers", &|x| {
        format!(
            "{} / {} / {}",
            x["database"].as_str().unwrap_or(""),
            x["store"].as_str().unwrap_or(""),
            x["servers"]
        )
    });
    row("candidates × 3 uploads, concurrency", &|x| {
        format!("{} × 3, {}", x["candidates"], x["concurrency"])
    });
    row("uploads/s", &|x| x["uploads"]["per_second"].to_string());
    row("MB/s", &|x| x["uploads"]["mb_per_second"].to_string());
    row("bare handler of the same store, MB/s", &|x| {
        x["uploads"]["bare_handler_mb_per_second"].to_string()
    });
    row(
        &format!(
            "throughput / bare handler of the same store (budget ≥ {})",
            r["budget_ratio_to_bare_handler"]
        ),
        &|x| x["uploads"]["ratio_to_bare_handler"].to_string(),
    );
    row("CPU s during the uploads: servers / clients", &|x| {
        format!(
            "{} / {}",
            x["uploads"]["cpu_seconds_servers"], x["uploads"]["cpu_seconds_driver"]
        )
    });
    for kind in ["login", "upload", "dossier_page", "closure"] {
        row(&format!("{kind} p50 / p95 / p99 ms"), &|x| {
            let s = &x["requests"][kind];
            format!("{} / {} / {}", s["p50_ms"], s["p95_ms"], s["p99_ms"])
        });
    }
    row("errors (budget 0)", &|x| x["errors"].to_string());
    row("closed dossiers / expected (exactly once)", &|x| {
        format!(
            "{} / {}",
            x["check"]["closed_dossiers"], x["check"]["expected_closed"]
        )
    });
    row("attachment rows / expected / files in the store", &|x| {
        let c = &x["check"];
        format!(
            "{} / {} / {}",
            c["attachment_rows"], c["expected_rows"], c["stored_objects"]
        )
    });
    row(
        "files lost (rows or files missing) / files without a row (budget 0 / 0)",
        &|x| {
            let c = &x["check"];
            format!("{} / {}", c["lost_files"], c["objects_without_row"])
        },
    );
    let big = runs
        .first()
        .map(|x| x["memory"]["big_uploads"]["count"].to_string())
        .unwrap_or_default();
    row(
        &format!("peak RSS during {big} × 8 MiB uploads in flight (budget < 100 MiB a server)"),
        &|x| mib(x, "peak_rss_mib_during_big_uploads"),
    );
    row("peak RSS, whole run", &|x| mib(x, "peak_rss_mib_whole_run"));
    row("dossier page p99 at rest / during login storm", &|x| {
        format!(
            "{} / {} ms",
            x["login_storm"]["dossier_page_at_rest"]["p99_ms"],
            x["login_storm"]["dossier_page_during_storm"]["p99_ms"]
        )
    });
    row("storm p99 ratio, rounds pooled (budget ≤ 2)", &|x| {
        x["login_storm"]["p99_ratio"].to_string()
    });
    row(
        "storm p99 ratio of each round, alternated with rest",
        &|x| {
            x["login_storm"]["p99_ratio_of_each_round"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
                .unwrap_or_default()
        },
    );
    for (kind, label) in [
        ("login", "login"),
        ("upload", "upload"),
        ("dossier_page", "dossier page"),
    ] {
        row(
            &format!("honest {label} p99 without / with the attacker (budget ≤ 2×)"),
            &|x| {
                let a = &x["attacked"];
                format!(
                    "{} / {} ms ({}×)",
                    a["without_attacker"][kind]["p99_ms"],
                    a["with_attacker"][kind]["p99_ms"],
                    a["p99_ratio"][kind]
                )
            },
        );
    }
    row("honest errors with the attacker (budget 0)", &|x| {
        x["attacked"]["honest_errors_with_attacker"].to_string()
    });
    row("attacker's requests, by answer", &|x| {
        x["attacked"]["attacker_requests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    });
}

/// The bytes sent for an upload cut at half, when the resume run was made.
fn resumed_section(r: &Value, md: &mut String) {
    let resumed = &r["resumed"];
    if !resumed.is_null() {
        md.push_str(&format!(
            "\n## A connection cut at half of an 8 MiB file\n\nBytes the candidate sends, request heads included, as a ratio to the file (goal for resumable uploads: at most 1.1):\n\n| how | bytes | ratio |\n|---|---|---|\n| form upload (the file again from the start) | {} | {} |\n| tus, parts of 4 MiB (the most a PATCH may bring), resumed from the server's offset | {} | {} |\n| tus, parts of 512 KiB as the browser sends, cut mid-part | {} | {} |\n",
            resumed["form"]["bytes"],
            resumed["form"]["ratio"],
            resumed["tus_parts_4m"]["bytes"],
            resumed["tus_parts_4m"]["ratio"],
            resumed["tus_parts_512k"]["bytes"],
            resumed["tus_parts_512k"]["ratio"],
        ));
    }
}
