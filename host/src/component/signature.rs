//! The exported functions of a component, found from its own types.

use std::fmt::Write;

use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use std::sync::Arc;

use snakebox_generator::Module;

use crate::error::{Detail, Error, Result};
use crate::store::records::is_python_error;

/// One function a component exports.
#[derive(Clone)]
pub struct Function {
    /// The WIT name (`async-function`).
    pub name: String,
    /// The name Python gives it (`async_function`).
    pub python_name: String,
    /// The name callers use: the Python name, or `module.name` (the
    /// interface in Python form) when the component exports several
    /// interfaces, as a package does (`animals.describe`).
    pub call_name: String,
    /// The exported interface it belongs to, or `None` at the world's root.
    pub interface: Option<String>,
    /// `true` for a WIT `async func`.
    pub is_async: bool,
    /// Parameter names (WIT) and types.
    pub params: Vec<(String, Type)>,
    /// The result type, if the function has one.
    pub result: Option<Type>,
    /// What the generator knew of it, when the component carries a
    /// description (every component snakebox builds does).
    pub described: Option<Described>,
    /// The class it belongs to, for a constructor, method or static
    /// function of a resource; `None` for a free function.
    pub member: Option<Member>,
    pub(crate) index: ComponentExportIndex,
}

/// What a class member is, and of which class (a WIT resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The resource's WIT name (`account`).
    pub class: String,
    /// Constructor, method or static function.
    pub kind: MemberKind,
}

/// The kinds of class member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    /// `[constructor]account`: `__init__`.
    Constructor,
    /// `[method]account.deposit`: called on an object, which WIT passes as
    /// a first parameter `self: borrow<account>` that
    /// [`Function::params`] leaves out.
    Method,
    /// `[static]account.currency`: a `@staticmethod` or `@classmethod`.
    Static,
}

impl Member {
    /// The member an export's WIT name says, and its own name:
    /// `[method]account.deposit` is method `deposit` of `account`.
    fn parse(name: &str) -> Option<(Member, &str)> {
        let (kind, rest) = [
            ("[constructor]", MemberKind::Constructor),
            ("[method]", MemberKind::Method),
            ("[async method]", MemberKind::Method),
            ("[static]", MemberKind::Static),
            ("[async static]", MemberKind::Static),
        ]
        .into_iter()
        .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|rest| (kind, rest)))?;
        let (class, member) = match kind {
            MemberKind::Constructor => (rest, "constructor"),
            _ => rest.split_once('.')?,
        };
        let member_of = Member {
            class: class.to_owned(),
            kind,
        };
        Some((member_of, member))
    }
}

impl Function {
    /// `true` when the result is snakebox's `result<T, python-error>`.
    pub fn returns_python_error(&self) -> bool {
        if self.described.is_some() {
            // Checked against the WIT types when the component was loaded.
            return true;
        }
        match &self.result {
            Some(Type::Result(result)) => result.err().as_ref().is_some_and(is_python_error),
            _ => false,
        }
    }

    /// `true` for a generator: `result<stream<string>, python-error>`, whose
    /// items are JSON texts.
    pub fn returns_stream(&self) -> bool {
        if let Some(described) = &self.described {
            return described.function().stream;
        }
        let Some(Type::Result(result)) = &self.result else {
            return false;
        };
        matches!(result.ok(), Some(Type::Stream(stream)) if stream.ty() == Some(Type::String))
            && self.returns_python_error()
    }

    /// Whether the caller may leave parameter `index` out. A described
    /// function says so when Python has a default (or for `*args` and
    /// `**kwargs`); without a description, any `option` may be left out.
    pub fn may_omit(&self, index: usize) -> bool {
        match &self.described {
            Some(described) => described.function().params[index].has_default,
            None => matches!(self.params[index].1, Type::Option(_)),
        }
    }

    /// `true` for the method of a resource that lets its Python object go
    /// before the host drops the handle (`snakebox-release`), which is
    /// the runtime's, not the module's.
    pub(crate) fn is_release(&self) -> bool {
        self.member
            .as_ref()
            .is_some_and(|m| m.kind == MemberKind::Method)
            && self.name == snakebox_generator::wit::RELEASE
    }

