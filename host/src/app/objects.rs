//! Objects: instances of the module's classes, which WIT exports as
//! resources. An object stays in the store that made it; Rust holds an
//! [`Object`], a handle that knows its store, and calls its methods there.
//! Dropping the last clone of an `Object` releases the Python object.
//!
//! Calls that pass or return objects take and give [`Value`]s: WIT values
//! whose resources are `Object`s.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use wasmtime::component::types::Type;
use wasmtime::component::{ResourceAny, Val};

use crate::app::call::{Call, request};
use crate::app::classes::Class;
use crate::app::handles::App;
use crate::component::signature::{Function, MemberKind};
use crate::error::{Error, Result};
use crate::exec::worker::CallRequest;
use crate::exec::worker::WorkerHandle;
use crate::store::CallerState;
use crate::values::arguments;

/// An object of a class of the module, living in one store. Cheap to
/// clone; the Python object is released when the last clone is dropped
/// (its `__del__` runs, a weak reference to it dies).
///
/// Its methods run on its own store, whichever handle made it. A trap or a
/// limit on that store discards the store with its objects: later calls on
/// such an object fail with [`Error::StaleObject`].
#[derive(Clone)]
pub struct Object {
    held: Arc<Held>,
}

struct Held {
    resource: ResourceAny,
    class: Arc<Class>,
    /// The worker of the store it lives in, and that store's generation.
    home: WorkerHandle,
    generation: u64,
    /// The app, with the caller state of the handle that made it, which
    /// its method calls carry.
    app: App,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.home
            .release(self.resource, self.class.release, self.generation);
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} object>", self.held.class.name)
    }
}

impl Object {
    /// Its class.
    pub fn class(&self) -> &Class {
        &self.held.class
    }

    /// Calls a method (or a static function of its class) with `args`,
    /// which may hold objects of the same store.
    pub fn call(&self, method: &str, args: Vec<Value>) -> ValueCall {
        let function = match self.method(method) {
            Ok(function) => function,
            Err(error) => return ValueCall::failed(error),
        };
        let mut values = Vec::with_capacity(args.len() + 1);
        if function.member.as_ref().map(|m| m.kind) == Some(MemberKind::Method) {
            values.push(Value::Object(self.clone()));
        }
        values.extend(args);
        submit(
            &self.held.app,
            Some(&self.held.home),
            false,
            function,
            values,
        )
    }

    /// Calls a method with JSON arguments, as [`Calls::call_json`](crate::Calls::call_json) calls a
    /// function, and gives its result as JSON.
    pub fn call_json(
        &self,
        method: &str,
        positional: &[serde_json::Value],
        named: &[(String, serde_json::Value)],
    ) -> impl Future<Output = Result<serde_json::Value>> + Send + use<> {
        let prepared = self.method(method).and_then(|function| {
            let args = arguments::bind(&function, positional, named)?;
            let args = args.into_iter().map(Value::Val).collect();
            Ok((Arc::clone(&function), self.call(method, args)))
        });
        async move {
            let (function, call) = prepared?;
            let value = call.await?;
            let value = value.map(Value::into_val).transpose()?;
            Ok(arguments::result_json(&function, value.as_ref()))
        }
    }

    fn method(&self, name: &str) -> Result<Arc<Function>> {
        let class = &self.held.class;
        class.member(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = class
                .members()
                .iter()
                .map(|f| f.python_name.as_str())
                .collect();
            Error::NoSuchFunction(format!(
                "{}.{name} (its methods: {})",
                class.name,
                known.join(", ")
            ))
        })
    }

    /// The handle, as WIT passes it to a `borrow` parameter.
    fn val(&self) -> Val {
        Val::Resource(self.held.resource)
    }
}

/// A WIT value whose resources are [`Object`]s: what calls that pass or
/// return objects take and give.
#[derive(Clone, Debug)]
pub enum Value {
    /// A value that holds no object.
    Val(Val),
    /// An object: borrowed as an argument, owned as a result.
    Object(Object),
    /// A list that holds objects.
    List(Vec<Value>),
    /// An option that holds an object.
    Option(Option<Box<Value>>),
}

impl From<Val> for Value {
    fn from(val: Val) -> Self {
        Value::Val(val)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Self {
        Value::Object(object)
    }
}

impl From<&Object> for Value {
    fn from(object: &Object) -> Self {
        Value::Object(object.clone())
    }
}

impl Value {
    /// The object this value is, or an error saying what it is instead.
    pub fn into_object(self) -> Result<Object> {
        match self {
            Value::Object(object) => Ok(object),
            other => Err(Error::BadArguments(format!(
                "expected an object, got {other:?}"
            ))),
        }
    }

