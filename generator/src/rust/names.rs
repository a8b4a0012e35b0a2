//! Rust names for Python and WIT names, and the Rust type of each WIT type.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Field, Module, Param, ParamKind, Type, TypeDefKind};
use crate::names::class_name;

/// Rust keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate"];

/// Rust keywords, written `r#name` when a Python name uses one.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// A Rust identifier for `name`: `self` and its kind escaped with `_`,
/// other keywords raw (`r#type`).
pub(super) fn ident(name: &str) -> Ident {
    if NOT_RAW.contains(&name) {
        format_ident!("{name}_")
    } else if RUST_KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// A WIT label as a Rust type or variant name: PascalCase, `Self` escaped.
pub(super) fn type_ident(label: &str) -> Ident {
    let name = class_name(label);
    match NOT_RAW.contains(&name.as_str()) {
        true => format_ident!("{name}_"),
        false => Ident::new(&name, Span::call_site()),
    }
}

/// The Rust variant name and the WIT name of each case.
pub(super) fn cases<'a>(wit_names: impl Iterator<Item = &'a str>) -> (Vec<Ident>, Vec<&'a str>) {
    wit_names.map(|name| (type_ident(name), name)).unzip()
}

/// The Rust name of a parameter: its WIT name in snake case, as Rust
/// style asks (`pageURL` is `page_url`).
pub(super) fn param_ident(param: &Param) -> Ident {
    ident(&param.wit_name.replace('-', "_"))
}

/// The Rust name of a record field: its WIT name in snake case.
pub(super) fn field_ident(field: &Field) -> Ident {
    ident(&field.wit_name.replace('-', "_"))
}

/// An identifier as written in source, without `r#`.
pub(super) fn unraw(ident: &Ident) -> String {
    ident.to_string().trim_start_matches("r#").to_owned()
}

/// The Rust names of a module's named types.
pub(super) struct Types<'a> {
    /// WIT name to Rust name and kind; `Any` has no Rust name of its own.
    named: HashMap<&'a str, (Ident, &'a TypeDefKind)>,
    /// WIT name of each class (resource) to its Rust type's name.
    classes: HashMap<&'a str, Ident>,
}

impl<'a> Types<'a> {
    /// Names every type of `module` in PascalCase, clear of `reserved` (the
    /// bindings' own struct) and of each other.
    pub(super) fn new(module: &'a Module, reserved: &str) -> Self {
        let mut taken: HashSet<String> = HashSet::from([reserved.to_owned()]);
        let mut named = HashMap::new();
        for def in &module.types {
            let mut name = type_ident(&def.wit_name).to_string();
            while !taken.insert(name.clone()) {
                name.push('_');
            }
            let name = Ident::new(&name, Span::call_site());
            named.insert(def.wit_name.as_str(), (name, &def.kind));
        }
        let mut classes = HashMap::new();
        for class in &module.classes {
            let mut name = type_ident(&class.wit_name).to_string();
            while !taken.insert(name.clone()) {
                name.push('_');
            }
            classes.insert(
                class.wit_name.as_str(),
                Ident::new(&name, Span::call_site()),
            );
        }
        Types { named, classes }
    }

    /// The Rust type of the class `wit_name`.
    pub(super) fn class(&self, wit_name: &str) -> Ident {
        self.classes
            .get(wit_name)
            .cloned()
            .unwrap_or_else(|| type_ident(wit_name))
    }

    /// The Rust name of the type `wit_name`, or `None` for `Any`.
    pub(super) fn name(&self, wit_name: &str) -> Option<&Ident> {
        match self.named.get(wit_name) {
            Some((_, TypeDefKind::Json)) | None => None,
            Some((name, _)) => Some(name),
        }
    }

    /// `true` when `ty` is an enum, whose values JSON can use as object keys.
    fn is_enum(&self, ty: &Type) -> bool {
        match ty {
            Type::Named(name) => matches!(
                self.named.get(name.as_str()),
                Some((_, TypeDefKind::Enum { .. } | TypeDefKind::Literal { .. }))
            ),
            _ => false,
        }
    }

    /// The Rust type of a parameter: `*args` a `Vec`, `**kwargs` a
    /// `HashMap`, and `Option` when Python has a default.
    pub(super) fn param(&self, param: &Param) -> TokenStream {
        let item = self.borrowed(&param.ty);
        let ty = match param.kind {
            ParamKind::VarPositional => quote!(::std::vec::Vec<#item>),
            ParamKind::VarKeyword => {
                quote!(::std::collections::HashMap<::std::string::String, #item>)
            }
            _ => item,
        };
        match param.has_default {
            true => quote!(::std::option::Option<#ty>),
            false => ty,
        }
    }

    /// The Rust type of a parameter of type `ty`: objects are borrowed
    /// (`&Account`, `&[&Account]`, `Option<&Account>`).
    pub(super) fn borrowed(&self, ty: &Type) -> TokenStream {
        match ty {
            Type::Object(name) => {
                let class = self.class(name);
                quote!(&#class)
            }
            Type::List(item) if item.object_class().is_some() => {
                let item = self.borrowed(item);
                quote!(&[#item])
            }
            Type::Option(item) if item.object_class().is_some() => {
                let item = self.borrowed(item);
                quote!(::std::option::Option<#item>)
            }
            other => self.rust(other),
        }
    }

    /// The Rust type that carries a value of `ty`.
    pub(super) fn rust(&self, ty: &Type) -> TokenStream {
        match ty {
            Type::Int => quote!(i64),
            Type::Float => quote!(f64),
            Type::Bool => quote!(bool),
            Type::Str => quote!(::std::string::String),
            Type::Bytes | Type::ByteArray => quote!(::std::vec::Vec<u8>),
            Type::None => quote!(()),
            Type::List(item) => {
                let item = self.rust(item);
                quote!(::std::vec::Vec<#item>)
            }
            Type::Tuple(items) => {
                let items = items.iter().map(|item| self.rust(item));
                quote!((#(#items,)*))
            }
            // The host writes a dict keyed by strings or enum cases as an object.
            Type::Dict(key, value) if **key == Type::Str || self.is_enum(key) => {
                let (key, value) = (self.rust(key), self.rust(value));
                quote!(::std::collections::HashMap<#key, #value>)
            }
            Type::Dict(key, value) => {
                let (key, value) = (self.rust(key), self.rust(value));
                quote!(::std::vec::Vec<(#key, #value)>)
            }
            Type::Option(item) => {
                let item = self.rust(item);
                quote!(::std::option::Option<#item>)
            }
            Type::Named(name) => match self.name(name) {
                Some(name) => quote!(#name),
                None => quote!(::snakebox::serde_json::Value),
            },
            Type::Object(name) => {
                let class = self.class(name);
                quote!(#class)
            }
        }
    }
}
