//! The instance pool shared out by budgets: a budget that is full refuses its next instance
//! with a capacity error naming what to raise, the other budgets' instances are untouched, and
//! a freed slot is reused at once.

use vigil_runtime::{ColumnData, Error, Runtime, RuntimeConfig};
use vigil_tests::load;

#[test]
fn a_full_budget_refuses_instances_without_touching_the_others() {
    let runtime = Runtime::new(RuntimeConfig {
        pooling: true,
        pooled_instances: 4,
        shared_instances: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let monitor = runtime.reserve("monitor `m`", 2, None).unwrap();
    let error = runtime
        .reserve("monitor `n`", 1, None)
        .err()
        .expect("every slot is reserved");
    assert!(matches!(error, Error::Capacity(_)), "{error}");
    assert!(error.to_string().contains("plugin_instances"), "{error}");

    let plugin = load(&runtime, "drift-ks");
    let reference = ColumnData::Numeric((0..100).map(f64::from).collect());
    let first = plugin
        .drift_test(runtime.shared(), &reference, "{}")
        .unwrap();
    let mut second = plugin
        .drift_test(runtime.shared(), &reference, "{}")
        .unwrap();
    let error = plugin
        .drift_test(runtime.shared(), &reference, "{}")
        .err()
        .expect("the shared budget is full");
    assert!(matches!(error, Error::Capacity(_)), "{error}");
    assert!(!error.is_plugin_failure());
    assert!(error.to_string().contains("shared use"), "{error}");

    // The monitor's reservation is intact while the shared budget is full.
    let mut kept: Vec<_> = (0..2)
        .map(|_| plugin.drift_test(&monitor, &reference, "{}").unwrap())
        .collect();
    assert!(plugin.drift_test(&monitor, &reference, "{}").is_err());
    assert_eq!(monitor.in_use(), 2);
    for session in &mut kept {
        assert_eq!(session.evaluate(&reference).unwrap().statistic, 0.0);
    }

    // Live sessions keep working, and a freed slot is reused.
    assert_eq!(second.evaluate(&reference).unwrap().statistic, 0.0);
    drop(first);
    let mut third = plugin
        .drift_test(runtime.shared(), &reference, "{}")
        .unwrap();
    assert_eq!(third.evaluate(&reference).unwrap().statistic, 0.0);
    // A dropped budget gives its slots back once its instances are gone.
    drop(monitor);
    assert!(runtime.reserve("monitor `n`", 1, None).is_err());
    drop(kept);
    assert!(runtime.reserve("monitor `n`", 2, None).is_ok());
}
