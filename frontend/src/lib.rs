//! The Wasm entry point: hydrates the islands of the page the server rendered (the
//! rest of the page is plain HTML and needs no Wasm).

// The islands are exported by `app`: nothing here names them, so the crate is linked
// explicitly or the bundle would have none.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the console is for developers: a debug build shows it; the
    // release bundle leaves out the hook and its formatting (about 1 KiB a page).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
