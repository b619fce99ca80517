//! A policy with memory (daemon tests of the policy state): it counts drifted windows in a row
//! in its state and retrains at the second. The state is framed by bytes no text format allows,
//! and the policy fails if they come back changed, so a host that decodes, trims or re-encodes
//! them is caught. On purpose it can fail, or keep a state over the host's cap, at one window.

use vigil_plugin_sdk::{Action, Context, Decision, Error, MAX_STATE_BYTES, Policy, Result};

/// Framing of the state: NUL, invalid UTF-8, a quote, a backslash and a hex-looking pair.
const FRAME: &[u8] = &[0x00, 0xff, 0xfe, b'"', b'\\', 0x80, b'0', b'x'];

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Fails at the window with this many earlier windows.
    #[serde(default)]
    fail_at: Option<u32>,
    /// Keeps a state one byte over the cap at the window with this many earlier windows.
    #[serde(default)]
    oversize_at: Option<u32>,
    /// Not read: changing it changes the policy's configuration.
    #[serde(default)]
    label: String,
}

/// The counting policy.
pub struct Counter;

impl Policy for Counter {
    type Config = Config;
    const DESCRIPTION: &'static str = "Retrains on the second drifted window in a row";

    fn decide(context: Context, config: Config) -> Result<Decision> {
        Self::decide_keeping(context, config).map(|(decision, _)| decision)
    }

    fn decide_keeping(context: Context, config: Config) -> Result<(Decision, Option<Vec<u8>>)> {
        let _ = config.label;
        let before = match context.state.as_deref() {
            None => 0,
            Some([frame @ .., count]) if frame == FRAME => *count,
            Some(other) => {
                return Err(Error::InvalidInput(format!(
                    "the state came back changed: {other:?}"
                )));
            }
        };
        let window = context.history.recent.len() as u32;
        if config.fail_at == Some(window) {
            return Err(Error::Internal("failing on purpose".into()));
        }
        let drifted = context.columns.iter().any(|c| c.drifted);
        let run = if drifted { before + 1 } else { 0 };
        let (action, kept) = match run {
            0 => (Action::None, None),
            1 => (Action::None, Some(run)),
            // A retraining starts the count again.
            _ => (Action::Retrain, None),
        };
        let mut state = kept.map(|count| [FRAME, &[count]].concat());
        if config.oversize_at == Some(window) {
            state = Some(vec![7; MAX_STATE_BYTES + 1]);
        }
        let reason = format!("{run} drifted window(s) in a row");
        Ok((Decision { action, reason }, state))
    }
}

vigil_plugin_sdk::export_policy!(Counter);
