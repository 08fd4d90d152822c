//! The Wasm entry point: attaches the browser's part of the candidate's pages to the
//! HTML the server rendered (`app::attach`). There is no Leptos island left to
//! hydrate: the page's HTML is whole, and the modules change only what they name.

// `app` holds the browser code: nothing here names more of it than `attach`, so the
// crate is linked explicitly.
extern crate app;

/// Called by the loader script Leptos's `HydrationScripts` writes, once the Wasm is
/// ready (the name is the loader's).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the console is for developers: a debug build shows it; the
    // release bundle leaves out the hook and its formatting (about 1 KiB a page).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    app::attach();
}
