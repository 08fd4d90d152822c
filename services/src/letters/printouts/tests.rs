use super::*;

#[tokio::test]
async fn a_pdf_waits_its_turn_and_past_the_wait_the_answer_is_busy() {
    let printout = || Printout {
        title: "Essai".into(),
        issuer: "Centre de gestion".into(),
        blocks: vec![Block::Text("Un texte".into())],
    };
    let wait = std::time::Duration::from_millis(50);
    let none = tokio::sync::Semaphore::new(0);
    assert!(render_with(&none, wait, printout()).await.is_err());
    let one = tokio::sync::Semaphore::new(1);
    let held = one.acquire().await.unwrap();
    assert!(render_with(&one, wait, printout()).await.is_err());
    drop(held);
    let pdf = render_with(&one, wait, printout()).await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(one.available_permits(), 1, "the slot is given back");
}

#[test]
fn long_words_are_cut_and_lines_fit_the_page() {
    let layout = Layout::new();
    let sha = "ab".repeat(64);
    let lines = layout.wrap(Weight::Regular, BODY, &format!("SHA-256 {sha}"), 200.0);
    assert!(lines.len() > 2, "{lines:?}");
    assert_eq!(lines.concat().replace(' ', ""), format!("SHA-256{sha}"));
    for line in &lines {
        assert!(layout.regular.width(line, BODY) <= 200.0, "{line}");
    }
}

#[test]
fn a_character_the_font_lacks_is_printed_as_a_question_mark() {
    let face = Face::new(REGULAR);
    assert_eq!(face.printable('é'), 'é');
    assert_eq!(face.printable('漢'), '?');
    assert_eq!(face.printable('\t'), ' ');
}

#[test]
fn many_blocks_make_several_pages_each_with_its_footer() {
    let printout = Printout {
        title: "Essai".into(),
        issuer: "Centre de gestion".into(),
        blocks: (0..120)
            .map(|i| Block::Field(format!("Ligne {i}"), "valeur".into()))
            .collect(),
    };
    let text = pdf_extract::extract_text_from_mem(&printout.to_pdf()).unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // 120 lines of 14 points, about 50 to a page.
    for n in 1..=3 {
        assert!(
            text.contains(&format!("Centre de gestion · Essai · page {n} / 3")),
            "{text}"
        );
    }
    assert!(text.contains("Ligne 0 valeur") && text.contains("Ligne 119 valeur"));
}

#[test]
fn each_block_has_its_role_in_the_structure_tree_in_reading_order() {
    let mut layout = Layout::new();
    for block in [
        Block::Issuer("Centre".into()),
        Block::Title("Titre".into()),
        Block::Field("N°".into(), "1".into()),
        Block::Field("Nom".into(), "A".into()),
        Block::Heading("Pièces".into()),
        Block::Item("• une".into()),
        Block::Item("• deux".into()),
        Block::Rule,
        Block::Hash("SHA-256".into(), "ab".repeat(32)),
        Block::Rule,
        Block::Field("Pièce".into(), "B".into()),
    ] {
        layout.block(&block);
    }
    let tree = |id: usize| -> String {
        fn walk(elements: &[Element], id: usize, out: &mut String) {
            out.push_str(std::str::from_utf8(elements[id].role.to_name().0).unwrap());
            let kids: Vec<usize> = elements[id]
                .kids
                .iter()
                .filter_map(|k| match k {
                    Kid::Element(e) => Some(*e),
                    Kid::Content { .. } => None,
                })
                .collect();
            if !kids.is_empty() {
                out.push('(');
                for (n, kid) in kids.iter().enumerate() {
                    if n > 0 {
                        out.push(' ');
                    }
                    assert_eq!(elements[*kid].parent, id);
                    walk(elements, *kid, out);
                }
                out.push(')');
            }
        }
        let mut out = String::new();
        walk(&layout.elements, id, &mut out);
        out
    };
    // Two rows make one table, two items one list; a rule ends a table.
    assert_eq!(
        tree(0),
        "Document(P H1 Table(TR(TH TD) TR(TH TD)) H2 L(LI(LBody) LI(LBody)) Table(TR(TH TD)) Table(TR(TH TD)))"
    );
    // Every line is in an element but the rules; labels before their values.
    let tags: Vec<Option<usize>> = layout.pages[0]
        .iter()
        .filter_map(|m| match m {
            Mark::Run(run) => Some(run.tag),
            Mark::Rule { .. } => None,
        })
        .collect();
    assert!(tags.iter().all(Option::is_some));
    let roles: Vec<&str> = tags
        .iter()
        .map(|t| std::str::from_utf8(layout.elements[t.unwrap()].role.to_name().0).unwrap())
        .collect();
    assert_eq!(&roles[..6], ["P", "H1", "TH", "TD", "TH", "TD"]);
}
