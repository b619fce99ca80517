//! The drift report as one self-contained HTML page (`vigil drift --format html`): styles,
//! plots (inline SVG) and the table's sorting script are all in the file, so it opens offline
//! and can be mailed or archived as it is. Every text that comes from the data (column names,
//! categories, file names, errors) is escaped. Layout and the plots' definitions are in
//! docs/statistics.md ("The HTML report").

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::plot::{CategoryBar, NUMERIC_BINS, OtherBar, Plot};
use super::report::{ColumnReport, Report};

const REFERENCE_COLOUR: &str = "#4c78a8";
const CURRENT_COLOUR: &str = "#f58518";

impl Report {
    /// The report as an HTML page.
    pub fn to_html(&self) -> String {
        let mut page = String::with_capacity(64 * 1024 + self.columns.len() * 8 * 1024);
        let title = format!(
            "Drift report: {} against {}",
            file_name(&self.current),
            file_name(&self.reference)
        );
        writeln!(
            page,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
            escape(&title)
        )
        .unwrap();
        self.write_summary(&mut page);
        self.write_table(&mut page);
        self.write_multivariate(&mut page);
        page.push_str("<section>\n<h2>Distributions</h2>\n");
        page.push_str(&format!(
            "<p class=\"legend\"><span class=\"swatch\" style=\"background:{REFERENCE_COLOUR}\">\
             </span>reference <span class=\"swatch\" style=\"background:{CURRENT_COLOUR}\"></span>\
             current &middot; bars are shares of each side's non-missing values</p>\n"
        ));
        for (index, column) in self.columns.iter().enumerate() {
            write_column(&mut page, index, column);
        }
        page.push_str("</section>\n");
        writeln!(page, "<script>{SCRIPT}</script>\n</body>\n</html>").unwrap();
        page
    }

    fn write_summary(&self, page: &mut String) {
        let drifted = self.drifted_columns();
        let failed = self.failed_columns();
        let total = self.columns.len();
        let share = if total == 0 {
            0.0
        } else {
            drifted as f64 / total as f64
        };
        let verdict = self.dataset_drift();
        writeln!(
            page,
            "<header>\n<h1>Drift report</h1>\n<p>Reference <code>{}</code>: {} rows &middot; \
             current <code>{}</code>: {} rows &middot; {} columns</p>\n</header>",
            escape(&self.reference),
            self.reference_rows,
            escape(&self.current),
            self.current_rows,
            total
        )
        .unwrap();
        writeln!(
            page,
            "<section class=\"summary\">\n<div class=\"verdict {}\" id=\"verdict\">{}</div>\n\
             <dl>\n<div><dt>Drifted columns</dt><dd id=\"drifted\">{drifted} of {total}</dd></div>\n\
             <div><dt>Drifted share</dt><dd>{} (dataset drift at {})</dd></div>\n\
             <div><dt>Failed tests</dt><dd id=\"failed\">{failed}</dd></div>\n</dl>",
            if verdict { "drift" } else { "stable" },
            if verdict {
                "Dataset drift"
            } else {
                "No dataset drift"
            },
            percent(share),
            percent(self.drift_share),
        )
        .unwrap();
        // The tests used, each with its columns and why they got it.
        let mut tests: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
        for column in &self.columns {
            tests
                .entry((&column.test, column.score, &column.chosen_by))
                .or_default()
                .push(&column.name);
        }
        page.push_str("<h2>Tests</h2>\n<ul class=\"tests\">\n");
        for ((test, score, chosen_by), columns) in tests {
            let reading = if score == "p-value" {
                "drift when its p-value is below the column's threshold"
            } else {
                "drift when the distance is at or above the column's threshold"
            };
            writeln!(
                page,
                "<li><b>{}</b> ({}; {}) on {} {}: {}</li>",
                escape(test),
                escape(score),
                reading,
                columns.len(),
                if columns.len() == 1 {
                    "column"
                } else {
                    "columns"
                },
                escape(chosen_by)
            )
            .unwrap();
        }
        page.push_str("</ul>\n</section>\n");
    }

