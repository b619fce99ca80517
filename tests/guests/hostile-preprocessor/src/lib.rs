//! A preprocessor that fits normally and fails on purpose when transforming windows, as
//! configured (host containment tests).

use std::cell::Cell;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_hostile::{Mode as Shared, misbehave};
use vigil_plugin_sdk::{Batch, ColumnData, Error, Preprocessor, Result};

/// Which failure to commit when transforming a window: one every hostile guest shares
/// (`vigil-hostile`), or one of a preprocessor's own.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(with = "String")]
pub enum Mode {
    /// Return one row fewer than it was given.
    DropRow,
    /// Return numeric columns as categorical ones.
    Retype,
    /// A shared failure mode.
    Shared(Shared),
}

impl TryFrom<String> for Mode {
    type Error = String;

    fn try_from(name: String) -> Result<Mode, String> {
        Ok(match name.as_str() {
            "drop-row" => Mode::DropRow,
            "retype" => Mode::Retype,
            other => Mode::Shared(
                Shared::from_name(other).ok_or_else(|| format!("unknown mode `{other}`"))?,
            ),
        })
    }
}

/// Configuration: the failure mode.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Config {
    /// What to do when transforming a window.
    pub mode: Mode,
}

/// The misbehaving preprocessor.
pub struct Hostile {
    mode: Mode,
    transforms: Cell<u32>,
}

impl Preprocessor for Hostile {
    type Config = Config;
    const DESCRIPTION: &'static str = "Misbehaves on purpose (host containment tests)";

    fn fit(_reference: Batch, config: Config) -> Result<Self> {
        Ok(Hostile {
            mode: config.mode,
            transforms: Cell::new(0),
        })
    }

    fn transform(&self, mut input: Batch) -> Result<Batch> {
        // The first transform is the reference's, at fitting: it behaves.
        self.transforms.set(self.transforms.get() + 1);
        if self.transforms.get() == 1 {
            return Ok(input);
        }
        match self.mode {
            Mode::Shared(shared) => misbehave(shared).map_err(Error::InvalidInput)?,
            Mode::DropRow => {
                for column in &mut input.columns {
                    if let ColumnData::Numeric(values) = &mut column.data {
                        values.pop();
                    }
                }
            }
            Mode::Retype => {
                for column in &mut input.columns {
                    if let ColumnData::Numeric(values) = &column.data {
                        let text: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                        column.data =
                            ColumnData::categorical(text.iter().map(|t| Some(t.as_str())));
                    }
                }
            }
        }
        Ok(input)
    }
}

vigil_plugin_sdk::export_preprocessor!(Hostile);
