//! Host functions: Rust that the sandboxed Python may call.
//!
//! A module built with `--imports directory.pyi` imports the WIT interface
//! `directory`, whose functions return `result<T, host-error>`. The host
//! binds each one by its Python name (`directory.find_person`) in
//! [`HostFunctions`], with a closure over JSON values, and hands them to
//! [`Policy::host`](crate::Policy::host). Arguments and results are JSON
//! by the same rules as the exports' ([`crate::to_val`], [`crate::from_val`]).
//!
//! Every host function is linked as a concurrent wasmtime function, so an
//! async one never blocks the store: other calls on it go on while it
//! waits. When the host gives up on the Python call that is waiting (its
//! future is dropped, or its time limit passes), the host function's future
//! is dropped too, and Python sees `CancelledError`.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt as _;
use serde_json::Value;
use snakebox_generator::Module;
use tokio::sync::watch;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, Linker, Val};

use crate::error::{Detail, Error, Result};
use crate::values::json;

mod http;
use crate::store::records;
use crate::store::{Caller, CallerView};
pub use http::HttpOptions;

/// A host function's failure, raised in Python as `HostError`, or as the
/// exception class named by its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    kind: String,
    message: String,
}

impl HostError {
    /// A failure raised as `HostError(message)`.
    pub fn new(message: impl fmt::Display) -> Self {
        HostError {
            kind: String::new(),
            message: message.to_string(),
        }
    }

    /// A failure raised as the exception class `kind`: a class of the stub
    /// (`NotFound`), or a builtin (`PermissionError`), made a subclass of
    /// `HostError` as well. Any other name becomes a new subclass of
    /// `HostError` with that name.
    pub fn kind(kind: impl Into<String>, message: impl fmt::Display) -> Self {
        HostError {
            kind: kind.into(),
            message: message.to_string(),
        }
    }