    fn write_table(&self, page: &mut String) {
        page.push_str(
            "<section>\n<h2>Columns</h2>\n<p class=\"hint\">Click a heading to sort.</p>\n\
             <table id=\"columns\">\n<thead><tr>\
             <th data-type=\"text\">Column</th><th data-type=\"text\">Kind</th>\
             <th data-type=\"text\">Test</th><th data-type=\"number\">Statistic</th>\
             <th data-type=\"number\">p-value</th><th data-type=\"number\">Threshold</th>\
             <th data-type=\"text\">Verdict</th><th data-type=\"number\">Missing (reference)</th>\
             <th data-type=\"number\">Missing (current)</th></tr></thead>\n<tbody>\n",
        );
        for (index, column) in self.columns.iter().enumerate() {
            let ok = column.outcome.as_ref().ok();
            let number_cell = |value: Option<f64>| match value {
                Some(x) if x.is_finite() => format!("<td data-v=\"{x:e}\">{}</td>", number(x)),
                _ => "<td data-v=\"\">&ndash;</td>".to_string(),
            };
            let (verdict_class, verdict) = match &column.outcome {
                Ok(result) if result.drifted => ("drift", "drifted".to_string()),
                Ok(_) => ("stable", "stable".to_string()),
                Err(error) => ("failed", format!("failed: {error}")),
            };
            writeln!(
                page,
                "<tr><td data-v=\"{name}\"><a href=\"#column-{index}\">{name}</a></td>\
                 <td data-v=\"{kind}\">{kind}</td><td data-v=\"{test}\">{test}</td>{}{}{}\
                 <td data-v=\"{verdict_class}\" class=\"{verdict_class}\">{}</td>\
                 <td data-v=\"{mr}\">{mr}</td><td data-v=\"{mc}\">{mc}</td></tr>",
                number_cell(ok.map(|r| r.statistic)),
                number_cell(ok.and_then(|r| r.p_value)),
                number_cell(ok.map(|r| r.threshold)),
                escape(&verdict),
                name = escape(&column.name),
                kind = column.kind,
                test = escape(&column.test),
                mr = column.missing_reference,
                mc = column.missing_current,
            )
            .unwrap();
        }
        page.push_str("</tbody>\n</table>\n</section>\n");
    }
}

impl Report {
    /// The multivariate tests, when any ran: one row each, outside the dataset verdict.
    fn write_multivariate(&self, page: &mut String) {
        if self.multivariate.is_empty() {
            return;
        }
        page.push_str(
            "<section>\n<h2>Multivariate tests</h2>\n<p class=\"hint\">Each compares the rows \
             of several numeric columns at once; they do not count toward the dataset verdict.\
             </p>\n<table id=\"multivariate\">\n<thead><tr><th>Test</th><th>Columns</th>\
             <th>Statistic</th><th>p-value</th><th>Threshold</th><th>Verdict</th></tr></thead>\n\
             <tbody>\n",
        );
        for test in &self.multivariate {
            let ok = test.outcome.as_ref().ok();
            let cell = |value: Option<f64>| value.map_or("&ndash;".to_string(), number);
            let (class, verdict) = match &test.outcome {
                Ok(result) if result.drifted => ("drift", "drifted".to_string()),
                Ok(_) => ("stable", "stable".to_string()),
                Err(error) => ("failed", format!("failed: {error}")),
            };
            writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"{class}\">{}</td></tr>",
                escape(&test.test),
                escape(&test.columns.join(", ")),
                cell(ok.map(|r| r.statistic)),
                cell(ok.and_then(|r| r.p_value)),
                cell(ok.map(|r| r.threshold)),
                escape(&verdict),
            )
            .unwrap();
        }
        page.push_str("</tbody>\n</table>\n</section>\n");
    }
}

fn write_column(page: &mut String, index: usize, column: &ColumnReport) {
    let (class, badge) = match &column.outcome {
        Ok(result) if result.drifted => ("drift", "drifted"),
        Ok(_) => ("stable", "stable"),
        Err(_) => ("failed", "failed"),
    };
    write!(
        page,
        "<article id=\"column-{index}\" data-column=\"{name}\">\n<h3>{name} \
         <span class=\"badge {class}\">{badge}</span></h3>\n<p class=\"detail\">{kind}, {test}",
        name = escape(&column.name),
        kind = column.kind,
        test = escape(&column.test),
    )
    .unwrap();
    match &column.outcome {
        Ok(result) => {
            write!(page, ": statistic {}", number(result.statistic)).unwrap();
            if let Some(p) = result.p_value {
                write!(page, ", p-value {}", number(p)).unwrap();
            }
            write!(page, ", threshold {}", number(result.threshold)).unwrap();
        }
        Err(error) => write!(page, ": the test failed: {}", escape(error)).unwrap(),
    }
    writeln!(
        page,
        " &middot; missing: {} reference, {} current</p>",
        column.missing_reference, column.missing_current
    )
    .unwrap();
    match &column.plot {
        Some(Plot::Numeric {
            edges,
            reference,
            current,
            clipped_low,
            clipped_high,
        }) => numeric_svg(page, edges, reference, current, *clipped_low, *clipped_high),
        Some(Plot::Categorical { categories, other }) => {
            categorical_svg(page, categories, other.as_ref())
        }
        Some(Plot::Empty) | None => {
            page.push_str("<p class=\"hint\">No values on one side: nothing to plot.</p>\n")
        }
    }
    page.push_str("</article>\n");
}

