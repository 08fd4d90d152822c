//! What the document window shows of an upload, in the browser: the error, the bar,
//! the lighter photo's notice, the lost connection and the pages gathered.

use std::{cell::RefCell, rc::Rc};

use web_sys::Element;

use crate::dom::{element, find_in};

/// What the window shows of an upload, written into the form the server rendered:
/// each change of the upload's state goes through one of these, and only the parts it
/// names change (the markup `super::window::UploadForm` would have).
#[derive(Clone)]
pub struct Screen(Rc<Parts>);

struct Parts {
    form: Element,
    zone: Element,
    input: Element,
    said: Element,
    actions: Element,
    submit: Element,
    pages: Option<Element>,
    /// The pages' thumbnails' addresses, released when replaced.
    thumbs: RefCell<Vec<String>>,
}

impl Screen {
    /// The parts of the form, `None` when it is not the one the server renders.
    pub fn of(form: &Element) -> Option<Self> {
        let part = |selector| find_in(form, selector);
        Some(Self(Rc::new(Parts {
            zone: part(".drop-zone")?,
            input: part("#fichier")?,
            said: part("[data-upload-said]")?,
            actions: part(".actions")?,
            submit: part("button[type=submit]")?,
            pages: part(".page-list"),
            form: form.clone(),
            thumbs: RefCell::default(),
        })))
    }

    /// The message above the file input, and the field marked as wrong.
    pub(super) fn error(&self, message: Option<String>) {
        let parts = &self.0;
        if let Some(old) = find_in(&parts.form, "#fichier-erreur") {
            old.remove();
        }
        let _ = parts
            .zone
            .class_list()
            .toggle_with_force("field-error", message.is_some());
        if let Some(message) = message {
            let p = element("p", "error-message", &message);
            p.set_id("fichier-erreur");
            let _ = p.set_attribute("role", "alert");
            let _ = parts.input.before_with_node_1(&p);
        }
    }

    /// The bar (bytes sent of the total) and « Annuler l'envoi »; the spoken line says
    /// each quarter only.
    pub(super) fn progress(&self, progress: Option<(f64, f64)>) {
        let parts = &self.0;
        let bar = find_in(&parts.form, ".progress");
        let Some((sent, total)) = progress else {
            parts.said.set_text_content(None);
            if let Some(bar) = bar {
                bar.remove();
            }
            return;
        };
        let quarter = if total > 0.0 {
            (sent / total * 4.0).floor() as u32 * 25
        } else {
            0
        };
        let said = format!("Envoi en cours : {} %", quarter.min(100));
        if parts.said.text_content().as_deref() != Some(said.as_str()) {
            parts.said.set_text_content(Some(&said));
        }
        let bar = bar.unwrap_or_else(|| {
            let bar = element("div", "progress", "");
            let label = element("label", "", "");
            let _ = label.set_attribute("for", "envoi");
            let meter = element("progress", "", "");
            meter.set_id("envoi");
            let cancel = element("button", "button secondary", "Annuler l'envoi");
            let _ = cancel.set_attribute("type", "button");
            let _ = cancel.set_attribute("data-cancel", "");
            let _ = bar.append_with_node_3(&label, &meter, &cancel);
            let _ = parts.said.after_with_node_1(&bar);
            bar
        });
        if let Some(label) = find_in(&bar, "label") {
            label.set_text_content(Some(&format!(
                "Envoi en cours : {} sur {}",
                domain::french::size(sent as u64),
                domain::french::size(total as u64)
            )));
        }
        if let Some(meter) = find_in(&bar, "progress") {
            let _ = meter.set_attribute("max", &(total as u64).to_string());
            let _ = meter.set_attribute("value", &(sent as u64).to_string());
        }
    }

    /// « photo allégée » with its sizes, and « envoyer l'original ».
    pub(super) fn lighter(&self, sizes: Option<(u64, u64)>) {
        let parts = &self.0;
        if let Some(old) = find_in(&parts.form, "[data-lighter]") {
            old.remove();
        }
        let Some((before, after)) = sizes else {
            return;
        };
        let notice = element(
            "p",
            "notice",
            &format!(
                "photo allégée : {} → {} ",
                domain::french::size(before),
                domain::french::size(after)
            ),
        );
        let _ = notice.set_attribute("role", "status");
        let _ = notice.set_attribute("data-lighter", "");
        let original = element("button", "button secondary", "envoyer l'original");
        let _ = original.set_attribute("type", "button");
        let _ = original.set_attribute("data-original", "");
        let _ = notice.append_child(&original);
        let after = find_in(&parts.form, ".progress").unwrap_or_else(|| parts.said.clone());
        let _ = after.after_with_node_1(&notice);
    }

    /// « Connexion perdue » above the button, which then offers to try again now.
    pub(super) fn lost(&self, lost: bool) {
        let parts = &self.0;
        let old = find_in(&parts.form, "[data-lost]");
        match (lost, old) {
            (false, Some(old)) => old.remove(),
            (true, None) => {
                let alert = element(
                    "p",
                    "alert",
                    "Connexion perdue : l'envoi reprendra tout seul dès que le réseau revient. Gardez cette page ouverte.",
                );
                let _ = alert.set_attribute("role", "alert");
                let _ = alert.set_attribute("data-lost", "");
                let _ = parts.actions.before_with_node_1(&alert);
            }
            _ => {}
        }
        parts.submit.set_text_content(Some(if lost {
            "Réessayer maintenant"
        } else {
            "ajouter le fichier"
        }));
    }

    /// The pages gathered, as thumbnails with « monter » and « retirer », and the
    /// button that sends them (then the one primary button of the form).
    pub(super) fn thumbs(&self, urls: Vec<String>) {
        let parts = &self.0;
        for url in parts.thumbs.replace(urls.clone()) {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        let Some(list) = &parts.pages else {
            return;
        };
        list.set_text_content(None);
        for (i, src) in urls.iter().enumerate() {
            let item = element("li", "", "");
            let img = element("img", "", "");
            let _ = img.set_attribute("src", src);
            let _ = img.set_attribute("alt", &format!("Page {}", i + 1));
            let _ = item.append_with_node_2(&img, &element("span", "", &format!("Page {}", i + 1)));
            let button = |text: &str, data: &str| {
                let button = element("button", "button secondary", text);
                let _ = button.set_attribute("type", "button");
                let _ = button.set_attribute(data, &i.to_string());
                let _ = button.append_child(&element(
                    "span",
                    "visually-hidden",
                    &format!(" la page {}", i + 1),
                ));
                let _ = item.append_child(&button);
            };
            if i > 0 {
                button("monter", "data-up");
            }
            button("retirer", "data-remove");
            let _ = list.append_child(&item);
        }
        if let Some(old) = find_in(&parts.form, "[data-send-pages]") {
            old.remove();
        }
        if !urls.is_empty() {
            let text = match urls.len() {
                1 => "envoyer la page".to_string(),
                n => format!("envoyer les {n} pages en un seul PDF"),
            };
            let send = element("button", "button primary", &text);
            let _ = send.set_attribute("type", "button");
            let _ = send.set_attribute("data-send-pages", "");
            let _ = list.after_with_node_1(&send);
        }
        parts.submit.set_class_name(if urls.is_empty() {
            "button primary"
        } else {
            "button secondary"
        });
    }
}
