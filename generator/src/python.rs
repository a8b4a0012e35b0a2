//! Reads Python source into the IR. The only module that touches ruff's AST.

mod classes;
mod named;
mod resources;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use ruff_python_ast::{self as ast, Expr, Operator, Stmt};
use ruff_python_parser::parse_module;
use ruff_text_size::{Ranged, TextRange, TextSize};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::ir::{Function, Module, Param, ParamKind, Type, TypeDef};
use crate::names;
use named::{RESERVED_TYPE_NAMES, rename_types_named_like_functions};

/// The IR of a module and everything worth telling about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// `None` when the file could not be parsed at all.
    pub module: Option<Module>,
    /// Everything worth telling, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// `true` when at least one function can be exported.
    pub fn is_usable(&self) -> bool {
        self.module
            .as_ref()
            .is_some_and(|module| !module.functions.is_empty() || !module.classes.is_empty())
    }
}

/// How strictly annotations are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Refuse what has no annotation (a parameter, a result, a bare
    /// `tuple`), as before gradual typing. Without it such a value is
    /// carried as `Any` (JSON), with an `SB112` warning; and an overloaded
    /// function exports its implementation's signature.
    pub strict: bool,
}

/// Reads one module's source, gradually typed (see [`Options`]).
/// `module_name` is its Python import name.
pub fn analyze(source: &str, module_name: &str) -> Analysis {
    analyze_with(source, module_name, Options::default())
}

/// Reads one module's source with `options`.
pub fn analyze_with(source: &str, module_name: &str, options: Options) -> Analysis {
    let lines = LineIndex::new(source);
    let parsed = match parse_module(source) {
        Ok(parsed) => parsed,
        Err(error) => {
            let (line, column) = lines.position(error.location.start());
            return Analysis {
                module: None,
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    code: Code::SyntaxError,
                    line,
                    column,
                    message: format!("invalid Python: {}", error.error),
                    help: "fix the syntax error; nothing can be generated until the file parses"
                        .into(),
                }],
            };
        }
    };
    let body = &parsed.syntax().body;
    let mut reader = Reader {
        source,
        lines,
        diagnostics: Vec::new(),
        classes: body
            .iter()
            .filter_map(|stmt| match stmt {
                Stmt::ClassDef(class) => Some((class.name.id.as_str(), class)),
                _ => None,
            })
            .collect(),
        aliases: body.iter().filter_map(type_alias).collect(),
        types: RefCell::default(),
        resolved: RefCell::default(),
        resolving: RefCell::default(),
        depth: Cell::new(0),
        sources: RefCell::default(),
        options,
        untyped: RefCell::default(),
        current_class: RefCell::default(),
    };
    let Some(wit_name) = names::kebab(module_name) else {
        let diagnostic = reader.error(
            TextRange::default(),
            Code::BadName,
            format!("the module name `{module_name}` has no WIT form"),
            "name the file with ASCII letters, digits and underscores, starting with a letter",
        );
        return Analysis {
            module: None,
            diagnostics: vec![diagnostic],
        };
    };
    let functions = reader.functions(body);
    let classes = reader.resources(body);
    if functions.is_empty() && classes.is_empty() {
        let diagnostic = reader.error(
            TextRange::default(),
            Code::NothingExported,
            "the module has no public, fully annotated top-level function or class to export"
                .into(),
            "define at least one `def` or `class` whose name does not start with `_`, with annotations",
        );
        reader.diagnostics.push(diagnostic);
    }
    let mut module = Module {
        name: module_name.to_owned(),
        wit_name,
        docs: docstring(body),
        functions,
        types: reader.types.into_inner(),
        classes,
    };
    rename_types_named_like_functions(&mut module);
    Analysis {
        module: Some(module),
        diagnostics: reader.diagnostics,
    }
}

/// A problem found in an annotation, before it becomes a diagnostic.
#[derive(Clone)]
struct Problem {
    range: TextRange,
    code: Code,
    message: String,
    help: String,
}

