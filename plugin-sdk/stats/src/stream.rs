//! What every standard streaming detector does the same way: input checks made before any value
//! is used (so a rejected call leaves the state untouched) and the snapshot's byte format.

use serde::Serialize;
use serde::de::DeserializeOwned;
use vigil_plugin_sdk::{Error, Result};

/// Format version written as the first snapshot byte; the rest is the state in `postcard`.
const SNAPSHOT_VERSION: u8 = 1;

/// Rejects infinities: one would poison the running statistics for good.
pub fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| v.is_infinite()) {
        Some(index) => Err(Error::InvalidInput(format!(
            "value {index} of this update is {}; the detector takes finite numbers \
             (NaN marks a missing value and is skipped)",
            values[index]
        ))),
        None => Ok(()),
    }
}

/// Rejects anything but 0, 1 and NaN: `detector` watches an error stream.
pub fn check_bits(values: &[f64], detector: &str) -> Result<()> {
    match values
        .iter()
        .position(|&v| !(v == 0.0 || v == 1.0 || v.is_nan()))
    {
        Some(index) => Err(Error::InvalidInput(format!(
            "value {index} of this update is {}; {detector} watches an error stream of 0 \
             (correct) and 1 (error) values (NaN marks a missing value and is skipped)",
            values[index]
        ))),
        None => Ok(()),
    }
}

/// The snapshot of `state`: the version byte, then the state's fields (each f64 as its 8 bytes).
pub fn encode<T: Serialize>(state: &T) -> Vec<u8> {
    let mut out = vec![SNAPSHOT_VERSION];
    out.extend(postcard::to_allocvec(state).expect("detector state always serializes"));
    out
}

/// Parses a snapshot written by [`encode`], rejecting anything it could not have written.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], detector: &str) -> Result<T> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err(invalid(detector, "it is empty"));
    };
    if version != SNAPSHOT_VERSION {
        return Err(invalid(
            detector,
            &format!("format version {version} is not supported (expected {SNAPSHOT_VERSION})"),
        ));
    }
    match postcard::take_from_bytes::<T>(body) {
        Ok((state, [])) => Ok(state),
        Ok((_, rest)) => Err(invalid(
            detector,
            &format!("{} bytes are left over", rest.len()),
        )),
        Err(error) => Err(invalid(detector, &format!("it does not parse ({error})"))),
    }
}

/// The error for a snapshot this detector could not have written.
pub fn invalid(detector: &str, what: &str) -> Error {
    Error::InvalidInput(format!("invalid {detector} snapshot: {what}"))
}
