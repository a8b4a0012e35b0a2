//! The module's classes as Rust types: each wraps a `snakebox::Object` (an
//! object that stays in its store), with an async constructor, a method
//! per Python method taking `&self`, and an associated function per
//! static function. Dropping the last clone releases the Python object.
//!
//! Also the lowering and lifting of values that hold objects, which the
//! module's own functions share.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::docs_or;
use super::names::{Types, ident, param_ident};
use crate::ir::{Class, Function, MethodKind, Type};
use crate::names::binding_name;

/// The Rust type of `class`; `module` is the bindings' struct, whose app
/// constructors and static functions call.
pub(super) fn class(class: &Class, module: &Ident, types: &Types) -> TokenStream {
    let name = types.class(&class.wit_name);
    let docs = docs_or(
        class.docs.as_deref(),
        &format!("An object of the Python class `{}`.", class.name),
    );
    let constructor = constructor(class, module, types);
    let methods = class.methods.iter().map(|method| {
        let call_name = format!("{}.{}", class.name, method.function.name);
        match method.kind {
            MethodKind::Instance => instance_method(&method.function, types),
            MethodKind::Static | MethodKind::Class => {
                static_function(&method.function, &call_name, module, types)
            }
        }
    });
    quote! {
        #docs
        ///
        /// It lives in the store that made it, where its methods run. Clones
        /// share it; dropping the last clone releases the Python object.
        #[derive(Clone, Debug)]
        pub struct #name {
            object: ::snakebox::Object,
        }

        #[allow(clippy::too_many_arguments)]
        impl #name {
            #constructor

            /// Wraps an object of this class (from a dynamic call).
            pub fn from_object(object: ::snakebox::Object) -> Self {
                Self { object }
            }

            /// The object, for dynamic calls.
            pub fn object(&self) -> &::snakebox::Object {
                &self.object
            }

            #(#methods)*
        }
    }
}

