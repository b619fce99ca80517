//! The preprocessing stage: the preprocessors fitted on the reference at the first window (and
//! again after one failed), then each window transformed through them.

use vigil_runtime::{Batch, PreprocessorSession};

use super::{Prepared, config_text};
use crate::monitor::carried::Carried;
use crate::monitor::evaluation::Failure;
use crate::monitor::spec::PluginRef;
use crate::monitor::window::{Window, feature_batch};

/// The preprocessors fitted on the reference, and the reference they made: what each drift
/// test is built from.
pub(super) struct Fitted {
    pub(super) preprocessors: Vec<PreprocessorSession>,
    pub(super) reference: Batch,
}

impl Prepared {
    /// The window's features through the preprocessors, fitting them first if needed.
    /// On failure: the failure, and the plugins it put in quarantine.
    pub(super) fn preprocess(
        &mut self,
        window: &Window<'_>,
        carried: &mut Carried,
        now_ms: i64,
    ) -> Result<Batch, (Failure, Vec<String>)> {
        let batch = feature_batch(&self.spec, window.records);
        if self.preprocessors.is_empty() {
            return Ok(batch);
        }
        for (plugin_ref, _) in &self.preprocessors {
            if let Some(until) = carried.quarantined(&plugin_ref.plugin, now_ms) {
                return Err((Failure::quarantined(&plugin_ref.plugin, until), Vec::new()));
            }
        }
        let fail = |carried: &mut Carried, plugin_ref: &PluginRef, error: vigil_runtime::Error| {
            let failure = Failure::from_runtime(&plugin_ref.plugin, &error);
            let quarantined = failure.blames_plugin()
                && carried.count(&plugin_ref.plugin, Some(failure.message.clone()), now_ms);
            let newly = if quarantined {
                vec![plugin_ref.plugin.clone()]
            } else {
                Vec::new()
            };
            (failure, newly)
        };
        if self.fitted.is_none() {
            let mut reference = self.reference.clone();
            let mut sessions = Vec::new();
            for (plugin_ref, plugin) in &self.preprocessors {
                let fitted = plugin
                    .preprocessor(&self.budget, &reference, &config_text(plugin_ref))
                    .and_then(|mut session| {
                        let out = session.transform(&reference)?;
                        Ok((session, out))
                    });
                match fitted {
                    Ok((session, out)) => {
                        sessions.push(session);
                        reference = out;
                    }
                    Err(error) => return Err(fail(carried, plugin_ref, error)),
                }
            }
            // The drift tests are rebuilt from the new reference.
            for test in &mut self.tests {
                test.session = None;
            }
            self.fitted = Some(Fitted {
                preprocessors: sessions,
                reference,
            });
        }
        let fitted = self.fitted.as_mut().expect("fitted above");
        let mut batch = batch;
        for ((plugin_ref, _), session) in self.preprocessors.iter().zip(&mut fitted.preprocessors) {
            match session.transform(&batch) {
                Ok(out) => batch = out,
                Err(error) => {
                    // A session that failed may be broken: fit afresh next window.
                    self.fitted = None;
                    return Err(fail(carried, plugin_ref, error));
                }
            }
        }
        for (plugin_ref, _) in &self.preprocessors {
            carried.count(&plugin_ref.plugin, None, now_ms);
        }
        Ok(batch)
    }
}
