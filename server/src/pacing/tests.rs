use super::*;

const FAST: Pace = Pace {
    idle: Duration::from_millis(600),
    window: Duration::from_millis(600),
    min_bytes: 1000,
    hold: Duration::from_millis(20),
    permit_wait: Duration::from_millis(200),
    big: 1000,
    fair_rate: 4000,
    hold_base: Duration::from_secs(60),
    grace: Duration::from_millis(500),
};

/// A body no gate judges, with all the time it needs.
fn free() -> (Arc<Progress>, Duration) {
    (Progress::new(), Duration::from_secs(3600))
}

/// A body sending `chunk` bytes every `every`, `count` times.
fn trickle(
    chunk: usize,
    every: Duration,
    count: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::iter(0..count).then(move |_| async move {
        tokio::time::sleep(every).await;
        Ok(Bytes::from(vec![b'x'; chunk]))
    })
}

/// `body` read alone under [`FAST`]: what was read, and why it was cut.
async fn read_alone(
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    permits: Arc<Semaphore>,
) -> (Result<u64, BoxError>, Option<Cut>) {
    let cut = CutFlag::default();
    let read = read_all(paced(body, FAST, permits, free(), cut.clone(), None)).await;
    (read, cut.get())
}

#[tokio::test(start_paused = true)]
async fn a_body_read_to_its_announced_length_gives_its_permit_back() {
    // A handler reads a file's last chunk, then checks, commits and writes its row
    // without polling the body's end: the permit must not wait for that.
    let permits = Arc::new(Semaphore::new(1));
    for (length, freed) in [(Some(4000), 1), (None, 0), (Some(6000), 0)] {
        let body = trickle(2000, Duration::from_millis(1), 2);
        let read = paced(
            body,
            FAST,
            permits.clone(),
            free(),
            CutFlag::default(),
            length,
        );
        let mut read = std::pin::pin!(read);
        for _ in 0..2 {
            read.next().await.unwrap().unwrap();
        }
        assert_eq!(permits.available_permits(), freed, "length {length:?}");
    }
}

async fn read_all(body: impl Stream<Item = Result<Bytes, BoxError>>) -> Result<u64, BoxError> {
    let mut body = std::pin::pin!(body);
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += chunk?.len() as u64;
    }
    Ok(total)
}

#[tokio::test(start_paused = true)]
async fn a_steady_body_is_read_whole() {
    let body = trickle(500, Duration::from_millis(50), 20);
    let (read, cut) = read_alone(body, Arc::new(Semaphore::new(1))).await;
    assert_eq!(read.unwrap(), 10_000);
    assert_eq!(cut, None);
}

#[tokio::test(start_paused = true)]
async fn a_silent_body_is_cut() {
    let body = trickle(500, Duration::from_millis(50), 2).chain(trickle(
        500,
        Duration::from_millis(1000),
        1,
    ));
    let (read, cut) = read_alone(body, Arc::new(Semaphore::new(1))).await;
    assert!(read.is_err());
    assert_eq!(cut, Some(Cut::TooSlow));
}

