//! A preprocessor that fits normally and fails on purpose when transforming windows, as
//! configured (host containment tests).

use std::cell::Cell;

use vigil_hostile::{Config, Mode, misbehave};
use vigil_plugin_sdk::{Batch, Error, Preprocessor, Result};

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

    fn transform(&self, input: Batch) -> Result<Batch> {
        // The host transforms the reference right after fitting: that first call behaves, so
        // the failure lands on a window.
        self.transforms.set(self.transforms.get() + 1);
        if self.transforms.get() > 1 {
            misbehave(self.mode).map_err(Error::InvalidInput)?;
        }
        Ok(input)
    }
}

vigil_plugin_sdk::export_preprocessor!(Hostile);
