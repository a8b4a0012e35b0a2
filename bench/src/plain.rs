//! The hand-wired peer: the same component on wasmtime 48 directly, with
//! wasmtime's default configuration (plus the component-model-async switch
//! the component needs), its dynamic `Func` API, and the least host code the
//! component's imports require. No compiled-code cache, no store reuse.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use wasmtime::component::{
    Accessor, Component, ComponentExportIndex, Func, Instance, InstancePre, Linker, ResourceTable,
    Val,
};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The store data: WASI, and the bookkeeping of the `watch` protocol.
pub struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    next_token: u64,
    watchers: HashMap<u64, oneshot::Sender<WatchEnd>>,
    left: HashSet<u64>,
}

/// `snakebox:runtime/host`'s `watch-end`.
#[derive(Clone, Copy, wasmtime::component::ComponentType, wasmtime::component::Lower)]
#[component(enum)]
#[repr(u8)]
enum WatchEnd {
    #[component(name = "cancelled")]
    #[allow(dead_code, reason = "this host never cancels")]
    Cancelled,
    #[component(name = "left")]
    Left,
    #[component(name = "due")]
    Due,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// An engine and a linked component, ready to instantiate.
pub struct Plain {
    pub engine: Engine,
    pre: InstancePre<Host>,
    /// The exports of the component's one interface, by name.
    exports: HashMap<String, ComponentExportIndex>,
}

/// The interface the component exports, as the generator names it.
const INTERFACE: &str = "snakebox-py:peers/peers";

/// Set to `1` to compile the hand-wired peer with epoch interruption on.
pub const EPOCH_SWITCH: &str = "SNAKEBOX_BENCH_PLAIN_EPOCH";

/// The engine every plain peer uses.
pub fn engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    // A diagnostic switch: the same epoch checks snakebox compiles in for its
    // time limits, to tell their cost from the rest.
    if std::env::var_os(EPOCH_SWITCH).is_some_and(|value| value == "1") {
        config.epoch_interruption(true);
    }
    Ok(Engine::new(&config)?)
}

impl Plain {
    /// Loads a component compiled earlier with `Engine::precompile_component`.
    pub fn deserialize(engine: &Engine, compiled: &Path) -> anyhow::Result<Self> {
        // SAFETY: the file was written by this benchmark, from
        // `Engine::precompile_component` on an engine of the same config.
        #[expect(unsafe_code, reason = "wasmtime marks loading compiled code unsafe")]
        let component = unsafe { Component::deserialize_file(engine, compiled)? };
        Self::link(engine, &component)
    }

    fn link(engine: &Engine, component: &Component) -> anyhow::Result<Self> {
        let linker = linker(engine)?;
        let pre = linker.instantiate_pre(component)?;
        let (_, interface) = component
            .get_export(None, INTERFACE)
            .with_context(|| format!("the component exports no `{INTERFACE}`"))?;
        let exports = [
            "add", "echo", "scale", "nap", "blink", "tick", "fib", "words",
        ]
        .into_iter()
        .map(|name| {
            let (_, index) = component
                .get_export(Some(&interface), name)
                .with_context(|| format!("`{INTERFACE}` has no `{name}`"))?;
            Ok((name.to_owned(), index))
        })
        .collect::<anyhow::Result<_>>()?;
        Ok(Plain {
            engine: engine.clone(),
            pre,
            exports,
        })
    }

    /// A fresh store and instance.
    pub async fn instantiate(&self) -> anyhow::Result<(Store<Host>, Instance)> {
        let mut store = Store::new(&self.engine, host());
        // Only matters with the epoch switch on: never interrupt.
        store.set_epoch_deadline(u64::MAX);
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }

    fn func(
        &self,
        store: &mut Store<Host>,
        instance: &Instance,
        name: &str,
    ) -> anyhow::Result<Func> {
        let index = self
            .exports
            .get(name)
            .with_context(|| format!("no export `{name}`"))?;
        instance
            .get_func(store, index)
            .with_context(|| format!("export `{name}` is not a function"))
    }

    /// Calls a sync export and unwraps its `result<T, python-error>`.
    pub async fn call(
        &self,
        store: &mut Store<Host>,
        instance: &Instance,
        name: &str,
        args: &[Val],
    ) -> anyhow::Result<Val> {
        let func = self.func(store, instance, name)?;
        let mut results = [Val::Bool(false)];
        func.call_async(&mut *store, args, &mut results).await?;
        let [result] = results;
        unwrap_result(result)
    }