    /// The objects of a list (or the one object, or none for `None`).
    pub fn into_objects(self) -> Result<Vec<Object>> {
        match self {
            Value::Object(object) => Ok(vec![object]),
            Value::List(items) => items.into_iter().map(Value::into_object).collect(),
            Value::Option(None) => Ok(Vec::new()),
            Value::Option(Some(item)) => item.into_objects(),
            Value::Val(val) => Err(Error::BadArguments(format!(
                "expected objects, got {val:?}"
            ))),
        }
    }

    /// The plain WIT value, when it holds no object.
    pub fn into_val(self) -> Result<Val> {
        match self {
            Value::Val(val) => Ok(val),
            other => Err(Error::BadArguments(format!(
                "expected a value without objects, got {other:?}"
            ))),
        }
    }

    /// The WIT value, with each object's handle, and the objects met.
    fn lower(self, objects: &mut Vec<Object>) -> Val {
        match self {
            Value::Val(val) => val,
            Value::Object(object) => {
                let val = object.val();
                objects.push(object);
                val
            }
            Value::List(items) => Val::List(items.into_iter().map(|v| v.lower(objects)).collect()),
            Value::Option(item) => Val::Option(item.map(|v| Box::new(v.lower(objects)))),
        }
    }
}

/// Where a call's objects come from and go: the store, and the app and
/// caller state their later calls carry.
struct Home<'a> {
    app: &'a App,
    worker: WorkerHandle,
    generation: &'a AtomicU64,
}

impl Home<'_> {
    /// `val`, of type `ty`, with each owned handle made an [`Object`].
    fn lift(&self, ty: &Type, val: Val) -> Result<Value> {
        Ok(match (ty, val) {
            (Type::Own(resource), Val::Resource(handle)) => {
                let class = self
                    .app
                    .classes()
                    .iter()
                    .find(|class| class.resource.as_ref() == Some(resource))
                    .cloned()
                    .ok_or_else(|| {
                        Error::BadArguments("the call returned an object of no known class".into())
                    })?;
                Value::Object(Object {
                    held: Arc::new(Held {
                        resource: handle,
                        class,
                        home: self.worker.clone(),
                        generation: self.generation.load(Ordering::Acquire),
                        app: self.app.clone(),
                    }),
                })
            }
            (Type::List(list), Val::List(items)) if holds_objects(&list.ty()) => Value::List(
                items
                    .into_iter()
                    .map(|item| self.lift(&list.ty(), item))
                    .collect::<Result<_>>()?,
            ),
            (Type::Option(option), Val::Option(item)) if holds_objects(&option.ty()) => {
                Value::Option(match item {
                    Some(item) => Some(Box::new(self.lift(&option.ty(), *item)?)),
                    None => None,
                })
            }
            (_, val) => Value::Val(val),
        })
    }
}

/// Whether values of `ty` may hold owned handles.
fn holds_objects(ty: &Type) -> bool {
    match ty {
        Type::Own(_) => true,
        Type::List(list) => holds_objects(&list.ty()),
        Type::Option(option) => holds_objects(&option.ty()),
        _ => false,
    }
}

/// The result type of a function, inside snakebox's `result<T, python-error>`.
fn value_type(function: &Function) -> Option<Type> {
    match &function.result {
        Some(Type::Result(result)) if function.returns_python_error() => result.ok(),
        other => other.clone(),
    }
}

/// Sends a call that may pass and return objects. `worker` is the store
/// the handle calls on (`None`: the calling thread's); `pinned` when the
/// handle promises that store (a session), so that an object of another
/// store is an error rather than a reason to call there.
pub(crate) fn submit(
    app: &App,
    worker: Option<&WorkerHandle>,
    pinned: bool,
    function: Arc<Function>,
    args: Vec<Value>,
) -> ValueCall {
    let mut objects = Vec::new();
    let mut args: Vec<Val> = args.into_iter().map(|v| v.lower(&mut objects)).collect();
    if let Err(error) = complete(&function, &mut args) {
        return ValueCall::failed(error);
    }
    let home = match place(app, worker, pinned, &function, &objects) {
        Ok(home) => home,
        Err(error) => return ValueCall::failed(error),
    };
    let expects = objects.first().map(|object| object.held.generation);
    let ran_on = Arc::new(AtomicU64::new(0));
    let (request, call) = request(app, function.clone(), args, None, app.state.as_ref());
    let request = CallRequest {
        expects,
        ran_on: Some(Arc::clone(&ran_on)),
        ..request
    };
    // On the calling thread's own store, a sync call runs here and now,
    // as `Calls::call` runs one through an `App`.
    let request = match app.is_thread_store(&home) {
        true => home.call_here(request),
        false => Some(request),
    };
    if let Some(request) = request {
        home.submit(request);
    }
    ValueCall {
        state: State::Waiting {
            call,
            function,
            app: app.clone(),
            worker: home,
            ran_on,
            _objects: objects,
        },
    }
}

