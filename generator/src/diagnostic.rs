//! Diagnostics that point at the line: `FILE:LINE:COL: error[CODE]: message`.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The function (or the whole file, for a syntax error) was skipped.
    Error,
    /// Generated, but worth a look.
    Warning,
}

/// A stable code for each kind of diagnostic. The codes never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The file is not valid Python.
    SyntaxError,
    /// A parameter has no annotation.
    MissingParamAnnotation,
    /// A function has no return annotation.
    MissingReturnAnnotation,
    /// An annotation names a type snakebox cannot carry.
    UnsupportedType,
    /// `Coroutine[Y, S, R]` with a send type `S` other than `None`.
    CoroutineSend,
    /// A `Coroutine[...]` annotation that could mean two results.
    AmbiguousCoroutine,
    /// A name that has no WIT form, or two names that collide in WIT.
    BadName,
    /// `@typing.overload`.
    Overload,
    /// The module exports nothing.
    NothingExported,
    /// A construct the generator does not carry, such as a generator function.
    Unsupported,
    /// A generator or iterator result: WIT `stream<T>`, which snakebox cannot carry yet.
    Stream,
    /// A class that refers back to itself, which WIT cannot express.
    RecursiveType,
    /// A class used as a type that is not a dataclass, `TypedDict`,
    /// `NamedTuple` or `Enum`, or that one of those cannot carry.
    UnsupportedClass,
    /// A value with no annotation (or a bare container), carried as `Any`.
    Untyped,
}

impl Code {
    /// The stable code, for example `SB102`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SyntaxError => "SB001",
            Code::MissingParamAnnotation => "SB100",
            Code::MissingReturnAnnotation => "SB101",
            Code::UnsupportedType => "SB102",
            Code::CoroutineSend => "SB103",
            Code::AmbiguousCoroutine => "SB104",
            Code::BadName => "SB105",
            Code::Overload => "SB106",
            Code::NothingExported => "SB107",
            Code::Unsupported => "SB108",
            Code::Stream => "SB109",
            Code::RecursiveType => "SB110",
            Code::UnsupportedClass => "SB111",
            Code::Untyped => "SB112",
        }
    }
}

/// One finding about the input, with where it is and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether the function (or file) was skipped.
    pub severity: Severity,
    /// The stable code (`SB100`).
    pub code: Code,
    /// The line, 1-based.
    pub line: u32,
    /// The column, 1-based, in characters.
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub help: String,
}

impl Diagnostic {
    /// Renders as `FILE:LINE:COL: error[CODE]: message` plus a help line.
    pub fn render(&self, file: &str) -> String {
        format!("{file}:{}\n  help: {}", self, self.help)
    }
}

impl fmt::Display for Diagnostic {
    /// `LINE:COL: error[CODE]: message`, the file name left to the caller.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {severity}[{}]: {}",
            self.line,
            self.column,
            self.code.as_str(),
            self.message
        )
    }
}
