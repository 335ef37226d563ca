//! The plugin host: loads policy plugins (WebAssembly components) and runs
//! them in a sandbox.
//!
//! Sandbox, per call: a fresh instance (from a pre-instantiated component, so
//! this costs microseconds) in a fresh store with
//! - WASI preview 2 with no preopened directories, no network (TCP, UDP and
//!   name lookup disabled), an empty environment and no arguments, closed
//!   stdin and discarded stdout/stderr;
//! - a frozen wall clock and monotonic clock and a fixed-seed random source,
//!   so a plugin's answer depends on its evidence only;
//! - a fuel budget, an epoch deadline (wall clock) and a linear-memory cap.
//!
//! Anything a plugin does wrong — trap, panic, running out of fuel or time,
//! growing past its memory cap, returning malformed or oversized output —
//! becomes an `error` finding for each rule it was asked about. The host
//! itself never fails because of a plugin.

pub mod bindings;
pub mod builtin;
pub mod cache;
pub mod contract;
pub mod vulns;

use crate::model::{Location, ParamSpec, RawFinding, RuleInfo};
use crate::policy::{Limits, PluginSource, PluginSpec};
use crate::scan::{FileIndex, ImageScan};
use crate::signature::material::{Material, Verified};
use crate::signature::trust::TrustRoot;
use bindings::{PolicyPluginPre, fs, sboms, scan, sigs, wit};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// At most this many findings per call; more is treated as a plugin fault.
pub const MAX_FINDINGS: usize = 10_000;
/// Longer messages are truncated.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Concurrent plugin instances the pool holds (each a reserved, not
/// committed, memory slot). A call beyond that fails as an `error` finding.
const POOL_SLOTS: u32 = 512;
/// Bytes of a finished instance's memory (and tables) kept resident for the
/// next, when the kernel can say which pages were written; what stays
/// resident is bounded by this times [`WARM_SLOTS`].
const KEEP_RESIDENT_MEMORY: usize = 4 << 20;
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
/// Idle instance slots kept warm (for the plugin that last used them).
const WARM_SLOTS: u32 = 16;
/// Epoch tick period: the granularity of plugin deadlines.
const TICK: Duration = Duration::from_millis(5);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin `{name}`: cannot read {path}: {source}")]
    Read { name: String, path: PathBuf, source: std::io::Error },
    #[error(
        "plugin `{name}`: sha256 mismatch for {path}: the policy pins {expected}, the file is {actual}; refusing to load it (update the pin only if you trust the new file)"
    )]
    PinMismatch { name: String, path: PathBuf, expected: String, actual: String },
    #[error("plugin `{name}` is not a valid WebAssembly component: {reason}")]
    Compile { name: String, reason: String },
    #[error("plugin `{name}` cannot be loaded: {reason}")]
    Contract { name: String, reason: String },
    #[error("plugin `{name}` failed while describing itself: {reason}")]
    Metadata { name: String, reason: String },
    #[error("no builtin plugin named `{0}`")]
    NoBuiltin(String),
}

/// The large evidence of one subject, which plugins query instead of
/// receiving it in the call.
#[derive(Debug, Clone, Default)]
pub struct Queries {
    pub scan: Option<Arc<ImageScan>>,
    pub sboms: Option<Arc<crate::sbom::Attached>>,
    pub signatures: Option<Arc<Vec<Material>>>,
    /// The trusted root signatures are verified against.
    pub trust: Option<Arc<TrustRoot>>,
    /// The vulnerability database and what to match against it.
    pub vulns: Option<Arc<vulns::VulnQuery>>,
}

/// Per-store state: WASI context and the current subject's queryable evidence.
struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    scan: Option<Arc<ImageScan>>,
    sboms: Option<Arc<crate::sbom::Attached>>,
    signatures: Option<Arc<Vec<Material>>>,
    trust: Option<Arc<TrustRoot>>,
    vulns: Option<Arc<vulns::VulnQuery>>,
    /// Verifications already done in this call, by (item, how).
    verified: HashMap<(u32, How), Result<sigs::Verified, String>>,
    /// The in-toto statements of attestations verified in this call, by
    /// item: only these may lend their VEX to `matches-with-vex`.
    attested: HashMap<u32, Vec<u8>>,
}

/// How a plugin asked for material to be verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum How {
    Keyless,
    Key(String),
    PrivateCa { roots: String, intermediates: Option<String>, email: Option<String>, hostname: Option<String> },
}

