//! Host modules: for each stub the Python calls, a Rust module with its
//! named types, a trait of one `async fn` per function, which the user
//! implements, and `bind`, which binds an implementation by Python names.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::names::{Types, ident, param_ident, type_ident, unraw};
use super::{docs_or, named_type};
use crate::ir::{Function, Module};
use crate::names::binding_name;

/// The Rust module of a host module, and its trait.
pub(super) fn host_module_names(module: &Module) -> (Ident, Ident) {
    (
        ident(&binding_name(&module.wit_name)),
        type_ident(&module.wit_name),
    )
}

/// The parameters of a host function, as the trait names them (`caller`
/// is the trait's own).
fn params(function: &Function) -> Vec<Ident> {
    function
        .params
        .iter()
        .map(|param| match param_ident(param) {
            name if name == "caller" => format_ident!("caller_"),
            name => name,
        })
        .collect()
}

pub(super) fn host_module(module: &Module) -> TokenStream {
    let (rust_module, trait_name) = host_module_names(module);
    let types = Types::new(module, &trait_name.to_string());
    let module_doc = format!(
        " The host functions of `{}`, which the Python module calls.",
        module.name
    );
    let trait_docs = docs_or(
        module.docs.as_deref(),
        &format!("What the host provides to `{}`.", module.name),
    );
    let signatures = module.functions.iter().map(|function| {
        let docs = docs_or(
            function.docs.as_deref(),
            &format!("`{}.{}`.", module.name, function.name),
        );
        let method = ident(&binding_name(&function.wit_name));
        let params = params(function);
        let param_types = function.params.iter().map(|param| types.param(param));
        let result = types.rust(&function.result);
        quote! {
            #docs
            fn #method(
                &self,
                caller: &::snakebox::Caller
                #(, #params: #param_types)*
            ) -> impl ::std::future::Future<
                Output = ::std::result::Result<#result, ::snakebox::HostError>,
            > + ::std::marker::Send;
        }
    });
    let bindings = module.functions.iter().map(|function| {
        let python = format!("{}.{}", module.name, function.name);
        let method = ident(&binding_name(&function.wit_name));
        let params = params(function);
        let names = params.iter().map(unraw);
        quote! {
            let each = ::std::sync::Arc::clone(&host);
            functions.add_async(#python, move |caller, args| {
                let host = ::std::sync::Arc::clone(&each);
                async move {
                    #[allow(unused_mut, unused_variables)]
                    let mut args = args.into_iter();
                    #(let #params = ::snakebox::typed::host_arg(&mut args, #names)?;)*
                    ::snakebox::typed::host_result(host.#method(&caller #(, #params)*).await?)
                }
            });
        }
    });
    let named_types = module.types.iter().map(|def| named_type(def, &types));
    quote! {
        #[doc = #module_doc]
        pub mod #rust_module {
            #trait_docs
            pub trait #trait_name: ::std::marker::Send + ::std::marker::Sync + 'static {
                #(#signatures)*
            }

            /// Binds each function of `host` in `functions`, by its Python name.
            pub fn bind<H: #trait_name>(
                host: ::std::sync::Arc<H>,
                functions: &mut ::snakebox::HostFunctions,
            ) {
                #(#bindings)*
            }

            #(#named_types)*
        }
    }
}
