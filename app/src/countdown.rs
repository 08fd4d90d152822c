//! The registration status of an exam in the catalogue, with the time left while it is
//! open, as the server counts it when the page is made. It does not tick: the catalogue
//! loads no Wasm, so a phone gets it at once. (An open dossier's countdown does tick:
//! `closure::tick`.)

use leptos::prelude::*;

#[component]
pub fn Countdown(closes_at_ms: i64, now_ms: i64) -> impl IntoView {
    let open = now_ms < closes_at_ms;
    view! {
        <p class="status" class:status-open=open class:status-closed=!open>
            <span class="status-label">
                {if open { "Inscriptions ouvertes" } else { "Inscriptions closes" }}
            </span>
            {open.then(|| view! {
                <span class="countdown">
                    " · Clôture dans "
                    <span data-countdown>{domain::french::remaining(closes_at_ms - now_ms)}</span>
                </span>
            })}
        </p>
    }
}