/// The WIT label of a Python name, or a `BadName` problem saying which
/// kind of name (`what`) has none.
fn wit_label(name: &str, range: TextRange, what: &str) -> Result<String, Problem> {
    names::kebab(name)
        .filter(|label| names::is_label(label))
        .ok_or_else(|| {
            Problem::new(
                range,
                Code::BadName,
                format!("{what} `{name}` has no WIT name"),
                "use ASCII letters, digits and underscores, starting with a letter",
            )
        })
}

impl Problem {
    fn new(
        range: TextRange,
        code: Code,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Problem {
            range,
            code,
            message: message.into(),
            help: help.into(),
        }
    }
}

struct Reader<'a> {
    source: &'a str,
    lines: LineIndex,
    diagnostics: Vec<Diagnostic>,
    /// The module's top-level classes by name (a later one wins, as in Python).
    classes: HashMap<&'a str, &'a ast::StmtClassDef>,
    /// Module-level type aliases (`Mode = Literal[...]`, `type Id = int`).
    aliases: HashMap<&'a str, &'a Expr>,
    /// The named WIT types found so far, each after the types it uses.
    types: RefCell<Vec<TypeDef>>,
    /// Classes already read: their WIT type name, or why they cannot cross.
    resolved: RefCell<HashMap<String, Result<String, Problem>>>,
    /// Classes being read, to catch a class that refers back to itself.
    resolving: RefCell<Vec<String>>,
    /// How deep the annotation being read is nested.
    depth: Cell<u32>,
    /// The text of the string annotations being read, innermost last.
    sources: RefCell<Vec<Option<String>>>,
    options: Options,
    /// What the function being read carries as `Any` for want of an
    /// annotation: warnings, reported once the function is exported.
    untyped: RefCell<Vec<Problem>>,
    /// The WIT name of the class whose members are being read, which
    /// `Self` names.
    current_class: RefCell<Option<String>>,
}

/// The deepest nesting of types an annotation may have.
const MAX_TYPE_DEPTH: u32 = 64;