/// Fills in the parameters left out at the end that Python has defaults
/// for (`none`), and checks the count. A method's values start with its
/// object, which [`Function::params`] does not list.
fn complete(function: &Function, args: &mut Vec<Val>) -> Result<()> {
    let own = usize::from(function.member.as_ref().map(|m| m.kind) == Some(MemberKind::Method));
    let given = args.len().saturating_sub(own);
    if own > args.len() {
        return Err(Error::BadArguments(format!(
            "`{}` is a method: call it on its object",
            function.call_name
        )));
    }
    if given > function.params.len() {
        return Err(Error::BadArguments(format!(
            "`{}` takes {} arguments, got {given}",
            function.call_name,
            function.params.len()
        )));
    }
    // A value given for a parameter with a default is the value itself,
    // as in Python: its `option` is for leaving it out.
    for (index, arg) in args[own..].iter_mut().enumerate() {
        let defaulted = function
            .described
            .as_ref()
            .is_some_and(|d| d.function().params[index].has_default);
        if defaulted && !matches!(arg, Val::Option(_)) {
            *arg = Val::Option(Some(Box::new(std::mem::replace(arg, Val::Bool(false)))));
        }
    }
    for index in given..function.params.len() {
        if !function.may_omit(index) {
            return Err(Error::BadArguments(format!(
                "`{}` is missing argument `{}`",
                function.call_name, function.params[index].0
            )));
        }
        args.push(Val::Option(None));
    }
    Ok(())
}

/// The store a call runs on: its objects', or the handle's.
fn place(
    app: &App,
    worker: Option<&WorkerHandle>,
    pinned: bool,
    function: &Function,
    objects: &[Object],
) -> Result<WorkerHandle> {
    let Some(first) = objects.first() else {
        return match worker {
            Some(worker) => Ok(worker.clone()),
            None => app.thread_store(),
        };
    };
    let home = &first.held.home;
    if objects.iter().any(|o| !o.held.home.same_worker(home)) {
        return Err(Error::BadArguments(format!(
            "`{}` was passed objects of two stores: an object stays in the store that made it, \
             so objects of different stores cannot meet in one call",
            function.call_name
        )));
    }
    if !first.held.app.same_component(app) {
        return Err(Error::BadArguments(format!(
            "`{}` was passed an object of another component",
            function.call_name
        )));
    }
    match worker {
        Some(worker) if pinned && !worker.same_worker(home) => Err(Error::BadArguments(format!(
            "`{}` was passed a {} object of another store: an object stays in the store that \
             made it; call it through that store's session, or through the app",
            function.call_name, first.held.class.name
        ))),
        _ => Ok(home.clone()),
    }
}

/// A call that may return objects. Dropping it cancels the call.
#[must_use = "a call does nothing useful unless awaited, and dropping it cancels it"]
pub struct ValueCall {
    state: State,
}

enum State {
    Failed(Option<Error>),
    Waiting {
        call: Call,
        function: Arc<Function>,
        app: App,
        worker: WorkerHandle,
        ran_on: Arc<AtomicU64>,
        /// The call's objects, alive until it ends.
        _objects: Vec<Object>,
    },
}

impl ValueCall {
    pub(crate) fn failed(error: Error) -> Self {
        ValueCall {
            state: State::Failed(Some(error)),
        }
    }
}

impl Future for ValueCall {
    /// The function's value (`None` when it returns nothing), its owned
    /// handles made [`Object`]s; or why not.
    type Output = Result<Option<Value>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Failed(error) => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::Other(anyhow::anyhow!("call polled after completion"))))),
            State::Waiting {
                call,
                function,
                app,
                worker,
                ran_on,
                ..
            } => Pin::new(call).poll(cx).map(|outcome| {
                let Some(val) = outcome? else {
                    return Ok(None);
                };
                let home = Home {
                    app,
                    worker: worker.clone(),
                    generation: ran_on,
                };
                match value_type(function) {
                    Some(ty) => home.lift(&ty, val).map(Some),
                    None => Ok(Some(Value::Val(val))),
                }
            }),
        }
    }
}

/// The caller state a handle's calls carry, for the objects they make.
pub(crate) fn with_state(app: &App, state: Option<&CallerState>) -> App {
    let mut app = app.clone();
    app.state = state.cloned();
    app
}
