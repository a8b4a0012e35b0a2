//! Plain classes of the module as WIT resources: objects that stay in the
//! sandbox, reached by handle. `__init__` becomes the constructor, each
//! public method a `func` (`async func` for `async def`), `@staticmethod`
//! and `@classmethod` a `static func`.

use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::TextRange;

use super::named::RESERVED_TYPE_NAMES;
use super::{Problem, Reader, base_name, docstring, is_overload};
use crate::diagnostic::Code;
use crate::ir::{Class, Function, Method, MethodKind, Type};
use crate::names;

/// The WIT name of a class that becomes a resource, or `None` for a class
/// that does not: a record or enum, a generic class, a class with bases
/// (an exception, a protocol, a subclass), or a private one.
pub(super) fn resource_name(class: &ast::StmtClassDef) -> Option<String> {
    let name = class.name.id.as_str();
    let plain_bases = class.arguments.as_deref().is_none_or(|arguments| {
        arguments.keywords.is_empty()
            && arguments
                .args
                .iter()
                .all(|base| base_name(base) == Some("object"))
    });
    let decorated = !class.decorator_list.is_empty();
    if name.starts_with('_') || !plain_bases || decorated || class.type_params.is_some() {
        return None;
    }
    names::kebab(name).filter(|label| names::is_label(label))
}

/// A public class that would be a resource but for its type parameters
/// (`class Box[T]`, `class Box(Generic[T])`).
fn is_generic(class: &ast::StmtClassDef) -> bool {
    let generic_base = class.arguments.as_deref().is_some_and(|arguments| {
        arguments
            .args
            .iter()
            .any(|base| super::generic(base).is_some_and(|(name, _)| name == "Generic"))
    });
    !class.name.id.starts_with('_') && (class.type_params.is_some() || generic_base)
}

/// How a member of a class is exported, from its decorators.
enum Member {
    Exported(MethodKind),
    /// A property: left out, with a note.
    Property,
    /// An `@overload` signature: only its implementation is exported.
    Overload,
}

fn member(def: &ast::StmtFunctionDef) -> Member {
    let mut kind = Member::Exported(MethodKind::Instance);
    for decorator in &def.decorator_list {
        let expr = &decorator.expression;
        let attribute = match expr {
            Expr::Attribute(attribute) => Some(attribute.attr.id.as_str()),
            _ => None,
        };
        match base_name(expr) {
            Some("staticmethod") => kind = Member::Exported(MethodKind::Static),
            Some("classmethod") => kind = Member::Exported(MethodKind::Class),
            Some("property" | "cached_property") => return Member::Property,
            _ if matches!(attribute, Some("setter" | "getter" | "deleter")) => {
                return Member::Property;
            }
            _ if is_overload(decorator) => return Member::Overload,
            _ => {}
        }
    }
    kind
}

