//! Browser calls by name, for the lazy chunks' code (the document window's photos):
//! each typed `web_sys` method is an import of the main Wasm module and a function of
//! its JavaScript glue, which every page downloads, even where no photo is ever made.
//! These go through `Reflect` instead, imported once.

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `target[name]`, or `undefined`.
pub fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[name] = value`.
pub fn set(target: &JsValue, name: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(target, &JsValue::from_str(name), &value.into());
}

/// `target[name](...args)`.
pub fn call(target: &JsValue, name: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let method: Function = get(target, name).unchecked_into();
    Reflect::apply(&method, target, &args.iter().copied().collect::<Array>())
}

/// A number property, e.g. a picture's `naturalWidth`.
pub fn number(target: &JsValue, name: &str) -> f64 {
    get(target, name).as_f64().unwrap_or_default()
}

/// A global, e.g. `URL`.
pub fn global(name: &str) -> JsValue {
    get(&js_sys::global(), name)
}

/// `new constructor(...args)` for the global `constructor`.
pub fn new(constructor: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    Reflect::construct(
        global(constructor).unchecked_ref::<Function>(),
        &args.iter().copied().collect::<Array>(),
    )
}