impl HostState {
    fn material(&self, index: u32) -> Result<&Material, String> {
        self.signatures
            .as_ref()
            .and_then(|s| s.get(index as usize))
            .ok_or_else(|| format!("no signature or attestation #{index}"))
    }

    fn verify(&mut self, index: u32, how: How) -> Result<sigs::Verified, String> {
        if let Some(done) = self.verified.get(&(index, how.clone())) {
            return done.clone();
        }
        let result = self.material(index).and_then(|m| match &how {
            How::Keyless => m.verify_keyless(self.trust.as_ref().ok_or("no trusted root is configured")?),
            How::Key(pem) => {
                m.verify_with_key(pem.as_bytes(), self.trust.as_ref().ok_or("no trusted root is configured")?)
            }
            How::PrivateCa { roots, intermediates, email, hostname } => {
                let pki = crate::signature::pki::Pki::new(
                    roots.as_bytes(),
                    intermediates.as_deref().map(str::as_bytes),
                    email.clone(),
                    hostname.clone(),
                )?;
                m.verify_with_ca(&pki)
            }
        });
        if let Ok(Verified { statement: Some(st), .. }) = &result {
            self.attested.insert(index, st.clone());
        }
        let result = result.map(|v| bindings::verified(&v));
        self.verified.insert((index, how), result.clone());
        result
    }
}

impl sigs::Host for HostState {
    fn list(&mut self) -> Vec<sigs::Material> {
        self.signatures.iter().flat_map(|s| s.iter()).map(bindings::material).collect()
    }

    fn verify_keyless(&mut self, index: u32) -> Result<sigs::Verified, String> {
        self.verify(index, How::Keyless)
    }

    fn verify_key(&mut self, index: u32, public_key_pem: String) -> Result<sigs::Verified, String> {
        self.verify(index, How::Key(public_key_pem))
    }

    fn verify_private_ca(&mut self, index: u32, ca: sigs::PrivateCa) -> Result<sigs::Verified, String> {
        self.verify(
            index,
            How::PrivateCa {
                roots: ca.roots_pem,
                intermediates: ca.intermediates_pem,
                email: ca.email,
                hostname: ca.hostname,
            },
        )
    }
}

impl sboms::Host for HostState {
    fn documents(&mut self) -> Vec<sboms::Document> {
        self.sboms.iter().flat_map(|a| &a.documents).map(|d| bindings::sbom_document(d)).collect()
    }

    fn problems(&mut self) -> Vec<sboms::Problem> {
        self.sboms
            .iter()
            .flat_map(|a| &a.problems)
            .map(|p| sboms::Problem { origin: p.origin.clone(), message: p.message.clone() })
            .collect()
    }

