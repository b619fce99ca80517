//! Run a plugin natively the way the host runs it: JSON configuration in, the kind's entry
//! points called in the same order. For `cargo test` in a plugin crate.

use crate::{
    Batch, ColumnData, Context, Decision, Detector, DriftResult, DriftTest, Error,
    MultivariateDriftTest, Policy, Preprocessor, parse_config,
};

/// Builds a drift test from `reference` and `config` (JSON) and evaluates it on `current`.
pub fn drift_test<P: DriftTest>(
    reference: ColumnData,
    current: ColumnData,
    config: &str,
) -> Result<DriftResult, Error> {
    let test = P::new(reference, parse_config(config)?)?;
    test.evaluate(current)
}

/// Builds a multivariate drift test from `reference` and `config` (JSON) and evaluates it on
/// `current`.
pub fn multivariate_drift_test<P: MultivariateDriftTest>(
    reference: Batch,
    current: Batch,
    config: &str,
) -> Result<DriftResult, Error> {
    let test = P::new(reference, parse_config(config)?)?;
    test.evaluate(current)
}

/// Creates a detector from `config` (JSON).
pub fn detector<P: Detector>(config: &str) -> Result<P, Error> {
    P::new(parse_config(config)?)
}

/// Round-trips a detector through its snapshot, as the host does between windows.
pub fn detector_round_trip<P: Detector>(detector: &P, config: &str) -> Result<P, Error> {
    P::restore(&detector.snapshot(), parse_config(config)?)
}

/// Fits a preprocessor on `reference` and transforms `input`.
pub fn preprocess<P: Preprocessor>(
    reference: Batch,
    input: Batch,
    config: &str,
) -> Result<Batch, Error> {
    P::fit(reference, parse_config(config)?)?.transform(input)
}

/// Runs a policy on `context` with `config` (JSON); the state it keeps is left out (see
/// [`decide_keeping`]).
pub fn decide<P: Policy>(context: Context, config: &str) -> Result<Decision, Error> {
    decide_keeping::<P>(context, config).map(|(decision, _)| decision)
}

/// Runs a policy on `context` with `config` (JSON): the decision and the state it keeps.
pub fn decide_keeping<P: Policy>(
    context: Context,
    config: &str,
) -> Result<(Decision, Option<Vec<u8>>), Error> {
    P::decide_keeping(context, parse_config(config)?)
}

/// Runs a policy on one window after another, as a monitor does: each window's context is
/// given the state the decision before kept (the first is given `state` as it is).
pub fn decide_windows<P: Policy>(
    contexts: impl IntoIterator<Item = Context>,
    config: &str,
) -> Result<Vec<Decision>, Error> {
    let mut state = None;
    let mut decisions = Vec::new();
    for (i, mut context) in contexts.into_iter().enumerate() {
        if i > 0 {
            context.state = state.take();
        }
        let (decision, kept) = decide_keeping::<P>(context, config)?;
        if kept
            .as_ref()
            .is_some_and(|s| s.len() > crate::MAX_STATE_BYTES)
        {
            return Err(Error::Internal(format!(
                "the policy kept more than {} bytes of state",
                crate::MAX_STATE_BYTES
            )));
        }
        state = kept;
        decisions.push(decision);
    }
    Ok(decisions)
}