/// Plot area: the SVG's width and the margins around the bars.
const WIDTH: f64 = 640.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;

fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

/// The largest share on either side (never zero, so that bars can be scaled by it).
fn top_share(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .chain(current)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(f64::MIN_POSITIVE)
}

/// Opens a plot's SVG and draws its axes, with the top share and zero as the y labels.
fn open_plot(page: &mut String, height: f64, label: &str, top_share: f64, plot_height: f64) {
    let bottom = TOP + plot_height;
    write!(
        page,
        "<svg class=\"plot\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{label}\">\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" class=\"axis\"/>\
         <line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" class=\"axis\"/>\
         <text x=\"{}\" y=\"{}\" class=\"tick end\">{}</text>\
         <text x=\"{}\" y=\"{bottom}\" class=\"tick end\">0%</text>",
        WIDTH - RIGHT,
        LEFT - 4.0,
        TOP + 8.0,
        percent(top_share),
        LEFT - 4.0,
    )
    .unwrap();
}

fn numeric_svg(
    page: &mut String,
    edges: &[f64],
    reference: &[u64],
    current: &[u64],
    clipped_low: bool,
    clipped_high: bool,
) {
    const HEIGHT: f64 = 190.0;
    const BOTTOM: f64 = 30.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let plot_width = WIDTH - LEFT - RIGHT;
    let (reference, current) = (shares(reference), shares(current));
    let top_share = top_share(&reference, &current);
    let bins = reference.len().max(1);
    let bar_width = plot_width / bins as f64;
    open_plot(
        page,
        HEIGHT,
        "histogram of reference and current",
        top_share,
        plot_height,
    );
    for (side, colour, values) in [
        ("reference", REFERENCE_COLOUR, &reference),
        ("current", CURRENT_COLOUR, &current),
    ] {
        for (i, &share) in values.iter().enumerate() {
            let height = share / top_share * plot_height;
            write!(
                page,
                "<rect class=\"{side}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" \
                 fill=\"{colour}\" fill-opacity=\"0.55\"><title>{side} {}: {} to {}</title></rect>",
                LEFT + bar_width * i as f64,
                TOP + plot_height - height,
                bar_width,
                height,
                percent(share),
                number(edges[i]),
                number(edges[(i + 1).min(edges.len() - 1)]),
            )
            .unwrap();
        }
    }
    let label_y = TOP + plot_height + 16.0;
    let first = if clipped_low {
        format!("&le; {}", number(edges[0]))
    } else {
        number(edges[0])
    };
    let last_edge = edges[edges.len() - 1];
    let last = if clipped_high {
        format!("&ge; {}", number(last_edge))
    } else {
        number(last_edge)
    };
    let middle = edges[edges.len() / 2];
    writeln!(
        page,
        "<text x=\"{LEFT}\" y=\"{label_y}\" class=\"tick\">{first}</text>\
         <text x=\"{}\" y=\"{label_y}\" class=\"tick middle\">{}</text>\
         <text x=\"{}\" y=\"{label_y}\" class=\"tick end\">{last}</text></svg>",
        LEFT + plot_width / 2.0,
        number(middle),
        WIDTH - RIGHT,
    )
    .unwrap();
    debug_assert!(bins <= NUMERIC_BINS);
}

fn categorical_svg(page: &mut String, bars: &[CategoryBar], other: Option<&OtherBar>) {
    const HEIGHT: f64 = 250.0;
    const BOTTOM: f64 = 90.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let plot_width = WIDTH - LEFT - RIGHT;
    let mut labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let mut reference: Vec<u64> = bars.iter().map(|b| b.reference).collect();
    let mut current: Vec<u64> = bars.iter().map(|b| b.current).collect();
    if let Some(other) = other {
        labels.push(format!("{} others", other.categories));
        reference.push(other.reference);
        current.push(other.current);
    }
    // Shares of each side's whole total, the summed categories included.
    let (reference_shares, current_shares) = (shares(&reference), shares(&current));
    let top_share = top_share(&reference_shares, &current_shares);
    let group = plot_width / labels.len().max(1) as f64;
    let bar = group * 0.4;
    open_plot(
        page,
        HEIGHT,
        "category shares of reference and current",
        top_share,
        plot_height,
    );
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + group * i as f64 + group * 0.1;
        for (offset, side, colour, share) in [
            (0.0, "reference", REFERENCE_COLOUR, reference_shares[i]),
            (bar, "current", CURRENT_COLOUR, current_shares[i]),
        ] {
            let height = share / top_share * plot_height;
            write!(
                page,
                "<rect class=\"{side}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{bar:.2}\" \
                 height=\"{height:.2}\" fill=\"{colour}\"><title>{} &middot; {side} {}</title></rect>",
                x + offset,
                TOP + plot_height - height,
                escape(label),
                percent(share),
            )
            .unwrap();
        }
        // A category on one side only is marked: new in the current data, or gone from it.
        let is_summary = other.is_some() && i == labels.len() - 1;
        let mark = match (reference[i], current[i]) {
            (0, _) if !is_summary => Some(("new", "mark-new")),
            (_, 0) if !is_summary => Some(("gone", "mark-gone")),
            _ => None,
        };
        if let Some((text, class)) = mark {
            write!(
                page,
                "<text x=\"{:.2}\" y=\"{:.2}\" class=\"mark {class}\">{text}</text>",
                x + bar,
                TOP + 10.0,
            )
            .unwrap();
        }
        let label_x = x + bar;
        let label_y = TOP + plot_height + 12.0;
        write!(
            page,
            "<text x=\"{label_x:.2}\" y=\"{label_y:.2}\" class=\"tick category\" \
             transform=\"rotate(-40 {label_x:.2} {label_y:.2})\">{}</text>",
            escape(&shortened(label, 18))
        )
        .unwrap();
    }
    page.push_str("</svg>\n");
}