    fn attestation_of(&mut self, document: u32) -> Option<u32> {
        let doc = self.sboms.iter().flat_map(|a| &a.documents).nth(document as usize)?;
        let origin = doc.attested_by.as_deref()?;
        let index = self.signatures.iter().flat_map(|s| s.iter()).position(|m| m.origin == origin)?;
        u32::try_from(index).ok()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::Host for HostState {}

const NOT_SCANNED: &str = "the image layers were not scanned, so its files are unknown";

impl HostState {
    fn scanned(&self) -> Result<&ImageScan, String> {
        self.scan.as_deref().ok_or_else(|| NOT_SCANNED.to_string())
    }
}

impl fs::Host for HostState {
    fn stat(&mut self, path: String) -> Result<Option<fs::FileEntry>, String> {
        Ok(self.scanned()?.stat(&path).map(bindings::file_entry))
    }

    fn glob(&mut self, pattern: String, limit: u32) -> Result<Vec<fs::FileEntry>, String> {
        let scan = self.scanned()?;
        Ok(FileIndex::glob(scan, &pattern, limit.min(100_000) as usize).into_iter().map(bindings::file_entry).collect())
    }
}

impl scan::Host for HostState {
    fn summary(&mut self) -> Result<scan::ScanSummary, String> {
        Ok(bindings::summary(self.scanned()?))
    }

    fn binary_at(&mut self, path: String) -> Result<Option<scan::Binary>, String> {
        Ok(self.scanned()?.binary(&path).map(bindings::binary))
    }

    fn go_binaries(&mut self) -> Result<Vec<scan::Binary>, String> {
        Ok(self.scanned()?.binaries.iter().filter(|b| b.elf.is_go).map(bindings::binary).collect())
    }

    fn packages(&mut self) -> Result<Vec<scan::Package>, String> {
        Ok(self
            .scanned()?
            .packages
            .iter()
            .map(|p| scan::Package {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                source: p.source.to_string(),
                purl: p.purl.clone(),
            })
            .collect())
    }

    fn secrets(&mut self) -> Result<Vec<scan::Secret>, String> {
        Ok(self
            .scanned()?
            .secrets
            .iter()
            .map(|x| scan::Secret {
                path: x.path.clone(),
                layer: x.layer,
                kind: x.kind.to_string(),
                detail: x.detail.clone(),
                deleted: x.deleted,
            })
            .collect())
    }

    fn special_modes(&mut self) -> Result<Vec<scan::FileMode>, String> {
        Ok(self
            .scanned()?
            .special_modes
            .iter()
            .map(|m| scan::FileMode {
                path: m.path.clone(),
                layer: m.layer,
                mode: m.mode,
                directory: false,
                effective: m.effective,
            })
            .collect())
    }

    fn shells(&mut self) -> Result<Vec<scan::Shell>, String> {
        Ok(self
            .scanned()?
            .binaries
            .iter()
            .filter_map(|b| {
                b.elf.shell.clone().map(|p| scan::Shell { path: b.path.clone(), layer: b.layer, program: p })
            })
            .collect())
    }

    fn script_at(&mut self, path: String) -> Result<Option<scan::Script>, String> {
        Ok(self.scanned()?.script(&path).map(|s| scan::Script {
            path: s.path.clone(),
            layer: s.layer,
            interpreter: s.shebang.interpreter.clone(),
            argument: s.shebang.argument.clone(),
        }))
    }

    fn world_writable(&mut self) -> Result<Vec<scan::FileMode>, String> {
        Ok(self
            .scanned()?
            .world_writable
            .iter()
            .map(|f| scan::FileMode {
                path: f.path.clone(),
                layer: f.layer,
                mode: f.mode,
                directory: f.kind == crate::scan::FileKind::Directory,
                effective: true,
            })
            .collect())
    }
}

/// Caps linear memory and tables, and remembers whether the cap was hit so
/// the resulting trap can be explained.
struct MemoryLimiter {
    max_bytes: usize,
    exceeded: Option<usize>,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = Some(desired);
            wasmtime::bail!("memory limit of {} bytes exceeded", self.max_bytes);
        }
        Ok(true)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
    fn instances(&self) -> usize {
        64
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        16
    }
}

struct FrozenClock;
impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}
impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

fn sandbox_wasi() -> WasiCtx {
    use rand::SeedableRng;
    WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(rand::rngs::StdRng::seed_from_u64(0x706f_7274))
        .insecure_random(rand::rngs::StdRng::seed_from_u64(0x6375_6c6c))
        .insecure_random_seed(0)
        .max_random_size(1 << 20)
        .build()
}

/// Advances the WebAssembly runtime's epoch every [`TICK`] while the host is alive.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(runtime: &wasmtime::Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let weak: Weak<AtomicBool> = Arc::downgrade(&stop);
        let runtime = runtime.weak();
        std::thread::Builder::new()
            .name("portcullis-epoch".into())
            .spawn(move || {
                while let Some(stop) = weak.upgrade() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    drop(stop);
                    std::thread::sleep(TICK);
                    match runtime.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Compiles and runs plugins. One per [`crate::Engine`]; cheap to share.
pub struct PluginHost {
    /// The WebAssembly runtime (wasmtime's `Engine`; "engine" in this crate is ours).
    runtime: wasmtime::Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    _ticker: Ticker,
}

/// Describes the component at `source` (a `.wasm` file, or `builtin:NAME`)
/// without a policy: see [`PluginHost::inspect`].
pub fn inspect(source: &str, cache_dir: Option<PathBuf>) -> Result<Inspection, String> {
    let bytes: Vec<u8> = match source.strip_prefix("builtin:") {
        Some(name) => builtin::wasm(name)
            .ok_or_else(|| format!("no builtin plugin named `{name}` (there are: {})", builtin::names().join(", ")))?
            .to_vec(),
        None => std::fs::read(source).map_err(|e| format!("cannot read {source}: {e}"))?,
    };
    let host = PluginHost::new(cache_dir, crate::policy::Limits::default().memory_bytes)
        .map_err(|e| format!("cannot start the WebAssembly runtime: {e:#}"))?;
    host.inspect(&bytes).map_err(|e| format!("{source}: {e}"))
}

/// What `portcullis plugin inspect` shows of a component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    pub sha256: String,
    pub size: u64,
    /// The `portcullis:policy` version it was built for, when this host speaks it.
    pub contract: Option<String>,
    /// Why this host would not load it.
    pub problem: Option<String>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub rules: Vec<RuleInfo>,
}

/// How a plugin was loaded, for reports and benchmarks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub builtin: bool,
    pub cache: cache::CacheStatus,
}