impl Reader<'_> {
    fn diagnostic(
        &self,
        severity: Severity,
        range: TextRange,
        code: Code,
        message: String,
        help: &str,
    ) -> Diagnostic {
        let (line, column) = self.lines.position(range.start());
        Diagnostic {
            severity,
            code,
            line,
            column,
            message,
            help: help.to_owned(),
        }
    }

    fn error(&self, range: TextRange, code: Code, message: String, help: &str) -> Diagnostic {
        self.diagnostic(Severity::Error, range, code, message, help)
    }

    /// A warning about a function that is exported all the same.
    fn note(&mut self, problem: Problem, function: &str) {
        let message = format!("`{function}`: {}", problem.message);
        self.warn(problem, message);
    }

    /// A warning that the function was skipped.
    fn report(&mut self, problem: Problem, function: &str) {
        let message = format!("`{function}` skipped: {}", problem.message);
        self.warn(problem, message);
    }

    fn warn(&mut self, problem: Problem, message: String) {
        let diagnostic = self.diagnostic(
            Severity::Warning,
            problem.range,
            problem.code,
            message,
            &problem.help,
        );
        self.diagnostics.push(diagnostic);
    }

    /// Exports the function although it lacks what `refused` asks for,
    /// with `warning` to report once it is exported; in strict mode
    /// `refused` is the error instead.
    fn accept(&self, refused: Problem, warning: Problem) -> Result<(), Problem> {
        if self.options.strict {
            return Err(refused);
        }
        self.untyped.borrow_mut().push(warning);
        Ok(())
    }

    /// Streams a generator's items although part of its annotation cannot
    /// cross, saying what is lost.
    fn stream_loses(&self, refused: Problem, lost: &str) -> Result<(), Problem> {
        let message = format!("its items stream, but {lost}");
        let warning = Problem::new(refused.range, Code::Stream, message, refused.help.clone());
        self.accept(refused, warning)
    }

    /// Carries a value that has no type as `Any`, saying what it `became`.
    fn untyped(&self, refused: Problem, became: String, help: String) -> Result<Type, Problem> {
        let warning = Problem::new(refused.range, Code::Untyped, became, help);
        self.accept(refused, warning)?;
        Ok(self.json_type())
    }

    fn functions(&mut self, body: &[Stmt]) -> Vec<Function> {
        let overloaded: Vec<&str> = body
            .iter()
            .filter_map(|stmt| match stmt {
                Stmt::FunctionDef(def) if def.decorator_list.iter().any(is_overload) => {
                    Some(def.name.id.as_str())
                }
                _ => None,
            })
            .collect();
        let mut functions: Vec<Function> = Vec::new();
        for stmt in body {
            let Stmt::FunctionDef(def) = stmt else {
                continue;
            };
            let name = def.name.id.as_str();
            if name.starts_with('_') {
                continue;
            }
            // A later `def` of the same name replaces the earlier one, as in Python.
            functions.retain(|f| f.name != name);
            let is_signature = def.decorator_list.iter().any(is_overload);
            if overloaded.contains(&name) && (self.options.strict || is_signature) {
                let implemented = body.iter().any(|stmt| {
                    matches!(stmt, Stmt::FunctionDef(other)
                        if other.name.id == name && !other.decorator_list.iter().any(is_overload))
                });
                // Gradually, the overloads only announce the implementation.
                if is_signature && (self.options.strict || !implemented) {
                    let problem = Problem::new(
                        def.name.range,
                        Code::Overload,
                        "`@overload` signatures cannot be exported",
                        "export one function per signature, each with its own name, or \
                         define the implementation, whose signature is exported",
                    );
                    self.report(problem, name);
                }
                continue;
            }
            let known_types = self.types.borrow().len();
            self.untyped.borrow_mut().clear();
            let outcome = self.function(def);
            if outcome.is_err() {
                self.forget_types_after(known_types);
            }
            match outcome {
                Ok(function) => {
                    if let Some(other) = functions.iter().find(|f| f.wit_name == function.wit_name)
                    {
                        let problem = Problem::new(
                            def.name.range,
                            Code::BadName,
                            format!(
                                "its WIT name `{}` is the same as that of `{}`",
                                function.wit_name, other.name
                            ),
                            "rename one of the two functions",
                        );
                        self.forget_types_after(known_types);
                        self.report(problem, name);
                    } else {
                        if overloaded.contains(&name) {
                            let problem = Problem::new(
                                def.name.range,
                                Code::Overload,
                                "it is overloaded: the implementation's signature is exported, \
                                 not the `@overload` ones",
                                "annotate the implementation with the union of the overloads",
                            );
                            self.note(problem, name);
                        }
                        for problem in self.untyped.take() {
                            self.note(problem, name);
                        }
                        functions.push(function);
                    }
                }
                Err(problem) => self.report(problem, name),
            }
        }
        functions
    }

    fn function(&self, def: &ast::StmtFunctionDef) -> Result<Function, Problem> {
        let name = def.name.id.as_str();
        let wit_name = names::kebab(name).ok_or_else(|| {
            Problem::new(
                def.name.range,
                Code::BadName,
                "the name has no WIT form",
                "use ASCII letters, digits and underscores, starting with a letter",
            )
        })?;
        if RESERVED_TYPE_NAMES.contains(&wit_name.as_str()) {
            return Err(Problem::new(
                def.name.range,
                Code::BadName,
                format!("its WIT name `{wit_name}` is taken by snakebox's own type"),
                "rename the function",
            ));
        }
        if def.type_params.is_some() {
            return Err(Problem::new(
                def.range,
                Code::Unsupported,
                "generic functions cannot be exported",
                "annotate with concrete types",
            ));
        }
        let params = self.params(&def.parameters)?;
        let (is_async, result, stream) = match def.returns.as_deref() {
            None => {
                let refused = Problem::new(
                    def.name.range,
                    Code::MissingReturnAnnotation,
                    "it has no return annotation",
                    "annotate the result, for example `-> int`, or `-> None` for no value",
                );
                let result = self.untyped(
                    refused,
                    "its result has no annotation, and is carried as `Any` (JSON)".into(),
                    "annotate the result, for example `-> int`, or `-> None` for no value".into(),
                )?;
                (def.is_async, result, false)
            }
            Some(returns) => match self.stream_item(returns)? {
                Some(item) => (true, item, true),
                None => {
                    let (is_async, result) = self.result(def.is_async, returns)?;
                    (is_async, result, false)
                }
            },
        };
        let (line, column) = self.lines.position(def.range.start());
        Ok(Function {
            name: name.to_owned(),
            wit_name,
            is_async,
            async_def: def.is_async,
            stream,
            params,
            result,
            docs: docstring(&def.body),
            line,
            column,
        })
    }

    fn params(&self, parameters: &ast::Parameters) -> Result<Vec<Param>, Problem> {
        let mut params = Vec::new();
        let groups = [
            (&parameters.posonlyargs, ParamKind::Positional),
            (&parameters.args, ParamKind::PositionalOrKeyword),
        ];
        for (group, kind) in groups {
            for param in group.iter() {
                params.push(self.param(&param.parameter, kind, param.default.is_some())?);
            }
        }
        if let Some(vararg) = parameters.vararg.as_deref() {
            // `*args` and `**kwargs` may be left out, as in Python.
            params.push(self.param(vararg, ParamKind::VarPositional, true)?);
        }
        for param in parameters.kwonlyargs.iter() {
            params.push(self.param(
                &param.parameter,
                ParamKind::Keyword,
                param.default.is_some(),
            )?);
        }
        if let Some(kwarg) = parameters.kwarg.as_deref() {
            params.push(self.param(kwarg, ParamKind::VarKeyword, true)?);
        }
        for (i, param) in params.iter().enumerate() {
            if let Some(other) = params[..i].iter().find(|p| p.wit_name == param.wit_name) {
                return Err(Problem::new(
                    parameters.range,
                    Code::BadName,
                    format!(
                        "parameters `{}` and `{}` have the same WIT name `{}`",
                        other.name, param.name, param.wit_name
                    ),
                    "rename one of the two parameters",
                ));
            }
        }
        Ok(params)
    }

    fn param(
        &self,
        param: &ast::Parameter,
        kind: ParamKind,
        has_default: bool,
    ) -> Result<Param, Problem> {
        let name = param.name.id.as_str();
        let wit_name = wit_label(name, param.name.range, "parameter")?;
        let ty = match param.annotation.as_deref() {
            Some(annotation) => self.value_type(annotation)?,
            None => {
                let shown = match kind {
                    ParamKind::VarPositional => format!("*{name}"),
                    ParamKind::VarKeyword => format!("**{name}"),
                    _ => name.to_owned(),
                };
                let refused = Problem::new(
                    param.range,
                    Code::MissingParamAnnotation,
                    format!("parameter `{shown}` has no annotation"),
                    format!("annotate it, for example `{shown}: int`"),
                );
                let each = match kind {
                    ParamKind::VarPositional | ParamKind::VarKeyword => "each of its values is",
                    _ => "it is",
                };
                self.untyped(
                    refused,
                    format!(
                        "parameter `{shown}` has no annotation; {each} carried as `Any` (JSON)"
                    ),
                    format!("annotate it, for example `{shown}: int`, to give it a type"),
                )?
            }
        };
        Ok(Param {
            name: name.to_owned(),
            wit_name,
            kind,
            ty,
            has_default,
        })
    }

    /// The item type when the return annotation is a generator or iterator,
    /// sync or async, whose items stream to the caller.
    fn stream_item(&self, returns: &Expr) -> Result<Option<Type>, Problem> {
        let Some((name, args)) = generic(returns) else {
            return Ok(None);
        };
        let (item, rest) = match (name, args.as_slice()) {
            ("Iterator" | "AsyncIterator" | "AsyncIterable", [item]) => (*item, &[][..]),
            ("Generator", [item, rest @ ..]) if rest.len() == 2 => (*item, rest),
            ("AsyncGenerator", [item, rest @ ..]) if rest.len() == 1 => (*item, rest),
            (
                "Iterator" | "AsyncIterator" | "AsyncIterable" | "Generator" | "AsyncGenerator",
                _,
            ) => {
                return Err(Problem::new(
                    returns.range(),
                    Code::UnsupportedType,
                    format!("`{name}` has the wrong number of type arguments"),
                    "write `Iterator[T]`, `Generator[T, None, None]`, `AsyncIterator[T]` \
                     or `AsyncGenerator[T, None]`",
                ));
            }
            _ => return Ok(None),
        };
        if let Some(send) = rest.first().filter(|send| !is_none(send)) {
            let refused = Problem::new(
                send.range(),
                Code::Stream,
                "sending values into a generator is not supported",
                "make the send type `None`, or annotate the result as `Iterator[T]`",
            );
            self.stream_loses(
                refused,
                "nothing is sent into it: each `yield` gives `None`",
            )?;
        }
        if let Some(value) = rest.get(1).filter(|value| !is_none(value)) {
            let refused = Problem::new(
                value.range(),
                Code::Stream,
                "a generator's return value cannot reach the caller; only its items stream",
                "make the return type `None`, or yield the value as the last item",
            );
            self.stream_loses(refused, "its return value does not reach the caller")?;
        }
        if is_none(item) {
            return Err(Problem::new(
                item.range(),
                Code::Stream,
                "a stream of `None` carries nothing",
                "yield values of a type, for example `Iterator[int]`",
            ));
        }
        let item = self.value_type(item)?;
        Ok(Some(self.no_object(
            item,
            returns,
            "a stream of JSON items",
        )?))
    }

    /// `ty`, unless it holds an object, which only a parameter or a result
    /// (or a list or option of them) can carry: not `inside` a record, a
    /// tuple, a dict, a union or a stream, whose values are copied.
    fn no_object(&self, ty: Type, expr: &Expr, inside: &str) -> Result<Type, Problem> {
        match ty.object_class() {
            None => Ok(ty),
            Some(class) => Err(Problem::new(
                expr.range(),
                Code::UnsupportedType,
                format!(
                    "an object of class `{}` cannot be carried inside {inside}",
                    names::class_name(class)
                ),
                "pass the object itself (or a list or `Optional` of objects), or pass its data \
                 as a dataclass",
            )),
        }
    }

    /// Reads a return annotation: whether the function is async, and what
    /// its call produces.
    fn result(&self, is_async_def: bool, returns: &Expr) -> Result<(bool, Type), Problem> {
        let coroutine = match generic(returns) {
            Some(("Coroutine", args)) => Some(args),
            Some(("Awaitable", args)) if !is_async_def && args.len() == 1 => {
                return Ok((true, self.return_type(args[0])?));
            }
            _ => None,
        };
        let Some(args) = coroutine else {
            return Ok((is_async_def, self.return_type(returns)?));
        };
        let &[yield_type, send_type, result_type] = args.as_slice() else {
            return Err(Problem::new(
                returns.range(),
                Code::UnsupportedType,
                "`Coroutine` takes three type arguments",
                "write `Coroutine[None, None, T]`, or `async def f() -> T`",
            ));
        };
        if !is_none(send_type) {
            return Err(Problem::new(
                send_type.range(),
                Code::CoroutineSend,
                "sending values into a coroutine is not supported",
                "make the send type `None`: `Coroutine[T, None, None]` in an `async def`, \
                 or `Coroutine[None, None, T]` in a plain `def`",
            ));
        }
        if is_async_def {
            // The convention `async def f() -> Coroutine[T, None, None]`: T is the result.
            if !is_none(result_type) {
                return Err(Problem::new(
                    returns.range(),
                    Code::AmbiguousCoroutine,
                    "in an `async def`, `Coroutine[Y, None, R]` must have `R` = `None`; \
                     the result is read from `Y`",
                    "write `async def f() -> T`, or `async def f() -> Coroutine[T, None, None]`",
                ));
            }
            Ok((true, self.return_type(yield_type)?))
        } else {
            // Standard typing: a `def` returning `Coroutine[Y, S, R]` awaits to R.
            if !is_none(yield_type) && !is_name(yield_type, "Any") {
                return Err(Problem::new(
                    yield_type.range(),
                    Code::AmbiguousCoroutine,
                    "a plain `def` returning `Coroutine[Y, None, R]` must have `Y` = `None`; \
                     the result is read from `R`",
                    "write `def f() -> Coroutine[None, None, T]`, or `async def f() -> T`",
                ));
            }
            Ok((true, self.return_type(result_type)?))
        }
    }

    fn return_type(&self, expr: &Expr) -> Result<Type, Problem> {
        if is_none(expr) {
            Ok(Type::None)
        } else {
            self.value_type(expr)
        }
    }

    /// Reads an annotation that denotes a value (not `None` on its own).
    fn value_type(&self, expr: &Expr) -> Result<Type, Problem> {
        // Deeply nested annotations would exhaust the stack here and in the emitters.
        if self.depth.get() >= MAX_TYPE_DEPTH {
            return Err(Problem::new(
                expr.range(),
                Code::UnsupportedType,
                format!("the annotation nests types more than {MAX_TYPE_DEPTH} deep"),
                "flatten the type, or carry the value as `Any`",
            ));
        }
        self.depth.set(self.depth.get() + 1);
        let ty = self.value_type_inner(expr);
        self.depth.set(self.depth.get() - 1);
        ty
    }

    fn value_type_inner(&self, expr: &Expr) -> Result<Type, Problem> {
        if let Expr::StringLiteral(string) = expr {
            return self.string_annotation(string);
        }
        if let Expr::BinOp(ast::ExprBinOp {
            left,
            op: Operator::BitOr,
            right,
            ..
        }) = expr
        {
            return self.union(expr, &[left, right]);
        }
        if is_none(expr) {
            return Err(Problem::new(
                expr.range(),
                Code::UnsupportedType,
                "`None` is only allowed as a return type or inside `Optional`",
                "use `Optional[T]` for a value that may be missing",
            ));
        }
        if let Some((name, args)) = generic(expr) {
            return self.generic_type(expr, name, &args);
        }
        if let Expr::Name(name) = expr
            && let Some(class) = self.classes.get(name.id.as_str())
        {
            if let Some(wit_name) = self.resource_wit_name(class) {
                return Ok(Type::Object(wit_name));
            }
            return match self.class_type(class) {
                Err(problem) if problem.code == Code::UnsupportedClass => {
                    let name = name.id.as_str();
                    let help = problem.help.clone();
                    if self.options.strict {
                        return Err(problem);
                    }
                    // The warning names where the class is used.
                    let problem = Problem {
                        range: expr.range(),
                        ..problem
                    };
                    self.untyped(
                        problem,
                        format!("the class `{name}` is not a type snakebox carries; its values are carried as `Any` (JSON)"),
                        help,
                    )
                }
                outcome => outcome,
            };
        }
        if let Expr::Name(name) = expr
            && let Some(alias) = self.aliases.get(name.id.as_str())
        {
            let name = name.id.as_str();
            if self.resolving.borrow().iter().any(|other| other == name) {
                return Err(Problem::new(
                    expr.range(),
                    Code::RecursiveType,
                    format!(
                        "the type alias `{name}` refers back to itself, which WIT types cannot"
                    ),
                    "break the cycle, or carry the value as `Any`",
                ));
            }
            self.resolving.borrow_mut().push(name.to_owned());
            let ty = self.within(None, || self.value_type(alias));
            self.resolving.borrow_mut().pop();
            return ty;
        }
        let simple = match base_name(expr) {
            Some("Self") if self.current_class.borrow().is_some() => {
                Type::Object(self.current_class.borrow().clone().unwrap_or_default())
            }
            Some("Any" | "object") => self.json_type(),
            Some("int") => Type::Int,
            Some("float") => Type::Float,
            Some("bool") => Type::Bool,
            Some("str") => Type::Str,
            Some("bytes") => Type::Bytes,
            Some("bytearray") => Type::ByteArray,
            Some(name @ ("list" | "List" | "dict" | "Dict" | "tuple" | "Tuple" | "Sequence")) => {
                let refused = Problem::new(
                    expr.range(),
                    Code::UnsupportedType,
                    format!("`{name}` needs its item types"),
                    format!("write for example `{name}[int]`"),
                );
                let (became, example, is_list) = match name {
                    "dict" | "Dict" => ("`Any` (JSON)", "[str, int]", false),
                    "tuple" | "Tuple" => ("`tuple[Any, ...]`", "[int, str]", true),
                    _ => ("a list of `Any` (JSON)", "[int]", true),
                };
                let any = self.untyped(
                    refused,
                    format!("a bare `{name}` has no item types, and is carried as {became}"),
                    format!("write its item types, for example `{name}{example}`"),
                )?;
                return Ok(if is_list {
                    Type::List(Box::new(any))
                } else {
                    any
                });
            }
            // A constrained TypeVar: one of its constraints.
            Some("AnyStr") => self.variant(vec![Type::Str, Type::Bytes]),
            _ => return self.unknown(expr),
        };
        Ok(simple)
    }

    /// An annotation snakebox has no type for: refused in strict mode, and
    /// for buffers (`Buffer`, numpy arrays), which JSON would copy element
    /// by element, losing their shape; else carried as `Any`.
    fn unknown(&self, expr: &Expr) -> Result<Type, Problem> {
        let problem = self.unsupported(expr);
        let head = generic(expr)
            .map(|(name, _)| name)
            .or_else(|| base_name(expr));
        let is_buffer = matches!(head, Some("Buffer" | "ndarray" | "NDArray" | "memoryview"))
            || self.text(expr).starts_with("np.");
        if is_buffer {
            return Err(Problem::new(
                expr.range(),
                Code::UnsupportedType,
                format!(
                    "the buffer `{}` cannot cross: JSON would copy it element by element and lose its shape",
                    self.text(expr)
                ),
                "pass its items as `list[float]` (or `list[list[float]]`), or its raw bytes as `bytes`",
            ));
        }
        let text = self.text(expr);
        self.untyped(
            problem,
            format!("snakebox has no type for `{text}`; its values are carried as `Any` (JSON)"),
            "use a type snakebox carries (int, str, a dataclass, ...), or `Any` to say so".into(),
        )
    }

    fn generic_type(&self, expr: &Expr, name: &str, args: &[&Expr]) -> Result<Type, Problem> {
        let ty = match (name, args) {
            ("list" | "List" | "Sequence" | "Iterable" | "MutableSequence", [item]) => {
                Type::List(Box::new(self.value_type(item)?))
            }
            ("tuple" | "Tuple", [item, Expr::EllipsisLiteral(_)]) => {
                Type::List(Box::new(self.value_type(item)?))
            }
            ("tuple" | "Tuple", items) if !items.is_empty() => Type::Tuple(
                items
                    .iter()
                    .map(|item| self.value_type(item))
                    .map(|ty| self.no_object(ty?, expr, "a tuple"))
                    .collect::<Result<_, _>>()?,
            ),
            ("dict" | "Dict" | "Mapping" | "MutableMapping", [key, value]) => Type::Dict(
                Box::new(self.no_object(self.value_type(key)?, expr, "a dict")?),
                Box::new(self.no_object(self.value_type(value)?, expr, "a dict")?),
            ),
            ("Optional", [item]) => Type::Option(Box::new(self.value_type(item)?)),
            ("Union", items) => return self.union(expr, items),
            ("Literal", items) => return self.literal(expr, items),
            ("Annotated", [item, ..]) => return self.value_type(item),
            (
                "Generator" | "Iterator" | "AsyncGenerator" | "AsyncIterator" | "AsyncIterable",
                _,
            ) => {
                return Err(Problem::new(
                    expr.range(),
                    Code::Stream,
                    format!("`{name}` streams only as a function's whole return annotation"),
                    "return the generator from the function, or pass a `list[T]`",
                ));
            }
            _ => return self.unknown(expr),
        };
        Ok(ty)
    }

    fn string_annotation(&self, string: &ast::ExprStringLiteral) -> Result<Type, Problem> {
        let inner = ruff_python_parser::parse_expression(string.value.to_str()).map_err(|_| {
            Problem::new(
                string.range,
                Code::UnsupportedType,
                "the string annotation is not a valid expression",
                "write the annotation without quotes, or fix its text",
            )
        })?;
        // Positions inside the string point at the string itself.
        let text = string.value.to_str().to_owned();
        self.within(Some(text), || self.value_type(inner.expr()))
            .map_err(|problem| Problem {
                range: string.range,
                ..problem
            })
    }

    fn unsupported(&self, expr: &Expr) -> Problem {
        Problem::new(
            expr.range(),
            Code::UnsupportedType,
            format!(
                "the annotation `{}` is not a supported type",
                self.text(expr)
            ),
            "use int, float, bool, str, bytes, list[T], tuple[...], dict[K, V], Optional[T], \
             a union, Literal[...], Any, or a dataclass, TypedDict, NamedTuple or Enum \
             defined in this module",
        )
    }

    /// The source text of an annotation, inside a string annotation if one
    /// is being read.
    fn text(&self, expr: &Expr) -> String {
        let sources = self.sources.borrow();
        let source = match sources.last() {
            Some(Some(inner)) => inner.as_str(),
            _ => self.source,
        };
        source
            .get(expr.range().to_std_range())
            .unwrap_or("?")
            .to_owned()
    }

    /// Runs `read` with `source` as the text that ranges point into
    /// (`None`: the module's own source).
    fn within<T>(&self, source: Option<String>, read: impl FnOnce() -> T) -> T {
        self.sources.borrow_mut().push(source);
        let outcome = read();
        self.sources.borrow_mut().pop();
        outcome
    }
}