/// At most `chars` characters, with an ellipsis when cut.
fn shortened(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(chars - 1).collect();
    cut.push('…');
    cut
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// A number for people: four significant digits, scientific notation for very large or small
/// magnitudes.
fn number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let magnitude = x.abs();
    if !(1e-4..1e6).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude.log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn percent(share: f64) -> String {
    format!("{}%", number(share * 100.0))
}

/// Text made safe for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
:root{color-scheme:light;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2433}\
body{margin:0 auto;max-width:980px;padding:24px}\
h1{margin:0 0 4px}h2{margin:28px 0 8px;font-size:1.2em}h3{margin:0 0 4px;font-size:1.05em}\
code{background:#f0f2f5;padding:1px 4px;border-radius:3px}\
.summary dl{display:flex;gap:24px;margin:12px 0}.summary dt{font-size:.8em;color:#5b6475}\
.summary dd{margin:0;font-size:1.3em;font-weight:600}\
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;font-weight:700}\
.verdict.drift{background:#fde2e1;color:#a11}.verdict.stable{background:#e2f5e6;color:#175c2b}\
table{border-collapse:collapse;width:100%;font-size:.9em}\
th,td{border-bottom:1px solid #e3e6eb;padding:4px 8px;text-align:left}\
th{cursor:pointer;user-select:none;background:#f7f8fa}th:hover{background:#eceef2}\
td.drift{color:#a11;font-weight:600}td.failed{color:#8a5a00}\
.badge{font-size:.75em;padding:1px 6px;border-radius:8px;vertical-align:middle}\
.badge.drift{background:#fde2e1;color:#a11}.badge.stable{background:#e2f5e6;color:#175c2b}\
.badge.failed{background:#fff1d6;color:#8a5a00}\
article{border-top:1px solid #e3e6eb;padding:14px 0}\
.detail,.hint,.legend{color:#5b6475;font-size:.85em;margin:2px 0 6px}\
.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 8px;opacity:.7}\
svg.plot{width:100%;max-width:640px;height:auto;display:block}\
.axis{stroke:#9aa3b2;stroke-width:1}.tick{font-size:10px;fill:#5b6475}\
.tick.end{text-anchor:end}.tick.middle{text-anchor:middle}.tick.category{text-anchor:end}\
.mark{font-size:10px;font-weight:700;text-anchor:middle}.mark-new{fill:#c2410c}.mark-gone{fill:#1d4ed8}\
ul.tests{padding-left:18px;margin:4px 0}";

/// Sorts the columns table by the clicked heading: numbers as numbers (a missing one last),
/// text as text; a second click reverses.
const SCRIPT: &str = "\
document.querySelectorAll('#columns th').forEach(function(th,i){th.addEventListener('click',\
function(){var body=th.closest('table').tBodies[0];var rows=Array.prototype.slice.call(body.rows);\
var numeric=th.dataset.type==='number';var down=th.dataset.order!=='asc';\
th.dataset.order=down?'asc':'desc';var value=function(r){var v=r.cells[i].dataset.v;\
return numeric?(v===''?Infinity:parseFloat(v)):v;};rows.sort(function(a,b){var x=value(a),y=value(b);\
var c=numeric?(x<y?-1:x>y?1:0):String(x).localeCompare(String(y));return down?c:-c;});\
rows.forEach(function(r){body.appendChild(r);});});});";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.12345), "0.1235");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(123456.0), "123456");
        assert_eq!(number(1.2e-19), "1.200e-19");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(percent(0.25), "25%");
    }

    #[test]
    fn text_from_the_data_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(shortened("abcdefghij", 5), "abcd…");
        assert_eq!(file_name("/tmp/a/b.csv"), "b.csv");
    }
}
