//! The pooling allocator: a full pool is a host error that names the setting to raise, and it
//! clears as soon as an instance is dropped.

use vigil_runtime::{ColumnData, Error, Runtime, RuntimeConfig};
use vigil_tests::load;

#[test]
fn a_full_instance_pool_is_a_host_error_until_a_session_drops() {
    let runtime = Runtime::new(RuntimeConfig {
        pooling: true,
        pooled_instances: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let plugin = load(&runtime, "drift-ks");
    let reference = ColumnData::Numeric((0..100).map(f64::from).collect());
    let first = plugin.drift_test(&reference, "{}").unwrap();
    let mut second = plugin.drift_test(&reference, "{}").unwrap();

    let error = plugin
        .drift_test(&reference, "{}")
        .err()
        .expect("the pool is full");
    assert!(matches!(error, Error::Host(_)), "{error}");
    assert!(!error.is_plugin_failure());
    assert!(error.to_string().contains("plugin_instances"), "{error}");

    // Live sessions keep working, and a freed slot is reused.
    assert_eq!(second.evaluate(&reference).unwrap().statistic, 0.0);
    drop(first);
    let mut third = plugin.drift_test(&reference, "{}").unwrap();
    assert_eq!(third.evaluate(&reference).unwrap().statistic, 0.0);
}
