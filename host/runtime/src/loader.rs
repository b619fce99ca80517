//! Compiling, checking and caching plugin components.

use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, types::ComponentItem};
use wasmtime::{Engine, Store};

use crate::bindings::{
    CONTRACT, Contract, World, detector, drift, multivariate, policy, preprocessor, v0_1,
};
use crate::budget::{Budget, Pool};
use crate::config::{Limits, RuntimeConfig};
use crate::error::Error;
use crate::host::StoreData;
use crate::{CallObserver, PluginInfo, call};

/// Import prefixes a plugin may have: Vigil's interfaces of each version of the contract the
/// host runs (see [`Contract`]), and WASI. Rust's standard library, through the WASI preview 1
/// adapter, imports the CLI, I/O, clock, random and filesystem interfaces; Python plugins
/// (componentize-py) import the socket interfaces too. All are linked with nothing granted: no
/// preopened directories, no environment, no socket may bind, connect or look a name up (see
/// `wasi::context`). HTTP and anything else are refused at load time.
const ALLOWED_IMPORTS: &[&str] = &[
    "vigil:plugin/host@0.2.",
    "vigil:plugin/types@0.2.",
    "vigil:plugin/host@0.1.",
    "vigil:plugin/types@0.1.",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// The plugin host: one engine, a linker with what plugins may import, and a cache of
/// compiled plugins keyed by the sha256 of their bytes (in memory, and on disk if
/// [`RuntimeConfig::cache_dir`] is set).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub engine: Engine,
    pub linker: Linker<StoreData>,
    pub config: RuntimeConfig,
    pool: Arc<Pool>,
    shared: Budget,
    cache: Mutex<HashMap<String, Arc<Plugin>>>,
    disk_cache: Option<DiskCache>,
}

/// A compiled, checked plugin, ready to instantiate.
pub struct Plugin {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: Arc<str>,
    digest: String,
    from_cache: bool,
    info: PluginInfo,
    pub(crate) pre: Pre,
    /// The runtime's configuration with this plugin's limits in place.
    pub(crate) config: RuntimeConfig,
    /// Told of every call into this plugin.
    observer: Option<Arc<dyn CallObserver>>,
}

#[derive(Clone)]
pub(crate) enum Pre {
    DriftTest(drift::DriftTestPluginPre<StoreData>),
    Detector(detector::DetectorPluginPre<StoreData>),
    Preprocessor(preprocessor::PreprocessorPluginPre<StoreData>),
    Policy(policy::PolicyPluginPre<StoreData>),
    MultivariateDriftTest(multivariate::MultivariateDriftTestPluginPre<StoreData>),
    /// Components built for `vigil:plugin@0.1.0`.
    DriftTestV0_1(v0_1::drift::DriftTestPluginPre<StoreData>),
    DetectorV0_1(v0_1::detector::DetectorPluginPre<StoreData>),
    PreprocessorV0_1(v0_1::preprocessor::PreprocessorPluginPre<StoreData>),
    PolicyV0_1(v0_1::policy::PolicyPluginPre<StoreData>),
}

