//! The PDFs the service makes for a candidate: made once while what they show does
//! not change, and never at the cost of another candidate's, or of a letter's.

mod common;

use std::time::{Duration, Instant};

use common::{NOW, spawn_apps_and_stores_with};
use services::platform::clock::FixedClock;

#[tokio::test]
async fn a_candidate_asking_for_a_pdf_in_a_loop_delays_no_one_and_it_is_made_once() {
    // Behind a proxy, each candidate from an address of their own, as on the night (on
    // one address, the looping candidate's reads would make the other's wait too).
    for app in spawn_apps_and_stores_with(&[("APP_TRUSTED_PROXIES", "127.0.0.1")]).await {
        let clock = FixedClock(NOW.parse().unwrap());
        let session = |who: &'static str| {
            let (app, clock) = (&app, &clock);
            async move {
                let exam = services::platform::demo::DEMO_EXAM;
                let dossier =
                    services::testing::dossier(&app.db, clock, exam, "externe", who).await;
                let token = services::access::accounts::open_session(&app.db, clock, &dossier.id)
                    .await
                    .unwrap();
                (dossier.id, format!("espace={token}"))
            }
        };
        let (looping_id, looping) = session("Boucle").await;
        let (_, other) = session("Autre").await;
        let address = format!("{}/espace/dossier-d-inscription.pdf", app.address);
        let made_before = services::letters::printouts::made();

        // 24 connections asking for the dossier d'inscription again and again, 3 s.
        let until = Instant::now() + Duration::from_secs(3);
        let loops: Vec<_> = (0..24)
            .map(|_| {
                let (client, address, cookie) =
                    (app.client.clone(), address.clone(), looping.clone());
                tokio::spawn(async move {
                    let mut asked = 0;
                    while Instant::now() < until {
                        let r = client
                            .get(&address)
                            .header("cookie", &cookie)
                            .header("x-forwarded-for", "203.0.113.66")
                            .send();
                        let r = r.await.unwrap();
                        assert_eq!(r.status(), 200);
                        assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
                        asked += 1;
                    }
                    asked
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Meanwhile another candidate's PDF comes within 1 s...
        let asked = Instant::now();
        let r = app
            .client
            .get(&address)
            .header("cookie", &other)
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
        let others_took = asked.elapsed();
        // ...and a letter's, on the outbox's own slot.
        let asked = Instant::now();
        let letter = services::letters::printouts::Printout {
            title: "Accusé de réception".into(),
            issuer: "Centre de gestion (exemple)".into(),
            blocks: vec![services::letters::printouts::Block::Text("Lettre".into())],
        };
        letter.render_letter().await.unwrap();
        let letter_took = asked.elapsed();

        let mut asked = 0;
        for handle in loops {
            asked += handle.await.unwrap();
        }
        assert!(
            others_took < Duration::from_secs(1),
            "{}: {others_took:?}",
            app.label
        );
        assert!(
            letter_took < Duration::from_secs(1),
            "{}: {letter_took:?}",
            app.label
        );
        // Made once for the looping candidate, once for the other, once the letter,
        // however many times it was asked for.
        // (Paced to its downloads' rate: its burst of 20, then 2 a second.)
        assert!(asked >= 20, "{}: {asked}", app.label);
        assert_eq!(
            services::letters::printouts::made() - made_before,
            3,
            "{}",
            app.label
        );
        let kept = app.storage.printouts_of(&looping_id).await.unwrap();
        assert_eq!(kept.len(), 1, "{}: {kept:?}", app.label);
    }
}
