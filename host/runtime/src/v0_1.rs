//! Components built for `vigil:plugin@0.1.0` run through the same [`crate::Plugin`] API as
//! those built for 0.2.0: their types are converted at the boundary. 0.1.0 has no multivariate
//! drift test, a policy there sees no earlier windows (`history.recent`) and no state, and its
//! decision keeps none.

use crate::bindings::v0_1::drift::vigil::plugin::types as old;
use crate::bindings::v0_1::policy::exports::vigil::plugin::policy as old_policy;
use crate::{
    Action, Batch, CategoricalColumn, Column, ColumnData, ColumnKind, Context, Decision,
    DriftResult, PluginError, PluginInfo, PluginKind, ScoreKind,
};

pub fn column_data(data: &ColumnData) -> old::ColumnData {
    match data {
        ColumnData::Numeric(values) => old::ColumnData::Numeric(values.clone()),
        ColumnData::Categorical(c) => old::ColumnData::Categorical(old::CategoricalColumn {
            categories: c.categories.clone(),
            codes: c.codes.clone(),
        }),
    }
}

fn column_data_back(data: old::ColumnData) -> ColumnData {
    match data {
        old::ColumnData::Numeric(values) => ColumnData::Numeric(values),
        old::ColumnData::Categorical(c) => ColumnData::Categorical(CategoricalColumn {
            categories: c.categories,
            codes: c.codes,
        }),
    }
}

pub fn batch(batch: &Batch) -> old::Batch {
    old::Batch {
        columns: batch
            .columns
            .iter()
            .map(|c| old::Column {
                name: c.name.clone(),
                data: column_data(&c.data),
            })
            .collect(),
    }
}

pub fn batch_back(batch: old::Batch) -> Batch {
    Batch {
        columns: batch
            .columns
            .into_iter()
            .map(|c| Column {
                name: c.name,
                data: column_data_back(c.data),
            })
            .collect(),
    }
}

pub fn error(error: old::Error) -> PluginError {
    match error {
        old::Error::InvalidConfig(m) => PluginError::InvalidConfig(m),
        old::Error::InvalidInput(m) => PluginError::InvalidInput(m),
        old::Error::Internal(m) => PluginError::Internal(m),
    }
}

/// A guest call's outcome with the guest's error converted.
pub fn result<T, U>(
    outcome: wasmtime::Result<Result<T, old::Error>>,
    convert: impl FnOnce(T) -> U,
) -> wasmtime::Result<Result<U, PluginError>> {
    outcome.map(|r| r.map(convert).map_err(error))
}

pub fn info(info: old::PluginInfo) -> PluginInfo {
    PluginInfo {
        name: info.name,
        version: info.version,
        kind: match info.kind {
            old::PluginKind::DriftTest => PluginKind::DriftTest,
            old::PluginKind::Detector => PluginKind::Detector,
            old::PluginKind::Preprocessor => PluginKind::Preprocessor,
            old::PluginKind::Policy => PluginKind::Policy,
        },
        description: info.description,
        config_schema: info.config_schema,
        column_kinds: info
            .column_kinds
            .into_iter()
            .map(|k| match k {
                old::ColumnKind::Numeric => ColumnKind::Numeric,
                old::ColumnKind::Categorical => ColumnKind::Categorical,
            })
            .collect(),
        score: match info.score {
            old::ScoreKind::PValue => ScoreKind::PValue,
            old::ScoreKind::Distance => ScoreKind::Distance,
        },
    }
}

pub fn drift_result(
    r: crate::bindings::v0_1::drift::exports::vigil::plugin::drift_test::DriftResult,
) -> DriftResult {
    DriftResult {
        statistic: r.statistic,
        p_value: r.p_value,
        threshold: r.threshold,
        drifted: r.drifted,
    }
}

/// The context as 0.1.0 has it: without `history.recent` and `state`.
pub fn context(context: &Context) -> old_policy::Context {
    let metric = |m: &crate::Metric| old_policy::Metric {
        name: m.name.clone(),
        value: m.value,
        reference: m.reference,
    };
    old_policy::Context {
        columns: context
            .columns
            .iter()
            .map(|c| old_policy::ColumnResult {
                column: c.column.clone(),
                test: c.test.clone(),
                statistic: c.statistic,
                p_value: c.p_value,
                drifted: c.drifted,
                failure: c.failure.clone(),
            })
            .collect(),
        metrics: context.metrics.iter().map(metric).collect(),
        history: old_policy::History {
            model_version: context.history.model_version.clone(),
            last_alert: context.history.last_alert,
            last_retrain: context.history.last_retrain,
            windows_since_retrain: context.history.windows_since_retrain,
        },
        now: context.now,
    }
}

/// A 0.1.0 decision; it keeps no state.
pub fn decision(decision: old_policy::Decision) -> Decision {
    Decision {
        action: match decision.action {
            old_policy::Action::None => Action::None,
            old_policy::Action::Alert => Action::Alert,
            old_policy::Action::Retrain => Action::Retrain,
            old_policy::Action::Rollback => Action::Rollback,
            old_policy::Action::Promote => Action::Promote,
        },
        reason: decision.reason,
        state: None,
    }
}
