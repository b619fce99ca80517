//! Wording the policies' reasons share: numbers that never print equal to a threshold they
//! differ from, name lists that stay short, plurals and sentences.

/// How many names a reason lists before summarizing the rest.
pub const NAMES_SHOWN: usize = 5;

/// The first few names, then how many more.
pub fn names(list: &[&str]) -> String {
    if list.len() <= NAMES_SHOWN {
        return list.join(", ");
    }
    format!(
        "{} and {} more",
        list[..NAMES_SHOWN].join(", "),
        list.len() - NAMES_SHOWN
    )
}

/// `one` when `n` is 1, else `many`.
pub fn plural<'s>(n: usize, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 { one } else { many }
}

/// `x` with as few decimals as read well (two at least, trailing zeros dropped), but enough
/// that it never prints equal to a threshold it differs from: a share of 0.299 must not read
/// "0.3, below alert_share 0.3".
pub fn number(x: f64, thresholds: &[f64]) -> String {
    for decimals in 2..=9 {
        let text = trimmed(x, decimals);
        if thresholds
            .iter()
            .all(|&t| t == x || trimmed(t, decimals) != text)
        {
            return text;
        }
    }
    x.to_string()
}

fn trimmed(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A capitalized sentence with a full stop.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_read_as_a_threshold_they_differ_from() {
        assert_eq!(number(0.5, &[]), "0.5");
        assert_eq!(number(0.299, &[0.3]), "0.299");
        assert_eq!(number(0.3, &[0.3]), "0.3");
        assert_eq!(number(-0.0001, &[]), "0");
        assert_eq!(sentence("three of four"), "Three of four.");
        assert_eq!(
            names(&["a", "b", "c", "d", "e", "f", "g"]),
            "a, b, c, d, e and 2 more"
        );
    }
}