impl Runtime {
    /// Builds the engine and linker, and starts the epoch ticker that enforces deadlines.
    pub fn new(config: RuntimeConfig) -> Result<Self, Error> {
        let engine = match Engine::new(&config.engine_config(config.pooling)) {
            Ok(engine) => engine,
            Err(error) if config.pooling => {
                tracing::warn!(
                    error = %format!("{error:#}"),
                    "cannot reserve the plugin instance pool; allocating instances on demand"
                );
                Engine::new(&config.engine_config(false)).map_err(host_error)?
            }
            Err(error) => return Err(host_error(error)),
        };
        let mut linker = Linker::new(&engine);
        crate::wasi::add_to_linker(&mut linker).map_err(host_error)?;
        crate::bindings::host::add_to_linker::<StoreData, wasmtime::component::HasSelf<StoreData>>(
            &mut linker,
            |data| data,
        )
        .map_err(host_error)?;
        v0_1::drift::vigil::plugin::host::add_to_linker::<
            StoreData,
            wasmtime::component::HasSelf<StoreData>,
        >(&mut linker, |data| data)
        .map_err(host_error)?;
        start_epoch_ticker(&engine, config.epoch_tick);
        let disk_cache = config
            .cache_dir
            .as_deref()
            .and_then(|dir| DiskCache::open(dir, &engine));
        let pool = Pool::new(config.pooled_instances);
        let shared = Budget::reserve(
            &pool,
            "shared use",
            config.shared_instances.min(config.pooled_instances),
            None,
        )?;
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                linker,
                config,
                pool,
                shared,
                cache: Mutex::default(),
                disk_cache,
            }),
        })
    }

    /// The limits every store gets.
    pub fn config(&self) -> &RuntimeConfig {
        &self.shared.config
    }

    /// Reserves `slots` instance slots for `owner` (a monitor), with at most
    /// `output_per_window` bytes of log output per window if given (see [`Budget`]).
    /// Fails with [`Error::Capacity`] when the runtime has fewer slots left to reserve.
    pub fn reserve(
        &self,
        owner: &str,
        slots: u32,
        output_per_window: Option<usize>,
    ) -> Result<Budget, Error> {
        Budget::reserve(&self.shared.pool, owner, slots, output_per_window)
    }

    /// The budget of everything without one of its own: loading plugins, replays, one-shot
    /// commands. It holds [`RuntimeConfig::shared_instances`] slots.
    pub fn shared(&self) -> &Budget {
        &self.shared.shared
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
            from_cache = plugin.from_cache,
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
        let (component, from_cache) = match &shared.disk_cache {
            Some(disk) => match disk.read(&shared.engine, &digest) {
                Some(component) => (component, true),
                None => (compile_component(&shared.engine, bytes)?, false),
            },
            None => (compile_component(&shared.engine, bytes)?, false),
        };
        let (contract, world) = check_shape(&shared.engine, &component)?;
        let instance_pre = shared.linker.instantiate_pre(&component).map_err(|e| {
            Error::InvalidComponent(format!(
                "its imports do not match what Vigil provides: {e:#}"
            ))
        })?;
        let mismatch = |e: wasmtime::Error| {
            Error::InvalidComponent(format!(
                "its exports do not match the `{}` world of vigil:plugin@{}: {e:#}",
                world.name(),
                contract.version()
            ))
        };
        let pre = match (contract, world) {
            (Contract::V0_1, World::DriftTest) => Pre::DriftTestV0_1(
                v0_1::drift::DriftTestPluginPre::new(instance_pre).map_err(mismatch)?,
            ),
            (Contract::V0_1, World::Detector) => Pre::DetectorV0_1(
                v0_1::detector::DetectorPluginPre::new(instance_pre).map_err(mismatch)?,
            ),
            (Contract::V0_1, World::Preprocessor) => Pre::PreprocessorV0_1(
                v0_1::preprocessor::PreprocessorPluginPre::new(instance_pre).map_err(mismatch)?,
            ),
            (Contract::V0_1, World::Policy) => {
                Pre::PolicyV0_1(v0_1::policy::PolicyPluginPre::new(instance_pre).map_err(mismatch)?)
            }
            (Contract::V0_1, World::MultivariateDriftTest) => {
                unreachable!("0.1.0 has no multivariate world (Contract::worlds)")
            }
            (Contract::V0_2, World::DriftTest) => {
                Pre::DriftTest(drift::DriftTestPluginPre::new(instance_pre).map_err(mismatch)?)
            }
            (Contract::V0_2, World::Detector) => {
                Pre::Detector(detector::DetectorPluginPre::new(instance_pre).map_err(mismatch)?)
            }
            (Contract::V0_2, World::Preprocessor) => Pre::Preprocessor(
                preprocessor::PreprocessorPluginPre::new(instance_pre).map_err(mismatch)?,
            ),
            (Contract::V0_2, World::Policy) => {
                Pre::Policy(policy::PolicyPluginPre::new(instance_pre).map_err(mismatch)?)
            }
            (Contract::V0_2, World::MultivariateDriftTest) => Pre::MultivariateDriftTest(
                multivariate::MultivariateDriftTestPluginPre::new(instance_pre)
                    .map_err(mismatch)?,
            ),
        };
        let mut plugin = Plugin {
            shared: shared.clone(),
            name: Arc::from(format!("<{}>", &digest[..12])),
            digest,
            from_cache,
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
            config: shared.config.clone(),
            observer: None,
        };
        let info = plugin.call_info()?;
        check_info(&info, world)?;
        plugin.name = Arc::from(info.name.as_str());
        plugin.info = info;
        // Stored only once every check passed, so the directory holds plugins that load.
        if let (Some(disk), false) = (&shared.disk_cache, from_cache) {
            disk.write(&plugin.digest, &component);
        }
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

    /// The limits its calls run under.
    pub fn limits(&self) -> Limits {
        self.config.limits()
    }

    /// The same plugin under other limits (its compiled code shared). A memory cap above the
    /// runtime's [`RuntimeConfig::memory_ceiling`], or a zero limit, is refused.
    pub fn with_limits(&self, limits: Limits) -> Result<Arc<Plugin>, Error> {
        let ceiling = self.shared.config.memory_ceiling();
        if limits.memory_bytes > ceiling {
            return Err(Error::Capacity(format!(
                "plugin `{}` cannot have {} bytes of memory: the most any plugin may have here is \
                 {ceiling}",
                self.name, limits.memory_bytes
            )));
        }
        if limits.deadline.is_zero()
            || limits.memory_bytes == 0
            || limits.max_output_values == 0
            || limits.max_output_string_bytes == 0
        {
            return Err(Error::Capacity(format!(
                "plugin `{}`: every limit must be above zero, got {limits:?}",
                self.name
            )));
        }
        Ok(self.derived(
            self.shared.config.with_limits(limits),
            self.observer.clone(),
        ))
    }

    /// The same plugin, with every call into it reported to `observer`.
    pub fn observed_by(&self, observer: Arc<dyn CallObserver>) -> Arc<Plugin> {
        self.derived(self.config.clone(), Some(observer))
    }

    /// This plugin's compiled code under another configuration and observer.
    fn derived(
        &self,
        config: RuntimeConfig,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> Arc<Plugin> {
        Arc::new(Plugin {
            shared: self.shared.clone(),
            name: self.name.clone(),
            digest: self.digest.clone(),
            from_cache: self.from_cache,
            info: self.info.clone(),
            pre: self.pre.clone(),
            config,
            observer,
        })
    }

    /// Whether the compiled code was read from [`RuntimeConfig::cache_dir`] instead of being
    /// compiled by this process.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// A store for one instance, holding one of `budget`'s slots while it lives.
    pub(crate) fn new_store(&self, budget: &Budget) -> Result<Store<StoreData>, Error> {
        let slot = budget.take_slot(&self.name)?;
        let mut store = Store::new(
            &self.shared.engine,
            StoreData::new(self.name.clone(), &self.config, slot),
        );
        store.data_mut().observer = self.observer.clone();
        store.limiter(|data| &mut data.limiter);
        store.epoch_deadline_trap();
        Ok(store)
    }

    fn call_info(&self) -> Result<PluginInfo, Error> {
        let mut store = self.new_store(&self.shared.shared)?;
        let config = &self.config;
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
            Pre::MultivariateDriftTest(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
            }
            Pre::DriftTestV0_1(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
                    .map(crate::v0_1::info)
            }
            Pre::DetectorV0_1(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
                    .map(crate::v0_1::info)
            }
            Pre::PreprocessorV0_1(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
                    .map(crate::v0_1::info)
            }
            Pre::PolicyV0_1(pre) => {
                let instance = call::guard(&mut store, config, &self.name, |s| pre.instantiate(s))?;
                call::guard(&mut store, config, &self.name, |s| instance.call_info(s))
                    .map(crate::v0_1::info)
            }
        }
    }
}

