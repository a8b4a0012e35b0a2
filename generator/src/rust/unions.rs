//! Unions: an enum serialized `{"case": payload}`, which the host always
//! reads; deserialized from that or from the host's untagged form,
//! choosing the case as the host does (the first that accepts the value,
//! strictly first, then loosely: an integer tries the float cases last, a
//! float such as `3.0` the integer cases last, a string the bytes cases
//! last).

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::names::{Types, cases as names_of};
use crate::ir::{Type, VariantCase};

/// A union's type, its serde reading, and its conversions.
pub(super) fn union(name: &Ident, wit: &str, cases: &[VariantCase], types: &Types) -> TokenStream {
    let (variants, wit_names) = cases_of(cases);
    let docs = cases
        .iter()
        .map(|case| format!(" The `{}` case.", case.wit_name));
    let payloads = cases.iter().map(|case| types.rust(&case.ty));
    let deserialize = deserialize(name, cases);
    let expected = format!("variant {wit}");
    quote! {
        #[derive(Debug, Clone, PartialEq, ::snakebox::serde::Serialize)]
        #[serde(crate = "::snakebox::serde")]
        #[allow(clippy::enum_variant_names, clippy::large_enum_variant)]
        pub enum #name {
            #(
                #[doc = #docs]
                #[serde(rename = #wit_names)]
                #variants(#payloads),
            )*
        }

        #deserialize

        impl ::snakebox::typed::Lower for #name {
            fn lower(&self) -> ::snakebox::Val {
                let (case, payload) = match self {
                    #(Self::#variants(payload) => (#wit_names, ::snakebox::typed::Lower::lower(payload))),*
                };
                ::snakebox::Val::Variant(
                    case.to_owned(),
                    ::std::option::Option::Some(::std::boxed::Box::new(payload)),
                )
            }
        }

        impl ::snakebox::typed::Lift for #name {
            fn lift(val: ::snakebox::Val) -> ::std::result::Result<Self, ::std::string::String> {
                match val {
                    #(
                        ::snakebox::Val::Variant(case, ::std::option::Option::Some(payload)) if case == #wit_names => {
                            ::std::result::Result::Ok(Self::#variants(::snakebox::typed::Lift::lift(*payload)?))
                        }
                    )*
                    other => ::snakebox::typed::mismatch(#expected, &other),
                }
            }
        }
    }
}

/// `Deserialize`: the tagged form first, then every case that takes the
/// value strictly, then the loose ones.
fn deserialize(name: &Ident, cases: &[VariantCase]) -> TokenStream {
    let (variants, wit_names) = cases_of(cases);
    let integer = cases
        .iter()
        .any(|case| case.ty == Type::Float)
        .then(|| quote!(let integer = value.is_i64() || value.is_u64();));
    let float_form = cases
        .iter()
        .any(|case| case.ty == Type::Int)
        .then(|| quote!(let float_form = value.is_f64();));
    let attempt = |variant: &Ident, guard: Option<TokenStream>| match guard {
        Some(guard) => quote! {
            if let (true, ::std::result::Result::Ok(payload)) = (#guard, ::snakebox::typed::from_json(&value)) {
                return ::std::result::Result::Ok(Self::#variant(payload));
            }
        },
        None => quote! {
            if let ::std::result::Result::Ok(payload) = ::snakebox::typed::from_json(&value) {
                return ::std::result::Result::Ok(Self::#variant(payload));
            }
        },
    };
    let strict = cases
        .iter()
        .zip(&variants)
        .map(|(case, variant)| attempt(variant, loose_when(&case.ty).map(|loose| quote!(!#loose))));
    let loose = cases
        .iter()
        .zip(&variants)
        .filter_map(|(case, variant)| Some(attempt(variant, Some(loose_when(&case.ty)?))));
    let expected = format!("expected {name}, got {{value}}");
    quote! {
        impl<'de> ::snakebox::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::snakebox::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let value = <::snakebox::serde_json::Value as ::snakebox::serde::Deserialize>::deserialize(deserializer)?;
                let tagged = value
                    .as_object()
                    .filter(|object| object.len() == 1)
                    .and_then(|object| object.iter().next());
                if let ::std::option::Option::Some((case, payload)) = tagged {
                    match case.as_str() {
                        #(
                            #wit_names => {
                                if let ::std::result::Result::Ok(payload) = ::snakebox::typed::from_json(payload) {
                                    return ::std::result::Result::Ok(Self::#variants(payload));
                                }
                            }
                        )*
                        _ => {}
                    }
                }
                #integer
                #float_form
                #(#strict)*
                #(#loose)*
                ::std::result::Result::Err(
                    <D::Error as ::snakebox::serde::de::Error>::custom(::std::format_args!(#expected)),
                )
            }
        }
    }
}

/// When a union case of type `ty` takes a JSON value only loosely, as
/// generated code tests it: a float case an integer, an int case a float
/// such as `3.0`, a bytes case a string. `None` for a case that is never
/// loose.
fn loose_when(ty: &Type) -> Option<TokenStream> {
    match ty {
        Type::Float => Some(quote!(integer)),
        Type::Int => Some(quote!(float_form)),
        Type::Bytes | Type::ByteArray => Some(quote!(value.is_string())),
        _ => None,
    }
}

/// The Rust variant name and the WIT name of each case.
fn cases_of(cases: &[VariantCase]) -> (Vec<Ident>, Vec<&str>) {
    names_of(cases.iter().map(|case| case.wit_name.as_str()))
}