    /// `true` when it takes or returns objects (WIT resource handles),
    /// which only [`Calls::call_values`](crate::Calls::call_values) and
    /// [`Object`](crate::Object)s carry. A method's own object is not
    /// among [`params`](Self::params), and does not count.
    pub fn uses_objects(&self) -> bool {
        fn handles(ty: &Type) -> bool {
            match ty {
                Type::Own(_) | Type::Borrow(_) => true,
                Type::List(list) => handles(&list.ty()),
                Type::Option(option) => handles(&option.ty()),
                Type::Result(result) => {
                    result.ok().as_ref().is_some_and(handles)
                        || result.err().as_ref().is_some_and(handles)
                }
                Type::Tuple(tuple) => tuple.types().any(|ty| handles(&ty)),
                Type::Record(record) => record.fields().any(|field| handles(&field.ty)),
                Type::Variant(variant) => variant
                    .cases()
                    .any(|case| case.ty.as_ref().is_some_and(handles)),
                _ => false,
            }
        }
        self.params.iter().any(|(_, ty)| handles(ty)) || self.result.as_ref().is_some_and(handles)
    }

    /// The docstring, when the component carries a description.
    pub fn docs(&self) -> Option<&str> {
        self.described.as_ref()?.function().docs.as_deref()
    }

    /// The Python signature, when the component carries a description.
    pub fn python_signature(&self) -> Option<String> {
        self.described.as_ref().map(Described::python_signature)
    }