fn compile_component(engine: &Engine, bytes: &[u8]) -> Result<Component, Error> {
    Component::from_binary(engine, bytes)
        .map_err(|e| Error::InvalidComponent(format!("not a valid WebAssembly component: {e}")))
}

/// Compiled plugins kept on disk between processes, one file per component and engine.
struct DiskCache {
    dir: PathBuf,
    /// In every entry's name, so that code compiled by another wasmtime version or with other
    /// engine settings is never opened.
    engine: String,
}

impl DiskCache {
    /// Prepares `dir`; a directory that cannot be used only costs the compile time it would
    /// have saved, so it is reported and skipped rather than failing the runtime.
    fn open(dir: &Path, engine: &Engine) -> Option<DiskCache> {
        match create_private_dir(dir) {
            Ok(()) => Some(DiskCache {
                dir: dir.to_path_buf(),
                engine: engine_fingerprint(engine),
            }),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "not using the plugin cache directory");
                None
            }
        }
    }

    fn entry(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine))
    }

    /// The component this host compiled earlier from the bytes whose sha256 is `digest`.
    fn read(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.entry(digest);
        match fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the plugin cache");
                return None;
            }
        }
        // SAFETY: `deserialize_file` maps the file and runs the machine code in it unchecked,
        // so it must be wasmtime's own output for this engine, unmodified. It is:
        // - Only artifacts this host compiled itself are read. The entry is named by the
        //   sha256 of the component bytes that `compile_component` compiled and `write`
        //   serialized, and nothing else writes to the directory. Bytes from users are always
        //   compiled, never deserialized: `Runtime::load` takes components only, and there is
        //   no way to hand it precompiled code.
        // - The directory belongs to the user: it is created with mode 0700, and one that
        //   group or others can write to is refused in `open`, so no one else can plant or
        //   swap an entry.
        // - The name carries the engine's compatibility hash, so an artifact from another
        //   wasmtime version or configuration is never opened (wasmtime checks again on load).
        // - Entries are never modified in place: `write` renames complete files over them, so
        //   a mapped file does not change under us and a reader never sees a partial one.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %format!("{e:#}"),
                    "discarding an unreadable compiled plugin; compiling it again"
                );
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove it");
                }
                None
            }
        }
    }

    /// Stores `component`, compiled from the bytes whose sha256 is `digest`.
    fn write(&self, digest: &str, component: &Component) {
        let path = self.entry(digest);
        let result = component
            .serialize()
            .map_err(io::Error::other)
            .and_then(|bytes| write_atomically(&path, &bytes));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the plugin cache");
        }
    }
}

