//! Plain-text tables for the CLI: left-aligned columns two spaces apart, a header row first.

/// Renders `rows` under `header`, each row as many cells as the header.
pub fn render<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.as_ref().chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(AsRef::as_ref));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_whatever_the_widths() {
        let table = super::render(
            &["name", "kind"],
            &[vec!["drift-ks", "drift-test"], vec!["é", ""]],
        );
        assert_eq!(table, "name      kind\ndrift-ks  drift-test\né\n");
    }
}