    /// The WIT signature, for example `add: func(a: s64, b: s64) -> result<s64, python-error>`.
    pub fn wit_signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, ty)| format!("{name}: {}", wit_type(ty)))
            .collect();
        let keyword = if self.is_async { "async func" } else { "func" };
        let mut out = format!("{}: {keyword}({})", self.name, params.join(", "));
        if let Some(result) = &self.result {
            let _ = write!(out, " -> {}", wit_type(result));
        }
        out
    }

    /// The bare name of its interface (`animals` for
    /// `snakebox-py:zoo/animals`), or `None` at the world's root.
    pub fn interface_name(&self) -> Option<&str> {
        self.interface.as_deref().map(short_interface)
    }

    /// The name qualified by its interface, for messages.
    pub fn qualified_name(&self) -> String {
        match &self.interface {
            Some(interface) => format!("{interface}#{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether `name` is one of its [`module_names`](Self::module_names).
    pub fn has_module_name(&self, name: &str) -> bool {
        self.module_names()
            .is_some_and(|names| names.iter().any(|by_module| by_module == name))
    }

    /// `module.function`: the Python module of its interface (as a package
    /// names it) and its Python or WIT name, by the rule the `--http` guest
    /// routes by. A package's functions take it whether it has one module
    /// or several; a function at the world's root has none.
    pub fn module_names(&self) -> Option<[String; 2]> {
        let interface = self.interface_name()?;
        Some(snakebox_generator::http::by_module(
            interface,
            &self.python_name,
            &self.name,
        ))
    }

    /// Whether `name` is [`qualified_name`](Self::qualified_name), without
    /// building it.
    pub fn has_qualified_name(&self, name: &str) -> bool {
        match &self.interface {
            Some(interface) => name
                .strip_prefix(interface.as_str())
                .and_then(|rest| rest.strip_prefix('#'))
                .is_some_and(|rest| rest == self.name),
            None => name == self.name,
        }
    }
}

/// One function as the generator described it.
#[derive(Clone, Debug)]
pub struct Described {
    module: Arc<Module>,
    which: Which,
}

/// Which function of the module: a free one, or a member of a class.
#[derive(Clone, Copy, Debug)]
enum Which {
    Function(usize),
    Constructor(usize),
    Method(usize, usize),
}

impl Described {
    pub(crate) fn new(module: Arc<Module>, index: usize) -> Self {
        Described {
            module,
            which: Which::Function(index),
        }
    }

    /// Class `class`'s constructor (`method` `None`) or method.
    pub(crate) fn member(module: Arc<Module>, class: usize, method: Option<usize>) -> Self {
        let which = match method {
            None => Which::Constructor(class),
            Some(method) => Which::Method(class, method),
        };
        Described { module, which }
    }

    /// The function as the generator read it: Python names, parameter
    /// kinds and defaults, docs, and for a generator the type of its items.
    pub fn function(&self) -> &snakebox_generator::Function {
        match self.which {
            Which::Function(index) => &self.module.functions[index],
            Which::Constructor(class) => &self.module.classes[class].constructor,
            Which::Method(class, method) => &self.module.classes[class].methods[method].function,
        }
    }

    /// The class a member belongs to.
    pub fn class(&self) -> Option<&snakebox_generator::Class> {
        match self.which {
            Which::Function(_) => None,
            Which::Constructor(class) | Which::Method(class, _) => {
                Some(&self.module.classes[class])
            }
        }
    }

    /// The module it belongs to, which holds the named types it uses.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// `def name(a: int, b: str = ...) -> T`, as Python wrote it (with
    /// `self` and its decorator for a member of a class).
    pub fn python_signature(&self) -> String {
        match self.which {
            Which::Function(_) => self.function().python_signature(&self.module),
            Which::Constructor(class) => {
                self.module.classes[class].constructor_signature(&self.module)
            }
            Which::Method(class, method) => {
                self.module.classes[class].methods[method].python_signature(&self.module)
            }
        }
    }
}

/// Lists every function a component exports, at the root and in interfaces.
pub(crate) fn exports(engine: &Engine, component: &Component) -> Result<Vec<Function>> {
    let mut functions = Vec::new();
    for (name, item) in component.component_type().exports(engine) {
        // The runtime's own exports are the host's, not the module's.
        if is_componentize_py_init(name, &item.ty, engine)
            || name == snakebox_generator::wit::lifecycle_interface()
        {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentFunc(func) => {
                let index = component.get_export_index(None, name).ok_or_else(|| {
                    Error::BadComponent(Detail::new(format!("export `{name}` has no index")))
                })?;
                functions.push(function(name, None, &func, index));
            }
            ComponentItem::ComponentInstance(instance) => {
                let parent = component.get_export_index(None, name).ok_or_else(|| {
                    Error::BadComponent(Detail::new(format!("export `{name}` has no index")))
                })?;
                for (func_name, item) in instance.exports(engine) {
                    let ComponentItem::ComponentFunc(func) = item.ty else {
                        continue;
                    };
                    let index = component
                        .get_export_index(Some(&parent), func_name)
                        .ok_or_else(|| {
                            Error::BadComponent(Detail::new(format!(
                                "export `{name}#{func_name}` has no index"
                            )))
                        })?;
                    functions.push(function(func_name, Some(name), &func, index));
                }
            }
            _ => {}
        }
    }
    Ok(functions)
}

/// Names each function as callers do: `module.name` when the component
/// exports several interfaces, as a package does, else the Python name.
pub(crate) fn name_calls(functions: &mut [Function]) {
    let first = functions.first().map(|f| f.interface.clone());
    let several = functions
        .iter()
        .any(|f| Some(&f.interface) != first.as_ref());
    for function in functions.iter_mut() {
        // A member is called by its class: `Account`, `Account.deposit`.
        let class = function.member.as_ref().map(|member| {
            let described = function.described.as_ref().and_then(Described::class);
            described.map_or_else(
                || snakebox_generator::class_name(&member.class),
                |class| class.name.clone(),
            )
        });
        let own_name = match (&class, &function.member) {
            (Some(class), Some(member)) if member.kind == MemberKind::Constructor => class.clone(),
            (Some(class), Some(_)) => format!("{class}.{}", function.python_name),
            _ => function.python_name.clone(),
        };
        function.call_name = match function.interface_name() {
            Some(interface) => snakebox_generator::call_name(interface, &own_name, several),
            None => own_name,
        };
    }
}

/// The bare name of an interface: `animals` for `snakebox-py:zoo/animals@1.0.0`.
pub(crate) fn short_interface(interface: &str) -> &str {
    let name = interface.split('@').next().unwrap_or(interface);
    let name = name.rsplit('/').next().unwrap_or(name);
    name.rsplit(':').next().unwrap_or(name)
}

/// The runtime's `warm` function ([`snakebox_generator::wit::WARM`]), which
/// components built before it was added do not export.
pub(crate) fn warm_export(component: &Component) -> Option<ComponentExportIndex> {
    let interface =
        component.get_export_index(None, snakebox_generator::wit::lifecycle_interface())?;
    component.get_export_index(Some(&interface), snakebox_generator::wit::WARM)
}

/// componentize-py leaves its build-time pre-initialisation hook exported
/// as `exports#init`; it is not part of the module's interface.
fn is_componentize_py_init(name: &str, item: &ComponentItem, engine: &Engine) -> bool {
    let ComponentItem::ComponentInstance(instance) = item else {
        return false;
    };
    let mut functions = instance
        .exports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
        .map(|(name, _)| name);
    name == "exports" && functions.next() == Some("init") && functions.next().is_none()
}

fn function(
    name: &str,
    interface: Option<&str>,
    func: &ComponentFunc,
    index: ComponentExportIndex,
) -> Function {
    let member = Member::parse(name);
    let wit_name = match &member {
        Some((_, own_name)) => (*own_name).to_owned(),
        None => name.trim_start_matches("[async]").to_owned(),
    };
    let mut params: Vec<(String, Type)> = func
        .params()
        .map(|(name, ty)| (name.to_owned(), ty))
        .collect();
    let member = member.map(|(member, _)| member);
    if member
        .as_ref()
        .is_some_and(|m| m.kind == MemberKind::Method)
        && !params.is_empty()
    {
        // The object a method is called on.
        params.remove(0);
    }
    let python_name = snakebox_generator::binding_name(&wit_name);
    Function {
        call_name: python_name.clone(),
        python_name,
        name: wit_name,
        interface: interface.map(str::to_owned),
        is_async: func.async_(),
        params,
        result: func.results().next(),
        described: None,
        member,
        index,
    }
}

/// The WIT spelling of a type. Records, variants, enums and flags have no
/// names at run time, so they are written out in place.
pub fn wit_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", wit_type(&list.ty())),
        Type::FixedLengthList(list) => format!("list<{}, {}>", wit_type(&list.ty()), list.len()),
        Type::Map(map) => format!("map<{}, {}>", wit_type(&map.key()), wit_type(&map.value())),
        Type::Record(_) if is_python_error(ty) => "python-error".into(),
        Type::Record(record) => {
            let fields: Vec<String> = record
                .fields()
                .map(|field| format!("{}: {}", field.name, wit_type(&field.ty)))
                .collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Tuple(tuple) => {
            let types: Vec<String> = tuple.types().map(|ty| wit_type(&ty)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        Type::Variant(variant) => {
            let cases: Vec<String> = variant
                .cases()
                .map(|case| match &case.ty {
                    Some(ty) => format!("{}({})", case.name, wit_type(ty)),
                    None => case.name.to_owned(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        Type::Enum(enumeration) => format!(
            "enum {{ {} }}",
            enumeration.names().collect::<Vec<_>>().join(", ")
        ),
        Type::Option(option) => format!("option<{}>", wit_type(&option.ty())),
        Type::Result(result) => {
            let ok = result.ok().map_or("_".to_owned(), |ty| wit_type(&ty));
            match result.err() {
                Some(err) => format!("result<{ok}, {}>", wit_type(&err)),
                None if result.ok().is_some() => format!("result<{ok}>"),
                None => "result".into(),
            }
        }
        Type::Flags(flags) => format!(
            "flags {{ {} }}",
            flags.names().collect::<Vec<_>>().join(", ")
        ),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Future(future) => match future.ty() {
            Some(ty) => format!("future<{}>", wit_type(&ty)),
            None => "future".into(),
        },
        Type::Stream(stream) => match stream.ty() {
            Some(ty) => format!("stream<{}>", wit_type(&ty)),
            None => "stream".into(),
        },
        Type::ErrorContext => "error-context".into(),
    }
}
