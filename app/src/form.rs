//! Accessible form pieces shared by every page: labelled fields with their hint and
//! message, radio groups, and the error summary that takes the focus.

use std::collections::BTreeMap;

use leptos::{html, prelude::*};

/// Field name → message, as a signal the browser updates as the candidate types.
pub type Errors = RwSignal<BTreeMap<String, String>>;

fn error_of(errors: Errors, name: &'static str) -> impl Fn() -> Option<String> + Copy {
    move || errors.with(|e| e.get(name).cloned())
}

#[component]
pub fn Field(
    /// The answer's name; the input is posted as `fields[name]`.
    name: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(default = true)] required: bool,
    #[prop(into)] value: String,
    errors: Errors,
    /// The input's full name when it is not `fields[name]`.
    #[prop(optional)]
    form_name: Option<&'static str>,
    /// A free text of a few lines: a `<textarea>` of this many rows (0: one line).
    #[prop(optional)]
    rows: u32,
) -> impl IntoView {
    let id = format!("champ-{name}");
    let hint_id = format!("{id}-aide");
    let error_id = format!("{id}-erreur");
    let error = error_of(errors, name);
    let described = {
        let hint_id = hint_id.clone();
        let error_id = error_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let input_name = form_name
        .map(str::to_string)
        .unwrap_or_else(|| format!("fields[{name}]"));
    view! {
        <div class="field" class:field-error=move || error().is_some()>
            <label for=id.clone()>
                {label}
                {(!required).then(|| view! { <span class="optional">" (facultatif)"</span> })}
            </label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            {move || error().map(|e| view! { <p class="error-message" id=error_id.clone()><span class="visually-hidden">"Erreur : "</span>{e}</p> })}
            {if rows > 0 {
                view! {
                    <textarea
                        id=id.clone()
                        name=input_name
                        rows=rows
                        autocomplete=autocomplete
                        aria-required=required.then_some("true")
                        aria-invalid=move || error().is_some().then_some("true")
                        aria-describedby=described
                    >{value}</textarea>
                }.into_any()
            } else {
                view! {
                    <input
                        id=id.clone()
                        name=input_name
                        type=kind
                        value=value
                        autocomplete=autocomplete
                        inputmode=inputmode
                        aria-required=required.then_some("true")
                        aria-invalid=move || error().is_some().then_some("true")
                        aria-describedby=described
                    />
                }.into_any()
            }}
            {(kind == "password").then(|| view! { <ShowPassword field=id.clone() /> })}
        </div>
    }
}

/// « Afficher le mot de passe » under a password input (`field`, its id): a checkbox
/// that `/mot-de-passe.js` shows and wires; without scripts it stays hidden, since it
/// could do nothing.
#[component]
pub fn ShowPassword(field: String) -> impl IntoView {
    let id = format!("{field}-afficher");
    view! {
        <div class="show-password" hidden>
            <input type="checkbox" id=id.clone() data-montre=field />
            <label for=id>"Afficher le mot de passe"</label>
        </div>
        <script src="/mot-de-passe.js" defer></script>
    }
}

/// A password input with its label and « Afficher le mot de passe », for the login
/// and new-password pages.
#[component]
pub fn PasswordInput(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let hint_id = format!("{id}-aide");
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            <input id=id name=name type="password" autocomplete=autocomplete required aria-describedby=hint.map(|_| hint_id.clone()) />
            <ShowPassword field=id.to_string() />
        </div>
    }
}