impl Reader<'_> {
    /// Reads every class of the module that becomes a resource; a member
    /// that cannot be exported is left out with a diagnostic, and the rest
    /// of its class still exports.
    pub(super) fn resources(&mut self, body: &[Stmt]) -> Vec<Class> {
        let mut classes: Vec<Class> = Vec::new();
        for stmt in body {
            let Stmt::ClassDef(class) = stmt else {
                continue;
            };
            let Some(wit_name) = self.resource_wit_name(class) else {
                if is_generic(class) {
                    let problem = Problem::new(
                        class.name.range,
                        Code::UnsupportedClass,
                        "a generic class cannot be a WIT resource",
                        "export a class of concrete types, for example a subclass of it",
                    );
                    self.report(problem, class.name.id.as_str());
                }
                continue;
            };
            // A later class of the same name replaces the earlier one.
            classes.retain(|c| c.name != class.name.id.as_str());
            if RESERVED_TYPE_NAMES.contains(&wit_name.as_str()) {
                let problem = Problem::new(
                    class.name.range,
                    Code::BadName,
                    format!("its WIT name `{wit_name}` is taken by snakebox's own type"),
                    "rename the class",
                );
                self.report(problem, class.name.id.as_str());
                continue;
            }
            if let Some(read) = self.class(class, wit_name) {
                classes.push(read);
            }
        }
        classes
    }

    /// The WIT name of a class of the module that becomes a resource.
    pub(super) fn resource_wit_name(&self, class: &ast::StmtClassDef) -> Option<String> {
        // Only the class a name finally refers to, as in Python.
        let current = self.classes.get(class.name.id.as_str())?;
        if !std::ptr::eq(*current, class) {
            return None;
        }
        resource_name(class)
    }

    fn class(&mut self, class: &ast::StmtClassDef, wit_name: String) -> Option<Class> {
        let class_name = class.name.id.as_str();
        *self.current_class.borrow_mut() = Some(wit_name.clone());
        let mut constructor = None;
        let mut methods: Vec<Method> = Vec::new();
        for stmt in &class.body {
            let Stmt::FunctionDef(def) = stmt else {
                continue;
            };
            let name = def.name.id.as_str();
            let shown = format!("{class_name}.{name}");
            if name == "__init__" {
                match self.exported_member(def, true, &shown) {
                    Ok(mut function) => {
                        function.wit_name = "constructor".into();
                        function.result = Type::Object(wit_name.clone());
                        constructor = Some(function);
                    }
                    Err(problem) => {
                        // Without its constructor the class cannot be made.
                        self.report(problem, &shown);
                        *self.current_class.borrow_mut() = None;
                        return None;
                    }
                }
                continue;
            }
            if name.starts_with('_') {
                continue;
            }
            let kind = match member(def) {
                Member::Exported(kind) => kind,
                Member::Property => {
                    let problem = Problem::new(
                        def.name.range,
                        Code::UnsupportedClass,
                        "properties are not exported",
                        format!("add a method, for example `def get_{name}(self) -> T`"),
                    );
                    self.report(problem, &shown);
                    continue;
                }
                Member::Overload => continue,
            };
            methods.retain(|m| m.function.name != name);
            match self.exported_member(def, kind != MethodKind::Static, &shown) {
                Ok(function) if function.wit_name == crate::wit::RELEASE => {
                    let problem = Problem::new(
                        def.name.range,
                        Code::BadName,
                        format!("its WIT name `{}` is taken by snakebox", function.wit_name),
                        "rename the method",
                    );
                    self.report(problem, &shown);
                }
                Ok(function) if function.stream => {
                    let problem = Problem::new(
                        def.name.range,
                        Code::Stream,
                        "a generator method cannot stream yet: only module functions stream",
                        "return a `list[T]` instead",
                    );
                    self.report(problem, &shown);
                }
                Ok(function) => {
                    if let Some(other) = methods
                        .iter()
                        .find(|m| m.function.wit_name == function.wit_name)
                    {
                        let problem = Problem::new(
                            def.name.range,
                            Code::BadName,
                            format!(
                                "its WIT name `{}` is the same as that of `{}`",
                                function.wit_name, other.function.name
                            ),
                            "rename one of the two methods",
                        );
                        self.report(problem, &shown);
                        continue;
                    }
                    methods.push(Method { function, kind });
                }
                Err(problem) => self.report(problem, &shown),
            }
        }
        *self.current_class.borrow_mut() = None;
        let (line, column) = self.lines.position(class.range.start());
        let constructor = constructor.unwrap_or_else(|| Function {
            name: "__init__".into(),
            wit_name: "constructor".into(),
            is_async: false,
            async_def: false,
            stream: false,
            params: Vec::new(),
            result: Type::Object(wit_name.clone()),
            docs: None,
            line,
            column,
        });
        Some(Class {
            name: class_name.to_owned(),
            wit_name,
            docs: docstring(&class.body),
            constructor,
            methods,
            line,
        })
    }

    /// Reads a member as a function, without its first parameter when
    /// `bound` (`self`, `cls`); its `Any` warnings are reported as the
    /// function's are.
    fn exported_member(
        &mut self,
        def: &ast::StmtFunctionDef,
        bound: bool,
        shown: &str,
    ) -> Result<Function, Problem> {
        let mut def = def.clone();
        if bound {
            let parameters = def.parameters.as_mut();
            let first = match parameters.posonlyargs.is_empty() {
                true => &mut parameters.args,
                false => &mut parameters.posonlyargs,
            };
            if first.is_empty() {
                return Err(Problem::new(
                    def.name.range,
                    Code::Unsupported,
                    "it takes no `self`",
                    "give the method a first parameter `self`, or make it a `@staticmethod`",
                ));
            }
            first.remove(0);
        }
        if def.name.id.as_str() == "__init__" && def.returns.is_none() {
            // `__init__` returns nothing, annotated or not.
            def.returns = Some(Box::new(Expr::NoneLiteral(ast::ExprNoneLiteral {
                range: TextRange::default(),
                node_index: Default::default(),
            })));
        }
        let known_types = self.types.borrow().len();
        self.untyped.borrow_mut().clear();
        let outcome = self.function(&def);
        if outcome.is_err() {
            self.forget_types_after(known_types);
        }
        let function = outcome?;
        for problem in self.untyped.take() {
            self.note(problem, shown);
        }
        Ok(function)
    }
}
