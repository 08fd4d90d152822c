//! The browser's side of the candidate's pages, without a framework. The server
//! renders every page whole, with `data-` attributes on what reacts; each module finds
//! its elements, listens to them and changes them with these few calls. No reactive
//! runtime and no props to deserialise: a page downloads only its modules' code.

use std::future::Future;

use wasm_bindgen::{JsCast, closure::Closure, convert::FromWasmAbi};
use web_sys::{Document, Element, EventTarget, HtmlElement, Window};

pub fn window() -> Window {
    web_sys::window().expect("a page has a window")
}

pub fn document() -> Document {
    window().document().expect("a window has a document")
}

/// The first element of the page that `selector` names.
pub fn find(selector: &str) -> Option<Element> {
    document().query_selector(selector).ok().flatten()
}

/// The first element under `root` that `selector` names.
pub fn find_in(root: &Element, selector: &str) -> Option<Element> {
    root.query_selector(selector).ok().flatten()
}

/// A new element of that tag, with its class (none when empty) and text.
pub fn element(tag: &str, class: &str, text: &str) -> Element {
    let element = document()
        .create_element(tag)
        .expect("a tag of ours is valid");
    if !class.is_empty() {
        element.set_class_name(class);
    }
    if !text.is_empty() {
        element.set_text_content(Some(text));
    }
    element
}

/// Listens to `event` on `target` for as long as the page lives (the closure is
/// never freed: these pages never take a listener back).
pub fn on<E: FromWasmAbi + 'static>(target: &EventTarget, event: &str, f: impl FnMut(E) + 'static) {
    let listener = Closure::<dyn FnMut(E)>::new(f);
    let _ = target.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
    listener.forget();
}

/// Runs `f` once, after the next frame is drawn: an element focused then is in place.
pub fn next_frame(f: impl FnOnce() + 'static) {
    let once = Closure::once_into_js(f);
    let _ = window().request_animation_frame(once.unchecked_ref());
}

/// Runs `f` every `ms` milliseconds for as long as the page lives.
pub fn every(ms: i32, f: impl FnMut() + 'static) {
    let tick = Closure::<dyn FnMut()>::new(f);
    let _ = window()
        .set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), ms);
    tick.forget();
}

/// Runs `future` on the page's event loop.
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(future);
}

/// Milliseconds on the browser's monotonic clock: moving the computer's clock does not
/// move it.
pub fn monotonic_ms() -> i64 {
    window().performance().map(|p| p.now() as i64).unwrap_or(0)
}

/// Focuses the element of that id, if the page has it.
pub fn focus_by_id(id: &str) {
    if let Some(element) = document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

/// An attribute of `element` read as a number, `None` when absent or not a number: a
/// module then leaves the page as the server rendered it rather than act on a guess
/// (a deadline of 0 would say « non clôturé », a size of 0 would refuse every file).
pub fn number_of(element: &Element, attribute: &str) -> Option<i64> {
    element.get_attribute(attribute)?.parse().ok()
}

/// Marks the element as ready: `data-waiting` (what works only once the browser's
/// code runs) is taken off, so a test or a script knows a click stays in the page.
pub fn ready(element: &Element) {
    let _ = element.remove_attribute("data-waiting");
}