/// In the browser, shows `errors` on the server-rendered [`Field`]s and [`Choice`]s
/// named `fields`, with the markup they render: the message before the input (or the
/// first option), the `field-error` class, and the input's `aria-invalid` and
/// `aria-describedby`. The page stays server-rendered; only the messages change.
#[cfg(feature = "hydrate")]
pub fn show_field_errors(fields: &[&str], errors: &BTreeMap<String, String>) {
    let document = crate::dom::document();
    for name in fields {
        let id = format!("champ-{name}");
        let Some(target) = document.get_element_by_id(&id) else {
            continue;
        };
        let error_id = format!("{id}-erreur");
        if let Some(old) = document.get_element_by_id(&error_id) {
            old.remove();
        }
        let Some(field) = target.closest(".field").ok().flatten() else {
            continue;
        };
        let error = errors.get(*name);
        let _ = field
            .class_list()
            .toggle_with_force("field-error", error.is_some());
        let is_input = matches!(target.tag_name().as_str(), "INPUT" | "TEXTAREA");
        let mut described: Vec<String> = Vec::new();
        if is_input && document.get_element_by_id(&format!("{id}-aide")).is_some() {
            described.push(format!("{id}-aide"));
        }
        if let Some(message) = error
            && let (Ok(p), Ok(span)) = (
                document.create_element("p"),
                document.create_element("span"),
            )
        {
            p.set_class_name("error-message");
            p.set_id(&error_id);
            span.set_class_name("visually-hidden");
            span.set_text_content(Some("Erreur : "));
            let _ = p.append_child(&span);
            let _ = p.append_with_str_1(message);
            if let Ok(Some(before)) = field.query_selector("input, textarea, .radio") {
                let _ = field.insert_before(&p, Some(&before));
            }
            described.push(error_id);
        }
        let set = |attribute: &str, value: Option<String>| match value {
            Some(v) => target.set_attribute(attribute, &v),
            None => target.remove_attribute(attribute),
        };
        let _ = set(
            "aria-describedby",
            (!described.is_empty()).then(|| described.join(" ")),
        );
        if is_input {
            let _ = set("aria-invalid", error.map(|_| "true".to_string()));
        }
    }
}