    /// Runs `count` concurrent calls of an async export without arguments
    /// on one store, and waits for them all.
    pub async fn call_many_concurrent(
        &self,
        store: &mut Store<Host>,
        instance: &Instance,
        name: &str,
        count: usize,
    ) -> anyhow::Result<()> {
        let func = self.func(store, instance, name)?;
        store
            .run_concurrent(async |accessor| {
                let calls = (0..count).map(|_| call_unit(accessor, func));
                futures::future::try_join_all(calls).await.map(drop)
            })
            .await?
    }

    /// Runs `count` calls of an async export without arguments on one
    /// store, each awaited before the next starts.
    pub async fn call_in_turn(
        &self,
        store: &mut Store<Host>,
        instance: &Instance,
        name: &str,
        count: usize,
    ) -> anyhow::Result<()> {
        let func = self.func(store, instance, name)?;
        store
            .run_concurrent(async |accessor| {
                for _ in 0..count {
                    call_unit(accessor, func).await?;
                }
                anyhow::Ok(())
            })
            .await?
    }
}

/// One call of an async export without arguments, inside `run_concurrent`.
async fn call_unit(accessor: &Accessor<Host>, func: Func) -> anyhow::Result<Val> {
    let mut results = [Val::Bool(false)];
    func.call_concurrent(accessor, &[], &mut results).await?;
    let [result] = results;
    unwrap_result(result)
}

/// Fresh store data: no WASI grants, no calls yet.
pub fn host() -> Host {
    Host {
        wasi: WasiCtxBuilder::new().build(),
        table: ResourceTable::new(),
        next_token: 1,
        watchers: HashMap::new(),
        left: HashSet::new(),
    }
}

fn unwrap_result(result: Val) -> anyhow::Result<Val> {
    match result {
        Val::Result(Ok(Some(value))) => Ok(*value),
        Val::Result(Ok(None)) => Ok(Val::Tuple(Vec::new())),
        other => anyhow::bail!("the call failed: {other:?}"),
    }
}

/// WASI and the smallest working `snakebox:runtime/host`.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    let mut host = linker.instance("snakebox:runtime/host@0.1.0")?;
    host.func_wrap_concurrent("sleep", |_: &Accessor<Host>, (_id, ms): (u64, u64)| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        })
    })?;
    // Timers are never cancelled in this benchmark.
    host.func_wrap("wake", |_store, (_id,): (u64,)| Ok(()))?;
    host.func_wrap("enter", |mut store, (): ()| {
        let host: &mut Host = store.data_mut();
        let token = host.next_token;
        host.next_token += 1;
        Ok((token,))
    })?;
    host.func_wrap_concurrent(
        "watch",
        |accessor: &Accessor<Host>, (token, ms): (u64, Option<u64>)| {
            Box::pin(async move {
                let waiter = accessor.with(|mut access| {
                    let host = access.get();
                    if host.left.remove(&token) {
                        return None;
                    }
                    let (sender, receiver) = oneshot::channel();
                    host.watchers.insert(token, sender);
                    Some(receiver)
                });
                let end = match (waiter, ms) {
                    (None, _) => WatchEnd::Left,
                    (Some(receiver), None) => receiver.await.unwrap_or(WatchEnd::Left),
                    (Some(receiver), Some(ms)) => tokio::select! {
                        end = receiver => end.unwrap_or(WatchEnd::Left),
                        () = tokio::time::sleep(Duration::from_millis(ms)) => WatchEnd::Due,
                    },
                };
                Ok((end,))
            })
        },
    )?;
    // An earlier timer: the watch wakes now, and the guest sets the next.
    host.func_wrap("alarm", |mut store, (token, _ms): (u64, u64)| {
        if let Some(watcher) = store.data_mut().watchers.remove(&token) {
            let _ = watcher.send(WatchEnd::Due);
        }
        Ok(())
    })?;
    host.func_wrap("leave", |mut store, (token,): (u64,)| {
        let host: &mut Host = store.data_mut();
        match host.watchers.remove(&token) {
            Some(watcher) => {
                let _ = watcher.send(WatchEnd::Left);
            }
            None => {
                host.left.insert(token);
            }
        }
        Ok(())
    })?;
    host.func_wrap("log", |_store, (_f, _l, _m): (String, u32, String)| Ok(()))?;
    Ok(linker)
}
