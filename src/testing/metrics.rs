//! Reading one series of a service's metrics registry, as a test asserts on it.

use prometheus::Registry;
use prometheus::proto::{Metric, MetricType};

/// The value of the counter or gauge `name` whose labels are exactly `labels`
/// in `registry`, or 0 when it has not been recorded (a counter no event has
/// touched yet has no series).
///
/// # Panics
/// When `name` is a histogram or summary: read those some other way.
pub fn value(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(family) = registry.gather().into_iter().find(|f| f.name() == name) else {
        return 0.0;
    };
    let matches = |m: &&Metric| {
        m.get_label().len() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| m.get_label().iter().any(|l| l.name() == *k && l.value() == *v))
    };
    let Some(metric) = family.get_metric().iter().find(matches) else {
        return 0.0;
    };
    match family.get_field_type() {
        MetricType::COUNTER => metric.get_counter().get_value(),
        MetricType::GAUGE => metric.get_gauge().get_value(),
        other => panic!("`{name}` is a {other:?}, neither a counter nor a gauge"),
    }
}
