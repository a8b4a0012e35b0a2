//! The bindings' struct: the component it embeds, the description it
//! checks, the loaders, and one method per Python function.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::classes;
use super::docs_or;
use super::host::host_module_names;
use super::names::{Types, ident, param_ident};
use crate::ir::{Function, Module};
use crate::names::binding_name;

/// The struct named `name` over `module`, which calls the host modules
/// `imports`.
pub(super) fn bindings(
    name: &Ident,
    module: &Module,
    imports: &[Module],
    component_path: &str,
    types: &Types,
) -> TokenStream {
    let docs = docs_or(
        module.docs.as_deref(),
        &format!("Typed bindings of the Python module `{}`.", module.name),
    );
    let component_doc = format!(
        " The component built from `{}` when the crate was built.",
        module.name
    );
    let description = serde_json::to_string(module).unwrap_or_default();
    let load_with_host = (!imports.is_empty()).then(|| load_with_host(imports));
    let methods = module
        .functions
        .iter()
        .enumerate()
        .map(|(index, function)| method(index, function, types));
    quote! {
        #docs
        #[derive(Clone)]
        pub struct #name {
            app: ::snakebox::App,
            functions: ::std::sync::Arc<[::std::sync::Arc<::snakebox::Function>]>,
        }

        // Generated code is linted in the user's crate; keep its shape simple to emit.
        #[allow(clippy::too_many_arguments)]
        impl #name {
            #[doc = #component_doc]
            pub const COMPONENT: &'static [u8] = ::std::include_bytes!(#component_path);

            /// The module's description, which [`Self::new`] checks the component against.
            pub const DESCRIPTION: &'static str = #description;

            /// Wraps a loaded component of this module, checking once that every
            /// function these bindings call has the signature they expect.
            pub fn new(app: ::snakebox::App) -> ::snakebox::Result<Self> {
                let functions = ::snakebox::typed::bind(&app, Self::DESCRIPTION)?;
                Ok(Self { app, functions })
            }

            /// Loads [`Self::COMPONENT`] with the default (empty) policy.
            pub fn load(runtime: &::snakebox::Runtime) -> ::snakebox::Result<Self> {
                Self::load_with(runtime, ::snakebox::Policy::default())
            }

            /// Loads [`Self::COMPONENT`]; each of its stores follows `policy`.
            pub fn load_with(
                runtime: &::snakebox::Runtime,
                policy: ::snakebox::Policy,
            ) -> ::snakebox::Result<Self> {
                Self::new(runtime.load_bytes(Self::COMPONENT, policy)?)
            }

            /// The loaded component, for sessions, pools and dynamic calls.
            pub fn app(&self) -> &::snakebox::App {
                &self.app
            }

            #load_with_host

            #(#methods)*
        }
    }
}

fn load_with_host(imports: &[Module]) -> TokenStream {
    let (modules, traits): (Vec<Ident>, Vec<Ident>) = imports.iter().map(host_module_names).unzip();
    quote! {
        /// Loads [`Self::COMPONENT`] with its host functions, one implementation
        /// of each host module's trait; each store follows `policy`.
        pub fn load_with_host(
            runtime: &::snakebox::Runtime,
            mut policy: ::snakebox::Policy,
            #(#modules: impl #modules::#traits),*
        ) -> ::snakebox::Result<Self> {
            #(#modules::bind(::std::sync::Arc::new(#modules), &mut policy.host);)*
            Self::load_with(runtime, policy)
        }
    }
}

/// The method that calls the Python function at `index`: arguments
/// lowered to WIT values, the result lifted back (a generator's items read
/// as JSON).
fn method(index: usize, function: &Function, types: &Types) -> TokenStream {
    let docs = docs_or(
        function.docs.as_deref(),
        &format!("Calls the Python function `{}`.", function.name),
    );
    let name = ident(&binding_name(&function.wit_name));
    let index = proc_macro2::Literal::usize_unsuffixed(index);
    if function.object_use().is_some() {
        // Objects cross as `snakebox::Value`s.
        let (params, param_types, args) = classes::arguments(function, types);
        let (returns, lifted) = classes::returns(function, types);
        return quote! {
            #docs
            pub fn #name(&self #(, #params: #param_types)*) -> #returns {
                let call = ::snakebox::Calls::call_function_values(
                    &self.app,
                    ::std::sync::Arc::clone(&self.functions[#index]),
                    #args,
                );
                async move {
                    let value = call.await?;
                    #lifted
                }
            }
        };
    }
    let params: Vec<Ident> = function.params.iter().map(param_ident).collect();
    let param_types = function.params.iter().map(|param| types.param(param));
    let result = types.rust(&function.result);
    let call = quote! {
        ::std::sync::Arc::clone(&self.functions[#index]),
        ::std::vec::Vec::from([#(::snakebox::typed::Lower::lower(&#params)),*])
    };
    let (returns, body) = match function.stream {
        true => (
            quote!(impl ::snakebox::futures::Stream<Item = ::snakebox::Result<#result>> + Send + use<>),
            quote!(::snakebox::typed::stream(::snakebox::Calls::stream_function(&self.app, #call))),
        ),
        false => (
            quote!(impl ::std::future::Future<Output = ::snakebox::Result<#result>> + Send + use<>),
            quote! {
                let call = ::snakebox::Calls::call_function(&self.app, #call);
                async move { ::snakebox::typed::lift(call.await?) }
            },
        ),
    };
    quote! {
        #docs
        pub fn #name(&self #(, #params: #param_types)*) -> #returns {
            #body
        }
    }
}