#[component]
pub fn Choice(
    name: &'static str,
    legend: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    options: Vec<(&'static str, &'static str)>,
    #[prop(into)] value: String,
    errors: Errors,
) -> impl IntoView {
    let error = error_of(errors, name);
    let error_id = format!("champ-{name}-erreur");
    view! {
        <fieldset class="field" class:field-error=move || error().is_some() id=format!("champ-{name}")
            aria-describedby=move || error().is_some().then(|| format!("champ-{name}-erreur"))>
            <legend>{legend}</legend>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            {move || error().map(|e| view! { <p class="error-message" id=error_id.clone()><span class="visually-hidden">"Erreur : "</span>{e}</p> })}
            {options
                .into_iter()
                .map(|(code, label)| {
                    let id = format!("champ-{name}-{code}");
                    view! {
                        <div class="radio">
                            <input type="radio" id=id.clone() name=format!("fields[{name}]") value=code checked=value == code />
                            <label for=id>{label}</label>
                        </div>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

/// Said before a form whose fields are all required but those marked « facultatif »
/// (RGAA 11.10): the browser's `required` alone is not a visible indication.
#[component]
pub fn AllRequired() -> impl IntoView {
    view! { <p class="hint required-note">"Tous les champs sont obligatoires, sauf ceux marqués « facultatif »."</p> }
}

/// The list of what is wrong, at the top of the form, linked to each field. It takes
/// the focus when it appears, so screen-reader and keyboard users land on it.
#[component]
pub fn ErrorSummary(
    errors: Errors,
    labels: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if errors.with(|e| !e.is_empty())
            && let Some(div) = node.get()
        {
            let _ = div.focus();
        }
    });
    view! {
        <Show when=move || errors.with(|e| !e.is_empty())>
            <div class="error-summary" role="alert" tabindex="-1" node_ref=node aria-labelledby="resume-erreurs">
                {move || {
                    let (title, lines) = errors.with(|e| summary_of(e, labels));
                    view! {
                        <h2 id="resume-erreurs">{title}</h2>
                        <ul>
                            {lines.into_iter().map(|(field, text)| view! {
                                <li><a href=format!("#champ-{field}")>{text}</a></li>
                            }).collect_view()}
                        </ul>
                    }
                }}
            </div>
        </Show>
    }
}

/// The summary's title and its lines (a field, and what to say of it), in the order
/// of the form (`labels` is), not of the field names.
fn summary_of(
    errors: &BTreeMap<String, String>,
    labels: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let title = match errors.len() {
        1 => "Une réponse est à corriger".to_string(),
        n => format!("{n} réponses sont à corriger"),
    };
    let place = |field: &str| labels.iter().position(|(f, _)| *f == field);
    let mut listed: Vec<_> = errors.iter().collect();
    listed.sort_by_key(|(field, _)| place(field).unwrap_or(usize::MAX));
    let lines = listed
        .into_iter()
        .map(|(field, message)| {
            let label = place(field).map(|i| labels[i].1).unwrap_or("");
            let text = if label.is_empty() {
                message.clone()
            } else {
                format!("{label} : {message}")
            };
            (field.clone(), text)
        })
        .collect();
    (title, lines)
}

/// In the browser: [`ErrorSummary`]'s markup for `errors`, in place of the one under
/// `place` (none when there is nothing to correct).
#[cfg(feature = "hydrate")]
pub fn show_summary(
    place: &web_sys::Element,
    errors: &BTreeMap<String, String>,
    labels: &[(&str, &str)],
) {
    use crate::dom::{element, find_in};
    if let Some(old) = find_in(place, ".error-summary") {
        old.remove();
    }
    if errors.is_empty() {
        return;
    }
    let (title, lines) = summary_of(errors, labels);
    let summary = element("div", "error-summary", "");
    for (name, value) in [
        ("role", "alert"),
        ("tabindex", "-1"),
        ("aria-labelledby", "resume-erreurs"),
    ] {
        let _ = summary.set_attribute(name, value);
    }
    let heading = element("h2", "", &title);
    heading.set_id("resume-erreurs");
    let list = element("ul", "", "");
    for (field, text) in lines {
        let link = element("a", "", &text);
        let _ = link.set_attribute("href", &format!("#champ-{field}"));
        let item = element("li", "", "");
        let _ = item.append_child(&link);
        let _ = list.append_child(&item);
    }
    let _ = summary.append_with_node_2(&heading, &list);
    let _ = place.prepend_with_node_1(&summary);
}

/// In the browser: the focus on the summary under `place`, if there is one, so
/// screen-reader and keyboard users land on what to correct.
#[cfg(feature = "hydrate")]
pub fn focus_summary(place: &web_sys::Element) {
    use wasm_bindgen::JsCast;
    if let Some(summary) = crate::dom::find_in(place, ".error-summary")
        .and_then(|s| s.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = summary.focus();
    }
}

/// What the last post did, above its form: a notice (`role=status`) or, for `alert`, an
/// alert.
#[component]
pub fn Outcome(class: &'static str, text: String) -> impl IntoView {
    view! { <p class=class role=if class == "alert" { "alert" } else { "status" }>{text}</p> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_follows_the_form_and_names_each_field() {
        let labels = [
            ("nom", "Nom"),
            ("date", "Date de naissance"),
            ("pays", "Pays"),
        ];
        let one: BTreeMap<String, String> = [("pays".into(), "Saisissez-le.".into())].into();
        assert_eq!(summary_of(&one, &labels).0, "Une réponse est à corriger");
        let errors: BTreeMap<String, String> = [
            ("pays".to_string(), "Saisissez votre pays.".to_string()),
            ("autre".to_string(), "Sans libellé.".to_string()),
            ("nom".to_string(), "Des lettres seulement.".to_string()),
        ]
        .into();
        let (title, lines) = summary_of(&errors, &labels);
        assert_eq!(title, "3 réponses sont à corriger");
        // The form's order, not the names' (alphabetical in the map); a field without a
        // label keeps its message alone, last.
        assert_eq!(
            lines,
            [
                (
                    "nom".to_string(),
                    "Nom : Des lettres seulement.".to_string()
                ),
                (
                    "pays".to_string(),
                    "Pays : Saisissez votre pays.".to_string()
                ),
                ("autre".to_string(), "Sans libellé.".to_string()),
            ]
        );
    }
}
