//! Compiling, checking and caching plugin components.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, types::ComponentItem};
use wasmtime::{Engine, Store};

use crate::bindings::{World, detector, drift, policy, preprocessor};
use crate::config::RuntimeConfig;
use crate::error::Error;
use crate::host::StoreData;
use crate::{PluginInfo, call};

/// Import prefixes a plugin may have. Rust's standard library, through the WASI preview 1
/// adapter, imports the CLI, I/O, clock, random and filesystem interfaces; they are linked with
/// nothing granted (no preopened directories, no environment). Sockets, HTTP and anything
/// else are refused at load time.
const ALLOWED_IMPORTS: &[&str] = &[
    "vigil:plugin/host@0.1.",
    "vigil:plugin/types@0.1.",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
];

/// The plugin host: one engine, a linker with what plugins may import, and a cache of
/// compiled plugins keyed by the sha256 of their bytes.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub engine: Engine,
    pub linker: Linker<StoreData>,
    pub config: RuntimeConfig,
    cache: Mutex<HashMap<String, Arc<Plugin>>>,
}

/// A compiled, checked plugin, ready to instantiate.
pub struct Plugin {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: Arc<str>,
    digest: String,
    info: PluginInfo,
    pub(crate) pre: Pre,
}

pub(crate) enum Pre {
    DriftTest(drift::DriftTestPluginPre<StoreData>),
    Detector(detector::DetectorPluginPre<StoreData>),
    Preprocessor(preprocessor::PreprocessorPluginPre<StoreData>),
    Policy(policy::PolicyPluginPre<StoreData>),
}

impl Runtime {
    /// Builds the engine and linker, and starts the epoch ticker that enforces deadlines.
    pub fn new(config: RuntimeConfig) -> Result<Self, Error> {
        let engine = Engine::new(&config.engine_config()).map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(host_error)?;
        crate::bindings::host::add_to_linker::<StoreData, wasmtime::component::HasSelf<StoreData>>(
            &mut linker,
            |data| data,
        )
        .map_err(host_error)?;
        start_epoch_ticker(&engine, config.epoch_tick);
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                linker,
                config,
                cache: Mutex::default(),
            }),
        })
    }

    /// The limits every store gets.
    pub fn config(&self) -> &RuntimeConfig {
        &self.shared.config
    }

    /// Compiles and checks a component, or returns the cached plugin with the same bytes.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<Plugin>, Error> {
        let digest = hex::encode(Sha256::digest(bytes));
        if let Some(plugin) = self.shared.cache.lock().expect("cache lock").get(&digest) {
            return Ok(plugin.clone());
        }
        let plugin = Arc::new(self.compile(bytes, digest.clone())?);
        tracing::debug!(
            plugin = %plugin.info.name,
            version = %plugin.info.version,
            digest = %digest,
            "plugin loaded"
        );
        self.shared
            .cache
            .lock()
            .expect("cache lock")
            .insert(digest, plugin.clone());
        Ok(plugin)
    }

    fn compile(&self, bytes: &[u8], digest: String) -> Result<Plugin, Error> {
        let shared = &self.shared;
        if wasmparser_is_core_module(bytes) {
            return Err(Error::InvalidComponent(
                "this is a core WebAssembly module, not a component; build the plugin with \
                 `vigil plugin build`"
                    .into(),
            ));
        }
        let component = Component::from_binary(&shared.engine, bytes).map_err(|e| {
            Error::InvalidComponent(format!("not a valid WebAssembly component: {e}"))
        })?;
        let world = check_shape(&shared.engine, &component)?;
        let instance_pre = shared.linker.instantiate_pre(&component).map_err(|e| {
            Error::InvalidComponent(format!(
                "its imports do not match what Vigil provides: {e:#}"
            ))
        })?;
        let mismatch = |e: wasmtime::Error| {
            Error::InvalidComponent(format!(
                "its exports do not match the `{}` world of vigil:plugin@0.1.0: {e:#}",
                world.name()
            ))
        };
        let pre = match world {
            World::DriftTest => {
                Pre::DriftTest(drift::DriftTestPluginPre::new(instance_pre).map_err(mismatch)?)
            }
            World::Detector => {
                Pre::Detector(detector::DetectorPluginPre::new(instance_pre).map_err(mismatch)?)
            }
            World::Preprocessor => Pre::Preprocessor(
                preprocessor::PreprocessorPluginPre::new(instance_pre).map_err(mismatch)?,
            ),
            World::Policy => {
                Pre::Policy(policy::PolicyPluginPre::new(instance_pre).map_err(mismatch)?)
            }
        };
        let mut plugin = Plugin {
            shared: shared.clone(),
            name: Arc::from(format!("<{}>", &digest[..12])),
            digest,
            info: PluginInfo {
                name: String::new(),
                version: String::new(),
                kind: world.kind(),
                description: String::new(),
                config_schema: String::new(),
                column_kinds: Vec::new(),
                score: crate::ScoreKind::PValue,
            },
            pre,
        };
        let info = plugin.call_info()?;
        check_info(&info, world)?;
        plugin.name = Arc::from(info.name.as_str());
        plugin.info = info;
        Ok(plugin)
    }
}