/// `Name = T`, `Name: TypeAlias = T` or `type Name = T` at module level.
fn type_alias(stmt: &Stmt) -> Option<(&str, &Expr)> {
    let (target, value) = match stmt {
        Stmt::Assign(assign) => match assign.targets.as_slice() {
            [target] => (target, assign.value.as_ref()),
            _ => return None,
        },
        Stmt::AnnAssign(assign) if is_name(&assign.annotation, "TypeAlias") => {
            (assign.target.as_ref(), assign.value.as_deref()?)
        }
        Stmt::TypeAlias(alias) if alias.type_params.is_none() => {
            (alias.name.as_ref(), alias.value.as_ref())
        }
        _ => return None,
    };
    match target {
        Expr::Name(name) => Some((name.id.as_str(), value)),
        _ => None,
    }
}

/// The last name of `x`, `typing.x` or `collections.abc.x`.
fn base_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attribute) => Some(attribute.attr.id.as_str()),
        _ => None,
    }
}

/// `Name[args]`, with `args` split at top-level commas.
fn generic(expr: &Expr) -> Option<(&str, Vec<&Expr>)> {
    let Expr::Subscript(subscript) = expr else {
        return None;
    };
    let name = base_name(&subscript.value)?;
    let args = match subscript.slice.as_ref() {
        Expr::Tuple(tuple) => tuple.elts.iter().collect(),
        single => vec![single],
    };
    Some((name, args))
}

