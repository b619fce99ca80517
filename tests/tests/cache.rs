//! The on-disk cache of compiled plugins: a second process (here, a second runtime) reuses
//! what the first compiled, and a damaged entry is replaced rather than trusted.

use std::path::{Path, PathBuf};

use vigil_runtime::{ColumnData, DriftResult, Runtime, RuntimeConfig};
use vigil_tests::{component, load};

fn runtime_with_cache(dir: &Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

/// The files in the cache directory; temporary files must not outlive a write.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries
}

/// Two clearly separated samples: the KS statistic is 1.
fn evaluate_ks(runtime: &Runtime) -> DriftResult {
    let plugin = load(runtime, "drift-ks");
    let reference = ColumnData::Numeric((0..50).map(f64::from).collect());
    let current = ColumnData::Numeric((100..150).map(f64::from).collect());
    plugin
        .drift_test(runtime.shared(), &reference, "{}")
        .and_then(|mut session| session.evaluate(&current))
        .expect("the KS test runs")
}

#[test]
fn compiled_plugins_are_reused_across_runtimes_and_damaged_entries_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("components");

    let first = runtime_with_cache(&cache);
    let compiled = load(&first, "drift-ks");
    assert!(
        !compiled.from_cache(),
        "an empty cache cannot supply the code"
    );
    let expected = evaluate_ks(&first);
    assert_eq!(expected.statistic, 1.0);
    let files = entries(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let entry = &files[0];
    let name = entry.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(compiled.digest()), "{name}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    }

    let second = runtime_with_cache(&cache);
    assert!(load(&second, "drift-ks").from_cache());
    let result = evaluate_ks(&second);
    assert_eq!(result.statistic, expected.statistic);
    assert_eq!(result.p_value, expected.p_value);

    std::fs::write(entry, b"not a compiled component").unwrap();
    let third = runtime_with_cache(&cache);
    assert!(!load(&third, "drift-ks").from_cache());
    assert_eq!(evaluate_ks(&third).statistic, expected.statistic);
    assert_eq!(
        entries(&cache),
        files,
        "the damaged entry is rewritten in place"
    );

    let fourth = runtime_with_cache(&cache);
    assert!(load(&fourth, "drift-ks").from_cache());
}

#[cfg(unix)]
#[test]
fn a_directory_others_can_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime = runtime_with_cache(dir.path());
    let plugin = runtime.load(&component("drift-ks")).unwrap();
    assert!(!plugin.from_cache());
    assert!(entries(dir.path()).is_empty());
}