    /// The class name, empty for `HostError` itself.
    pub fn kind_name(&self) -> &str {
        &self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind.is_empty() {
            true => write!(f, "{}", self.message),
            false => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

impl std::error::Error for HostError {}

/// What a host function gives back.
pub type HostResult = std::result::Result<Value, HostError>;

/// The future an async host function returns.
pub type HostFuture = Pin<Box<dyn Future<Output = HostResult> + Send>>;

type AsyncFn = dyn Fn(Caller, Vec<Value>) -> HostFuture + Send + Sync;
type SyncFn = dyn Fn(Caller, Vec<Value>) -> HostResult + Send + Sync;

#[derive(Clone)]
enum Implementation {
    Async(Arc<AsyncFn>),
    Sync(Arc<SyncFn>),
}

/// The host functions an app's Python may call, by Python name
/// (`directory.find_person`: the stub's module, then the function).
///
/// Each takes the call's arguments as a JSON array, in the stub's order (an
/// omitted argument with a default is `null`), and gives a JSON result.
///
/// ```
/// use snakebox::{HostError, HostFunctions, serde_json::json};
///
/// let mut host = HostFunctions::new();
/// host.add_async("directory.find_person", |_caller, args| async move {
///     match args[0].as_i64() {
///         Some(7) => Ok(json!({"id": 7, "name": "Ada"})),
///         _ => Err(HostError::kind("NotFound", format!("no person {}", args[0]))),
///     }
/// });
/// host.add_sync("directory.audit", |caller, args| {
///     println!("{}: {}", caller.function(), args[0]);
///     Ok(json!(null))
/// });
/// assert_eq!(host.names().collect::<Vec<_>>(), ["directory.audit", "directory.find_person"]);
/// ```
#[derive(Clone, Default)]
pub struct HostFunctions {
    functions: BTreeMap<String, Implementation>,
    /// Link unbound functions to a failure instead of refusing the load.
    unbound_fail_when_called: bool,
}

impl HostFunctions {
    /// No host functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `name` to an async closure. It runs on the store's thread,
    /// while the store's other calls go on.
    pub fn add_async<F, Fut>(&mut self, name: impl Into<String>, function: F) -> &mut Self
    where
        F: Fn(Caller, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HostResult> + Send + 'static,
    {
        let function: Arc<AsyncFn> = Arc::new(move |caller, args| Box::pin(function(caller, args)));
        self.functions
            .insert(name.into(), Implementation::Async(function));
        self
    }

    /// Binds `name` to a sync closure. The store waits for it: keep it short.
    pub fn add_sync<F>(&mut self, name: impl Into<String>, function: F) -> &mut Self
    where
        F: Fn(Caller, Vec<Value>) -> HostResult + Send + Sync + 'static,
    {
        self.functions
            .insert(name.into(), Implementation::Sync(Arc::new(function)));
        self
    }

    /// Binds `name` to an HTTP endpoint: each call POSTs its arguments as
    /// a JSON array to `url` (`http://` or `https://`). A `200` response's
    /// JSON body is the result; any other status fails the call with the
    /// body's text. Only these URLs are contacted, by the host; the
    /// sandbox itself has no network. The options are the defaults
    /// ([`HttpOptions`]).
    pub fn add_http(&mut self, name: impl Into<String>, url: &str) -> Result<&mut Self> {
        self.add_http_with(name, url, &HttpOptions::default())
    }

    /// [`add_http`](Self::add_http) with options: headers such as a token,
    /// the cap on requests in flight, the connect timeout.
    ///
    /// ```
    /// use snakebox::{HostFunctions, HttpOptions};
    ///
    /// let token = "s3cret"; // read from a file or the environment
    /// let options = HttpOptions {
    ///     headers: vec![("Authorization".into(), format!("Bearer {token}"))],
    ///     ..HttpOptions::default()
    /// };
    /// let mut host = HostFunctions::new();
    /// host.add_http_with("directory.find_person", "http://127.0.0.1:9000/person", &options)?;
    /// # Ok::<(), snakebox::Error>(())
    /// ```
    pub fn add_http_with(
        &mut self,
        name: impl Into<String>,
        url: &str,
        options: &HttpOptions,
    ) -> Result<&mut Self> {
        let endpoint = Arc::new(http::Endpoint::new(url, options).map_err(Error::BadArguments)?);
        Ok(self.add_async(name, move |_caller, args| Arc::clone(&endpoint).call(args)))
    }

    /// Lets a component load with functions left unbound: each fails when
    /// called, with a `HostError` naming it. By default a load refuses them,
    /// so that a typo shows when a server starts, not halfway through a
    /// request.
    pub fn allow_unbound(&mut self) -> &mut Self {
        self.unbound_fail_when_called = true;
        self
    }

    /// The bound names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// `true` when nothing is bound.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

impl fmt::Debug for HostFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl PartialEq for HostFunctions {
    /// The same names, each bound to the same closure.
    fn eq(&self, other: &Self) -> bool {
        self.unbound_fail_when_called == other.unbound_fail_when_called
            && self.functions.len() == other.functions.len()
            && self
                .functions
                .iter()
                .zip(&other.functions)
                .all(|((a, f), (b, g))| {
                    a == b
                        && match (f, g) {
                            (Implementation::Async(f), Implementation::Async(g)) => {
                                Arc::ptr_eq(f, g)
                            }
                            (Implementation::Sync(f), Implementation::Sync(g)) => Arc::ptr_eq(f, g),
                            _ => false,
                        }
                })
    }
}

impl Eq for HostFunctions {}

/// Links the host modules the component imports, as its description names
/// them, to `host`. Every function must be bound: a missing one is refused
/// here, at load time, by name, before any call could fail halfway.
pub(crate) fn link<T: CallerView>(
    linker: &mut Linker<T>,
    engine: &Engine,
    component: &Component,
    imports: &[Module],
    host: &HostFunctions,
) -> Result<()> {
    let names: Vec<String> = component
        .component_type()
        .imports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
        .map(|(name, _)| name.to_owned())
        // The generated package's own interfaces, never WASI's or the runtime's.
        .filter(|name| name.starts_with(&format!("{}:", snakebox_generator::wit::NAMESPACE)))
        .collect();
    let mut missing = Vec::new();
    let mut used = HashSet::new();
    for module in imports {
        let suffix = format!("/{}", module.wit_name);
        let Some(instance) = names
            .iter()
            .find(|name| name.split('@').next().is_some_and(|n| n.ends_with(&suffix)))
        else {
            return Err(Error::BadComponent(Detail::new(format!(
                "its description names the host module `{}`, which it does not import",
                module.name
            ))));
        };
        let mut linked = linker.instance(instance).map_err(|e| {
            Error::BadComponent(Detail::caused_by(
                format!("cannot link the host module `{}`", module.name),
                e,
            ))
        })?;
        for function in &module.functions {
            let name = format!("{}.{}", module.name, function.name);
            let implementation = match host.functions.get(&name) {
                Some(implementation) => {
                    used.insert(name.clone());
                    implementation.clone()
                }
                None if host.unbound_fail_when_called => unbound(&name),
                None => {
                    missing.push(name);
                    continue;
                }
            };
            define(
                &mut linked,
                &function.wit_name,
                name,
                implementation,
                function.is_async,
            )?;
        }
    }
    if !missing.is_empty() {
        return Err(Error::MissingHostFunctions(missing));
    }
    for name in host.names().filter(|name| !used.contains(*name)) {
        tracing::warn!("the host function `{name}` is bound, but the component never calls it");
    }
    Ok(())
}

/// The stand-in of a function nothing is bound to.
fn unbound(name: &str) -> Implementation {
    let message = format!("the host function `{name}` is not bound");
    Implementation::Sync(Arc::new(move |_caller, _args| {
        Err(HostError::new(&message))
    }))
}

fn define<T: CallerView>(
    linker: &mut wasmtime::component::LinkerInstance<'_, T>,
    wit_name: &str,
    name: String,
    implementation: Implementation,
    is_async: bool,
) -> Result<()> {
    let name: Arc<str> = name.into();
    let defined = match is_async {
        // An `async func`: the guest goes on with its other tasks meanwhile.
        true => linker.func_new_concurrent(wit_name, move |accessor, ty, params, results| {
            let implementation = implementation.clone();
            let name = Arc::clone(&name);
            Box::pin(async move {
                let (caller, watch) = accessor.with(|mut access| caller_of(&mut access));
                let args = arguments(&ty, params);
                let outcome = run(&implementation, &name, caller, args, watch).await;
                store_result(&ty, &name, outcome, results);
                Ok(())
            })
        }),
        // A plain `func`: the guest waits, as Python's sync call does.
        false => linker.func_new_async(wit_name, move |mut store, ty, params, results| {
            let implementation = implementation.clone();
            let name = Arc::clone(&name);
            Box::new(async move {
                let (caller, watch) = caller_of(&mut store);
                let args = arguments(&ty, params);
                let outcome = run(&implementation, &name, caller, args, watch).await;
                store_result(&ty, &name, outcome, results);
                Ok(())
            })
        }),
    };
    defined.map_err(|e| {
        Error::BadComponent(Detail::caused_by(
            format!("cannot link the host function `{wit_name}`"),
            e,
        ))
    })
}

fn arguments(ty: &ComponentFunc, params: &[Val]) -> Vec<Value> {
    ty.params()
        .zip(params)
        .map(|((_, ty), value)| json::from_val(&ty, value))
        .collect()
}

fn store_result(ty: &ComponentFunc, name: &str, outcome: Outcome, results: &mut [Val]) {
    if let Some(slot) = results.first_mut() {
        *slot = lower(ty, name, outcome);
    }
}

/// Which Python call is asking: the root of the async call stack is the
/// export call, which the worker entered in the store's book.
fn caller_of<T: CallerView>(store: &mut impl wasmtime::AsContextMut<Data = T>) -> (Caller, Watch) {
    let mut context = store.as_context_mut();
    let root = context.async_call_stack().ok().and_then(Iterator::last);
    let found = root.and_then(|task| context.data().caller_of(task));
    match found {
        Some((caller, given_up, deadline)) => (
            caller,
            Watch {
                given_up: Some(given_up),
                deadline,
            },
        ),
        None => (
            Caller::new(String::new(), None),
            Watch {
                given_up: None,
                deadline: None,
            },
        ),
    }
}

/// When a host function stops waiting: once the host gives up on its call,
/// or at the call's hard deadline (the worker cannot act on the time limit
/// while the store is blocked in a sync host function).
pub(crate) struct Watch {
    given_up: Option<watch::Receiver<bool>>,
    deadline: Option<std::time::Instant>,
}

/// What a host function call came to.
enum Outcome {
    Done(HostResult),
    /// The host gave up on the Python call before the function returned.
    Cancelled,
}

async fn run(
    implementation: &Implementation,
    name: &str,
    caller: Caller,
    args: Vec<Value>,
    watch: Watch,
) -> Outcome {
    let panicked = |panic: Box<dyn Any + Send>| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!("the host function `{name}` panicked: {detail}");
        Err(HostError::new(format!(
            "the host function `{name}` panicked: {detail}"
        )))
    };
    let future: HostFuture = match implementation {
        Implementation::Sync(function) => {
            let called = std::panic::catch_unwind(AssertUnwindSafe(|| function(caller, args)));
            return Outcome::Done(called.unwrap_or_else(panicked));
        }
        Implementation::Async(function) => {
            match std::panic::catch_unwind(AssertUnwindSafe(|| function(caller, args))) {
                Ok(future) => future,
                Err(panic) => return Outcome::Done(panicked(panic)),
            }
        }
    };
    let future = AssertUnwindSafe(future).catch_unwind();
    // A host call made after the host gave up (from an `except` or a
    // `finally`) runs to its end; those pending when it gives up do not.
    let Some(mut given_up) = watch.given_up.filter(|given_up| !*given_up.borrow()) else {
        return Outcome::Done(future.await.unwrap_or_else(panicked));
    };
    let deadline = async {
        match watch.deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        outcome = future => Outcome::Done(outcome.unwrap_or_else(panicked)),
        // Given up, or the call is over: nobody waits for this result.
        _ = given_up.changed() => Outcome::Cancelled,
        () = deadline => Outcome::Cancelled,
    }
}

/// The WIT `result<T, host-error>` of an outcome.
fn lower(ty: &ComponentFunc, name: &str, outcome: Outcome) -> Val {
    let Some(Type::Result(result)) = ty.results().next() else {
        return Val::Bool(false);
    };
    let failed = |kind: &str, message: String| {
        Val::Result(Err(Some(Box::new(records::host_failed(kind, message)))))
    };
    match outcome {
        Outcome::Cancelled => Val::Result(Err(Some(Box::new(records::host_cancelled())))),
        Outcome::Done(Err(error)) => failed(&error.kind, error.message),
        Outcome::Done(Ok(value)) => match result.ok() {
            None => Val::Result(Ok(None)),
            Some(ok) => match json::to_val(&ok, &value) {
                Ok(val) => Val::Result(Ok(Some(Box::new(val)))),
                Err(error) => {
                    let message = format!(
                        "the host function `{name}` returned a value that does not match its stub: {error}"
                    );
                    tracing::warn!("{message}");
                    failed("", message)
                }
            },
        },
    }
}