fn is_none(expr: &Expr) -> bool {
    matches!(expr, Expr::NoneLiteral(_)) || is_name(expr, "NoneType")
}

fn is_name(expr: &Expr, wanted: &str) -> bool {
    base_name(expr) == Some(wanted)
}

fn is_overload(decorator: &ast::Decorator) -> bool {
    base_name(&decorator.expression) == Some("overload")
}

/// The docstring of a body, cleaned like `inspect.cleandoc`.
fn docstring(body: &[Stmt]) -> Option<String> {
    let Some(Stmt::Expr(ast::StmtExpr { value, .. })) = body.first() else {
        return None;
    };
    let Expr::StringLiteral(string) = value.as_ref() else {
        return None;
    };
    let text = string.value.to_str();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim().to_owned();
    let rest: Vec<&str> = lines.collect();
    let indent = rest
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = vec![first];
    out.extend(
        rest.iter()
            .map(|line| line.get(indent..).unwrap_or("").trim_end().to_owned()),
    );
    while out.first().is_some_and(|line| line.is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|line| line.is_empty()) {
        out.pop();
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join("\n"))
    }
}

/// Byte offsets to 1-based line and character column.
struct LineIndex {
    starts: Vec<usize>,
    source: String,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            starts,
            source: source.to_owned(),
        }
    }

    fn position(&self, offset: TextSize) -> (u32, u32) {
        let offset = offset.to_usize().min(self.source.len());
        let line = self
            .starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let start = self.starts[line];
        let column = self
            .source
            .get(start..offset)
            .map_or(0, |text| text.chars().count());
        (line as u32 + 1, column as u32 + 1)
    }
}