fn constructor(class: &Class, module: &Ident, types: &Types) -> TokenStream {
    let function = &class.constructor;
    let docs = docs_or(
        function.docs.as_deref(),
        &format!(
            "Makes an object of the class `{}`: Python's `__init__`.",
            class.name
        ),
    );
    let call_name = &class.name;
    let (params, param_types, args) = arguments(function, types);
    let lifted = lift(&function.result, quote!(value), types);
    quote! {
        #docs
        pub fn new(
            module: &#module
            #(, #params: #param_types)*
        ) -> impl ::std::future::Future<Output = ::snakebox::Result<Self>> + Send + use<> {
            let call = ::snakebox::Calls::call_values(module.app(), #call_name, #args);
            async move {
                let value = call.await?;
                #lifted
            }
        }
    }
}

fn instance_method(function: &Function, types: &Types) -> TokenStream {
    let docs = docs_or(
        function.docs.as_deref(),
        &format!("Calls the Python method `{}`.", function.name),
    );
    let name = ident(&binding_name(&function.wit_name));
    let method = &function.name;
    let (params, param_types, args) = arguments(function, types);
    let (returns, lifted) = returns(function, types);
    quote! {
        #docs
        pub fn #name(&self #(, #params: #param_types)*) -> #returns {
            let call = self.object.call(#method, #args);
            async move {
                let value = call.await?;
                #lifted
            }
        }
    }
}

fn static_function(
    function: &Function,
    call_name: &str,
    module: &Ident,
    types: &Types,
) -> TokenStream {
    let docs = docs_or(
        function.docs.as_deref(),
        &format!("Calls the Python static function `{call_name}`."),
    );
    let name = ident(&binding_name(&function.wit_name));
    let (params, param_types, args) = arguments(function, types);
    let (returns, lifted) = returns(function, types);
    quote! {
        #docs
        pub fn #name(module: &#module #(, #params: #param_types)*) -> #returns {
            let call = ::snakebox::Calls::call_values(module.app(), #call_name, #args);
            async move {
                let value = call.await?;
                #lifted
            }
        }
    }
}

/// The parameters of a call that may pass objects, their Rust types, and
/// the `Vec<snakebox::Value>` of its arguments.
pub(super) fn arguments(
    function: &Function,
    types: &Types,
) -> (Vec<Ident>, Vec<TokenStream>, TokenStream) {
    let params: Vec<Ident> = function.params.iter().map(param_ident).collect();
    let param_types = function.params.iter().map(|p| types.param(p)).collect();
    let values: Vec<TokenStream> = function
        .params
        .iter()
        .zip(&params)
        .map(|(param, name)| lower(&param.wit_type(), quote!(#name)))
        .collect();
    (
        params,
        param_types,
        quote!(::std::vec::Vec::from([#(#values),*])),
    )
}

/// The future type of a call, and the code that lifts its `value`.
pub(super) fn returns(function: &Function, types: &Types) -> (TokenStream, TokenStream) {
    let result = types.rust(&function.result);
    (
        quote!(impl ::std::future::Future<Output = ::snakebox::Result<#result>> + Send + use<>),
        lift(&function.result, quote!(value), types),
    )
}

/// A `snakebox::Value` of the Rust value `expr`, of WIT type `ty`.
fn lower(ty: &Type, expr: TokenStream) -> TokenStream {
    match ty {
        Type::Object(_) => quote!(::snakebox::Value::from(#expr.object())),
        Type::List(item) if item.object_class().is_some() => {
            let item = lower(item, quote!(item));
            quote!(::snakebox::Value::List(#expr.iter().map(|item| #item).collect()))
        }
        Type::Option(item) if item.object_class().is_some() => {
            let item = lower(item, quote!(item));
            quote!(::snakebox::Value::Option(#expr.map(|item| ::std::boxed::Box::new(#item))))
        }
        _ => quote!(::snakebox::Value::Val(::snakebox::typed::Lower::lower(&#expr))),
    }
}

/// Code that gives `Ok` of the Rust value of a call's `Option<Value>`
/// `expr`, of type `ty`.
fn lift(ty: &Type, expr: TokenStream, types: &Types) -> TokenStream {
    if ty.object_class().is_none() {
        return quote! {
            ::snakebox::typed::lift(#expr.map(::snakebox::Value::into_val).transpose()?)
        };
    }
    let value = lift_value(ty, quote!(value), types);
    quote! {
        let value = #expr.ok_or_else(|| ::snakebox::typed::wrong_shape("no value, where an object was due"))?;
        ::std::result::Result::Ok(#value)
    }
}

/// An expression of the Rust value of the `snakebox::Value` `expr`, using
/// `?` for a value of the wrong shape.
fn lift_value(ty: &Type, expr: TokenStream, types: &Types) -> TokenStream {
    match ty {
        Type::Object(name) => {
            let class = types.class(name);
            quote!(#class::from_object(#expr.into_object()?))
        }
        Type::List(item) => {
            let item = lift_value(item, quote!(item), types);
            quote! {
                match #expr {
                    ::snakebox::Value::List(items) => items
                        .into_iter()
                        .map(|item| ::snakebox::Result::Ok(#item))
                        .collect::<::snakebox::Result<::std::vec::Vec<_>>>()?,
                    other => return ::std::result::Result::Err(::snakebox::typed::wrong_shape(
                        &::std::format!("{other:?} is not a list"),
                    )),
                }
            }
        }
        Type::Option(item) => {
            let item = lift_value(item, quote!((*item)), types);
            quote! {
                match #expr {
                    ::snakebox::Value::Option(::std::option::Option::Some(item)) => ::std::option::Option::Some(#item),
                    _ => ::std::option::Option::None,
                }
            }
        }
        _ => quote!(::snakebox::typed::lift(::std::option::Option::Some(#expr.into_val()?))?),
    }
}
