//! `vigil drift --format html`: one self-contained page with the summary, the sortable table
//! and a plot per column, drawn from binned summaries, with the data's text escaped.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// A hostile column name and category: they must reach the page as text, never as markup.
const HOSTILE_COLUMN: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_CATEGORY: &str = "</svg><script>alert(2)</script>";

/// A reference and a current file: `moved` shifts by one standard deviation, `steady` does
/// not, `plan` loses `legacy` and gains `enterprise`, and the hostile column stays put.
fn write_data(dir: &Path) -> (String, String) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        // xorshift64*: deterministic, and enough for test data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u, v) = (uniform().max(1e-300), uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    let header = format!("moved,steady,plan,\"{HOSTILE_COLUMN}\"\n");
    let mut reference = header.clone();
    let mut current = header;
    for i in 0..3000 {
        let plan = ["basic", "plus", "legacy", HOSTILE_CATEGORY][i % 4];
        writeln!(reference, "{},{},{plan},{}", normal(), normal(), normal()).unwrap();
        let plan = ["basic", "plus", "enterprise", HOSTILE_CATEGORY][i % 4];
        writeln!(
            current,
            "{},{},{plan},{}",
            normal() + 1.0,
            normal(),
            normal()
        )
        .unwrap();
    }
    let (r, c) = (dir.join("reference.csv"), dir.join("current.csv"));
    std::fs::write(&r, reference).unwrap();
    std::fs::write(&c, current).unwrap();
    (
        r.to_str().unwrap().to_string(),
        c.to_str().unwrap().to_string(),
    )
}

/// `vigil drift` on the two files in `format`, with `extra` arguments; it must succeed.
fn drift(reference: &str, current: &str, format: &str, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["drift", "--reference", reference, "--current", current])
        .args(["--format", format])
        .args(extra)
        .output()
        .expect("vigil runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The part of `page` from `start` to the next `end`.
fn section<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in the page"));
    let to = page[from..].find(end).map_or(page.len(), |at| from + at);
    &page[from..to]
}

/// The heights of the bars of `class` in an SVG, in order.
fn bar_heights(svg: &str, class: &str) -> Vec<f64> {
    svg.split(&format!("<rect class=\"{class}\""))
        .skip(1)
        .map(|rest| {
            let at = rest.find("height=\"").unwrap() + "height=\"".len();
            let end = rest[at..].find('"').unwrap();
            rest[at..at + end].parse().unwrap()
        })
        .collect()
}

/// The centre of mass of a histogram, in bins.
fn centre(heights: &[f64]) -> f64 {
    let total: f64 = heights.iter().sum();
    heights
        .iter()
        .enumerate()
        .map(|(i, h)| i as f64 * h)
        .sum::<f64>()
        / total
}

#[test]
fn the_html_report_is_one_offline_page_with_a_plot_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, current) = write_data(dir.path());
    let file = dir.path().join("report.html");
    drift(
        &reference,
        &current,
        "html",
        &["--output", file.to_str().unwrap()],
    );
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.starts_with("<!doctype html>"));

    // Offline: nothing is fetched, from anywhere.
    for outside in [
        "http://", "https://", "<link", "@import", "url(", "src=\"", "src='",
    ] {
        assert!(!page.contains(outside), "the page refers to {outside:?}");
    }
    // The data's text is escaped wherever it appears.
    assert!(!page.contains("<img"), "a column name became markup");
    assert!(!page.contains("<script>alert"), "a category became markup");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert_eq!(
        page.matches("<script>").count(),
        1,
        "only the sorting script"
    );

    // The summary and table agree with the JSON report of the same comparison.
    let json: Value =
        serde_json::from_slice(&drift(&reference, &current, "json", &[]).stdout).unwrap();
    let drifted = json["drifted_columns"].as_u64().unwrap();
    assert_eq!(drifted, 2, "moved and plan drift: {json:#}");
    assert!(page.contains(&format!("<dd id=\"drifted\">{drifted} of 4</dd>")));
    assert!(page.contains("class=\"verdict drift\""));
    let table = section(&page, "<table id=\"columns\">", "</table>");
    assert_eq!(
        table.matches("<tr>").count(),
        5,
        "a heading and four columns"
    );
    assert_eq!(table.matches("class=\"drift\">drifted</td>").count(), 2);
    assert!(section(&page, "<h2>Tests</h2>", "</ul>").contains("the default for numeric columns"));

    // One plot per column; the moved column's current bars sit to the right of the reference's.
    assert_eq!(page.matches("<article id=\"column-").count(), 4);
    let moved = section(&page, "data-column=\"moved\"", "</article>");
    let (r, c) = (
        bar_heights(moved, "reference"),
        bar_heights(moved, "current"),
    );
    assert_eq!((r.len(), c.len()), (40, 40));
    assert!(
        centre(&c) > centre(&r) + 5.0,
        "current centre {} vs reference {}",
        centre(&c),
        centre(&r)
    );
    let steady = section(&page, "data-column=\"steady\"", "</article>");
    let shift = centre(&bar_heights(steady, "current")) - centre(&bar_heights(steady, "reference"));
    assert!(shift.abs() < 1.0, "steady moved by {shift} bins");

    // The categorical plot marks the category that appeared and the one that vanished.
    let plan = section(&page, "data-column=\"plan\"", "</article>");
    assert_eq!(bar_heights(plan, "reference").len(), 5);
    assert!(plan.contains(">new</text>") && plan.contains(">gone</text>"));
    let enterprise = plan.find(">enterprise</text>").unwrap();
    let legacy = plan.find(">legacy</text>").unwrap();
    assert!(enterprise > 0 && legacy > 0);
}

#[test]
fn multivariate_tests_have_their_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, current) = write_data(dir.path());
    let page = String::from_utf8(
        drift(
            &reference,
            &current,
            "html",
            &[
                "--multivariate",
                "mmd",
                "--multivariate-columns",
                "moved,steady",
            ],
        )
        .stdout,
    )
    .unwrap();
    let table = section(&page, "<table id=\"multivariate\">", "</table>");
    assert!(
        table.contains("<td>mmd</td><td>moved, steady</td>"),
        "{table}"
    );
    assert!(table.contains("class=\"drift\">drifted</td>"), "{table}");
    // The verdict stays the columns' own.
    assert!(page.contains("<dd id=\"drifted\">2 of 4</dd>"));
}

#[test]
fn without_output_the_page_goes_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, current) = write_data(dir.path());
    let output = drift(&reference, &current, "html", &[]);
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
}
