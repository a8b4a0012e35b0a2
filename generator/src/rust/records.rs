//! Records and enums: a record is a struct keyed by WIT field names, an
//! enum or a `Literal` a field-less enum written as its case name; each
//! with its `Lower` and `Lift`, by WIT names.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::names::{Types, cases, field_ident};
use crate::ir::{Case, Field, Type};

/// A record's struct, and its conversions to and from its WIT value.
pub(super) fn record(name: &Ident, wit: &str, fields: &[Field], types: &Types) -> TokenStream {
    let members = fields.iter().map(|field| {
        let rust = field_ident(field);
        let doc = format!(" The field `{}`.", field.name);
        let rename = (super::names::unraw(&rust) != field.wit_name).then(|| {
            let wit_name = &field.wit_name;
            quote!(#[serde(rename = #wit_name)])
        });
        // The host reads a missing option field as `none`, and an omitted
        // outer `none` keeps `Some(None)` (`null`) distinct from it.
        let optional = matches!(field.ty, Type::Option(_)).then(
            || quote!(#[serde(default, skip_serializing_if = "::std::option::Option::is_none")]),
        );
        let ty = types.rust(&field.ty);
        quote! {
            #[doc = #doc]
            #rename
            #optional
            pub #rust: #ty,
        }
    });
    let lowered = fields.iter().map(|field| {
        let (rust, wit_name) = (field_ident(field), &field.wit_name);
        quote!((#wit_name.to_owned(), ::snakebox::typed::Lower::lower(&self.#rust)))
    });
    let lifted = fields.iter().map(|field| {
        let (rust, wit_name) = (field_ident(field), &field.wit_name);
        quote!(#rust: ::snakebox::typed::field(&mut fields, #wit_name)?)
    });
    let binding = match fields.is_empty() {
        true => quote!(fields),
        false => quote!(mut fields),
    };
    let expected = format!("record {wit}");
    quote! {
        #[derive(Debug, Clone, PartialEq, ::snakebox::serde::Serialize, ::snakebox::serde::Deserialize)]
        #[serde(crate = "::snakebox::serde")]
        #[serde(deny_unknown_fields)]
        pub struct #name {
            #(#members)*
        }

        impl ::snakebox::typed::Lower for #name {
            fn lower(&self) -> ::snakebox::Val {
                ::snakebox::Val::Record(::std::vec::Vec::from([#(#lowered),*]))
            }
        }

        impl ::snakebox::typed::Lift for #name {
            fn lift(val: ::snakebox::Val) -> ::std::result::Result<Self, ::std::string::String> {
                let ::snakebox::Val::Record(#binding) = val else {
                    return ::snakebox::typed::mismatch(#expected, &val);
                };
                ::std::result::Result::Ok(Self { #(#lifted),* })
            }
        }
    }
}

/// An enum's (or a `Literal`'s) type, and its conversions.
pub(super) fn enumeration(name: &Ident, wit: &str, members: &[Case]) -> TokenStream {
    let (variants, wit_names) = cases(members.iter().map(|case| case.wit_name.as_str()));
    let docs = members
        .iter()
        .map(|case| format!(" `{}` in Python.", case.python));
    let expected = format!("enum {wit}");
    quote! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::snakebox::serde::Serialize, ::snakebox::serde::Deserialize)]
        #[serde(crate = "::snakebox::serde")]
        #[allow(clippy::enum_variant_names)]
        pub enum #name {
            #(
                #[doc = #docs]
                #[serde(rename = #wit_names)]
                #variants,
            )*
        }

        impl ::snakebox::typed::Lower for #name {
            fn lower(&self) -> ::snakebox::Val {
                let case = match self {
                    #(Self::#variants => #wit_names,)*
                };
                ::snakebox::Val::Enum(case.to_owned())
            }
        }

        impl ::snakebox::typed::Lift for #name {
            fn lift(val: ::snakebox::Val) -> ::std::result::Result<Self, ::std::string::String> {
                match &val {
                    #(::snakebox::Val::Enum(case) if case == #wit_names => ::std::result::Result::Ok(Self::#variants),)*
                    _ => ::snakebox::typed::mismatch(#expected, &val),
                }
            }
        }
    }
}
