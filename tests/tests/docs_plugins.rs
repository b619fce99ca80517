//! The worked examples of docs/plugins.md are excerpts of the standard plugins' sources. Each
//! `rust` block that starts with a `// plugins/…` (or `// plugin-sdk/…`) line must be found in that file: its parts
//! (split at `// …` lines) verbatim and in order, so that the page and the code cannot part.

use std::fs;

use vigil_tests::workspace;

/// The excerpts of `docs`: (source path, the parts of the block in order).
fn excerpts(docs: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for block in docs.split("```rust\n").skip(1) {
        let block = &block[..block.find("```").expect("a closed block")];
        let Some((first, body)) = block.split_once('\n') else {
            continue;
        };
        let Some(path) = first.strip_prefix("// ") else {
            continue;
        };
        if !(path.starts_with("plugins/") || path.starts_with("plugin-sdk/")) {
            continue;
        }
        let mut parts = vec![String::new()];
        for line in body.lines() {
            if line.trim() == "// …" {
                parts.push(String::new());
            } else {
                let part = parts.last_mut().unwrap();
                part.push_str(line);
                part.push('\n');
            }
        }
        found.push((path.to_string(), parts));
    }
    found
}

#[test]
fn every_excerpt_in_the_plugin_guide_is_in_its_source() {
    let docs = fs::read_to_string(workspace().join("docs/plugins.md")).unwrap();
    let excerpts = excerpts(&docs);
    assert!(
        excerpts.len() >= 4,
        "found only {} excerpts",
        excerpts.len()
    );
    for (path, parts) in excerpts {
        let source = fs::read_to_string(workspace().join(&path))
            .unwrap_or_else(|e| panic!("docs/plugins.md quotes {path}, which cannot be read: {e}"));
        let mut rest = source.as_str();
        for part in parts {
            let at = rest.find(&part).unwrap_or_else(|| {
                panic!("docs/plugins.md quotes {path}, but the source no longer has (in order):\n{part}")
            });
            rest = &rest[at + part.len()..];
        }
    }
}

#[test]
fn a_changed_source_is_caught() {
    let docs = "```rust\n// plugins/drift-kuiper/src/lib.rs\nfn not_there() {}\n```\n";
    let excerpts = excerpts(docs);
    assert_eq!(excerpts.len(), 1);
    let source = fs::read_to_string(workspace().join(&excerpts[0].0)).unwrap();
    assert!(!source.contains(&excerpts[0].1[0]));
}
