//! Deterministic names for what the backends create.

use sha2::{Digest, Sha256};

/// A name for an object made for `key` (an action's key): `prefix-model-hash`, a DNS-1123
/// label of at most 63 characters (what Kubernetes accepts as a Job's name), the same for the
/// same key on every replica and after every restart. The hash (40 bits of SHA-256 of the key)
/// tells runs apart; the prefix and the model are there for people reading `kubectl get jobs`.
pub fn object_name(prefix: &str, model: &str, key: &str) -> String {
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..5]);
    let readable: String = format!("{prefix}-{model}")
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    // 63 = readable part + '-' + 10 hex digits.
    let readable = readable.trim_matches('-');
    let mut readable = &readable[..readable.len().min(63 - 11)];
    readable = readable.trim_end_matches('-');
    if readable.is_empty() || !readable.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return format!("v-{hash}");
    }
    format!("{readable}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_label(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    #[test]
    fn names_are_stable_distinct_and_valid() {
        let a = object_name("vigil-train", "churn", "monitor/1/window/5000/retrain");
        assert_eq!(
            a,
            object_name("vigil-train", "churn", "monitor/1/window/5000/retrain")
        );
        assert!(a.starts_with("vigil-train-churn-"), "{a}");
        assert_ne!(
            a,
            object_name("vigil-train", "churn", "monitor/1/window/6000/retrain")
        );
        for model in [
            "churn",
            "Churn_Model.v2",
            "",
            "--",
            "9lives",
            &"x".repeat(200),
            "ü-ß",
        ] {
            let name = object_name("vigil-train", model, "k");
            assert!(is_dns_label(&name), "{name:?} from {model:?}");
            let name = object_name("", model, "k");
            assert!(
                is_dns_label(&name),
                "{name:?} from {model:?} without a prefix"
            );
        }
    }
}
