//! The registration status of an exam, with the time left while it is open. Rendered by
//! the server, then ticking in the browser once hydrated.

use leptos::prelude::*;

/// The server's time, ticking every second once hydrated. The browser's clock may be
/// wrong, so we keep the server's time (`now_ms`, when the page was made) and only add
/// the time elapsed since the page arrived.
pub fn server_clock(now_ms: i64) -> ReadSignal<i64> {
    let (now, set_now) = signal(now_ms);
    // Effects run only in the browser.
    Effect::new(move |_| {
        let started = browser_now_ms();
        if let Ok(handle) = set_interval_with_handle(
            move || set_now.set(now_ms + (browser_now_ms() - started)),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    now
}

/// The time left, as the server counts it when the page is made. On the catalogue it
/// does not tick: the catalogue loads no Wasm, so a phone gets it at once.
#[component]
pub fn Countdown(closes_at_ms: i64, now_ms: i64) -> impl IntoView {
    let now = server_clock(now_ms);
    let open = move || now.get() < closes_at_ms;
    view! {
        <p class="status" class:status-open=open class:status-closed=move || !open()>
            <span class="status-label">
                {move || if open() { "Inscriptions ouvertes" } else { "Inscriptions closes" }}
            </span>
            <Show when=open>
                <span class="countdown">
                    " · Clôture dans "
                    <span data-countdown>{move || domain::french::remaining(closes_at_ms - now.get())}</span>
                </span>
            </Show>
        </p>
    }
}

/// Milliseconds on the browser's monotonic clock: moving the computer's clock does not
/// move it.
#[cfg(feature = "hydrate")]
fn browser_now_ms() -> i64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now() as i64)
        .unwrap_or(0)
}

#[cfg(not(feature = "hydrate"))]
fn browser_now_ms() -> i64 {
    0
}