pub struct LoadedPlugin {
    pub info: PluginInfo,
    pub rules: Vec<RuleInfo>,
    pub limits: Limits,
    pre: PolicyPluginPre<HostState>,
}

impl PluginHost {
    /// A host with compiled components cached in `cache_dir` (none: compile
    /// every time).
    ///
    /// `max_memory_bytes` is the largest memory cap of any plugin it will run:
    /// instances come from a pool of slots that size, so that starting one is
    /// a matter of microseconds (no mmap per call).
    pub fn new(cache_dir: Option<PathBuf>, max_memory_bytes: u64) -> wasmtime::Result<PluginHost> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true).consume_fuel(true).epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        config.max_wasm_stack(1 << 20);
        let slot = max_memory_bytes.max(1 << 20).next_multiple_of(64 << 10);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS * 4)
            .total_memories(POOL_SLOTS * 2)
            .total_tables(POOL_SLOTS * 4)
            .total_stacks(0)
            .max_memory_size(slot as usize)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_core_instances_per_component(8);
        // A finished instance's memory is reset for the next one. By
        // default that is an madvise, after which every page the next call
        // touches faults in again; where the kernel can tell which pages
        // were written (PAGEMAP_SCAN, Linux 6.7+), only those are restored,
        // in place, and stay resident. A third of a small call's cost.
        if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(wasmtime::Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
                .table_keep_resident(KEEP_RESIDENT_TABLE)
                .max_unused_warm_slots(WARM_SLOTS);
        }
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        config.memory_reservation(slot);
        config.memory_guard_size(64 << 10);
        let runtime = wasmtime::Engine::new(&config)?;
        let mut linker: Linker<HostState> = Linker::new(&runtime);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        bindings::PolicyPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        let ticker = Ticker::start(&runtime);
        Ok(PluginHost { runtime, linker, cache_dir, _ticker: ticker })
    }

    fn store(&self, limits: &Limits, queries: Queries) -> Store<HostState> {
        let state = HostState {
            wasi: sandbox_wasi(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter { max_bytes: limits.memory_bytes as usize, exceeded: None },
            scan: queries.scan,
            sboms: queries.sboms,
            signatures: queries.signatures,
            trust: queries.trust,
            vulns: queries.vulns,
            verified: HashMap::new(),
            attested: HashMap::new(),
        };
        let mut store = Store::new(&self.runtime, state);
        store.limiter(|s| &mut s.limiter);
        // `set_fuel` only fails when fuel is disabled, and it is enabled above.
        let _ = store.set_fuel(limits.fuel);
        let ticks = (limits.timeout.as_micros() / TICK.as_micros()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// Loads a plugin: reads (and for external plugins, checks the sha256 pin
    /// of) its bytes, compiles or fetches it from the cache, links it against
    /// the contract, and asks for its metadata.
    pub fn load(&self, spec: &PluginSpec) -> Result<LoadedPlugin, LoadError> {
        let name = spec.name.clone();
        let (bytes, builtin): (std::borrow::Cow<'static, [u8]>, bool) = match &spec.source {
            PluginSource::Builtin => {
                (builtin::wasm(&name).ok_or_else(|| LoadError::NoBuiltin(name.clone()))?.into(), true)
            }
            PluginSource::External { path, .. } => {
                let b = std::fs::read(path).map_err(|e| LoadError::Read {
                    name: name.clone(),
                    path: path.clone(),
                    source: e,
                })?;
                (b.into(), false)
            }
        };
        let sha = crate::digest::Digest::sha256(&bytes).encoded().to_string();
        if let PluginSource::External { path, sha256, .. } = &spec.source
            && &sha != sha256
        {
            return Err(LoadError::PinMismatch { name, path: path.clone(), expected: sha256.clone(), actual: sha });
        }
        let (component, cache) = cache::load(&self.runtime, &bytes, &sha, self.cache_dir.as_deref())
            .map_err(|e| LoadError::Compile { name: name.clone(), reason: format!("{e:#}") })?;
        // Its contract version and imports, named, before the linker tries.
        let (imports, exports) = contract::names(&component, &self.runtime);
        contract::check(&imports, &exports).map_err(|reason| LoadError::Contract { name: name.clone(), reason })?;
        let (pre, meta) = self.describe(&name, &component, &spec.limits)?;
        let rules = convert_meta(&name, meta.rules)?;
        Ok(LoadedPlugin {
            info: PluginInfo { name, version: meta.version, sha256: sha, builtin, cache },
            rules,
            limits: spec.limits,
            pre,
        })
    }

    /// Links a compiled component (whose names passed the contract check)
    /// and asks for its metadata.
    fn describe(
        &self,
        name: &str,
        component: &wasmtime::component::Component,
        limits: &Limits,
    ) -> Result<(PolicyPluginPre<HostState>, wit::PluginMeta), LoadError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .and_then(PolicyPluginPre::new)
            .map_err(|e| LoadError::Contract { name: name.into(), reason: format!("{e:#}") })?;
        let mut store = self.store(limits, Queries::default());
        let meta = pre
            .instantiate(&mut store)
            .and_then(|p| p.portcullis_policy_plugin().call_metadata(&mut store))
            .map_err(|e| LoadError::Metadata { name: name.into(), reason: explain(&e, &store, limits) })?;
        Ok((pre, meta))
    }

    /// Describes a component without a policy: its digest, size, the
    /// contract it was built for, its imports and exports, and — when this
    /// host can load it — its name, version and rules.
    pub fn inspect(&self, bytes: &[u8]) -> Result<Inspection, LoadError> {
        let name = "inspected";
        let sha = crate::digest::Digest::sha256(bytes).encoded().to_string();
        let (component, _) = cache::load(&self.runtime, bytes, &sha, self.cache_dir.as_deref())
            .map_err(|e| LoadError::Compile { name: name.into(), reason: format!("{e:#}") })?;
        let (imports, exports) = contract::names(&component, &self.runtime);
        let mut out = Inspection {
            sha256: sha,
            size: bytes.len() as u64,
            contract: None,
            problem: None,
            imports,
            exports,
            name: None,
            version: None,
            rules: Vec::new(),
        };
        // Each step says what it learnt before the next one may fail.
        match contract::check(&out.imports, &out.exports) {
            Err(why) => out.problem = Some(why),
            Ok(version) => {
                out.contract = Some(version);
                match self.describe(name, &component, &Limits::default()) {
                    // The reason alone: the component has no name in a policy here.
                    Err(LoadError::Contract { reason, .. } | LoadError::Metadata { reason, .. }) => {
                        out.problem = Some(reason)
                    }
                    Err(e) => out.problem = Some(e.to_string()),
                    Ok((_, meta)) => {
                        out.name = Some(meta.name.clone());
                        out.version = Some(meta.version);
                        match convert_meta(&meta.name, meta.rules) {
                            Ok(rules) => out.rules = rules,
                            Err(e) => out.problem = Some(e.to_string()),
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Asks a plugin which of the policy's parameter values its rules
    /// cannot use (at load time, once). A plugin that fails to answer is a
    /// load error: its rules' parameters would go unchecked.
    pub fn check(&self, plugin: &LoadedPlugin, rules: &[wit::RuleConfig]) -> Result<Vec<wit::ParamProblem>, LoadError> {
        let mut store = self.store(&plugin.limits, Queries::default());
        plugin
            .pre
            .instantiate(&mut store)
            .and_then(|p| p.portcullis_policy_plugin().call_check(&mut store, rules))
            .map_err(|e| LoadError::Metadata {
                name: plugin.info.name.clone(),
                reason: format!("checking its parameters: {}", explain(&e, &store, &plugin.limits)),
            })
    }

    /// Runs one plugin over one subject for the given rules. Never fails:
    /// every fault becomes `error` findings.
    pub fn evaluate(
        &self,
        plugin: &LoadedPlugin,
        target: &wit::Target,
        rules: &[wit::RuleConfig],
        queries: &Queries,
    ) -> Vec<RawFinding> {
        let mut store = self.store(&plugin.limits, queries.clone());
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|p| p.portcullis_policy_plugin().call_evaluate(&mut store, target, rules));
        let name = &plugin.info.name;
        match result {
            Err(e) => {
                let why = explain(&e, &store, &plugin.limits);
                errors_for(rules, &format!("plugin {name} {why}"))
            }
            Ok(findings) if findings.len() > MAX_FINDINGS => errors_for(
                rules,
                &format!("plugin {name} returned {} findings, more than the limit of {MAX_FINDINGS}", findings.len()),
            ),
            Ok(findings) => {
                let mut out = Vec::with_capacity(findings.len());
                for f in findings {
                    if !rules.iter().any(|r| r.id == f.rule) {
                        continue; // not asked for: ignored
                    }
                    let (outcome, outside) = bindings::outcome(f.outcome);
                    out.push(RawFinding {
                        rule: f.rule,
                        outcome,
                        outside,
                        message: truncate(f.message),
                        location: f.location.map(|l| Location {
                            path: l.path.map(truncate),
                            layer: l.layer,
                            pointer: l.pointer.map(truncate),
                        }),
                        severity: f.severity.map(bindings::severity),
                        remediation: f.remediation.map(truncate),
                    });
                }
                for r in rules {
                    if !out.iter().any(|f| f.rule == r.id) {
                        out.push(error_finding(&r.id, &format!("plugin {name} returned no finding for this rule")));
                    }
                }
                out
            }
        }
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn error_finding(rule: &str, message: &str) -> RawFinding {
    RawFinding {
        rule: rule.to_string(),
        outcome: crate::model::Outcome::Error,
        // A plugin that traps, runs out of fuel, time or memory, or answers
        // badly does so on this subject's evidence.
        outside: false,
        message: message.to_string(),
        location: None,
        severity: None,
        remediation: None,
    }
}

fn errors_for(rules: &[wit::RuleConfig], message: &str) -> Vec<RawFinding> {
    rules.iter().map(|r| error_finding(&r.id, message)).collect()
}

/// Says in words why a plugin call failed.
fn explain(err: &wasmtime::Error, store: &Store<HostState>, limits: &Limits) -> String {
    if let Some(desired) = store.data().limiter.exceeded {
        return format!(
            "exceeded its memory limit of {} MiB (tried to grow to {} MiB)",
            limits.memory_bytes >> 20,
            desired >> 20
        );
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!("ran out of fuel (budget {} units)", limits.fuel),
        Some(Trap::Interrupt) => format!("exceeded its time limit of {} ms", limits.timeout.as_millis()),
        Some(Trap::StackOverflow) => "overflowed its stack".to_string(),
        Some(Trap::UnreachableCodeReached) => "trapped: unreachable code reached (a Rust plugin panicked)".to_string(),
        Some(t) => format!("trapped: {t}"),
        None => {
            let root = err.root_cause().to_string();
            format!("failed: {}", root.lines().next().unwrap_or("unknown error"))
        }
    }
}

fn convert_meta(plugin: &str, rules: Vec<wit::RuleMeta>) -> Result<Vec<RuleInfo>, LoadError> {
    let bad = |reason: String| LoadError::Metadata { name: plugin.to_string(), reason };
    let mut out: Vec<RuleInfo> = Vec::new();
    for r in rules {
        if r.id.is_empty()
            || r.id.len() > 64
            || !r.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(bad(format!("rule id `{}` is not a valid identifier", r.id)));
        }
        if out.iter().any(|o| o.id == r.id) {
            return Err(bad(format!("rule `{}` is declared twice", r.id)));
        }
        if r.targets.is_empty() {
            return Err(bad(format!("rule `{}` judges no kind of target (its `targets` list is empty)", r.id)));
        }
        let mut params = Vec::new();
        for p in r.params {
            let ty = bindings::param_type(p.type_);
            let default = bindings::param_value(p.default);
            let matches = matches!(
                (ty, &default),
                (crate::model::ParamType::Boolean, crate::model::ParamValue::Boolean(_))
                    | (crate::model::ParamType::Integer, crate::model::ParamValue::Integer(_))
                    | (crate::model::ParamType::Float, crate::model::ParamValue::Float(_))
                    | (crate::model::ParamType::Text, crate::model::ParamValue::Text(_))
                    | (crate::model::ParamType::TextList, crate::model::ParamValue::TextList(_))
            );
            if !matches {
                return Err(bad(format!("rule `{}` parameter `{}`: default does not match its type", r.id, p.name)));
            }
            params.push(ParamSpec { name: p.name, ty, description: p.description, default });
        }
        out.push(RuleInfo {
            id: r.id,
            title: r.title,
            description: r.description,
            remediation: r.remediation,
            default_severity: bindings::severity(r.default_severity),
            default_enforcement: bindings::enforcement(r.default_enforcement),
            params,
            plugin: plugin.to_string(),
            targets: r.targets.into_iter().map(bindings::target_kind).collect(),
        });
    }
    Ok(out)
}