/// Creates `dir` readable and writable by the user alone, and refuses an existing one that
/// others could write to.
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("group or others can write to it (mode {:o})", mode & 0o7777),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Writes a temporary file in the same directory and renames it into place: a concurrent
/// reader of `path` sees either the old state or the whole new file, never part of it.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // The pid keeps processes apart, the counter threads of one process.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temp = path.with_extension(format!(
        "{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = create_private_file(&temp)?;
        file.write_all(bytes)?;
        // Without this a crash could leave the rename durable but the contents not.
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn create_private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    // `create_new` also refuses to follow a symlink left at the name.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// A short hex digest of the engine's compatibility hash (target, compiler flags, wasmtime
/// version, settings).
fn engine_fingerprint(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Feeds `Hash` output to sha256. Unlike `DefaultHasher`, whose algorithm may change between
/// Rust releases, it gives the same names to every build of the host.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"))
    }
}

/// A core module starts with the magic and version 1; a component has layer 1 in its header.
fn wasmparser_is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

/// Finds the one Vigil world the component exports, of a version of the contract the host runs,
/// and refuses imports the host does not grant.
fn check_shape(engine: &Engine, component: &Component) -> Result<(Contract, World), Error> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let found: Vec<(Contract, World)> = Contract::ALL
        .into_iter()
        .flat_map(|c| c.worlds().iter().map(move |w| (c, *w)))
        .filter(|(c, w)| exports.contains(&w.interface(*c)))
        .collect();
    let (contract, world) = match found.as_slice() {
        [found] => *found,
        [] => {
            let runs = Contract::ALL
                .map(|c| format!("vigil:plugin@{}", c.version()))
                .join(" and ");
            if let Some(other) = exports.iter().find(|e| e.starts_with("vigil:plugin/")) {
                return Err(Error::InvalidComponent(format!(
                    "it was built for `{other}`, a version of the plugin contract this Vigil \
                     does not run (it runs {runs}): rebuild the plugin with the current SDK \
                     (`vigil plugin build`, docs/architecture.md)"
                )));
            }
            return Err(Error::InvalidComponent(format!(
                "it exports [{}], but a Vigil plugin exports one of {} ({CONTRACT})",
                exports.join(", "),
                World::ALL
                    .map(|w| format!("`{}`", w.interface(Contract::V0_2)))
                    .join(", ")
            )));
        }
        several => {
            return Err(Error::InvalidComponent(format!(
                "it exports several plugin interfaces ({}); a plugin implements exactly one world",
                several
                    .iter()
                    .map(|(c, w)| w.interface(*c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    if !exports.iter().any(|e| e == "info") {
        return Err(Error::InvalidComponent(format!(
            "it exports `{}` but not the `info` function every Vigil plugin has",
            world.interface(contract)
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
    Ok((contract, world))
}

fn check_info(info: &PluginInfo, world: World) -> Result<(), Error> {
    if info.kind != world.kind() {
        return Err(Error::InvalidComponent(format!(
            "its info says kind {}, but it exports the `{}` world",
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