#[tokio::test(start_paused = true)]
async fn a_trickle_under_the_minimum_rate_is_cut() {
    // 10 bytes every 50 ms: never silent, but 120 bytes per window where 1000 are due.
    let body = trickle(10, Duration::from_millis(50), 100);
    let started = Instant::now();
    let (read, cut) = read_alone(body, Arc::new(Semaphore::new(1))).await;
    assert!(read.is_err());
    assert_eq!(cut, Some(Cut::TooSlow));
    // Cut when the first window ends, not later (paused time: exactly so).
    let took = started.elapsed();
    assert!(
        took >= FAST.window && took < FAST.window + Duration::from_millis(50),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_trickle_does_not_keep_the_permit_from_a_body_that_flows() {
    let permits = Arc::new(Semaphore::new(1));
    // A slow body (above the minimum rate) takes the only permit first...
    let patient = Pace {
        permit_wait: Duration::from_secs(5),
        ..FAST
    };
    // Big chunks with pauses: it takes the permit, and gives it back in each pause.
    let slow = tokio::spawn(read_all(paced(
        trickle(6000, Duration::from_millis(100), 10),
        patient,
        permits.clone(),
        free(),
        CutFlag::default(),
        None,
    )));
    tokio::time::sleep(Duration::from_millis(150)).await;
    // ...and a fast one still gets it between the slow one's bytes.
    let cut = CutFlag::default();
    let fast = read_all(paced(
        trickle(1000, Duration::from_millis(1), 50),
        patient,
        permits.clone(),
        free(),
        cut.clone(),
        None,
    ))
    .await;
    assert_eq!(fast.unwrap(), 50_000);
    assert_eq!(cut.get(), None);
    assert_eq!(slow.await.unwrap().unwrap(), 60_000);
}

#[tokio::test(start_paused = true)]
async fn without_a_permit_in_time_a_fast_body_is_refused_as_busy() {
    let permits = Arc::new(Semaphore::new(1));
    let _held = permits.clone().acquire_owned().await.unwrap();
    let body = trickle(5000, Duration::from_millis(1), 3);
    let (read, cut) = read_alone(body, permits).await;
    assert!(read.is_err());
    assert_eq!(cut, Some(Cut::Busy));
}

#[tokio::test(start_paused = true)]
async fn small_chunks_need_no_permit() {
    // Every permit is taken: a slow link's small chunks are still read.
    let permits = Arc::new(Semaphore::new(1));
    let _held = permits.clone().acquire_owned().await.unwrap();
    let body = trickle(500, Duration::from_millis(20), 20);
    let (read, cut) = read_alone(body, permits).await;
    assert_eq!(read.unwrap(), 10_000);
    assert_eq!(cut, None);
}

/// `body` read as an upload of `dossier` from `client` would be, once let in.
async fn upload(
    gates: &Gates,
    pace: Pace,
    (dossier, client): (&str, &str),
    announced: u64,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Result<(u64, Option<Cut>), Refused> {
    let gate = gates.body(&pace, dossier, client, announced).await?;
    let cut = CutFlag::default();
    let read = paced(
        body,
        pace,
        gates.read_permits(),
        (gate.progress(), gate.hold()),
        cut.clone(),
        None,
    );
    let read = read_all(read).await.unwrap_or(0);
    Ok((read, cut.get()))
}

#[tokio::test(start_paused = true)]
async fn a_body_holds_its_slot_no_longer_than_its_size_allows() {
    let gates = Gates::new(4, 4);
    let pace = Pace {
        hold_base: Duration::from_secs(1),
        ..FAST
    };
    // 8,000 bytes announced: 1 s + 8,000 bytes at 4,000 B/s = 3 s. Sent at 2,000 B/s
    // (above the floor), they would take 4 s.
    let started = Instant::now();
    let body = trickle(100, Duration::from_millis(50), 80);
    let read = upload(&gates, pace, ("d", "c"), 8000, body).await.unwrap();
    assert_eq!(read.1, Some(Cut::TooSlow));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_millis(3100),
        "{took:?}"
    );
    // The same body announcing twice as much is read whole.
    let body = trickle(100, Duration::from_millis(50), 80);
    let read = upload(&gates, pace, ("d", "c"), 16000, body).await;
    assert_eq!(read.unwrap(), (8000, None));
}

/// `count` chunks of `chunk` bytes every `every`, let in as dossier `dossier` of
/// client `client` announcing them, read in a task of its own.
fn spawned(
    gates: &Gates,
    pace: Pace,
    (dossier, client): (&str, &str),
    (chunk, every, count): (usize, Duration, usize),
) -> tokio::task::JoinHandle<Result<(u64, Option<Cut>), Refused>> {
    let (gates, dossier, client) = (gates.clone(), dossier.to_string(), client.to_string());
    tokio::spawn(async move {
        let body = trickle(chunk, every, count);
        upload(
            &gates,
            pace,
            (&dossier, &client),
            (chunk * count) as u64,
            body,
        )
        .await
    })
}

#[tokio::test(start_paused = true)]
async fn when_no_slot_is_free_the_slowest_body_of_the_greediest_network_gives_up_its_own() {
    let gates = Gates::new(3, 3);
    let every = Duration::from_millis(50);
    // Two bodies of one network above the floor but under the fair rate, at 2,000
    // and 2,500 B/s; a third, slower, of another network.
    let slowest = spawned(&gates, FAST, ("a", "n1"), (100, every, 200));
    let slow = spawned(&gates, FAST, ("b", "n1"), (125, every, 200));
    let alone = spawned(&gates, FAST, ("c", "n2"), (90, every, 200));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gates.load().reading, 3);
    // A new body of a third network gets the slot of n1's slowest at once, not
    // after `permit_wait`: n1 holds two more than it, n2 only one.
    let asked = Instant::now();
    let newcomer = gates.body(&FAST, "d", "n3", 1000).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(50),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(slowest.await.unwrap().unwrap().1, Some(Cut::Busy));
    assert_eq!(gates.load().evicted, 1);
    // Now every network holds one: equals never trade, the next one waits.
    let waited = gates.body(&FAST, "e", "n4", 1000).await.err();
    assert_eq!(waited, Some(Refused::Busy));
    drop(newcomer);
    assert_eq!(slow.await.unwrap().unwrap(), (25_000, None));
    assert_eq!(alone.await.unwrap().unwrap(), (18_000, None));
    assert_eq!(gates.load().evicted, 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_at_the_fair_rate_keeps_its_slot_and_a_young_one_too() {
    let gates = Gates::new(2, 2);
    let every = Duration::from_millis(50);
    // 5,000 B/s: above the fair rate; the newcomer waits, then hears « busy ».
    let fair = [
        spawned(&gates, FAST, ("a", "n1"), (250, every, 100)),
        spawned(&gates, FAST, ("b", "n1"), (250, every, 100)),
    ];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let refused = gates.body(&FAST, "c", "n2", 1000).await.err();
    assert_eq!(refused, Some(Refused::Busy));
    for body in fair {
        assert_eq!(body.await.unwrap().unwrap(), (25_000, None));
    }
    // Slow bodies still in their grace are not judged yet.
    let young = [
        spawned(&gates, FAST, ("a", "n1"), (100, every, 20)),
        spawned(&gates, FAST, ("b", "n1"), (100, every, 20)),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = gates.body(&FAST, "c", "n2", 1000).await.err();
    assert_eq!(refused, Some(Refused::Busy));
    for body in young {
        assert_eq!(body.await.unwrap().unwrap(), (2000, None));
    }
    assert_eq!(gates.load().evicted, 0);
}

/// The deadline night as the issue tells it: trickles just above the floor from
/// a dozen dossiers on three addresses keep coming; other candidates are let in at
/// once, and a phone at 50 Ko/s still sends its 5 Mo photo whole.
#[tokio::test(start_paused = true)]
async fn a_phone_and_other_candidates_get_through_a_patient_attack() {
    let gates = Gates::new(8, 4);
    // 16 KiB every 320 ms: 51 Ko/s, 5 Mo in 102 s.
    let phone = spawned(
        &gates,
        NIGHT,
        ("phone", "p"),
        (16 * 1024, Duration::from_millis(320), 320),
    );
    // Trickles at 1.2 Ko/s, a new one every second for two minutes.
    let mut attackers = Vec::new();
    let mut honest = Vec::new();
    for n in 0..120 {
        let who = (format!("d{}", n % 12), format!("c{}", n % 3));
        let (chunk, every) = (1200, Duration::from_secs(1));
        attackers.push(spawned(
            &gates,
            NIGHT,
            (&who.0, &who.1),
            (chunk, every, 150),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Every ten seconds, another candidate's 200 Ko, from a network of its own.
        if n % 10 == 9 {
            let (asked, who) = (Instant::now(), format!("h{n}"));
            let gate = gates.body(&NIGHT, &who, &who, 200_000).await;
            let gate = gate.expect("another candidate let in");
            honest.push(asked.elapsed());
            drop(gate);
        }
    }
    assert_eq!(phone.await.unwrap().unwrap(), (5 << 20, None));
    assert!(
        honest
            .iter()
            .all(|waited| *waited < Duration::from_millis(10)),
        "{honest:?}"
    );
    assert!(gates.load().evicted >= 12, "{}", gates.load().evicted);
    for attacker in attackers {
        let _ = attacker.await.unwrap();
    }
}

#[tokio::test]
async fn a_dossier_has_two_bodies_and_a_client_eight_given_back_when_done() {
    let gates = Gates::new(32, 1);
    let body = |dossier: &str, client: &str| {
        let (gates, dossier, client) = (gates.clone(), dossier.to_string(), client.to_string());
        async move { gates.body(&NIGHT, &dossier, &client, 1000).await }
    };
    let a = body("slots-test", "c1").await.unwrap();
    let b = body("slots-test", "c1").await.unwrap();
    assert_eq!(body("slots-test", "c2").await.err(), Some(Refused::Dossier));
    let mut others = Vec::new();
    for n in 0..6 {
        others.push(body(&format!("other-{n}"), "c1").await.unwrap());
    }
    assert_eq!(body("another", "c1").await.err(), Some(Refused::Client));
    assert!(body("another", "c2").await.is_ok());
    // Another server's gates are its own.
    assert!(
        Gates::new(4, 1)
            .body(&NIGHT, "slots-test", "c1", 0)
            .await
            .is_ok()
    );
    drop(a);
    let c = body("slots-test", "c1").await.unwrap();
    drop((b, c, others));
    assert_eq!(gates.counted("slots-test", "c1"), (None, None, 0));
}

#[tokio::test(start_paused = true)]
async fn a_body_that_waited_for_its_slot_is_judged_from_when_it_is_read() {
    let gates = Gates::new(2, 2);
    let pace = Pace {
        permit_wait: Duration::from_secs(20),
        ..FAST
    };
    let every = Duration::from_millis(50);
    // Two bodies of n1 at the fair rate hold both slots for 5 s and 10 s...
    let first = spawned(&gates, pace, ("a", "n1"), (250, every, 100));
    let second = spawned(&gates, pace, ("b", "n1"), (250, every, 200));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...a third of n1 waits 5 s for the first's slot, then trickles slowly.
    let waited = spawned(&gates, pace, ("c", "n1"), (100, every, 20));
    assert_eq!(first.await.unwrap().unwrap(), (25_000, None));
    // Let in a moment ago, it is young, not 5 s old with nothing read: a newcomer of
    // another network finds no slow body to take the slot of, and waits.
    let newcomer = Pace {
        permit_wait: Duration::from_millis(200),
        ..FAST
    };
    assert_eq!(
        gates.body(&newcomer, "d", "n2", 1000).await.err(),
        Some(Refused::Busy)
    );
    assert_eq!(waited.await.unwrap().unwrap(), (2000, None));
    assert_eq!(second.await.unwrap().unwrap(), (50_000, None));
    assert_eq!(gates.load().evicted, 0);
}
