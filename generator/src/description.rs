//! The description a built component carries: the generator's IR, versioned,
//! in a custom section of the component.
//!
//! The host reads it when it loads the component, so that defaults, docs,
//! stream item types and the result form come from what the generator knew,
//! not from guesses over WIT types. A component built elsewhere has no such
//! section and is read from its WIT types alone.
//!
//! ```
//! use snakebox_generator::description::{self, Description};
//!
//! let module = snakebox_generator::analyze("def add(a: int, b: int = 1) -> int: ...", "m")
//!     .module
//!     .expect("the source parses");
//! // A component's preamble: `\0asm`, version 13, layer 1.
//! let mut component = b"\0asm\x0d\x00\x01\x00".to_vec();
//! description::append(&mut component, &Description::new(vec![module]));
//!
//! let section = description::find(&mut std::io::Cursor::new(&component))
//!     .expect("the sections are well formed")
//!     .expect("the section is there");
//! let read = Description::from_bytes(&section).expect("it decodes");
//! assert!(read.modules[0].functions[0].params[1].has_default);
//! ```

use std::io::{self, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use crate::ir::{Class, Function, Module, TypeDef};

/// The name of the custom section that holds the description.
pub const SECTION: &str = "snakebox:description";

/// The version of the description's form. A reader refuses any other:
/// a field read the wrong way would change how arguments are bound.
pub const VERSION: u32 = 1;

/// What the generator knew about a component's exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// The form's version: [`VERSION`] when written by this generator.
    pub version: u32,
    /// The generator that wrote it (`snakebox-generator 0.1.0`), for messages.
    pub generator: String,
    /// One module per exported WIT interface, matched by `wit_name`.
    pub modules: Vec<Module>,
    /// One host module per imported WIT interface of host functions,
    /// matched by `wit_name`; its functions are the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Module>,
}

/// Why a description cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    #[error(
        "its description has version {found}, and this snakebox reads version {VERSION}; \
         rebuild the component with this snakebox"
    )]
    /// A form this reader does not know.
    UnknownVersion {
        /// The version the section says it has.
        found: u64,
    },
    #[error("its description is corrupt: {0}")]
    /// Not a description at all; why not.
    Corrupt(String),
}

/// Only the version, read before the rest so that a newer form is named as
/// such instead of failing on its first unknown field.
#[derive(Deserialize)]
struct Header {
    version: u64,
}

impl Description {
    /// The description of `modules`, in this generator's form.
    pub fn new(modules: Vec<Module>) -> Self {
        Description {
            version: VERSION,
            generator: concat!("snakebox-generator ", env!("CARGO_PKG_VERSION")).to_owned(),
            modules,
            imports: Vec::new(),
        }
    }

    /// The same description, with the host modules the component imports.
    pub fn with_imports(mut self, imports: Vec<Module>) -> Self {
        self.imports = imports;
        self
    }

    /// The section's contents: JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a section's contents, refusing an unknown version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DescriptionError> {
        let corrupt = |e: serde_json::Error| DescriptionError::Corrupt(e.to_string());
        let header: Header = serde_json::from_slice(bytes).map_err(corrupt)?;
        if header.version != u64::from(VERSION) {
            return Err(DescriptionError::UnknownVersion {
                found: header.version,
            });
        }
        serde_json::from_slice(bytes).map_err(corrupt)
    }

    /// The module exported as the WIT interface `wit_name`.
    pub fn module(&self, wit_name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.wit_name == wit_name)
    }
}

impl Module {
    /// The exported function with this WIT name.
    pub fn function(&self, wit_name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.wit_name == wit_name)
    }

    /// The named type with this WIT name.
    pub fn type_def(&self, wit_name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.wit_name == wit_name)
    }

    /// The class (resource) with this WIT name.
    pub fn class(&self, wit_name: &str) -> Option<&Class> {
        self.classes.iter().find(|c| c.wit_name == wit_name)
    }
}

/// Appends `description` to a component's bytes as a top-level custom
/// section, which engines ignore.
pub fn append(component: &mut Vec<u8>, description: &Description) {
    append_section(component, SECTION, &description.to_bytes());
}

/// Appends a top-level custom section named `name` to a component's bytes.
pub fn append_section(component: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    write_leb(&mut payload, name.len());
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    component.push(0);
    write_leb(component, payload.len());
    component.extend_from_slice(&payload);
}

/// Finds the description's section among a component's top-level sections,
/// skipping over the others without reading them. `Ok(None)` when there is
/// none; an error when the sections are not well formed.
pub fn find(reader: &mut (impl Read + Seek)) -> io::Result<Option<Vec<u8>>> {
    find_section(reader, SECTION)
}