impl Plugin {
    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The hex sha256 of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub(crate) fn new_store(&self) -> Store<StoreData> {
        let mut store = Store::new(
            &self.shared.engine,
            StoreData::new(self.name.clone(), &self.shared.config),
        );
        store.limiter(|data| &mut data.limiter);
        store.epoch_deadline_trap();
        store
    }

    fn call_info(&self) -> Result<PluginInfo, Error> {
        let mut store = self.new_store();
        let config = &self.shared.config;
        match &self.pre {
            Pre::DriftTest(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
            }
            Pre::Detector(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
            }
            Pre::Preprocessor(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
            }
            Pre::Policy(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
            }
        }
    }
}

/// A core module starts with the magic and version 1; a component has layer 1 in its header.
fn wasmparser_is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

/// Finds the one Vigil world the component exports, and refuses imports the host does not grant.
fn check_shape(engine: &Engine, component: &Component) -> Result<World, Error> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let worlds: Vec<World> = World::ALL
        .into_iter()
        .filter(|w| exports.iter().any(|e| e == w.interface()))
        .collect();
    let world = match worlds.as_slice() {
        [world] => *world,
        [] => {
            return Err(Error::InvalidComponent(format!(
                "it exports [{}], but a Vigil plugin exports one of {}",
                exports.join(", "),
                World::ALL
                    .map(|w| format!("`{}`", w.interface()))
                    .join(", ")
            )));
        }
        several => {
            return Err(Error::InvalidComponent(format!(
                "it exports several plugin interfaces ({}); a plugin implements exactly one world",
                several
                    .iter()
                    .map(|w| w.interface())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    if !exports.iter().any(|e| e == "info") {
        return Err(Error::InvalidComponent(format!(
            "it exports `{}` but not the `info` function every Vigil plugin has",
            world.interface()
        )));
    }
    for (name, item) in ty.imports(engine) {
        let allowed = ALLOWED_IMPORTS
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if !allowed || !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            return Err(Error::InvalidComponent(format!(
                "it imports `{name}`, which Vigil does not grant to plugins"
            )));
        }
    }
    Ok(world)
}

fn check_info(info: &PluginInfo, world: World) -> Result<(), Error> {
    if info.kind != world.kind() {
        return Err(Error::InvalidComponent(format!(
            "its info says kind {:?}, but it exports the `{}` world",
            info.kind,
            world.name()
        )));
    }
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !name_ok {
        return Err(Error::InvalidComponent(format!(
            "its name {:?} is not 1-64 characters of a-z, 0-9, '-' or '_'",
            info.name
        )));
    }
    let parts: Vec<&str> = info
        .version
        .split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Error::InvalidComponent(format!(
            "its version {:?} is not a semantic version like 1.2.3",
            info.version
        )));
    }
    Ok(())
}

fn host_error(e: wasmtime::Error) -> Error {
    Error::Host(format!("{e:#}"))
}

/// Advances the engine's epoch every `tick`, for as long as the engine lives.
fn start_epoch_ticker(engine: &Engine, tick: std::time::Duration) {
    let weak = engine.weak();
    thread::Builder::new()
        .name("vigil-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(tick);
            }
        })
        .expect("spawn epoch ticker thread");
}
