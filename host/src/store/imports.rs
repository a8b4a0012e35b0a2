//! The linker: WASI, and the `snakebox:runtime/host` imports of the guest
//! runtime, implemented on the traits that `bindgen!` made of their WIT.

use anyhow::Context as _;
use tokio::sync::oneshot;
use wasmtime::component::{Access, Accessor, HasSelf, Linker};
use wasmtime::{AsContextMut as _, Engine};

use crate::store::bindings::{self, host};
use crate::store::{StoreData, after_ms};

/// The target of guest output events.
use crate::store::GUEST_TARGET;

/// A linker with WASI (p2 and p3) and snakebox's host imports.
pub(crate) fn linker(engine: &Engine) -> anyhow::Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(anyhow::Error::from)
        .context("failed to add WASI p2")?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)
        .map_err(anyhow::Error::from)
        .context("failed to add WASI p3")?;
    bindings::Imports::add_to_linker::<_, HasSelf<StoreData>>(&mut linker, |data| data)
        .map_err(anyhow::Error::from)
        .context("failed to add snakebox's host imports")?;
    Ok(linker)
}

impl bindings::snakebox::runtime::types::Host for StoreData {}

impl host::Host for StoreData {
    fn wake(&mut self, id: u64) -> wasmtime::Result<()> {
        if let Some(wake) = self.timers.remove(&id) {
            let _ = wake.send(());
        }
        Ok(())
    }

    fn leave(&mut self, token: u64) -> wasmtime::Result<()> {
        self.calls.lock().tokens.leave(token);
        Ok(())
    }

    fn alarm(&mut self, token: u64, ms: u64) -> wasmtime::Result<()> {
        self.calls.lock().tokens.alarm(token, after_ms(ms));
        Ok(())
    }

    fn log(&mut self, function: String, level: u32, message: String) -> wasmtime::Result<()> {
        let Some(message) = self.output.admit(&function, message) else {
            return Ok(());
        };
        match level {
            0..=10 => tracing::debug!(target: GUEST_TARGET, function, "{message}"),
            11..=20 => tracing::info!(target: GUEST_TARGET, function, "{message}"),
            21..=30 => tracing::warn!(target: GUEST_TARGET, function, "{message}"),
            _ => tracing::error!(target: GUEST_TARGET, function, "{message}"),
        }
        Ok(())
    }
}

impl<T> host::HostWithStore<T> for HasSelf<StoreData> {
    async fn sleep(accessor: &Accessor<T, Self>, id: u64, ms: u64) -> wasmtime::Result<()> {
        let (wake, woken) = oneshot::channel();
        accessor.with(|mut access| access.get().timers.insert(id, wake));
        tokio::select! {
            () = tokio::time::sleep_until(after_ms(ms)) => {}
            _ = woken => {}
        }
        accessor.with(|mut access| access.get().timers.remove(&id));
        Ok(())
    }

    async fn watch(
        accessor: &Accessor<T, Self>,
        token: u64,
        ms: Option<u64>,
    ) -> wasmtime::Result<host::WatchEnd> {
        let deadline = ms.map(after_ms);
        let watch =
            accessor.with(|mut access| access.get().calls.lock().tokens.watch(token, deadline));
        Ok(watch.wake().await)
    }

    /// The last entry of the async call stack is the export call that the
    /// running guest code belongs to; the worker registered its token.
    fn enter(mut access: Access<'_, T, Self>) -> wasmtime::Result<u64> {
        let root = access.as_context_mut().async_call_stack()?.last();
        let calls = access.get().calls.lock();
        Ok(root.and_then(|task| calls.token_of(task)).unwrap_or(0))
    }
}