/// Finds the top-level custom section named `section`, the same way.
///
/// Every top-level section is stepped over, so a component cut short (a
/// section that runs past the end) is an error, not a component without
/// the section; and so is a second section of the same name, which would
/// otherwise be ignored without a word.
pub fn find_section(reader: &mut (impl Read + Seek), section: &str) -> io::Result<Option<Vec<u8>>> {
    let end = reader.seek(SeekFrom::End(0))?;
    reader.seek(SeekFrom::Start(0))?;
    let mut preamble = [0; 8];
    reader.read_exact(&mut preamble)?;
    if preamble[..4] != *b"\0asm" {
        return Err(malformed("wrong magic number"));
    }
    let mut found = None;
    loop {
        if reader.stream_position()? > end {
            return Err(malformed(
                "a section runs past the end: the file is cut short",
            ));
        }
        let mut id = [0];
        if reader.read(&mut id)? == 0 {
            return Ok(found);
        }
        let size = read_leb(reader)?;
        if id[0] != 0 {
            reader.seek(SeekFrom::Current(i64::from(size)))?;
            continue;
        }
        let name_len = read_leb(reader)?;
        let header = leb_len(name_len) + u64::from(name_len);
        if header > u64::from(size) {
            return Err(malformed("a custom section's name overruns it"));
        }
        if name_len as usize != section.len() {
            reader.seek(SeekFrom::Current(
                i64::from(size) - leb_len(name_len) as i64,
            ))?;
            continue;
        }
        let mut name = vec![0; section.len()];
        reader.read_exact(&mut name)?;
        let rest = u64::from(size) - header;
        if name != section.as_bytes() {
            reader.seek(SeekFrom::Current(rest as i64))?;
            continue;
        }
        let mut data = Vec::new();
        reader.take(rest).read_to_end(&mut data)?;
        if data.len() as u64 != rest {
            return Err(malformed("a custom section is cut short"));
        }
        if found.replace(data).is_some() {
            return Err(malformed(&format!("two `{section}` sections")));
        }
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed component: {what}"),
    )
}

fn write_leb(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb(reader: &mut impl Read) -> io::Result<u32> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let mut byte = [0];
        reader.read_exact(&mut byte)?;
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return u32::try_from(value).map_err(|_| malformed("a section size overflows"));
        }
    }
    Err(malformed("a section size is too long"))
}

/// How many bytes the LEB128 form of `value` takes.
fn leb_len(value: u32) -> u64 {
    let mut bytes = Vec::new();
    write_leb(&mut bytes, value as usize);
    bytes.len() as u64
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn component_with(sections: &[(u8, &[u8])]) -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
        for (id, payload) in sections {
            bytes.push(*id);
            write_leb(&mut bytes, payload.len());
            bytes.extend_from_slice(payload);
        }
        bytes
    }

    #[test]
    fn finds_the_section_among_others() {
        let other_custom = [&[4u8][..], b"name", b"data"].concat();
        let mut bytes = component_with(&[(1, &[0; 300]), (0, &other_custom)]);
        let description = Description::new(Vec::new());
        append(&mut bytes, &description);
        let found = find(&mut Cursor::new(&bytes)).expect("well formed");
        let read = Description::from_bytes(&found.expect("present")).expect("decodes");
        assert_eq!(read, description);
    }

    #[test]
    fn no_section_is_none() {
        let bytes = component_with(&[(1, &[0; 10])]);
        assert_eq!(find(&mut Cursor::new(&bytes)).expect("well formed"), None);
    }

    #[test]
    fn a_cut_section_is_an_error() {
        let mut bytes = component_with(&[]);
        append(&mut bytes, &Description::new(Vec::new()));
        bytes.truncate(bytes.len() - 3);
        let error = find(&mut Cursor::new(&bytes)).expect_err("cut short");
        assert!(error.to_string().contains("cut short"), "{error}");
    }

    #[test]
    fn a_component_cut_short_is_an_error_not_a_missing_section() {
        let bytes = component_with(&[(1, &[0; 300])]);
        let cut = &bytes[..bytes.len() - 100];
        let error = find(&mut Cursor::new(cut)).expect_err("cut short");
        assert!(error.to_string().contains("cut short"), "{error}");
    }

    #[test]
    fn a_second_section_of_the_name_is_an_error() {
        let mut bytes = component_with(&[]);
        append(&mut bytes, &Description::new(Vec::new()));
        append(&mut bytes, &Description::new(Vec::new()));
        let error = find(&mut Cursor::new(&bytes)).expect_err("two descriptions");
        assert!(
            error
                .to_string()
                .contains("two `snakebox:description` sections"),
            "{error}"
        );
    }

    #[test]
    fn unknown_version_is_named() {
        let error = Description::from_bytes(br#"{"version": 7, "future": true}"#)
            .expect_err("unknown version");
        assert_eq!(error, DescriptionError::UnknownVersion { found: 7 });
        assert!(error.to_string().contains("version 7"), "{error}");
    }

    #[test]
    fn corrupt_json_is_named() {
        let error =
            Description::from_bytes(b"{\"version\": 1, \"modules\": 3").expect_err("corrupt");
        assert!(matches!(error, DescriptionError::Corrupt(_)), "{error}");
    }
}
